"""The per-sentence view: padding around a violation cannot dilute the model's score."""
from __future__ import annotations

from collections.abc import Sequence

import pytest

from nlp_guard import Guard
from nlp_guard.normalize import normalize
from nlp_guard.sentences import sentence_spans


@pytest.mark.parametrize(("text", "sentences"), [
    ("你好", []),
    ("您好，请按时还款。", []),
    ("您好，打扰了。你个赖皮。谢谢配合！", ["您好,打扰了。", "你个赖皮。", "谢谢配合!"]),
    ("后果自负\n谨防诈骗", []),  # a line break is not a cut: spoken turns pause mid-sentence
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


@pytest.mark.slow
@pytest.mark.parametrize(("text", "decision"), [
    ("咱們一起看看怎么更穩當些。", "allow"),  # the allow-listed phrase carries the model's score
    ("你就是个败类怎么更稳当", "block"),  # a violation glued to the phrase is not protected by it
    ("咱们一起看看怎么更稳当些，不然你家里人也要小心点", "block"),
])
def test_allow_listed_phrase_protects_only_itself_from_the_model(text: str, decision: str) -> None:
    assert Guard.default().check(text, suggest=False).decision == decision
