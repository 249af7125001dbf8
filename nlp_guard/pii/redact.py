"""Replace PII spans before text is logged, stored or shown to reviewers.

``style="mask"`` keeps a hint (138****5678, 张**) and keeps every span's
length, so offsets of all other text stay exactly where they were. ``style="type"``
replaces each span with its type tag (<PHONE>); text outside spans is kept in
order but later offsets shift.
"""
from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Literal

import regex

from nlp_guard.finding import Finding
from nlp_guard.pii.address import region_prefix_length
from nlp_guard.pii.analyzer import analyze, resolve_overlaps
from nlp_guard.pii.organization import ORG_SUFFIXES
from nlp_guard.pii.person import COMPOUND_SURNAMES

MASK = "*"
#: Characters kept as-is inside a masked span so its shape stays readable.
_KEEP_SHAPE = frozenset(" -·•@.()+")
_PHONE_PREFIX = regex.compile(r"^(?:\+86|0086|86)[ \-]?(?=1[3-9])")

Style = Literal["mask", "type"]


def _mask_middle(value: str, head: int, tail: int) -> str:
    """Mask all but the first ``head`` and last ``tail`` significant characters.

    Separators (spaces, dashes, dots, @) are not counted and not masked.
    """
    positions = [i for i, ch in enumerate(value) if ch not in _KEEP_SHAPE]
    if len(positions) <= head + tail:
        # Too short to leave a hint without revealing it: mask everything.
        keep: set[int] = set()
    else:
        keep = set(positions[:head]) | set(positions[len(positions) - tail :])
    return "".join(
        ch if (i in keep or ch in _KEEP_SHAPE) else MASK for i, ch in enumerate(value)
    )


def _mask_phone(value: str) -> str:
    prefix = _PHONE_PREFIX.match(value)
    cut = prefix.end() if prefix else 0
    return value[:cut] + _mask_middle(value[cut:], 3, 4)


def _mask_email(value: str) -> str:
    local, _, domain = value.rpartition("@")
    return local[:1] + MASK * (len(local) - 1) + "@" + domain


def _mask_person(value: str) -> str:
    surname = 2 if value[:2] in COMPOUND_SURNAMES and len(value) > 2 else 1
    return value[:surname] + MASK * (len(value) - surname)


def _mask_organization(value: str) -> str:
    """Keep the kind of organisation (有限公司, 银行), hide which one."""
    suffix = next((s for s in ORG_SUFFIXES if value.endswith(s) and len(s) < len(value)), "")
    return MASK * (len(value) - len(suffix)) + suffix


def _mask_address(value: str) -> str:
    keep = region_prefix_length(value)
    if keep >= len(value):
        keep = 0
    return value[:keep] + MASK * (len(value) - keep)


def mask_value(label: str, value: str) -> str:
    """A same-length masked form of ``value`` for PII type ``label``."""
    if label == "phone":
        return _mask_phone(value)
    if label == "id_card":
        return _mask_middle(value, 3, 4)
    if label == "bank_card":
        return _mask_middle(value, 4, 4)
    if label == "uscc":
        return _mask_middle(value, 2, 4)
    if label == "email":
        return _mask_email(value)
    if label == "plate":
        return _mask_middle(value, 2, 1)
    if label == "person":
        return _mask_person(value)
    if label == "address":
        return _mask_address(value)
    if label == "organization":
        return _mask_organization(value)
    return MASK * len(value)


def type_tag(label: str) -> str:
    """The replacement for ``style="type"``: ``<PHONE>``."""
    return f"<{label.upper()}>"


def _clusters(text: str, findings: Sequence[Finding]) -> list[tuple[int, int, Finding | None]]:
    """Non-overlapping spans to replace.

    The best finding of each overlapping group is used; any part of a dropped
    overlapping finding outside it is still covered (fully masked) so no PII
    character escapes because two findings disagreed.
    """
    for f in findings:
        if f.end > len(text):
            raise ValueError(f"finding [{f.start}, {f.end}) is outside a text of {len(text)} chars")
    best = resolve_overlaps(findings)
    covered = [False] * len(text)
    for f in findings:
        for i in range(f.start, f.end):
            covered[i] = True
    out: list[tuple[int, int, Finding | None]] = []
    for f in best:
        out.append((f.start, f.end, f))
        for i in range(f.start, f.end):
            covered[i] = False
    i = 0
    while i < len(text):
        if covered[i]:
            j = i
            while j < len(text) and covered[j]:
                j += 1
            out.append((i, j, None))
            i = j
        else:
            i += 1
    out.sort(key=lambda t: t[0])
    return out


def redact(text: str, findings: Sequence[Finding] | None = None, style: Style = "mask") -> str:
    """``text`` with every PII span replaced; ``findings`` default to :func:`analyze`."""
    if style not in ("mask", "type"):
        raise ValueError(f"unknown redaction style {style!r}")
    if findings is None:
        findings = analyze(text)
    parts: list[str] = []
    pos = 0
    for start, end, f in _clusters(text, findings):
        parts.append(text[pos:start])
        value = text[start:end]
        if f is None:
            parts.append(MASK * len(value) if style == "mask" else type_tag("pii"))
        elif style == "mask":
            parts.append(mask_value(f.label, value))
        else:
            parts.append(type_tag(f.label))
        pos = end
    parts.append(text[pos:])
    return "".join(parts)


def hash_pii(value: str, salt: str | bytes = b"") -> str:
    """SHA-256 hex of ``value`` so logs can correlate a PII value without storing it.

    Phone and ID spaces are small enough to brute-force an unsalted hash; pass a
    secret ``salt`` when the hashes leave a trusted boundary.
    """
    salt_bytes = salt.encode("utf-8") if isinstance(salt, str) else salt
    return hashlib.sha256(salt_bytes + value.encode("utf-8")).hexdigest()
