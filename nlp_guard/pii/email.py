"""E-mail addresses."""
from __future__ import annotations

from typing import ClassVar

from nlp_guard.pii.base import Pattern, PatternRecognizer

#: TLDs common in Chinese collection traffic; a hit confirms the address shape.
_KNOWN_TLDS = frozenset(
    "com cn net org edu gov info biz io co me top vip xyz cc tv hk tw mo jp uk de us "
    "name mobi site online club shop work tech ltd 网址 中国 公司 网络".split()
)


class EmailRecognizer(PatternRecognizer):
    """Local part @ dotted domain; a known TLD validates, a broken domain drops."""

    ENTITY: ClassVar[str] = "email"
    PATTERNS: ClassVar[tuple[Pattern, ...]] = (
        Pattern(
            "email",
            r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9](?:[A-Za-z0-9._%+\-]{0,63})@"
            r"(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.){1,8}[A-Za-z]{2,24}(?![A-Za-z0-9\-])",
            0.5,
        ),
    )
    CONTEXT: ClassVar[tuple[str, ...]] = ("邮箱", "邮件", "电邮", "email", "Email", "E-mail", "mail")
    VALIDATION: ClassVar[str] = "email shape"
    #: A known TLD confirms shape, not ownership; stay below checksum-validated types.
    VALIDATED_SCORE: ClassVar[float] = 0.85

    def validate_result(self, pattern_text: str) -> bool | None:
        """False for impossible local parts; True for a known TLD; else unknown."""
        local, _, domain = pattern_text.rpartition("@")
        if ".." in local or local.endswith("."):
            return False
        tld = domain.rsplit(".", 1)[-1].lower()
        return True if tld in _KNOWN_TLDS else None

    def validation_note(self, pattern_text: str, result: bool | None) -> str:
        """Name what was checked."""
        if result is True:
            return "known TLD"
        if result is False:
            return "malformed local part"
        return ""
