"""Mainland vehicle licence plates, including 8-character new-energy plates."""
from __future__ import annotations

from typing import ClassVar

import regex

from nlp_guard.pii.base import Pattern, PatternRecognizer

#: Province abbreviations that open a plate.
_PROV = "[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼]"
#: Plate letters never use I or O (too close to 1 and 0).
_L = "[A-HJ-NP-Z]"
_LD = "[A-HJ-NP-Z0-9]"
_SEP = r"[·•\- ]?"


class PlateRecognizer(PatternRecognizer):
    """A plate identifies a car and, through it, its owner.

    Ordinary plates are province + letter + 5 alphanumerics; new-energy plates
    have 6 after the letter, starting with D/F (small cars) or ending with D/F
    (large vehicles).
    """

    ENTITY: ClassVar[str] = "plate"
    PATTERNS: ClassVar[tuple[Pattern, ...]] = (
        Pattern(
            "plate_new_energy",
            rf"{_PROV}{_L}{_SEP}(?:[DF]{_LD}\d{{4}}|\d{{5}}[DF])(?![A-Za-z0-9])",
            0.65,
        ),
        Pattern(
            "plate_standard",
            rf"{_PROV}{_L}{_SEP}{_LD}{{4}}(?:{_LD}|[挂学警港澳])(?![A-Za-z0-9])",
            0.6,
        ),
    )
    CONTEXT: ClassVar[tuple[str, ...]] = ("车牌", "牌照", "车辆", "号牌", "车号", "汽车", "拖车", "扣车")
    FLAGS: ClassVar[int] = regex.VERSION1 | regex.IGNORECASE  # 京a12345 is the same plate

    def score_match(self, pattern: Pattern, pattern_text: str) -> float:
        """A standard plate of five digits is the most common shape; all letters is suspicious."""
        tail = pattern_text[-5:]
        letters = sum(ch.isalpha() and ch.isascii() for ch in tail)
        return pattern.score - 0.2 if letters > 2 else pattern.score
