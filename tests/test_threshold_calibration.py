"""Threshold calibration on dev: the best-F1 plateau point nearest 0.5."""
from __future__ import annotations

import numpy as np
import pytest

from training.metrics import best_thresholds, thresholds_within_fpr


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


@pytest.mark.parametrize(("max_fpr", "expected"), [
    (0.5, {"a": 0.5, "b": 0.5}),  # two of four compliant rows flagged: already within
    (0.25, {"a": 0.62, "b": 0.5}),  # one row to clear: raising a costs no F1, raising b loses its hit
    (0.0, {"a": 0.62, "b": 0.56}),  # both cleared, each just above the compliant row's score
])
def test_thresholds_within_fpr_raise_the_cheapest_label_until_the_cap_holds(max_fpr: float, expected: dict) -> None:
    y = np.array([[1, 0], [0, 1], [0, 0], [0, 0], [0, 0], [0, 0]], dtype=float)
    probs = np.array([[0.9, 0.1], [0.1, 0.9], [0.6, 0.1], [0.1, 0.55], [0.2, 0.2], [0.1, 0.1]])
    assert thresholds_within_fpr(y, probs, ["a", "b"], {"a": 0.5, "b": 0.5}, max_fpr) == pytest.approx(expected)


def test_thresholds_within_fpr_stop_where_no_threshold_clears_a_row() -> None:
    y = np.array([[1.0], [0.0]])
    probs = np.array([[0.99], [0.99]])  # the compliant row scores above every grid point
    assert thresholds_within_fpr(y, probs, ["a"], {"a": 0.5}, 0.0) == {"a": 0.5}


@pytest.mark.parametrize(("fixed_row", "max_fpr", "expected"), [
    (None, 0.25, {"a": 0.62, "b": 0.5}),           # without rules: one row to clear, as above
    ([False, True], 0.25, {"a": 0.62, "b": 0.56}),  # a rule flags another compliant row: both model rows must go
    ([True, False], 0.25, {"a": 0.5, "b": 0.56}),   # a rule already flags row 2: clearing it by threshold is no use
])
def test_thresholds_within_fpr_count_what_the_rules_flag(fixed_row: list[bool] | None, max_fpr: float,
                                                         expected: dict) -> None:
    """Rows 2 and 3 are compliant rows the model flags (a at 0.6, b at 0.55); ``fixed_row`` is what the
    rules flag on compliant row 4 (index 4) or row 2 (index 2), as the Guard would."""
    y = np.array([[1, 0], [0, 1], [0, 0], [0, 0], [0, 0], [0, 0], [0, 0], [0, 0]], dtype=float)
    probs = np.array([[0.9, 0.1], [0.1, 0.9], [0.6, 0.1], [0.1, 0.55], [0.2, 0.2], [0.1, 0.1], [0.1, 0.1], [0.1, 0.1]])
    fixed = None
    if fixed_row is not None:
        fixed = np.zeros(probs.shape, bool)
        fixed[2 if fixed_row[0] else 4, 0] = True
    assert thresholds_within_fpr(y, probs, ["a", "b"], {"a": 0.5, "b": 0.5}, max_fpr, fixed) == pytest.approx(expected)
