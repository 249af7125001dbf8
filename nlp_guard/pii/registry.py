"""Versioned lookup of recognizers ("nlp_guard.pii.id_card.v1").

Policies and audit logs name a recognizer by a versioned string so that a
behaviour change (new patterns, new scores) can ship as v2 next to v1 and an
old decision can be replayed with the recognizer that made it.
"""
from __future__ import annotations

from collections.abc import Iterator

from nlp_guard.pii.address import AddressRecognizer
from nlp_guard.pii.bank_card import BankCardRecognizer
from nlp_guard.pii.base import PatternRecognizer
from nlp_guard.pii.email import EmailRecognizer
from nlp_guard.pii.id_card import ContextIdCardRecognizer, IdCardRecognizer
from nlp_guard.pii.organization import OrganizationRecognizer
from nlp_guard.pii.person import NerPersonRecognizer, PersonRecognizer
from nlp_guard.pii.phone import PhoneRecognizer
from nlp_guard.pii.plate import PlateRecognizer
from nlp_guard.pii.uscc import UsccRecognizer


class Registry:
    """Recognizers by versioned name, plus the default one per PII type."""

    def __init__(self) -> None:
        self._by_name: dict[str, PatternRecognizer] = {}
        self._default: dict[str, str] = {}

    def register(self, recognizer: PatternRecognizer, default: bool = True) -> str:
        """Add ``recognizer``; the latest default registration wins for its type."""
        name = recognizer.registry_name
        if name in self._by_name:
            raise ValueError(f"recognizer {name} already registered")
        self._by_name[name] = recognizer
        if default:
            self._default[recognizer.ENTITY] = name
        return name

    def get(self, name: str) -> PatternRecognizer:
        """The recognizer registered under ``name``; KeyError lists what exists."""
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"unknown recognizer {name!r}; known: {sorted(self._by_name)}") from None

    def for_type(self, pii_type: str) -> PatternRecognizer:
        """The default recognizer for one PII type."""
        return self._by_name[self._default[pii_type]]

    def names(self) -> list[str]:
        """All registered versioned names, sorted."""
        return sorted(self._by_name)

    def types(self) -> list[str]:
        """PII types that have a default recognizer."""
        return list(self._default)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __iter__(self) -> Iterator[PatternRecognizer]:
        return iter(self._by_name.values())

    def __len__(self) -> int:
        return len(self._by_name)


def default_registry() -> Registry:
    """Every built-in recognizer; the latest version of each type is its default.

    v1 of id_card (checksum only) and person (anchored patterns only) stay registered so
    an old decision can be replayed; v2 of both (ID by context, names by NER) are the defaults.
    """
    reg = Registry()
    for cls in (
        IdCardRecognizer,
        ContextIdCardRecognizer,
        PhoneRecognizer,
        BankCardRecognizer,
        UsccRecognizer,
        EmailRecognizer,
        PlateRecognizer,
        AddressRecognizer,
        PersonRecognizer,
        NerPersonRecognizer,
        OrganizationRecognizer,
    ):
        reg.register(cls())
    return reg


#: The process-wide registry ``analyze`` uses.
registry: Registry = default_registry()
