"""Pathological input must not hang the checker."""
from __future__ import annotations

import logging
import time
from typing import ClassVar

import pytest

from nlp_guard.pii import analyze
from nlp_guard.pii.base import Pattern, PatternRecognizer

N = 100_000
PATHOLOGICAL = {
    "digits": "1" * N,
    "digits_spaced": "1 " * (N // 2),
    "digits_dashed": "8-" * (N // 2),
    "at_signs": "a@" * (N // 2),
    "dotted_domain": "a@" + "a." * (N // 2),
    "long_local_part": "a" * N + "@qq.com",
    "han_surname": "张" * N,
    "address_suffixes": "路" * N,
    "address_numbers": "1号" * (N // 2),
    "repeated_address": "北京市朝阳区" * (N // 6),
    "repeated_names": "你老婆李秀英" * (N // 6),
    "plates": "京A" * (N // 2),
    "x_run": "X" * N,
}


@pytest.mark.parametrize("text", PATHOLOGICAL.values(), ids=PATHOLOGICAL.keys())
def test_pathological_100k_input_finishes_quickly(text: str) -> None:
    started = time.monotonic()
    analyze(text)
    assert time.monotonic() - started < 8.0


class _Catastrophic(PatternRecognizer):
    """A recognizer with an exponential-backtracking pattern, to test the timeout."""

    ENTITY: ClassVar[str] = "test_catastrophic"
    PATTERNS: ClassVar[tuple[Pattern, ...]] = (Pattern("evil", r"(?:a|a)+b", 0.5),)


def test_regex_timeout_stops_catastrophic_backtracking(caplog: pytest.LogCaptureFixture) -> None:
    rec = _Catastrophic(timeout=0.2)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="nlp_guard.pii.base"):
        assert rec.analyze("a" * 40 + "!") == []
    assert time.monotonic() - started < 2.0
    assert "timed out" in caplog.text
