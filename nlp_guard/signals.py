"""Customer-turn signals: complaint intent, dispute, hardship, distress.

Customers' words are never violations; these signals route a call to a person
(distress escalates).
"""
from __future__ import annotations

import regex

from .normalize import Normalized
from .policy.schema import PolicyPack
from .results import Evidence, Signal


class SignalDetector:
    def __init__(self, pack: PolicyPack) -> None:
        self._signals = [
            (code, s, regex.compile("|".join(regex.escape(t) for t in sorted(s.terms, key=len, reverse=True))))
            for code, s in pack.signals.items()
        ]

    def detect(self, norm: Normalized) -> tuple[Signal, ...]:
        found = []
        for code, spec, pattern in self._signals:
            ev = []
            for m in pattern.finditer(norm.text):
                s, e = norm.to_original(*m.span())
                ev.append(Evidence(s, e, norm.original[s:e]))
            if ev:
                found.append(Signal(code, spec.name, spec.escalate, tuple(ev)))
        return tuple(found)
