"""Test setup for training/ code: registers the ``slow`` marker and makes the
repo root importable (``training`` is a top-level package, and tests/training
would otherwise shadow nothing but also not expose it under plain ``pytest``)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

_ROOT = Path(__file__).resolve().parents[2]
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: long-running (model conversion, >10 s)")
