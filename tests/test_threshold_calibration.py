"""Threshold calibration on dev: the best-F1 plateau point nearest 0.5."""
from __future__ import annotations

import numpy as np
import pytest

from training.metrics import best_thresholds


@pytest.mark.parametrize("pos,neg,expected", [
    ([0.95, 0.9, 0.92], [0.05, 0.1, 0.02], 0.5),        # separable anywhere in 0.12–0.90: the middle, not the edge
    ([0.3, 0.25, 0.35], [0.05, 0.1, 0.15], 0.24),       # only 0.16–0.24 separates: the one nearest 0.5
    ([0.9, 0.8, 0.7, 0.2], [0.1, 0.15], 0.2),            # catching the 0.2 positive is worth it: F1 1.0 only up to 0.20
])
def test_plateau_point_nearest_half(pos: list[float], neg: list[float], expected: float) -> None:
    probs = np.array(pos + neg, dtype=np.float32)[:, None]
    y = np.array([1.0] * len(pos) + [0.0] * len(neg))[:, None]
    assert best_thresholds(y, probs, ["threat"]) == {"threat": pytest.approx(expected)}


def test_a_wider_plateau_trades_a_little_dev_f1_for_a_central_threshold() -> None:
    probs = np.array([0.9, 0.8, 0.45, 0.1, 0.2, 0.3], dtype=np.float32)[:, None]
    y = np.array([1, 1, 1, 0, 0, 0], dtype=float)[:, None]
    strict = best_thresholds(y, probs, ["threat"], plateau=0.0)["threat"]
    assert 0.30 < strict <= 0.45
    assert best_thresholds(y, probs, ["threat"], plateau=0.2)["threat"] == pytest.approx(0.5)
