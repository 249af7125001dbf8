"""Golden decisions, including the protective-context negatives (rules only)."""
from __future__ import annotations

import pytest

import json
from pathlib import Path

from nlp_guard import Guard

GOLDEN = Path(__file__).parent / "golden" / "decisions.jsonl"
CASES = [json.loads(line) for line in GOLDEN.read_text("utf-8").splitlines() if line.strip()]


@pytest.mark.parametrize("case", CASES, ids=[c["text"][:16] + "/" + c["recipient"] for c in CASES])
def test_golden_decision(rules_guard: Guard, case: dict) -> None:
    d = rules_guard.check(case["text"], recipient=case["recipient"])
    found = {v.subcategory for v in d.violations}
    assert d.decision == case["decision"], [v.to_dict() for v in d.violations]
    assert set(case["subcategories"]) <= found
    for v in d.violations:
        assert v.citations, f"{v.subcategory} has no citation"
        for e in v.evidence:
            assert case["text"][e.start:e.end] == e.text


@pytest.mark.parametrize("case", [c for c in CASES if c["decision"] != "allow"], ids=lambda c: c["text"][:16])
def test_rewrite_of_a_violation_passes(rules_guard: Guard, case: dict) -> None:
    d = rules_guard.check(case["text"], recipient=case["recipient"])
    assert d.rewrite
    assert rules_guard.check(d.rewrite, recipient=case["recipient"]).decision == "allow"
