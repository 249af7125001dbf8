"""The shipped model on golden cases: veiled threats that no rule names, and the
protective-context negatives that keyword filters get wrong."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from nlp_guard import Guard
from nlp_guard.model import find_model_dir

pytestmark = pytest.mark.slow
CASES = [json.loads(l) for l in (Path(__file__).parent / "golden" / "model_decisions.jsonl").read_text("utf-8").splitlines()]


@pytest.fixture(scope="module")
def guard() -> Guard:
    g = Guard.default()  # ModelNotFoundError (saying where it looked) when the shipped model is missing
    assert g.classifier is not None
    return g


@pytest.mark.parametrize("case", CASES, ids=[c["text"][:14] for c in CASES])
def test_shipped_model_golden(guard: Guard, case: dict) -> None:
    d = guard.check(case["text"], recipient=case["recipient"])
    assert d.decision == case["decision"], (d.scores, [v.to_dict() for v in d.violations])
    assert set(case["categories"]) <= {v.category for v in d.violations}
    for v in d.violations:
        assert all(case["text"][e.start:e.end] == e.text for e in v.evidence)


def test_model_only_violation_has_word_level_evidence(guard: Guard) -> None:
    text = CASES[0]["text"]
    d = guard.check(text)
    model_only = [v for v in d.violations if v.source == "model"]
    assert model_only, "expected the model alone to see this veiled threat"
    ev = model_only[0].evidence
    assert ev and all(e.end - e.start < len(text) for e in ev)


def test_model_artefacts_describe_themselves() -> None:
    shipped = find_model_dir()
    for name in ("model.onnx", "tokenizer.json", "config.json", "metrics.json", "MODEL_CARD.md"):
        assert (shipped / name).is_file(), name
    cfg = json.loads((shipped / "config.json").read_text())
    assert cfg["labels"] == ["threat", "abuse", "deception", "privacy", "coercion"]
    size = sum(p.stat().st_size for p in shipped.iterdir())
    assert size < 120 * 2**20  # the wheel carries it as package data while it stays this small


def test_thread_cap_gets_its_own_session_and_the_same_scores(guard: Guard) -> None:
    capped = Guard.default(threads=1)
    assert capped.classifier is not guard.classifier and Guard.default(threads=1).classifier is capped.classifier
    assert capped.classifier.session.get_session_options().intra_op_num_threads == 1
    text = "听说你家孩子在实验小学上学，每天几点放学我们都清楚"
    assert capped.check(text, suggest=False).scores == pytest.approx(guard.check(text, suggest=False).scores, abs=1e-4)
