"""Decisions: the public, serialisable result of screening a message or transcript.

All offsets are into the caller's ORIGINAL text.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Verdict = Literal["allow", "flag", "block"]
_RANK: dict[str, int] = {"allow": 0, "flag": 1, "block": 2}


def worst(verdicts: list[str]) -> Verdict:
    """The strictest of several verdicts (block > flag > allow)."""
    return max(verdicts, key=_RANK.__getitem__, default="allow")  # type: ignore[return-value]


@dataclass(frozen=True, slots=True)
class Evidence:
    """A span of the original text; ``turn`` names another transcript turn whose text
    the offsets point into (set only on a violation's ``context_evidence``)."""

    start: int
    end: int
    text: str
    turn: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"start": self.start, "end": self.end, "text": self.text}
        if self.turn is not None:
            out["turn"] = self.turn
        return out


@dataclass(frozen=True, slots=True)
class Violation:
    category: str
    subcategory: str
    score: float
    source: str  # rule | model | context | rule+model
    action: Verdict
    severity: str
    evidence: tuple[Evidence, ...]
    citations: tuple[str, ...]
    suggestion: str
    detectors: tuple[str, ...] = ()
    explanation: str = ""
    # a violation completed across transcript turns: its words in the earlier turns
    context_evidence: tuple[Evidence, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "category": self.category,
            "subcategory": self.subcategory,
            "score": round(self.score, 4),
            "source": self.source,
            "action": self.action,
            "severity": self.severity,
            "evidence": [e.to_dict() for e in self.evidence],
            "citations": list(self.citations),
            "suggestion": self.suggestion,
            "detectors": list(self.detectors),
            "explanation": self.explanation,
        }
        if self.context_evidence:  # absent otherwise: the shape existing consumers know
            out["context_evidence"] = [e.to_dict() for e in self.context_evidence]
        return out


@dataclass(frozen=True, slots=True)
class PIIEntity:
    type: str
    start: int
    end: int
    text: str
    score: float
    validated: bool | None

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "start": self.start, "end": self.end, "text": self.text,
                "score": round(self.score, 4), "validated": self.validated}


@dataclass(frozen=True, slots=True)
class Signal:
    """Something a customer said that a person should see (never a violation)."""

    code: str
    name: str
    escalate: bool
    evidence: tuple[Evidence, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "name": self.name, "escalate": self.escalate,
                "evidence": [e.to_dict() for e in self.evidence]}


@dataclass(frozen=True, slots=True)
class Decision:
    decision: Verdict
    violations: tuple[Violation, ...]
    pii: tuple[PIIEntity, ...]
    policy_version: str
    model_version: str | None
    rewrite: str | None = None
    scores: dict[str, float] = field(default_factory=dict)
    rewrite_note: str | None = None  # why there is no rewrite when none passes its own check


    def to_dict(self) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "violations": [v.to_dict() for v in self.violations],
            "pii": [p.to_dict() for p in self.pii],
            "rewrite": self.rewrite,
            "rewrite_note": self.rewrite_note,
            "scores": {k: round(v, 4) for k, v in self.scores.items()},
            "policy_version": self.policy_version,
            "model_version": self.model_version,
        }


@dataclass(frozen=True, slots=True)
class TurnResult:
    index: int
    speaker: str
    decision: Verdict
    violations: tuple[Violation, ...]
    signals: tuple[Signal, ...]
    pii: tuple[PIIEntity, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "speaker": self.speaker,
            "decision": self.decision,
            "violations": [v.to_dict() for v in self.violations],
            "signals": [s.to_dict() for s in self.signals],
            "pii": [p.to_dict() for p in self.pii],
        }


@dataclass(frozen=True, slots=True)
class TranscriptDecision:
    decision: Verdict
    turns: tuple[TurnResult, ...]
    policy_version: str
    model_version: str | None

    @property
    def escalate(self) -> bool:
        return any(s.escalate for t in self.turns for s in t.signals)

    def to_dict(self) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "escalate": self.escalate,
            "turns": [t.to_dict() for t in self.turns],
            "policy_version": self.policy_version,
            "model_version": self.model_version,
        }
