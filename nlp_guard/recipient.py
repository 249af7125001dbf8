"""The recipient-aware privacy rule.

The same overdue reminder is compliant to the debtor or guarantor and a
privacy violation to an emergency contact or third party (PIPL Art. 10,
信用卡办法 Art. 68, GB/T 45251). A debt fact is an amount, overdue status, the
loan itself or the lending platform; a person named next to one says whose debt it is.

Protective context (quotes, negation, warnings) never excuses a debt fact here:
"请转告他“借呗借款8000元已逾期30天”" and "我们不会催他还这笔借款" tell the contact
about the debt all the same. The one exception is telling the reader that they owe nothing
(``debt_facts.owes_nothing``: 您作为紧急联系人不需要承担还款责任, 家属无需代为偿还): the
industry rules want third parties told exactly that and no financial detail, so the
还款 inside it is not a debt fact; an amount, an overdue status or a platform beside it still is.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import regex

from .finding import Finding
from .policy.schema import PolicyPack
from .rules import timed_matches

RECIPIENTS = ("debtor", "guarantor", "emergency_contact", "third_party")
MAY_KNOW_THE_DEBT = frozenset({"debtor", "guarantor"})
SUBCATEGORY = "privacy.third_party_disclosure"


@dataclass(frozen=True)
class RecipientRule:
    pattern: regex.Pattern[str]
    relay: str
    owes_nothing: regex.Pattern[str] | None = None

    @classmethod
    def from_pack(cls, pack: PolicyPack) -> RecipientRule:
        f = pack.debt_facts
        alts = [regex.escape(t) for t in sorted(f.terms + f.platforms, key=len, reverse=True)] + [f"(?:{r})" for r in f.regex]
        owes = regex.compile("|".join(f"(?:{r})" for r in f.owes_nothing)) if f.owes_nothing else None
        return cls(regex.compile("|".join(alts)), pack.relay_suggestion, owes)

    def debt_facts(self, text: str) -> list[tuple[int, int]]:
        """Where ``text`` states a debt; all of it when the pattern ran out of time twice, and every
        fact when the ``owes_nothing`` pattern did (fail closed both ways)."""
        matches = timed_matches(self.pattern, text, "debt facts")
        if matches is None:
            return [(0, len(text))]
        cleared = [m.span() for m in (timed_matches(self.owes_nothing, text, "owes nothing") or [])] \
            if self.owes_nothing is not None else []
        return [m.span() for m in matches if not any(s <= m.start() and m.end() <= e for s, e in cleared)]

    def check(self, text: str, recipient: str | None, names: Sequence[Finding] = ()) -> list[Finding]:
        """Debt facts in a message to someone who may not be told about the debt.

        ``names`` are the person names found in ``text``: a name next to debt facts says whose
        debt it is, the disclosure PIPL Art. 10 forbids, so the name is evidence too and scores higher.
        """
        if recipient is None or recipient in MAY_KNOW_THE_DEBT:
            return []
        facts = self.debt_facts(text)
        out = [Finding(SUBCATEGORY, s, e, 0.9, "context", "recipient.debt_fact",
                       f"debt fact {text[s:e]!r} in a message to recipient={recipient}") for s, e in facts]
        if facts:
            said = "、".join(dict.fromkeys(text[s:e] for s, e in facts))
            out += [Finding(SUBCATEGORY, n.start, n.end, 0.95, "context", "recipient.named_person",
                            f"names {text[n.start:n.end]!r} together with debt facts ({said}) "
                            f"in a message to recipient={recipient}")
                    for n in names if n.label == "person"]
        return out

    def relay_suggestion(self, who: str = "机主") -> str:
        return self.relay.format(who=who)
