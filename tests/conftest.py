"""Shared fixtures: the rules-only guard is cheap; the shipped model is slow-marked."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from nlp_guard import Guard

GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture(scope="session")
def rules_guard() -> Guard:
    return Guard()


def golden_cases(name: str) -> list[dict]:
    return [json.loads(line) for line in (GOLDEN / name).read_text("utf-8").splitlines() if line.strip()]
