"""A rule whose regex runs out of time is tried again, and counts as a hit if it fails twice:
a busy machine must not let a message through unchecked."""
from __future__ import annotations

import json
import logging
from dataclasses import replace

import pytest

from nlp_guard import Guard, rules
from nlp_guard.policy import default_policy
from nlp_guard.recipient import RecipientRule


class _SlowOnce:
    """A compiled pattern that times out the first ``fails`` times it is asked, then finds nothing."""

    def __init__(self, fails: int) -> None:
        self.fails = fails
        self.timeouts: list[float] = []

    def finditer(self, text: str, timeout: float):  # noqa: ANN201 - mirrors regex's signature
        self.timeouts.append(timeout)
        if len(self.timeouts) <= self.fails:
            raise TimeoutError("regex timed out")
        return iter(())


def _guard_with(pattern: _SlowOnce) -> tuple[Guard, str]:
    guard = Guard(default_policy())
    compiled = next(c for c in guard.rules._rules if c.pattern is not None and c.rule.phrases)
    guard.rules._rules = [replace(compiled, pattern=pattern)]
    return guard, compiled.rule.subcategory


@pytest.mark.parametrize(("fails", "decision"), [(0, "allow"), (1, "allow"), (2, "block")])
def test_a_timed_out_rule_is_retried_then_counted(fails: int, decision: str, caplog: pytest.LogCaptureFixture) -> None:
    pattern = _SlowOnce(fails)
    guard, sub = _guard_with(pattern)
    text = "您好，请于本月底前还款。"
    with caplog.at_level(logging.WARNING, logger="nlp_guard.rules"):
        d = guard.check(text, suggest=False)
    assert pattern.timeouts == [rules.REGEX_TIMEOUT_S, rules.REGEX_RETRY_S][:fails + 1]
    assert d.decision == decision
    if fails == 2:
        (v,) = d.violations
        assert v.subcategory == sub and v.evidence[0].text == text
        assert "timed out twice" in json.dumps(d.to_dict(), ensure_ascii=False)
        assert "timed out twice" in caplog.text



@pytest.mark.parametrize(("fails", "facts"), [(1, []), (2, [(0, 7)])])
def test_debt_facts_are_retried_then_assumed(fails: int, facts: list[tuple[int, int]]) -> None:
    """The recipient rule raised TimeoutError out of the check; now it retries, then fails closed."""
    rule = replace(RecipientRule.from_pack(default_policy()), pattern=_SlowOnce(fails))
    assert rule.debt_facts("麻烦您转告他。") == facts
