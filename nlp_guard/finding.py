"""The one result type that every detector returns.

Rules, PII recognizers, context rules and the classifier's explainer all emit a
:class:`Finding`. Offsets point into the text the detector was given; the
engine maps them back to the user's original text through the offset map.
"""
from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True)
class Finding:
    """A span a detector found, with the reason it found it.

    ``label`` is a policy subcategory code (``threat.veiled``) for rules and the
    model, or a PII type (``id_card``) for recognizers. ``validated`` follows
    presidio: True when a checksum confirmed it, False when it failed, None when
    the detector cannot tell.
    """

    label: str
    start: int
    end: int
    score: float
    source: str  # "rule" | "pii" | "model" | "context"
    detector: str  # rule id or recognizer name
    explanation: str = ""
    validated: bool | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.start <= self.end:
            raise ValueError(f"bad span [{self.start}, {self.end}) for {self.detector}")

    @property
    def category(self) -> str:
        return self.label.split(".", 1)[0]

    def moved(self, start: int, end: int) -> Finding:
        """The same finding at other offsets (used when mapping to the original text)."""
        return replace(self, start=start, end=end)
