"""Transcript context (issue 12): an agent turn is judged with the turns before it.

A violation split across turns is reported on the turn that completes it, with evidence in
both turns at exact offsets of each turn's original text; honest calls stay clean.
"""
from __future__ import annotations

from collections.abc import Sequence

import pytest

from api.audit import transcript_record
from nlp_guard import Guard, InputError
from nlp_guard.guard import Window
from nlp_guard.results import TranscriptDecision


def A(text: str) -> dict[str, str]:
    return {"speaker": "agent", "text": text}


def C(text: str) -> dict[str, str]:
    return {"speaker": "customer", "text": text}


def assert_exact(turns: Sequence[dict[str, str]], t: TranscriptDecision) -> None:
    """Every evidence span quotes its own turn's original text; context evidence names the turn it quotes."""
    for r in t.turns:
        for v in r.violations:
            for e in v.evidence:
                assert e.turn is None and turns[r.index]["text"][e.start:e.end] == e.text
            for e in v.context_evidence:
                assert e.turn is not None and e.turn < r.index and turns[e.turn]["speaker"] == "agent"
                assert turns[e.turn]["text"][e.start:e.end] == e.text


# rules only: a threat split across two agent turns, plain and dressed up
SPLIT = [
    ([A("你女儿在二年级三班"), A("放学路上注意点")], 1, "threat.family", "放学", "女儿在二年级三班"),
    ([A("您好，王先生。"), A("你女儿在二年级三班吧，"), C("你想干嘛？"), A("放学路上注意点。")], 3, "threat.family", "放学",
     "女儿在二年级三班"),
    ([A("听说你家老人"), A("每天下午都去公园遛弯")], 1, "threat.family", "每天", "你家"),
    ([A("你們家孩子"), C("嗯"), A("幾點放學我們都清楚")], 2, "threat.family", "幾點", "家"),
]


@pytest.mark.parametrize(("turns", "at", "sub", "here", "there"), SPLIT)
def test_a_threat_split_across_turns_is_reported_on_the_turn_that_completes_it(
        rules_guard: Guard, turns: list[dict[str, str]], at: int, sub: str, here: str, there: str) -> None:
    without = rules_guard.check_transcript(turns, context=False)
    assert without.decision == "allow"  # each turn alone passes: the evasion
    t = rules_guard.check_transcript(turns)
    assert t.decision == "block"
    assert [r.index for r in t.turns if r.decision != "allow"] == [at]
    (v,) = t.turns[at].violations
    assert v.subcategory == sub and "transcript.window" in v.detectors
    assert here in "".join(e.text for e in v.evidence)
    assert there in "".join(e.text for e in v.context_evidence)
    assert_exact(turns, t)


@pytest.mark.parametrize("turns", [
    [A("您好，您的账单已逾期3天，请按时还款。"), A("祝您生活愉快，再见。")],
    [A("您的孩子上学的费用我们理解，"), A("可以申请延期还款，每天都可以办理。")],
    [A("我找人收拾你"), A("您好，请问您什么时候方便还款？")],  # the threat is the first turn's alone
    [A("谨防冒充公检法的诈骗电话。"), A("如有疑问请拨打官方客服。")],
])
def test_honest_calls_gain_no_context_violation(rules_guard: Guard, turns: list[dict[str, str]]) -> None:
    assert rules_guard.check_transcript(turns).to_dict() == rules_guard.check_transcript(turns, context=False).to_dict()


@pytest.mark.parametrize(("window", "flagged"), [
    (Window(), False),  # one earlier agent turn: 好 alone is the context
    (Window(agent_turns=2), True),
    (Window(customers=True), False),  # customer turns join the window, agent turns still count
])
def test_the_window_reaches_as_far_as_configured(window: Window, flagged: bool) -> None:
    turns = [A("你女儿在二年级三班"), C("嗯"), A("好"), A("放学路上注意点")]
    t = Guard(window=window).check_transcript(turns)
    assert (t.turns[3].decision == "block") is flagged
    assert_exact(turns, t)
    if flagged:
        assert t.turns[3].violations[0].context_evidence[0].turn == 0


def test_rules_only_a_cross_turn_token_match_counts_as_in_one_message(rules_guard: Guard) -> None:
    """Without a model nothing can tell 家人 … 每天 across two lawful turns from a threat: the window
    is judged as the joined message would be (with the model, its agreement is required)."""
    a, b = "请您和家人商量一下还款计划。", "我们每天9点到18点都可以接听您的来电。"
    joined = {v.category for v in rules_guard.check(a + b).violations}
    assert {v.category for v in rules_guard.check_transcript([A(a), A(b)]).turns[1].violations} == joined


def test_without_context_the_json_keeps_its_old_shape(rules_guard: Guard) -> None:
    out = rules_guard.check_transcript([A("你个老赖"), A("再不还钱就找人收拾你")]).to_dict()
    for turn in out["turns"]:
        for v in turn["violations"]:
            assert "context_evidence" not in v and all(set(e) == {"start", "end", "text"} for e in v["evidence"])
    completed = rules_guard.check_transcript(SPLIT[0][0]).to_dict()["turns"][1]["violations"][0]
    assert completed["evidence"] == [{"start": 0, "end": 2, "text": "放学"}]
    assert completed["context_evidence"] == [{"start": 1, "end": 9, "text": "女儿在二年级三班", "turn": 0}]


CALL = [A("您好，请问是张伟本人吗？"), C("是我"), A("你女儿在二年级三班吧"), C("你想干什么"), A("放学路上注意点"),
        A("你个老赖"), C("我失业了，实在活不下去了"), A("请您尽快还款")]


def test_check_turn_judges_a_live_turn_as_the_whole_call_does(rules_guard: Guard) -> None:
    whole = rules_guard.check_transcript(CALL)
    live = [rules_guard.check_turn(CALL[:i], CALL[i]) for i in range(len(CALL))]
    assert live == list(whole.turns)
    assert live[4].violations[0].context_evidence  # the completed threat


@pytest.mark.parametrize(("history", "turn", "message"), [
    ([A("你好"), A("")], A("还钱"), r"history\[1\].text"),
    ([{"speaker": "bot", "text": "x"}], A("还钱"), r"history\[0\].speaker"),
    ([], {"text": "还钱"}, r"turn.speaker"),
    ([], "还钱", r"turn: expected an object"),
    ([], {"speaker": "agent", "text": "还钱", "recipient": "boss"}, r"turn.recipient"),
])
def test_check_turn_errors_name_the_field(rules_guard: Guard, history: list, turn: object, message: str) -> None:
    with pytest.raises(InputError, match=message):
        rules_guard.check_turn(history, turn)  # type: ignore[arg-type]


def test_the_audit_record_scrubs_context_evidence_from_the_earlier_turn(rules_guard: Guard) -> None:
    turns = [A("班主任电话13812345678，你女儿在二年级三班"), A("放学路上注意点")]
    result = rules_guard.check_transcript(turns).to_dict()
    (v,) = result["turns"][1]["violations"]
    v["context_evidence"] = [{"start": 0, "end": len(turns[0]["text"]), "text": turns[0]["text"], "turn": 0}]
    rec = transcript_record(turns, result, {}, store_raw=False)
    quoted = rec["decision"]["turns"][1]["violations"][0]["context_evidence"][0]["text"]
    assert "13812345678" not in quoted and quoted == rec["redacted_turns"][0]["text"]


class ScriptedClassifier:
    """A stand-in model scoring threat by the words present (unit test of the window only); counts its calls."""

    version = "scripted-1"
    labels = ("threat", "abuse", "deception", "privacy", "coercion")

    def __init__(self) -> None:
        self.calls = 0

    def predict(self, texts: Sequence[str]) -> list[dict[str, float]]:
        self.calls += 1
        return [{"threat": (0.99 if "后果" in t else 0.9) if "爸妈" in t else 0.01} for t in texts]


def test_a_turn_that_raises_an_earlier_threat_is_flagged_and_a_polite_one_is_not() -> None:
    g = Guard(classifier=ScriptedClassifier())
    t = g.check_transcript([A("我知道你爸妈住哪"), A("你知道后果的"), A("请您尽快处理")])
    assert [r.decision for r in t.turns] == ["block", "block", "allow"]
    (v,) = t.turns[1].violations
    assert v.category == "threat" and v.evidence and v.context_evidence[0].turn == 0
    # the window must raise the score by the lift: 0.9 -> 0.99 is 2.2 logits
    strict = Guard(classifier=ScriptedClassifier(), window=Window(lift=3.0))
    assert strict.check_transcript([A("我知道你爸妈住哪"), A("你知道后果的")]).turns[1].decision == "allow"


def test_one_classifier_call_for_all_turns_and_one_for_all_windows() -> None:
    clf = ScriptedClassifier()
    Guard(classifier=clf).check_transcript([A("您好"), C("嗯"), A("请按时还款"), A("谢谢"), A("再见")])
    assert clf.calls == 2


# the shipped model ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def model_guard() -> Guard:
    g = Guard.default()
    if g.classifier is None:
        pytest.skip("the shipped model is not installed")
    return g


@pytest.mark.slow
@pytest.mark.parametrize(("turns", "at"), [
    ([A("我知道你爸妈住在哪个小区"), A("你知道后果的")], 1),
    ([A("再不还钱"), A("我找人收拾你")], 1),
    pytest.param([A("你女儿在二年级三班"), A("放学路上注意点")], 1, marks=pytest.mark.xfail(
        strict=True, reason="known miss since 0.6.1's raised thresholds: turn 0 blocks alone, the window scores "
                            "threat about 0.94 calibrated, under confirm 0.95 (chosen on dev)")),
])
def test_model_sees_the_completed_threat(model_guard: Guard, turns: list[dict[str, str]], at: int) -> None:
    t = model_guard.check_transcript(turns)
    assert t.turns[at].decision == "block"
    assert "threat" in {v.category for v in t.turns[at].violations}
    assert_exact(turns, t)


@pytest.mark.slow
@pytest.mark.parametrize("turns", [
    [A("您好，您的账单已逾期3天，请按时还款。"), A("祝您生活愉快，再见。")],
    [A("您的欠款已逾期"), A("请您尽快处理")],
    [A("请您和家人商量一下还款计划。"), C("好的"), A("我们每天9点到18点都可以接听您的来电。")],
    [A("我找人收拾你"), A("您好，请问您什么时候方便还款？")],
    [A("您好，您在借呗的借款已逾期30天。"), C("我最近手头紧"), A("可以申请分期，您看什么时候方便？")],
])
def test_model_adds_nothing_to_honest_turns(model_guard: Guard, turns: list[dict[str, str]]) -> None:
    assert model_guard.check_transcript(turns).to_dict() == model_guard.check_transcript(turns, context=False).to_dict()
