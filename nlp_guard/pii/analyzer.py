"""Run every PII recognizer over a text and resolve overlapping findings."""
from __future__ import annotations

import bisect
from collections.abc import Collection, Iterable, Mapping

from nlp_guard.finding import Finding
from nlp_guard.pii.base import PII_TYPES
from nlp_guard.pii.registry import Registry, registry

_VALIDATION_RANK: dict[bool | None, int] = {True: 2, None: 1, False: 0}


def _priority(f: Finding, distance: int | None) -> tuple[int, int, int, int, float, int]:
    """Own context word (nearer first), then validated over unvalidated over failed,
    then longer, then higher score."""
    return (distance is not None, -(distance or 0), _VALIDATION_RANK[f.validated], f.end - f.start, f.score, -f.start)


def resolve_overlaps(findings: Iterable[Finding], context: Mapping[Finding, int | None] | None = None) -> list[Finding]:
    """Keep a non-overlapping subset, greedily by priority; sorted by start.

    One digit run is often matched by several recognizers (an 18-digit ID that
    also passes Luhn); only the best explanation of a span survives. ``context``
    gives, per finding, how far its own type's nearest context word is (None: no
    such word): "身份证号330106196012139416" is an id_card even though the
    number passes Luhn and fails GB 11643.
    """
    context = context or {}
    starts: list[int] = []  # kept spans, sorted by start; they never overlap
    kept: list[Finding] = []
    for f in sorted(findings, key=lambda f: _priority(f, context.get(f)), reverse=True):
        i = bisect.bisect_left(starts, f.start)
        if i > 0 and kept[i - 1].end > f.start:
            continue
        if i < len(kept) and kept[i].start < f.end:
            continue
        starts.insert(i, f.start)
        kept.insert(i, f)
    return kept


def analyze(
    text: str,
    types: Collection[str] | None = None,
    *,
    reg: Registry | None = None,
) -> list[Finding]:
    """PII findings in ``text`` (already NFKC-normalised by the caller), sorted by start.

    ``types`` limits the run to some PII types; an unknown type is an error
    rather than silently finding nothing.
    """
    reg = registry if reg is None else reg
    wanted = list(PII_TYPES) if types is None else list(types)
    known = reg.types()
    unknown = [t for t in wanted if t not in known]
    if unknown:
        raise ValueError(f"unknown PII types {unknown}; known: {list(PII_TYPES)}")
    findings: list[Finding] = []
    context: dict[Finding, int | None] = {}
    for pii_type in dict.fromkeys(wanted):
        recognizer = reg.for_type(pii_type)
        for f in recognizer.analyze(text):
            findings.append(f)
            context[f] = recognizer.context_distance(text, f.start, f.end)
    return resolve_overlaps(findings, context)
