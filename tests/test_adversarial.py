"""A fast subset of the adversarial bench (bench/bench_adversarial.py): dressed-up violations stay
caught, and compliant messages with the same decoration stay allowed."""
from __future__ import annotations

import pytest

from bench.adversarial import TRANSFORMS, evasions
from nlp_guard import Guard
from nlp_guard.policy import default_policy

VIOLATING = [
    ("再不还钱后果自负", "debtor"),
    ("老赖，再不还钱我找人打死你", "debtor"),
    ("你再不还，法院就判刑，准备坐牢吧", "debtor"),
    ("明天我们就去你单位闹，让你同事都知道", "debtor"),
    ("我们知道你孩子在哪个学校上学", "debtor"),
    ("你去借网贷先把我们这笔还了", "debtor"),
    ("您名下的贷款已严重逾期，现启动司法调查程序", "debtor"),
    ("他在借呗的借款8000元已逾期30天，请您转告他", "emergency_contact"),
    ("你这个骗子，拿了钱就装死", "debtor"),
]
COMPLIANT = [
    ("您好，本月账单已出，请按时还款", "debtor"),
    ("如协商不成，我司将依法提起诉讼", "debtor"),
    ("请勿相信冒充公检法的来电，还款请认准官方渠道", "debtor"),
    ("您好，麻烦您转告机主尽快回电，谢谢", "emergency_contact"),
    ("我们不会把您的借款情况告诉家人或单位", "debtor"),
    ("如有困难，可以申请延期或分期还款", "debtor"),
]


def _cases(rows: list[tuple[str, str]]) -> list[tuple[str, str, str]]:
    return [(name, dressed, r) for text, r in rows for name, dressed in evasions(text).items()]


@pytest.fixture(scope="module")
def rules_only() -> Guard:
    return Guard(default_policy())


def test_every_transform_is_exercised() -> None:
    assert {name for name, _, _ in _cases(VIOLATING)} == set(TRANSFORMS)


@pytest.mark.parametrize(("name", "text", "recipient"), _cases(VIOLATING), ids=lambda x: x if x in TRANSFORMS else None)
def test_dressed_violation_is_still_caught(rules_only: Guard, name: str, text: str, recipient: str) -> None:
    d = rules_only.check(text, recipient, suggest=False)
    assert d.decision != "allow", (name, text)
    for v in d.violations:  # evidence still points into the dressed-up original
        for e in v.evidence:
            assert text[e.start:e.end] == e.text


@pytest.mark.parametrize(("name", "text", "recipient"), _cases(COMPLIANT), ids=lambda x: x if x in TRANSFORMS else None)
def test_dressed_compliant_message_is_still_allowed(rules_only: Guard, name: str, text: str, recipient: str) -> None:
    assert rules_only.check(text, recipient, suggest=False).decision == "allow", (name, text)


@pytest.mark.slow
def test_with_the_model_rates_stay_within_targets() -> None:
    guard = Guard.default()
    bad = _cases(VIOLATING)
    good = _cases(COMPLIANT)
    bypass = [t for _, t, r in bad if guard.check(t, r, suggest=False).decision == "allow"]
    alarms = [t for _, t, r in good if guard.check(t, r, suggest=False).decision != "allow"]
    assert len(bypass) <= 0.02 * len(bad), bypass
    assert len(alarms) <= 0.03 * len(good), alarms
