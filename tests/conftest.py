"""Shared fixtures: the rules-only guard is cheap; the shipped model is slow-marked."""
from __future__ import annotations

import pytest

from nlp_guard import Guard


@pytest.fixture(scope="session")
def rules_guard() -> Guard:
    return Guard()
