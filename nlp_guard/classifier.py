"""The classifier slot: a small protocol any model can fill.

Scores are calibrated per category so that 0.5 is the model's own decision
threshold; the policy pack's category thresholds then work in one space for
rules and models alike.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
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
    evidence: Mapping[str, tuple[Span, ...]]


class LazyEvidence(Mapping[str, tuple[Span, ...]]):
    """Per-category spans, each worked out when it is first read and then kept. A screening
    batch reads the spans of a category or two for a few of its texts (the categories only the
    model saw); finding them for every category of every text cost more than all the other
    evidence work."""

    __slots__ = ("_categories", "_find", "_found")

    def __init__(self, categories: Sequence[str], find: Callable[[str], tuple[Span, ...]]) -> None:
        self._categories = tuple(categories)
        self._find = find
        self._found: dict[str, tuple[Span, ...]] = {}

    def __getitem__(self, category: str) -> tuple[Span, ...]:
        if category not in self._found:
            if category not in self._categories:
                raise KeyError(category)
            self._found[category] = self._find(category)
        return self._found[category]

    def __iter__(self) -> Iterator[str]:
        return iter(self._categories)

    def __len__(self) -> int:
        return len(self._categories)


@runtime_checkable
class EvidenceClassifier(Classifier, Protocol):
    """A classifier whose forward pass also says which words drive each category
    (a distilled student's token head), so evidence costs no extra inference."""

    evidence_head: bool

    def predict_with_evidence(self, texts: Sequence[str]) -> list[Scored]:
        ...
