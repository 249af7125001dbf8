"""Redaction of the user's ORIGINAL text: PII is found on normalised text and
mapped back, so full-width digits and other evasions are redacted too."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .finding import Finding
from .normalize import normalize
from .pii import analyze, redact
from .pii.redact import Style


def pii_findings(text: str) -> list:
    """PII findings with offsets into ``text`` itself."""
    norm = normalize(text)
    return [f.moved(*norm.to_original(f.start, f.end)) for f in analyze(norm.cased)]


def redact_original(text: str, style: Style = "mask") -> str:
    return redact(text, pii_findings(text), style=style)


def redact_spans(text: str, pii: Iterable[Mapping[str, Any]], style: Style = "mask") -> str:
    """Redact with the PII items a decision already lists (original offsets), without
    running the recognizers again."""
    findings = [Finding(p["type"], p["start"], p["end"], float(p.get("score", 1.0)), "pii", "decision") for p in pii]
    return redact(text, findings, style=style)
