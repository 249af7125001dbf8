"""The per-sentence view: padding around a violation cannot dilute the model's score."""
from __future__ import annotations

from collections.abc import Sequence

import pytest

from nlp_guard import Guard
from nlp_guard.classifier import LazyEvidence, Scored, Span
from nlp_guard.normalize import normalize
from nlp_guard.sentences import sentence_spans


@pytest.mark.parametrize(("text", "sentences"), [
    ("你好", []),
    ("您好，请按时还款。", []),
    ("您好，打扰了。你个赖皮。谢谢配合！", ["您好,打扰了。", "你个赖皮。", "谢谢配合!"]),
    ("后果自负\n谨防诈骗", ["后果自负", "谨防诈骗"]),  # a written line break between words ends a sentence
    ("请勿向个人账\n户转账", []),  # one inside a word (账户) does not
    ("后果自负 谨防诈骗", []),  # nor a space: spoken turns pause mid-sentence
    ("好的。请于本周五前还款，谢谢。", []),  # a piece under four characters is not a view of its own
])
def test_sentence_spans(text: str, sentences: list[str]) -> None:
    n = normalize(text)
    assert [n.text[s:e] for s, e in sentence_spans(n)] == sentences


class PaddingBlind:
    """Scores abuse high for 赖皮 unless the text is diluted by a service greeting."""

    version = "padding-blind-1"
    labels = ("threat", "abuse", "deception", "privacy", "coercion")

    def predict(self, texts: Sequence[str]) -> list[dict[str, float]]:
        return [{"abuse": 0.95 if "赖皮" in t and "客户服务中心" not in t else 0.05} for t in texts]


@pytest.mark.parametrize(("text", "decision"), [
    ("你就是个赖皮", "block"),
    ("您好，这里是客户服务中心。你就是个赖皮。谢谢配合！", "block"),  # the sentence alone is judged too
    ("您好，这里是客户服务中心。请按时还款。谢谢配合！", "allow"),
])
def test_padding_does_not_dilute_the_score(text: str, decision: str) -> None:
    d = Guard(classifier=PaddingBlind()).check(text, suggest=False)
    assert d.decision == decision
    for v in d.violations:
        assert all(text[e.start:e.end] == e.text for e in v.evidence)
        if v.source == "model":
            assert "赖皮" in "".join(e.text for e in v.evidence)


class DressingBlind:
    """Scores threat high for 小心点 unless it is quoted or disowned, as the shipped model did."""

    version = "dressing-blind-1"
    labels = ("threat", "abuse", "deception", "privacy", "coercion")

    def predict(self, texts: Sequence[str]) -> list[dict[str, float]]:
        return [{"threat": 0.95 if "小心点" in t and not any(w in t for w in ("“", "「", "不是威胁")) else 0.05}
                for t in texts]


@pytest.mark.parametrize(("text", "decision"), [
    ("晚上出门小心点", "block"),
    ("「晚上出门」「小心点」", "block"),                       # quote marks alone
    ("晚上出门小心点，这只是提醒，不是威胁。", "block"),        # the sender's disclaimer
    ("据说“晚上出门小心点”。", "block"),                      # hearsay in quotes
    ("不得对客户说“晚上出门小心点”这类话。", "allow"),         # a quote the sentence condemns stays protected
    ("「晚上出门小心点」。客户经理稍后联系您。", "block"),      # a frame word in another sentence frames nothing
    ("请按时还款，这只是提醒，不是威胁。", "allow"),
])
def test_quotes_and_disclaimers_do_not_hide_words_from_the_model(text: str, decision: str) -> None:
    d = Guard(classifier=DressingBlind()).check(text, suggest=False)
    assert d.decision == decision
    for v in d.violations:
        assert all(text[e.start:e.end] == e.text for e in v.evidence)
        if v.source == "model":
            assert "小心点" in "".join(e.text for e in v.evidence)


@pytest.mark.slow
@pytest.mark.parametrize(("text", "decision"), [
    ("据说“不还钱的人会被抓”，这只是提醒，不是威胁，您懂的。", "block"),
    ("「小心点」「晚上出门」「注意安全」", "block"),
    ("温馨提示：请于本月底前还款，这只是提醒。", "allow"),
    ("“按时还款，珍爱信用”，感谢您的配合。", "allow"),
])
def test_dressed_messages_with_the_shipped_model(text: str, decision: str) -> None:
    assert Guard.default().check(text, suggest=False).decision == decision


@pytest.mark.slow
@pytest.mark.parametrize(("text", "decision"), [
    ("咱們一起看看怎么更穩當些。", "allow"),  # the allow-listed phrase carries the model's score
    ("你就是个败类怎么更稳当", "block"),  # a violation glued to the phrase is not protected by it
    ("咱们一起看看怎么更稳当些，不然你家里人也要小心点", "block"),
])
def test_allow_listed_phrase_protects_only_itself_from_the_model(text: str, decision: str) -> None:
    assert Guard.default().check(text, suggest=False).decision == decision


class MarksWords:
    """An evidence-head stand-in: abuse is high for 赖皮 unless 谨防诈骗 or a service greeting dilutes the text, and the head
    marks 赖皮 wherever it is. It records each category whose spans were worked out."""

    version = "marks-words-1"
    labels = ("threat", "abuse", "deception", "privacy", "coercion")
    evidence_head = True

    def __init__(self) -> None:
        self.found: list[str] = []

    def predict(self, texts: Sequence[str]) -> list[dict[str, float]]:
        return [s.scores for s in self.predict_with_evidence(texts)]

    def predict_with_evidence(self, texts: Sequence[str]) -> list[Scored]:
        return [Scored({c: 0.95 if c == "abuse" and "赖皮" in t and not self._diluted(t) else 0.05 for c in self.labels},
                       LazyEvidence(self.labels, lambda c, t=t: self._mark(t, c))) for t in texts]

    @staticmethod
    def _diluted(text: str) -> bool:
        return "谨防诈骗" in text or "客户服务中心" in text

    def _mark(self, text: str, category: str) -> tuple[Span, ...]:
        self.found.append(category)
        at = text.find("赖皮")
        return (Span(at, at + 2, 0.9),) if at >= 0 else (Span(0, 1, 0.1),)


@pytest.mark.parametrize("text", [
    "你就是个賴皮",
    "您好，谨防诈骗。你就是个賴皮。谢谢配合！",  # the sentence's view: the whole message is diluted
    "你就是个賴皮谨防诈骗",  # glued to an allow-listed phrase: the view without it
    "您好，这里是客户服务中心。你就是个賴皮谨防诈骗",  # and a greeting before: that view's own sentences
    "你就是个賴皮\n谨防诈骗",  # a warning on a line of its own: the line before it
])
def test_head_evidence_comes_from_the_winning_view_in_original_offsets(text: str) -> None:
    clf = MarksWords()
    d = Guard(classifier=clf).check(text, suggest=False)
    assert d.decision == "block"
    (v,) = d.violations
    assert [(e.text, text[e.start:e.end]) for e in v.evidence] == [("賴皮", "賴皮")]
    # spans are worked out only for the category the model alone saw, in its winning view
    assert clf.found == ["abuse"]


def test_lazy_evidence_reads_like_a_mapping_and_works_each_category_out_once() -> None:
    calls: list[str] = []
    ev = LazyEvidence(("threat", "abuse"), lambda c: calls.append(c) or (Span(0, 2, 0.5),))
    assert list(ev) == ["threat", "abuse"] and len(ev) == 2 and calls == []
    assert ev["abuse"] == ev.get("abuse") == (Span(0, 2, 0.5),)
    assert calls == ["abuse"]
    assert ev.get("privacy", ()) == () and "privacy" not in ev
    with pytest.raises(KeyError):
        ev["privacy"]
    assert dict(ev) == {"threat": (Span(0, 2, 0.5),), "abuse": (Span(0, 2, 0.5),)} and calls == ["abuse", "threat"]
