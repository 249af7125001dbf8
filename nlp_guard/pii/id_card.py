"""18-digit mainland resident identity card number (GB 11643-1999)."""
from __future__ import annotations

import datetime as dt
from typing import ClassVar

from nlp_guard.pii.base import Pattern, PatternRecognizer

_WEIGHTS: tuple[int, ...] = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"
#: Earliest plausible birth year; anything older is a digit run, not a person.
_MIN_YEAR = 1900


def id_check_char(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character for the first 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def birth_date(value: str) -> dt.date | None:
    """The birth date encoded in digits 7-14, or None when it is not a real past date."""
    try:
        born = dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return None
    if born.year < _MIN_YEAR or born > dt.date.today():
        return None
    return born


def is_valid_id_card(value: str) -> bool:
    """True when ``value`` is 18 chars with a real birth date and a correct check digit."""
    value = value.upper()
    if len(value) != 18 or not value[:17].isascii() or not value[:17].isdigit():
        return False
    if value[0] == "0" or birth_date(value) is None:
        return False
    return id_check_char(value[:17]) == value[17]


class IdCardRecognizer(PatternRecognizer):
    """Resident ID: region (6) + birth date (8) + sequence (3) + check char.

    A match whose check digit fails is dropped, not reported with a low score:
    one in eleven random 18-digit runs passes, so a failed checksum is strong
    evidence the run is something else (an order number, a bank card).
    """

    ENTITY: ClassVar[str] = "id_card"
    PATTERNS: ClassVar[tuple[Pattern, ...]] = (
        Pattern(
            "id_card_18",
            r"(?<![0-9A-Za-z])[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])"
            r"(?:0[1-9]|[12]\d|3[01])\d{3}[0-9Xx](?![0-9A-Za-z])",
            0.5,
        ),
    )
    CONTEXT: ClassVar[tuple[str, ...]] = ("身份证", "证件号", "身份号", "证号", "公民身份", "身份信息")
    VALIDATION: ClassVar[str] = "checksum GB 11643"

    def validate_result(self, pattern_text: str) -> bool | None:
        """Check digit and birth date must both hold."""
        return is_valid_id_card(pattern_text)

    def validation_note(self, pattern_text: str, result: bool | None) -> str:
        """Say whether the date or the check digit failed."""
        if result is False and birth_date(pattern_text) is None:
            return "birth date invalid"
        return super().validation_note(pattern_text, result)
