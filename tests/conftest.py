"""Shared fixtures: the rules-only guard is cheap; the shipped model is slow-marked."""
from __future__ import annotations

from pathlib import Path

import pytest

from nlp_guard import Guard


@pytest.fixture(scope="session")
def rules_guard() -> Guard:
    return Guard()


@pytest.fixture
def no_model(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A process that cannot find a model: NLP_GUARD_MODEL_DIR unset and nothing shipped where the
    search looks (the returned path)."""
    import nlp_guard.model as model

    nowhere = tmp_path / "nowhere" / "nlp_guard-zh"
    monkeypatch.delenv("NLP_GUARD_MODEL_DIR", raising=False)
    monkeypatch.setattr(model, "shipped_model_dirs", lambda: [nowhere])
    return nowhere
