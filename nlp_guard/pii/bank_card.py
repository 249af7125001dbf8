"""Bank card numbers (16-19 digits, Luhn)."""
from __future__ import annotations

from typing import ClassVar

from nlp_guard.pii.base import Pattern, PatternRecognizer
from nlp_guard.pii.id_card import is_valid_id_card
from nlp_guard.pii.phone import mobile_digits


def luhn_ok(digits: str) -> bool:
    """Luhn (mod 10) check over a string of ASCII digits."""
    if not digits or not digits.isascii() or not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def luhn_check_digit(payload: str) -> str:
    """The digit that makes ``payload + digit`` pass Luhn (used by tests and fixtures)."""
    for d in "0123456789":
        if luhn_ok(payload + d):
            return d
    raise AssertionError("unreachable: one digit always completes Luhn")


def _digits(value: str) -> str:
    return "".join(ch for ch in value if ch.isdigit())


class BankCardRecognizer(PatternRecognizer):
    """Debit/credit card numbers, plain or grouped by four.

    Luhn passes one random number in ten, so a valid checksum raises the score
    less than a resident-ID checksum does (``VALIDATED_SCORE`` 0.8) and a failed
    one drops the match. A digit run that is a valid resident ID or a phone
    number is left to those recognizers.
    """

    ENTITY: ClassVar[str] = "bank_card"
    PATTERNS: ClassVar[tuple[Pattern, ...]] = (
        Pattern("bank_card_plain", r"(?<![0-9])\d{16,19}(?![0-9])", 0.3),
        Pattern(
            "bank_card_grouped",
            r"(?<![0-9])(?<![0-9][ \-])\d{4}(?:([ \-])\d{4})(?:\1\d{4}){2}(?:\1\d{1,3})?"
            r"(?![0-9])(?![ \-][0-9])",
            0.4,
        ),
    )
    CONTEXT: ClassVar[tuple[str, ...]] = (
        "银行卡", "卡号", "储蓄卡", "信用卡", "借记卡", "账号", "帐号", "账户", "帐户", "开户行", "银行", "转账", "还款账",
    )
    VALIDATION: ClassVar[str] = "checksum Luhn"
    VALIDATED_SCORE: ClassVar[float] = 0.8

    def validate_result(self, pattern_text: str) -> bool | None:
        """Luhn over the digits, ignoring group separators."""
        return luhn_ok(_digits(pattern_text))

    def invalidate_result(self, pattern_text: str) -> str | None:
        """Do not report a run that is a valid resident ID or a (prefixed) phone number."""
        digits = _digits(pattern_text)
        if len(pattern_text) == 18 and is_valid_id_card(pattern_text):
            return "is a valid id_card"
        if mobile_digits(digits) is not None and len(digits) <= 15:
            return "is a phone number"
        return None
