"""Mainland mobile, landline and 400/800 service numbers."""
from __future__ import annotations

from typing import ClassVar

import regex

from nlp_guard.pii.base import Pattern, PatternRecognizer

#: Optional country prefix: +86, 0086 or bare 86, with an optional separator.
_CC = r"(?:(?:\+|00)?86[ \-]?)?"
_MOBILE_DIGITS = regex.compile(r"(?:(?:00)?86)?(1[3-9]\d{9})")


def mobile_digits(value: str) -> str | None:
    """The 11 mobile digits inside ``value`` (prefix and separators removed), or None."""
    digits = "".join(ch for ch in value if ch.isascii() and ch.isdigit())
    m = _MOBILE_DIGITS.fullmatch(digits)
    return m.group(1) if m else None


class PhoneRecognizer(PatternRecognizer):
    """Phone numbers; there is no checksum, so shape and context set the score.

    Mobile numbers (1[3-9] + 9 digits) are specific enough to score well alone;
    landlines are a bare digit run with an area code and need context.
    """

    ENTITY: ClassVar[str] = "phone"
    PATTERNS: ClassVar[tuple[Pattern, ...]] = (
        Pattern(
            "phone_mobile",
            rf"(?<![0-9+]){_CC}1[3-9]\d(?:[ \-]?\d{{4}}){{2}}(?![0-9])",
            0.7,
        ),
        Pattern(
            "phone_landline",
            r"(?<![0-9])(?:\((?:010|02\d|0[3-9]\d{2})\)[ \-]?|(?:010|02\d|0[3-9]\d{2})[ \-]?)"
            r"[1-9]\d{6,7}(?:(?:转|-)\d{1,5})?(?![0-9])",
            0.4,
        ),
        Pattern(
            "phone_service",
            r"(?<![0-9])[48]00[ \-]?\d{3}[ \-]?\d{4}(?![0-9])",
            0.5,
        ),
    )
    CONTEXT: ClassVar[tuple[str, ...]] = (
        "电话", "手机", "号码", "联系方式", "致电", "来电", "打给", "拨打", "微信", "座机", "热线", "tel", "Tel", "TEL",
    )
