"""The classifier slot: a small protocol any model can fill.

Scores are calibrated per category so that 0.5 is the model's own decision
threshold; the policy pack's category thresholds then work in one space for
rules and models alike.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable


@runtime_checkable
class Classifier(Protocol):
    """Texts in, per-category probabilities out."""

    version: str
    labels: tuple[str, ...]

    def predict(self, texts: Sequence[str]) -> list[dict[str, float]]:
        """One ``{category: score}`` per text, in order."""
        ...
