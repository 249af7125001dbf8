"""Compliant rewrites for drafts: replace each offending clause with the
subcategory's compliant sentence, keep the rest of the collector's words."""
from __future__ import annotations

from collections.abc import Callable

import regex

from .recipient import SUBCATEGORY as RECIPIENT_SUBCATEGORY
from .results import Violation

_CLAUSE = regex.compile(r"[^，。！？,!?;；\n]+[，。！？,!?;；\n]*")
_GREETING = regex.compile(r"^(?:您好|你好)[，,！!]\s*")


def _joined(parts: list[str]) -> str:
    """Parts as one text; a suggestion's own greeting (您好，) is dropped where it would stand mid-text."""
    out = ""
    for p in parts:
        out += _GREETING.sub("", p) if out.strip() else p
    return out.strip()


def clean_clauses(original: str, violations: tuple[Violation, ...]) -> list[str]:
    """The clauses that hold no evidence (candidates to keep in a rewrite)."""
    bad = [(e.start, e.end) for v in violations for e in v.evidence]
    return [m.group() for m in _CLAUSE.finditer(original) if not any(s < m.end() and e > m.start() for s, e in bad)]


def rewrite(original: str, violations: tuple[Violation, ...], clause_ok: Callable[[str], bool] = lambda _: True) -> str:
    """A draft with the offending clauses replaced; a third-party disclosure becomes a relay.

    A clause with no evidence is kept only if ``clause_ok`` passes it on its own: the
    model may have read the intimidation in a clause that no rule names.
    """
    for v in violations:
        if v.subcategory == RECIPIENT_SUBCATEGORY and "context" in v.source:
            return v.suggestion
    bad = [(e.start, e.end) for v in violations for e in v.evidence]
    parts: list[str] = []
    used: set[str] = set()
    for m in _CLAUSE.finditer(original):
        if not any(s < m.end() and e > m.start() for s, e in bad):
            if clause_ok(m.group()):
                parts.append(m.group())
            continue
        for v in violations:
            if v.suggestion not in used and any(m.start() < e.end and e.start < m.end() for e in v.evidence):
                used.add(v.suggestion)
                parts.append(v.suggestion)
    return _joined(parts) or fallback(violations)


def fallback(violations: tuple[Violation, ...]) -> str:
    """The suggestions alone, when the clause-level rewrite still does not pass."""
    return _joined(list(dict.fromkeys(v.suggestion for v in violations)))
