"""Rewrites and suggestions pass their own check, for the same recipient (issue 12).

A rewrite that itself violates is worse than none: where no candidate passes, ``rewrite`` is
None and ``rewrite_note`` says why. A contact or third party is offered the call-back relay,
never a sentence about the debt.
"""
from __future__ import annotations

from collections.abc import Sequence

import pytest

from nlp_guard import Guard
from nlp_guard.policy import default_policy
from nlp_guard.recipient import MAY_KNOW_THE_DEBT, RECIPIENTS
from nlp_guard.results import Evidence, Violation
from nlp_guard.rewrite import fallback, rewrite

# (draft, recipient): every one is flagged, and its rewrite must pass for that recipient
DRAFTS = [
    ("你是他家人吧，叫他小心点，你看着办", "emergency_contact"),
    ("你是他家人吧，叫他小心点，你看着办", "third_party"),
    ("贵单位员工XXX因债务问题可能影响工作状态。", "third_party"),
    ("请转告他“借呗借款8000元已逾期30天”", "emergency_contact"),
    ("再不还钱后果自负\n谨防诈骗", "debtor"),
    ("您名下的贷款已严重逾期，现启动司法调查程序，请于24小时内联系客服处理。", "debtor"),
    ("今天下午三点，工作人员将上门核实你的经济情况，请做好准备。", "guarantor"),
    ("老赖，你的欠款再不还，我们就告诉你们领导。", "emergency_contact"),
]


@pytest.fixture(scope="module")
def guard() -> Guard:
    return Guard(default_policy())


@pytest.mark.parametrize(("text", "recipient"), DRAFTS, ids=[f"{d[0][:8]}/{d[1]}" for d in DRAFTS])
def test_rewrite_passes_for_the_same_recipient(guard: Guard, text: str, recipient: str) -> None:
    d = guard.check(text, recipient)
    assert d.decision != "allow"
    assert d.rewrite is not None, d.rewrite_note
    assert guard.check(d.rewrite, recipient).decision == "allow", d.rewrite
    assert d.rewrite_note is None


@pytest.mark.parametrize(("text", "recipient"), [d for d in DRAFTS if d[1] not in MAY_KNOW_THE_DEBT],
                         ids=[f"{d[0][:8]}/{d[1]}" for d in DRAFTS if d[1] not in MAY_KNOW_THE_DEBT])
def test_contacts_are_offered_the_relay_only(guard: Guard, text: str, recipient: str) -> None:
    d = guard.check(text, recipient)
    relay = guard.recipient_rule.relay_suggestion()
    assert {v.suggestion for v in d.violations} == {relay}


def test_every_suggestion_in_the_pack_passes_for_whom_it_is_shown(guard: Guard) -> None:
    pack = guard.policy
    for cat in pack.categories.values():
        for code, sub in cat.subcategories.items():
            for r in MAY_KNOW_THE_DEBT:
                assert guard.check(sub.suggestion, r).decision == "allow", (code, r, sub.suggestion)
    for r in RECIPIENTS:
        assert guard.check(guard.recipient_rule.relay_suggestion(), r).decision == "allow", r


class FlagsEverything:
    """A classifier that reads a threat into any text: no candidate can pass."""

    version = "stub-1"
    labels = ("threat", "abuse", "deception", "privacy", "coercion")

    def predict(self, texts: Sequence[str]) -> list[dict[str, float]]:
        return [{"threat": 0.99} for _ in texts]


def test_no_passing_candidate_means_no_rewrite_and_a_reason() -> None:
    d = Guard(default_policy(), classifier=FlagsEverything()).check("你是他家人吧，叫他小心点，你看着办", "emergency_contact")
    assert d.decision == "block"
    assert d.rewrite is None
    assert d.rewrite_note and "recipient=emergency_contact" in d.rewrite_note
    assert d.to_dict()["rewrite_note"] == d.rewrite_note


class ReadsExposure:
    """A classifier that reads privacy into one sentence and nothing else."""

    version = "stub-1"
    labels = ("threat", "abuse", "deception", "privacy", "coercion")

    def predict(self, texts: Sequence[str]) -> list[dict[str, float]]:
        return [{"privacy": 0.9 if "都知道" in t else 0.0} for t in texts]


@pytest.mark.parametrize(("recipient", "sub", "relay"), [
    ("debtor", "privacy.public_exposure", False),
    ("guarantor", "privacy.public_exposure", False),
    ("emergency_contact", "privacy.third_party_disclosure", True),
])
def test_model_privacy_is_exposure_to_a_reader_who_may_know_the_debt(recipient: str, sub: str, relay: bool) -> None:
    """To the debtor, the model's privacy is exposure to others: its suggestion must not ask the
    debtor to pass a message on to himself."""
    g = Guard(default_policy(), classifier=ReadsExposure())
    d = g.check("王先生，请尽快还款，不然让你同事都知道", recipient)
    (v,) = [v for v in d.violations if v.category == "privacy"]
    assert v.subcategory == sub and "model" in v.source
    assert (v.suggestion == g.recipient_rule.relay_suggestion()) is relay
    assert d.rewrite and ("转告" in d.rewrite) is relay


def _violation(sub: str, suggestion: str, text: str, words: str) -> Violation:
    start = text.index(words)
    return Violation(sub.split(".")[0], sub, 0.9, "rule", "block", "high",
                     (Evidence(start, start + len(words), words),), (), suggestion)


def test_a_suggestion_keeps_its_greeting_only_at_the_start() -> None:
    text = "你看着办，老赖"
    vs = (_violation("threat.veiled", "您好，请尽快还款。", text, "你看着办"),
          _violation("abuse.insult", "您好，我们愿意协商。", text, "老赖"))
    assert fallback(vs) == "您好，请尽快还款。我们愿意协商。"
    assert rewrite("你看着办，老赖", vs) == "您好，请尽快还款。我们愿意协商。"
