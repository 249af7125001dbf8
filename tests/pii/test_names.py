"""Names by NER (person v2, organization): merge with anchored patterns, hard negatives, the
missing-model path, redaction and the recipient rule. A stand-in pipeline marks fixed spans so
these tests check the recognizers' logic; the slow tests at the end use the shipped pipeline."""
from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from nlp_guard import Guard
from nlp_guard.pii import analyze, ner, redact
from nlp_guard.pii.ner import NerModel, load_ner
from nlp_guard.redaction import pii_findings, redact_original


@dataclass
class _Ent:
    start_char: int
    end_char: int
    label_: str


class _Doc:
    def __init__(self, ents: list[_Ent]) -> None:
        self.ents = ents


class StandIn:
    """Marks every occurrence of the given strings with their label, like a perfect NER."""

    def __init__(self, spans: dict[str, str]) -> None:
        self.spans = spans
        self.calls = 0

    def __call__(self, text: str) -> _Doc:
        self.calls += 1
        ents = []
        for word, label in self.spans.items():
            at = text.find(word)
            while at >= 0:
                ents.append(_Ent(at, at + len(word), label))
                at = text.find(word, at + 1)
        return _Doc(sorted(ents, key=lambda e: e.start_char))

    def pipe(self, texts: list[str], batch_size: int = 64) -> Iterator[_Doc]:
        return (self(t) for t in texts)


@pytest.fixture
def stand_in(monkeypatch: pytest.MonkeyPatch):
    def install(spans: dict[str, str]) -> StandIn:
        nlp = StandIn(spans)
        monkeypatch.setattr(ner._State, "loaded", NerModel(nlp, "stand-in"))
        monkeypatch.setattr(ner._State, "reason", None)
        monkeypatch.setattr(ner._State, "enabled", True)
        return nlp
    return install


def _people(text: str) -> list[tuple[str, float]]:
    return [(text[f.start:f.end], f.score) for f in analyze(text) if f.label == "person"]


def test_issue_15_name_without_anchor_is_found(stand_in) -> None:
    stand_in({"陶立轩": "PER"})
    text = "听说陶立轩上个月换了工作。"
    (f,) = [f for f in analyze(text) if f.label == "person"]
    assert (text[f.start:f.end], f.score, f.detector) == ("陶立轩", 0.6, "NerPersonRecognizer")
    assert f.explanation.startswith("NER PER '陶立轩'")


@pytest.mark.parametrize(("text", "name"), [
    ("陶立轩是一位62岁的男性软件开发工程师。", "陶立轩"),  # the issue's paragraph
    ("费正清是一位73岁的男性，居住在黑龙江省。", "费正清"),
    ("林达，23岁男性摄像师。", "林达"),
    ("韩建业是一名34岁的男性汽车维修技师。", "韩建业"),
    ("【曝光】刘英凯，男，借众安小贷款项逾期。", "刘英凯"),
    ("资料：王芳（女）1985年生。", "王芳"),
    ("下载安装，18岁以上即可申请。", None),  # 安 is a surname, but 安装 is inside a clause
    ("本人32周岁，女，无业。", None),
    ("白人，女性，拉丁裔都有。", None),
    ("逾期30天，请尽快还款。", None),
])
def test_a_profile_opening_anchors_a_name(stand_in, text: str, name: str | None) -> None:
    stand_in({})  # the NER finds nothing: the anchor alone must
    assert [n for n, _ in _people(text)] == ([name] if name else [])


@pytest.mark.parametrize(("text", "clipped", "name"), [
    ("柯世腾是一位64岁的男性会计。", "柯世", "柯世腾"),  # the NER drops the last character
    ("艾诗丽，32岁女性。", "诗丽", "艾诗丽"),       # ... or the surname
    ("罗雯舒，20岁，电气工程师。", "罗雯", "罗雯舒"),
    ("联系人张三明确表示不还。", "张三", "张三"),   # "张三明" does not end before a stop: the NER's extent stands
])
def test_an_anchored_name_that_ends_cleanly_gives_the_extent(stand_in, text: str, clipped: str,
                                                           name: str) -> None:
    stand_in({clipped: "PER"})
    (f,) = [f for f in analyze(text) if f.label == "person"]
    assert text[f.start:f.end] == name
    assert ("from the anchored pattern" in f.explanation) == (name != clipped)


def test_an_anchored_organization_gives_the_extent(stand_in) -> None:
    stand_in({"鑫达贸易": "ORG"})
    text = "保证人：杭州鑫达贸易有限公司。"
    (f,) = [f for f in analyze(text) if f.label == "organization"]
    assert text[f.start:f.end] == "杭州鑫达贸易有限公司"


def test_anchor_is_a_boost_not_a_gate(stand_in) -> None:
    stand_in({"李秀英": "PER", "王建国": "PER"})
    text = "你老婆李秀英在家吗？王建国也在。"
    found = dict(_people(text))
    assert found["李秀英"] > found["王建国"] == 0.6
    assert found["李秀英"] == pytest.approx(0.65 + 0.15)


def test_anchored_name_the_ner_missed_is_kept(stand_in) -> None:
    stand_in({})
    (f,) = [f for f in analyze("你老婆李秀英在家吗") if f.label == "person"]
    assert "NER did not find it" in f.explanation


@pytest.mark.parametrize("fake", ["老婆", "紧急联系人", "张", "经理", "2号"])
def test_kinship_role_and_short_spans_are_never_names(stand_in, fake: str) -> None:
    stand_in({fake: "PER"})
    assert _people(f"请{fake}回电") == []


def test_one_ner_run_serves_both_recognizers(stand_in) -> None:
    nlp = stand_in({"张伟": "PER", "杭州鑫达贸易有限公司": "ORG"})
    text = "保证人杭州鑫达贸易有限公司，联系人张伟。"
    labels = {(f.label, text[f.start:f.end]) for f in analyze(text)}
    assert {("person", "张伟"), ("organization", "杭州鑫达贸易有限公司")} <= labels
    assert nlp.calls == 1


def test_organization_anchor_boosts(stand_in) -> None:
    stand_in({"杭州鑫达贸易有限公司": "ORG", "新浪": "ORG"})
    text = "保证人：杭州鑫达贸易有限公司。我在新浪看到的。"
    orgs = {text[f.start:f.end]: f.score for f in analyze(text) if f.label == "organization"}
    assert orgs["杭州鑫达贸易有限公司"] == pytest.approx(0.55 + 0.1 + 0.15)  # pattern, context 保证, agreement
    assert orgs["新浪"] == 0.55


def test_redaction_masks_names_with_exact_offsets(stand_in) -> None:
    stand_in({"陶立轩": "PER", "欧阳娜娜": "PER", "杭州鑫达贸易有限公司": "ORG"})
    text = "陶立軒（欧阳娜娜的同事）在杭州鑫达貿易有限公司上班"  # traditional characters in the original
    masked = redact_original(text)
    assert masked == "陶**（欧阳**的同事）在******有限公司上班"
    assert len(masked) == len(text)
    for f in pii_findings(text):
        assert masked[f.start:f.end] != text[f.start:f.end]
    assert redact("陶立轩来了", style="type") == "<PERSON>来了"


def test_without_the_pipeline_it_says_so(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                          caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("NLP_GUARD_NER_DIR", str(tmp_path))
    for attr, value in (("loaded", None), ("reason", None), ("warned", False), ("enabled", True)):
        monkeypatch.setattr(ner._State, attr, value)
    with caplog.at_level(logging.WARNING, logger="nlp_guard.pii.ner"):
        found = [f for f in analyze("你老婆李秀英在家吗") if f.label == "person"]
    assert "NER unavailable" in caplog.text and str(tmp_path) in caplog.text
    (f,) = found
    assert f"no NER pipeline at {tmp_path}" in f.explanation and "anchored patterns only" in f.explanation
    assert ner.ner_status().startswith("NER unavailable")
    with pytest.raises(FileNotFoundError, match="make train-ner"):
        load_ner(tmp_path)


def test_switched_off_is_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ner._State, "enabled", False)
    (f,) = [f for f in analyze("你老婆李秀英在家吗") if f.label == "person"]
    assert "NER switched off" in f.explanation


# -- the recipient rule ----------------------------------------------------------------------

DISCLOSURE = "张伟在我司的借款已逾期，请您转告。"


def test_named_debtor_to_third_party_is_evidence(stand_in, rules_guard: Guard) -> None:
    stand_in({"张伟": "PER"})
    d = rules_guard.check(DISCLOSURE, recipient="third_party")
    (v,) = [v for v in d.violations if v.subcategory == "privacy.third_party_disclosure"]
    assert "recipient.named_person" in v.detectors
    assert ("张伟", 0, 2) in {(e.text, e.start, e.end) for e in v.evidence}
    assert any(p.type == "person" and p.text == "张伟" for p in d.pii)


@pytest.mark.parametrize("recipient", ["debtor", "guarantor"])
def test_named_debtor_to_who_may_know_is_allowed(stand_in, rules_guard: Guard, recipient: str) -> None:
    stand_in({"张伟": "PER"})
    assert rules_guard.check(DISCLOSURE, recipient=recipient).decision == "allow"


@pytest.mark.parametrize("text", [
    "麻烦您转告张伟尽快回电，谢谢。",  # relay without debt facts: compliant
    "张伟您好，我们是客服中心，麻烦回电。",
])
def test_a_name_without_debt_facts_is_not_a_disclosure(stand_in, rules_guard: Guard, text: str) -> None:
    stand_in({"张伟": "PER"})
    d = rules_guard.check(text, recipient="emergency_contact")
    assert d.decision == "allow", [v.to_dict() for v in d.violations]


def test_dressed_up_disclosure_is_still_named(stand_in, rules_guard: Guard) -> None:
    stand_in({"张伟": "PER"})
    text = "張偉 在我司的借 款已逾期"  # traditional name, a space inside 借款
    d = rules_guard.check(text, recipient="emergency_contact")
    (v,) = [v for v in d.violations if v.subcategory == "privacy.third_party_disclosure"]
    assert "recipient.named_person" in v.detectors
    assert any(text[e.start:e.end] == "張偉" for e in v.evidence)


# -- the shipped pipeline ----------------------------------------------------------------------

@pytest.fixture
def shipped(monkeypatch: pytest.MonkeyPatch) -> NerModel:
    model = load_ner(ner.DEFAULT_NER_DIR)
    monkeypatch.setattr(ner._State, "loaded", model)
    monkeypatch.setattr(ner._State, "enabled", True)
    return model


@pytest.mark.slow
@pytest.mark.parametrize(("text", "name"), [
    ("陶立轩是一位62岁的男性软件开发工程师，持有身份证号330106196012139416。", "陶立轩"),
    ("您好，您是刘晓梅的紧急联系人，麻烦转告她回电。", "刘晓梅"),
    ("麻烦您转告王建军尽快回电。", "王建军"),
    ("——招联消费金融客服专员李婷", "李婷"),
])
def test_shipped_pipeline_finds_names(shipped: NerModel, text: str, name: str) -> None:
    assert name in [text[f.start:f.end] for f in analyze(text) if f.label == "person"]


@pytest.mark.slow
@pytest.mark.parametrize("text", [
    "您好，请问您是经理吗？",
    "请于本月15日前还款，金额3000元。",
    "我们在上海市浦东新区有营业网点。",
    "客户经理和催收专员会再联系您。",
])
def test_shipped_pipeline_hard_negatives(shipped: NerModel, text: str) -> None:
    assert [text[f.start:f.end] for f in analyze(text) if f.label == "person"] == []


@pytest.mark.slow
def test_shipped_pipeline_finds_the_guarantor_company(shipped: NerModel) -> None:
    text = "贵司杭州宏远建筑工程有限公司作为保证人，应履行保证责任。"
    assert "杭州宏远建筑工程有限公司" in [text[f.start:f.end] for f in analyze(text) if f.label == "organization"]


def test_long_text_is_chunked_with_exact_offsets(stand_in) -> None:
    stand_in({"陶立轩": "PER"})
    text = "您好。" * 400 + "陶立轩是一位客户。" + "谢谢！" * 400
    (f,) = [f for f in analyze(text) if f.label == "person"]
    assert text[f.start:f.end] == "陶立轩" and f.start == 1200


def test_ner_time_budget_is_logged(stand_in, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    stand_in({"陶立轩": "PER"})
    monkeypatch.setattr(NerModel, "TIMEOUT", 0.0)
    text = "陶立轩来了。" + "您好。" * 400 + "陶立轩走了。"
    with caplog.at_level(logging.WARNING, logger="nlp_guard.pii.ner"):
        found = [f.start for f in analyze(text) if f.label == "person"]
    assert found == [0] and "NER stopped" in caplog.text


def _dev_rows() -> list[dict]:
    import json

    return [json.loads(line) for line in (Path(__file__).parents[2] / "training" / "data" / "dev.jsonl")
            .read_text("utf-8").splitlines()]


@pytest.mark.slow
def test_names_found_in_screening_batches_match_one_text_at_a_time(shipped: NerModel) -> None:
    """Guard runs the NER once per screening batch (``prefetch``) and skips spaCy's pipe when every
    text is remembered. On a fixed sample of dev agent lines, each message's PII (names and
    organisations included, with their offsets and scores) must be what a cold run of the recognizers
    on that message alone finds."""
    import random

    from nlp_guard import Message
    from nlp_guard.normalize import normalize

    rows = _dev_rows()
    texts = [r["text"] for r in random.Random(7).sample([r for r in rows if r.get("speaker") != "customer"], 160)]
    texts += ["您好，您是刘晓梅的紧急联系人，麻烦转告她回电。", "贵司杭州宏远建筑工程有限公司作为保证人，应履行保证责任。"]
    guard = Guard()
    alone = []
    for t in texts:
        shipped.clear()
        n = normalize(t)
        alone.append(guard.engine.pii(n, analyze(n.cased)))
    shipped.clear()
    for _ in range(2):  # the second time every text is remembered
        batched = [d.pii for b in range(0, len(texts), 32)
                   for d in guard.check_many([Message(t) for t in texts[b:b + 32]], suggest=False)]
        assert batched == alone
    found = {p.type for ps in alone for p in ps}
    assert {"person", "organization"} <= found


class _Quiet:
    """A classifier stand-in that sees nothing: the Guard then runs the NER beside it."""

    version = "quiet-1"
    labels = ("threat", "abuse", "deception", "privacy", "coercion")

    def predict(self, texts: list[str]) -> list[dict[str, float]]:
        return [dict.fromkeys(self.labels, 0.01) for _ in texts]


@pytest.mark.slow
def test_names_found_beside_the_classifier_match_the_names_found_in_line(shipped: NerModel) -> None:
    """The Guard runs the NER on its own thread while the classifier and the rules run: its PII must be
    what the recognizers find with the NER run in line, one text at a time."""
    from nlp_guard import Message
    from nlp_guard.normalize import normalize

    texts = ["您好，您是刘晓梅的紧急联系人，麻烦转告她回电。", "贵司杭州宏远建筑工程有限公司作为保证人，应履行保证责任。",
             "王建国先生，您的账单已逾期，请尽快还款。", "请按时还款，谢谢。"] * 9
    guard = Guard(classifier=_Quiet())
    in_line = []
    for t in texts:
        shipped.clear()
        n = normalize(t)
        in_line.append(guard.engine.pii(n, analyze(n.cased)))
    shipped.clear()
    beside = [d.pii for d in guard.check_many([Message(t) for t in texts], suggest=False)]
    assert beside == in_line
    assert {"person", "organization"} <= {p.type for ps in beside for p in ps}


@pytest.mark.slow
def test_numpy_products_find_what_blis_finds(shipped: NerModel) -> None:
    """``load_ner`` multiplies with numpy (OpenBLAS) instead of thinc's blis, for speed: on dev
    lines and the name cases above, every entity and its offsets must be the same with either."""
    import random

    from thinc.api import NumpyOps

    rows = _dev_rows()
    texts = [r["text"] for r in random.Random(11).sample(rows, 300)]
    texts += ["陶立轩是一位62岁的男性软件开发工程师，持有身份证号330106196012139416。",
              "贵司杭州宏远建筑工程有限公司作为保证人，应履行保证责任。"]
    fast = [[(e.start_char, e.end_char, e.label_) for e in doc.ents] for doc in shipped.nlp.pipe(texts)]
    assert not shipped.nlp.get_pipe("ner").model.ops.use_blis
    ner.set_ops(shipped.nlp, NumpyOps())
    reference = [[(e.start_char, e.end_char, e.label_) for e in doc.ents] for doc in shipped.nlp.pipe(texts)]
    assert fast == reference
    assert sum(map(len, reference)) >= 10


def test_a_failure_on_the_ner_thread_reaches_the_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    class Broken:
        def prefetch(self, texts: object) -> None:
            raise RuntimeError("spaCy fell over")

    monkeypatch.setattr(ner, "get_ner", lambda: Broken())
    with pytest.raises(RuntimeError, match="spaCy fell over"):
        ner.prefetch_beside(["王建国"]).result()


def test_the_ner_thread_is_made_again_in_a_forked_child(monkeypatch: pytest.MonkeyPatch) -> None:
    ner.prefetch_beside([]).result()
    parent = ner._Beside.pool
    monkeypatch.setattr(ner._Beside, "pid", -1)  # as a forked child sees it: the pool's thread is the parent's
    ner.prefetch_beside([]).result()
    assert ner._Beside.pool is not parent and ner._Beside.pid == __import__("os").getpid()


@pytest.mark.parametrize(("threadpoolctl_installed", "uses_blis"), [(True, False), (False, True)])
def test_numpy_products_only_where_blas_threads_can_be_held(monkeypatch: pytest.MonkeyPatch,
                                                            threadpoolctl_installed: bool, uses_blis: bool) -> None:
    """Without threadpoolctl, OpenBLAS could run two threads against ONNX Runtime: the NER keeps blis."""
    import sys

    import spacy

    if not threadpoolctl_installed:
        monkeypatch.setitem(sys.modules, "threadpoolctl", None)
    nlp = spacy.blank("xx")
    nlp.add_pipe("ner")
    ner.use_numpy_products(nlp)
    assert {node.ops.use_blis for node in nlp.get_pipe("ner").model.walk()} == {uses_blis}
