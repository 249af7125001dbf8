"""Protective and negating context: why "谨防冒充公检法诈骗" is not impersonation.

A hit is suppressed when it sits inside an allow-listed phrase, inside quotes,
after a protective cue (请勿相信, 严禁 …) or before one (… 的说法, … 诈骗) in
the same sentence, or after a negator (不会, 不是 …) in the same clause: a comma,
an enumeration comma or a colon ends a negator's scope, so "不会告诉家人" is negated
and "不会放过你，告诉你家人" is not. (Spaces between Chinese characters are gone
after normalisation, so a spoken turn's pauses do not end a clause.)
"""
from __future__ import annotations

from dataclasses import dataclass

import regex

from .policy.schema import Context

_SENTENCE_END = regex.compile(r"[。!?！？;；\n]")
_CLAUSE_END = regex.compile(r"[，,、：:\s]")


@dataclass(frozen=True)
class ContextFilter:
    context: Context
    allow_list: tuple[str, ...]

    def _sentence(self, text: str, start: int, end: int) -> tuple[int, int]:
        left = start
        while left > 0 and not _SENTENCE_END.match(text[left - 1]):
            left -= 1
        m = _SENTENCE_END.search(text, end)
        return left, (m.start() if m else len(text))

    def reason(self, text: str, start: int, end: int) -> str | None:
        """Why the hit ``text[start:end]`` is not a violation, or None if it stands."""
        for phrase in self.allow_list:
            i = text.find(phrase, max(0, start - len(phrase)))
            while i != -1 and i <= start:
                if i + len(phrase) >= end:
                    return f"inside allow-listed phrase {phrase!r}"
                i = text.find(phrase, i + 1)
        s_left, s_right = self._sentence(text, start, end)
        for pair in self.context.quote_pairs:
            opening, closing = pair[0], pair[1]
            o = text.rfind(opening, s_left, start)
            if o != -1:
                c = text.find(closing, end, s_right)
                if c != -1 and (opening != closing or text.count(opening, s_left, start) % 2 == 1):
                    return f"quoted between {opening}{closing}"
        before = text[max(s_left, start - self.context.window):start]
        for cue in self.context.protective_prefixes:
            if cue in before:
                return f"protective cue {cue!r} before the hit"
        after = text[end:min(s_right, end + self.context.window)]
        for cue in self.context.protective_suffixes:
            if cue in after:
                return f"protective cue {cue!r} after the hit"
        near = text[max(s_left, start - self.context.negator_window):start]
        clause = _CLAUSE_END.split(near)[-1]
        for word in self.context.non_negators:
            clause = clause.replace(word, "|")
        for neg in self.context.negators:
            if neg in clause:
                return f"negated by {neg!r}"
        return None
