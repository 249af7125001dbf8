"""The red-team finds stay fixed (rules only): every probe line the rules got right when the golden
file was written (caught if violating, allowed if compliant) must stay right. Lines still open are
not listed; fixing one is welcome and only asks for the golden file to be rewritten.

The probes are in ``training/data/adversarial/probe_redteam_*.jsonl`` and ``probe_lookalike_*.jsonl``
(see its README); the model's
figures on them are in bench/RESULTS.md ("Adversarial: held-out authored lines").
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from nlp_guard import Guard
from nlp_guard.guard import Message

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = json.loads((Path(__file__).parent / "golden" / "redteam_rules.json").read_text("utf-8"))


def _rows(name: str) -> list[dict]:
    path = ROOT / "training" / "data" / "adversarial" / f"{name}.jsonl"
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_fixed_red_team_lines_stay_fixed(rules_guard: Guard, name: str) -> None:
    rows = {r["id"]: r for r in _rows(name)}
    fixed = [rows[i] for i in GOLDEN[name]]
    assert fixed, f"{name}: the golden file lists no line"
    decisions = rules_guard.check_many([Message(r["text"], r["recipient"]) for r in fixed], suggest=False)
    broken = [f"{r['id']} ({r['evasion']}): {r['text']} -> {d.decision}"
              for r, d in zip(fixed, decisions, strict=True) if (d.decision != "allow") != bool(r["labels"])]
    assert not broken, "\n".join(broken)
