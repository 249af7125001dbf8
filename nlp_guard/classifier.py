"""The classifier slot: a small protocol any model can fill.

Scores are calibrated per category so that 0.5 is the model's own decision
threshold; the policy pack's category thresholds then work in one space for
rules and models alike.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@runtime_checkable
class Classifier(Protocol):
    """Texts in, per-category probabilities out."""

    version: str
    labels: tuple[str, ...]

    def predict(self, texts: Sequence[str]) -> list[dict[str, float]]:
        """One ``{category: score}`` per text, in order."""
        ...


@dataclass(frozen=True, slots=True)
class Span:
    """Characters ``[start, end)`` of the scored text that drive a category, with their weight."""

    start: int
    end: int
    weight: float


@dataclass(frozen=True, slots=True)
class Scored:
    """A text's scores and, per category, the spans an evidence head marks."""

    scores: dict[str, float]
    evidence: dict[str, tuple[Span, ...]]


@runtime_checkable
class EvidenceClassifier(Classifier, Protocol):
    """A classifier whose forward pass also says which words drive each category
    (a distilled student's token head), so evidence costs no extra inference."""

    evidence_head: bool

    def predict_with_evidence(self, texts: Sequence[str]) -> list[Scored]:
        ...
