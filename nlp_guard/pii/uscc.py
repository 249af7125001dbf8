"""Unified Social Credit Code (统一社会信用代码, GB 32100-2015)."""
from __future__ import annotations

from typing import ClassVar

import regex

from nlp_guard.pii.base import Pattern, PatternRecognizer

#: GB 32100 alphabet: digits and capitals without I, O, S, V, Z.
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_WEIGHTS: tuple[int, ...] = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def uscc_check_char(first17: str) -> str:
    """GB 32100 check character for the first 17 characters (MOD 31)."""
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(first17, _WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def is_valid_uscc(value: str) -> bool:
    """True when ``value`` is 18 GB 32100 characters with a correct check character."""
    if len(value) != 18 or any(c not in USCC_ALPHABET for c in value):
        return False
    return uscc_check_char(value[:17]) == value[17]


_C = "[0-9A-HJ-NPQRTUWXY]"


class UsccRecognizer(PatternRecognizer):
    """Organisation codes appear in debt letters (creditor, guarantor company).

    The 3rd-8th characters are an administrative division code and must be
    digits; the check character must hold or the match is dropped.
    """

    ENTITY: ClassVar[str] = "uscc"
    PATTERNS: ClassVar[tuple[Pattern, ...]] = (
        Pattern("uscc_18", rf"(?<![0-9A-Za-z]){_C}{{2}}\d{{6}}{_C}{{10}}(?![0-9A-Za-z])", 0.4),
    )
    CONTEXT: ClassVar[tuple[str, ...]] = ("信用代码", "社会信用", "统一代码", "营业执照", "税号", "纳税人识别号", "组织机构")
    VALIDATION: ClassVar[str] = "checksum GB 32100"
    FLAGS: ClassVar[int] = regex.VERSION1 | regex.IGNORECASE  # typed in lower case, the code is the same

    def validate_result(self, pattern_text: str) -> bool | None:
        """MOD 31 check character."""
        return is_valid_uscc(pattern_text.upper())
