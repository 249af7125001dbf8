"""Chinese PII recognizers: detect, explain and redact personal data.

Input must already be NFKC-normalised by the caller (full-width digits become
half-width), so every pattern matches half-width characters only.
"""
from __future__ import annotations

from nlp_guard.pii.analyzer import analyze, resolve_overlaps
from nlp_guard.pii.base import PII_TYPES, Pattern, PatternRecognizer
from nlp_guard.pii.redact import hash_pii, mask_value, redact
from nlp_guard.pii.registry import Registry, registry

__all__ = [
    "PII_TYPES",
    "Pattern",
    "PatternRecognizer",
    "Registry",
    "analyze",
    "hash_pii",
    "mask_value",
    "redact",
    "registry",
    "resolve_overlaps",
]
