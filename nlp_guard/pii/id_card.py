"""Mainland resident identity card numbers (GB 11643-1999; v2 also the 15-digit form, by context)."""
from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import ClassVar

import regex

from nlp_guard.finding import Finding
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


#: Words after which a number is an identity-document number, whatever its checksum says.
ID_CONTEXT: tuple[str, ...] = ("公民身份号码", "身份证号码", "身份证号", "身份证", "证件号码", "证件号", "身份号码", "身份号", "证号")
#: A sentence or clause break ends the reach of a context word.
_CLAUSE_END = regex.compile(r"[。！？；;!?\n]")


def _birth_date_15(value: str) -> dt.date | None:
    """The 15-digit (GB 11643-1989) form writes the birth year with two digits, all in the 1900s."""
    return birth_date(value[:6] + "19" + value[6:12]) if len(value) == 15 else None


class ContextIdCardRecognizer(IdCardRecognizer):
    """v2: a number written after 身份证号/证件号 is an id_card whether or not its check digit holds.

    v1 drops an 18-digit run whose GB 11643 check fails, so "持有身份证号330106196012139416" (wrong
    check digit, Luhn passes) came out as a bank card. Here any 18-character run, or 15 digits (the
    old form without a check digit), that follows an ID context word in the same clause is reported
    with ``validated`` saying whether the check holds; so is a 16- or 17-digit run there (an ID typed
    with a digit too few or too many is still that person's ID, never a bank card). Without such context a failed run is dropped
    as before; :func:`nlp_guard.pii.analyzer.resolve_overlaps` then lets the nearest context word
    decide between id_card and bank_card.
    """

    VERSION: ClassVar[int] = 2
    PATTERNS: ClassVar[tuple[Pattern, ...]] = (
        *IdCardRecognizer.PATTERNS,
        Pattern("id_card_16_18_in_context", r"(?<![0-9A-Za-z])\d{15,17}[0-9Xx](?![0-9A-Za-z])", 0.5),
        Pattern("id_card_15_in_context", r"(?<![0-9A-Za-z])[1-9]\d{14}(?![0-9A-Za-z])", 0.5),
    )
    #: Characters before a number searched for an ID context word.
    ID_CONTEXT_WINDOW: ClassVar[int] = 12
    #: Score of an in-context number whose check fails (before the context boost).
    UNVALIDATED_SCORE: ClassVar[float] = 0.6

    def id_context(self, text: str, start: int) -> str | None:
        """The ID context word closest before ``start`` in the same clause, if any."""
        before = text[max(0, start - self.ID_CONTEXT_WINDOW) : start]
        cut = max((m.end() for m in _CLAUSE_END.finditer(before)), default=0)
        before = before[cut:]
        best: tuple[int, str] | None = None
        for word in ID_CONTEXT:
            at = before.rfind(word)
            if at >= 0 and (best is None or at + len(word) > best[0]):
                best = (at + len(word), word)
        return best[1] if best else None

    def validate_result(self, pattern_text: str) -> bool | None:
        """GB 11643 for 18 characters; the 15-digit form has only its birth date to check."""
        if len(pattern_text) == 15:
            return pattern_text[0] != "0" and _birth_date_15(pattern_text) is not None
        return super().validate_result(pattern_text)

    def validation_note(self, pattern_text: str, result: bool | None) -> str:
        if len(pattern_text) == 15:
            return f"15-digit form (GB 11643-1989, no check digit): birth date {'ok' if result else 'invalid'}"
        if len(pattern_text) != 18:
            return f"{len(pattern_text)} characters, not an ID length"
        return super().validation_note(pattern_text, result)

    def _build(self, text: str, pattern: Pattern, match: regex.Match[str], keep_invalid: bool) -> Finding | None:
        found = super()._build(text, pattern, match, keep_invalid=True)
        if found is None:
            return None
        if found.validated and found.end - found.start == 18:
            return found  # a valid 18-character ID needs no context
        word = self.id_context(text, found.start)
        if word is None:
            return found if keep_invalid and found.validated is False else None
        if found.validated:
            return found
        score = round(min(1.0, self.UNVALIDATED_SCORE + self.CONTEXT_BOOST), 4)
        return replace(found, score=score,
                       explanation=f"{found.explanation}; kept as id_card: {word} before the number +{self.CONTEXT_BOOST:g}")
