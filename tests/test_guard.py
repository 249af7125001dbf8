"""Guard behaviour beyond the golden table: recipients, transcripts, bad input, the classifier slot."""
from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import pytest

from nlp_guard import Classifier, EmptyTextError, Guard, InputError, ModelError, ModelNotFoundError, TextTooLongError
from nlp_guard.guard import Message
from nlp_guard.model import find_model_dir

REMINDER = "您好，您在借呗的借款8000元已逾期30天，请尽快还款"


@pytest.mark.parametrize(("recipient", "decision"), [
    ("debtor", "allow"), ("guarantor", "allow"), ("emergency_contact", "block"), ("third_party", "block"),
])
def test_same_reminder_depends_on_recipient(rules_guard: Guard, recipient: str, decision: str) -> None:
    d = rules_guard.check(REMINDER, recipient=recipient)
    assert d.decision == decision
    if decision == "block":
        (v,) = d.violations
        assert v.subcategory == "privacy.third_party_disclosure"
        assert "转告" in v.suggestion and "8000" not in v.suggestion
        assert {e.text for e in v.evidence} >= {"借呗", "逾期"}
        assert d.rewrite == v.suggestion


@pytest.mark.parametrize(("text", "facts"), [
    # telling a contact they owe nothing is the script third parties should get
    ("您好，您作为紧急联系人不需要承担还款责任，麻烦您转告本人回电。", set()),
    ("法律上紧急联系人没有任何还款义务，家属也无需代为偿还。", set()),
    ("我们不会要求您代为还款，只是请他尽快联系我们。", set()),
    # ... but it carries nothing else through, and a liability claimed is a fact
    ("您没有还款义务，但他在借呗的借款8000元已逾期30天。", {"借呗", "借款8000元", "逾期"}),
    ("他要是不还款，您就要承担还款责任。", {"还款"}),
    ("您并不是没有还款义务。", {"还款"}),
    ("请您督促他还款。", {"还款"}),
    # amounts in Chinese numerals and "owes us" are facts; 千万 and 一块儿 are not amounts
    ("您没有还款义务，他欠我们两万块已经三个月了。", {"欠我们两万块"}),
    ("麻烦您转告他，他借了三千元。", {"三千元"}),
    ("千万别转钱给陌生人，我们一块儿等他回电。", set()),
])
def test_owing_nothing_is_not_a_debt_fact(rules_guard: Guard, text: str, facts: set[str]) -> None:
    d = rules_guard.check(text, recipient="emergency_contact", suggest=False)
    found = {e.text for v in d.violations for e in v.evidence}
    assert found == facts
    assert d.decision == ("allow" if not facts else "block")


@pytest.mark.parametrize(("text", "error", "message"), [
    ("", EmptyTextError, "text: text is empty"),
    ("   \n", EmptyTextError, "text is empty"),
    ("a" * 5001, TextTooLongError, "5001 characters; the limit is 5000"),
    ("还钱\x07", InputError, "control character U+0007 at position 2"),
])
def test_bad_text_gets_a_clear_error(rules_guard: Guard, text: str, error: type, message: str) -> None:
    with pytest.raises(error, match=re.escape(message)):
        rules_guard.check(text)


def test_long_text_is_allowed_up_to_a_configured_limit() -> None:
    g = Guard(max_chars=100_000)
    text = ("请尽快还款。" * 16_000) + "老赖"
    d = g.check(text)
    assert d.decision == "block"
    assert d.violations[0].evidence[-1].start == len(text) - 2


def test_unknown_recipient(rules_guard: Guard) -> None:
    with pytest.raises(InputError, match="recipient: 'boss' is not one of"):
        rules_guard.check("你好", recipient="boss")


def test_batch_errors_name_the_item(rules_guard: Guard) -> None:
    with pytest.raises(InputError, match=r"items\[1\].text"):
        rules_guard.check_many([Message("你好"), Message("")])


def test_pii_is_listed_with_original_offsets(rules_guard: Guard) -> None:
    text = "你的身份证11010519491231002X，手机１３８１２３４５６７８，我们都知道"
    d = rules_guard.check(text)
    types = {p.type: p for p in d.pii}
    assert types["id_card"].text == "11010519491231002X"
    assert types["phone"].text == "１３８１２３４５６７８"
    assert text[types["phone"].start:types["phone"].end] == "１３８１２３４５６７８"


def test_invalid_checksum_is_an_id_card_only_in_context(rules_guard: Guard) -> None:
    """Issue 15: after 身份证 the number is sensitive whatever its check digit says; alone it is not an ID."""
    (p,) = [p for p in rules_guard.check("身份证110105194912310021").pii if p.type == "id_card"]
    assert (p.text, p.validated) == ("110105194912310021", False)
    assert not [p for p in rules_guard.check("单号110105194912310021").pii if p.type == "id_card"]


TRANSCRIPT = [
    {"speaker": "agent", "text": "您好，请问是张伟本人吗？"},
    {"speaker": "customer", "text": "是我，你们这帮骗子，傻逼，再打我就投诉到银保监"},
    {"speaker": "agent", "text": "你个老赖，不还钱就找人收拾你"},
    {"speaker": "customer", "text": "我失业了，实在活不下去了"},
]


def test_transcript_judges_agent_turns_only(rules_guard: Guard) -> None:
    t = rules_guard.check_transcript(TRANSCRIPT)
    assert t.decision == "block"
    assert [turn.decision for turn in t.turns] == ["allow", "allow", "block", "allow"]
    assert t.turns[1].violations == ()  # a customer's insult is never an agent violation
    assert {s.code for s in t.turns[1].signals} == {"complaint"}
    assert {s.code for s in t.turns[3].signals} == {"hardship", "distress"}
    assert t.escalate
    out = t.to_dict()
    assert out["turns"][2]["violations"][0]["evidence"][0]["text"] in TRANSCRIPT[2]["text"]


@pytest.mark.parametrize(("turns", "message"), [
    ([], "at least one turn"),
    ([{"speaker": "robot", "text": "hi"}], r"turns\[0\].speaker"),
    ([{"speaker": "agent", "text": ""}], r"turns\[0\].text"),
    (["hello"], r"turns\[0\]: expected an object"),
])
def test_bad_transcripts(rules_guard: Guard, turns: list, message: str) -> None:
    with pytest.raises(InputError, match=message):
        rules_guard.check_transcript(turns)


class FixedClassifier:
    """A stand-in model: fixed scores per text (unit test of the slot only)."""

    version = "fixed-1"
    labels = ("threat", "abuse", "deception", "privacy", "coercion")

    def __init__(self, threat: float) -> None:
        self.threat = threat

    def predict(self, texts: Sequence[str]) -> list[dict[str, float]]:
        return [{"threat": self.threat if "公园" in t else 0.0} for t in texts]


def test_classifier_protocol_and_model_only_evidence() -> None:
    clf = FixedClassifier(0.9)
    assert isinstance(clf, Classifier)
    g = Guard(classifier=clf)
    text = "听说你常去公园散步吧"
    d = g.check(text)
    assert d.decision == "block"
    (v,) = d.violations
    assert (v.subcategory, v.source) == ("threat.veiled", "model")
    assert [e.text for e in v.evidence] == ["公园"]  # occlusion finds the word that drives the score
    assert d.model_version == "fixed-1"
    assert g.check("您好，请按时还款").decision == "allow"


def test_low_model_score_does_not_fire() -> None:
    assert Guard(classifier=FixedClassifier(0.3)).check("听说你常去公园散步吧").decision == "allow"


class WordClassifier:
    """Scores deception high whenever a trigger word is present (unit test of the slot only)."""

    version = "word-1"
    labels = ("threat", "abuse", "deception", "privacy", "coercion")

    def predict(self, texts: Sequence[str]) -> list[dict[str, float]]:
        return [{"deception": 0.9 if "拘押" in t else 0.05} for t in texts]


@pytest.mark.parametrize(("text", "decision"), [
    ("下周安排拘押", "block"),
    ("请勿相信'不还款就会被拘押'的说法", "allow"),
    ("谨防有人声称要拘押您", "allow"),
])
def test_model_evidence_goes_through_the_protective_context_filter(text: str, decision: str) -> None:
    d = Guard(classifier=WordClassifier()).check(text)
    assert d.decision == decision
    if decision == "block":
        assert [e.text for e in d.violations[0].evidence] == ["拘押"]


@pytest.mark.parametrize(("text", "segmented", "fires"), [
    ("您好，请于本月底前还款。", False, False),  # no first-slot word: jieba never runs
    ("听说你家老人每天下午去公园遛弯", True, True),  # the veiled-threat token pattern still fires
    ("家里最近困难的话可以申请延期", True, False),  # a first-slot word, but no second slot
])
def test_token_patterns_segment_only_when_they_can_match(
        rules_guard: Guard, monkeypatch: pytest.MonkeyPatch, text: str, segmented: bool, fires: bool) -> None:
    calls: list[str] = []
    seg = rules_guard.rules.segmenter
    real = seg.tokenize
    monkeypatch.setattr(seg, "tokenize", lambda t: calls.append(t) or real(t))
    d = rules_guard.check(text)
    assert bool(calls) == segmented
    assert any("threat.family.routine" in v.detectors for v in d.violations) == fires


# -- where the model comes from --------------------------------------------------------------
def _model_like(path: Path) -> Path:
    path.mkdir(parents=True)
    return path


def test_no_model_is_an_error_not_a_rules_only_guard(no_model: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="no model found") as err:
        Guard.default()
    assert err.value.code == "E302" and isinstance(err.value, ModelError)
    assert str(no_model) in err.value.message and "NLP_GUARD_MODEL_DIR" in err.value.message
    asked = Guard.default(rules_only=True)  # rules only is something one asks for
    assert asked.classifier is None and asked.check("老赖快还钱").decision == "block"


@pytest.mark.parametrize("source", ["argument", "environment"])
def test_a_named_model_directory_that_does_not_exist_is_an_error(
        no_model: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, source: str) -> None:
    shipped = _model_like(no_model)  # a shipped model exists, but the named one wins and is missing
    assert find_model_dir() == shipped.resolve()
    missing = tmp_path / "typo"
    if source == "environment":
        monkeypatch.setenv("NLP_GUARD_MODEL_DIR", str(missing))
    with pytest.raises(ModelNotFoundError, match="does not exist") as err:
        Guard.default(model_dir=missing if source == "argument" else None)
    assert str(missing) in err.value.message
    assert ("from NLP_GUARD_MODEL_DIR" in err.value.message) == (source == "environment")


def test_model_directory_precedence(no_model: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    arg, env, shipped = _model_like(tmp_path / "arg"), _model_like(tmp_path / "env"), _model_like(no_model)
    monkeypatch.setenv("NLP_GUARD_MODEL_DIR", str(env))
    assert find_model_dir(arg) == arg.resolve()
    assert find_model_dir() == env.resolve()
    monkeypatch.setenv("NLP_GUARD_MODEL_DIR", "")  # set but empty: not a choice
    assert find_model_dir() == shipped.resolve()


def test_shipped_model_is_package_data_outside_a_checkout(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Installed from a wheel (no source checkout around the package), the model is found through
    importlib.resources as the package nlp_guard_models."""
    import sys

    import nlp_guard.model as model

    site = tmp_path / "site-packages"
    data = _model_like(site / "nlp_guard_models" / "nlp_guard-zh")
    (site / "nlp_guard_models" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delitem(sys.modules, "nlp_guard_models", raising=False)
    monkeypatch.setattr(model, "_SOURCE_ROOT", site)  # no pyproject.toml: not a checkout
    monkeypatch.delenv("NLP_GUARD_MODEL_DIR", raising=False)
    assert model.shipped_model_dirs() == [data.resolve()]
    assert find_model_dir() == data.resolve()


def test_a_checkout_runs_its_own_model_first() -> None:
    from nlp_guard.model import shipped_model_dirs

    root = Path(__file__).resolve().parents[1]
    assert shipped_model_dirs()[0] == (root / "models" / "nlp_guard-zh").resolve()


def test_rewrites_per_message_in_one_batch(rules_guard: Guard) -> None:
    """check_many takes one suggest flag per message: drafts and outreach share a batch, and only
    the messages that ask get a rewrite, which itself passes the check."""
    threat, polite = "你再不还钱就等着瞧，我知道你住哪", "您好，您的账单已逾期，请尽快还款。"
    msgs = [Message(threat), Message(threat), Message(polite), Message(REMINDER, "third_party")]
    out = rules_guard.check_many(msgs, suggest=[True, False, True, True])
    assert [d.decision for d in out] == ["block", "block", "allow", "block"]
    assert [d.rewrite is not None for d in out] == [True, False, False, True]
    assert out[0].violations == out[1].violations
    assert all(rules_guard.check(d.rewrite, m.recipient).decision == "allow"
               for m, d in zip(msgs, out, strict=True) if d.rewrite)
    assert [d.rewrite for d in rules_guard.check_many(msgs[:2], suggest=False)] == [None, None]
    with pytest.raises(InputError, match="suggest: 1 flags for 2 messages"):
        rules_guard.check_many(msgs[:2], suggest=[True])
