"""ID numbers by context (id_card v2): which type wins when an ID, a bank card and context disagree."""
from __future__ import annotations

import pytest
from pii_gen import bad_check, make_card, make_id

from nlp_guard.finding import Finding
from nlp_guard.pii import analyze, registry, resolve_overlaps
from nlp_guard.pii.bank_card import luhn_ok
from nlp_guard.pii.id_card import is_valid_id_card
from nlp_guard.redaction import pii_findings, redact_original

#: From issue 15: a wrong check digit, and Luhn happens to pass.
ISSUE = "330106196012139416"
VALID = make_id("330106", "19601213", "941")
#: 18 digits that pass Luhn but cannot be an ID (birth month 13): a card, whatever the context.
CARD18 = make_card("62220213131234567")[:18]
ID15 = "330106601213941"  # old 15-digit form: 1960-12-13


def test_fixtures_are_what_they_claim() -> None:
    assert luhn_ok(ISSUE) and not is_valid_id_card(ISSUE)
    assert is_valid_id_card(VALID)
    assert len(CARD18) == 18 and luhn_ok(CARD18) and not is_valid_id_card(CARD18)


CASES: list[tuple[str, str, list[tuple[str, str, bool | None]]]] = [
    # (case id, text, [(type, text, validated)])
    ("issue_15_id_context_beats_luhn", f"持有身份证号{ISSUE}", [("id_card", ISSUE, False)]),
    ("no_context_luhn_card", f"请核对{ISSUE}", [("bank_card", ISSUE, True)]),
    ("bank_context_luhn_card", f"银行卡号{ISSUE}", [("bank_card", ISSUE, True)]),
    ("nearest_context_wins_card", f"身份证号和银行卡号：{ISSUE}", [("bank_card", ISSUE, True)]),
    ("nearest_context_wins_id", f"银行卡和身份证号：{ISSUE}", [("id_card", ISSUE, False)]),
    ("valid_id_needs_no_context", f"号码{VALID}", [("id_card", VALID, True)]),
    ("valid_id_in_context", f"证件号码：{VALID}", [("id_card", VALID, True)]),
    ("bad_date_in_context", "身份证号330106196013139416", [("id_card", "330106196013139416", False)]),
    ("bad_check_x_in_context", f"身份证 {bad_check(VALID)}", [("id_card", bad_check(VALID), False)]),
    ("clause_break_ends_context", f"身份证已核实。转账到{ISSUE}", [("bank_card", ISSUE, True)]),
    ("context_too_far", f"身份证的事情我们之后再说，先看看{ISSUE}", [("bank_card", ISSUE, True)]),
    ("context_after_is_not_enough", f"{ISSUE}是不是身份证号", [("bank_card", ISSUE, True)]),
    ("fifteen_digits_in_context", f"身份证号{ID15}", [("id_card", ID15, True)]),
    ("fifteen_digits_bad_date", "身份证号330106601313941", [("id_card", "330106601313941", False)]),
    ("fifteen_digits_alone", f"单号{ID15}", []),
    ("seventeen_digits_in_context_still_id", "身份证号33010619601213941", [("id_card", "33010619601213941", False)]),
    ("seventeen_digits_card_without_id_context", "卡号33010619601213941", [("bank_card", "33010619601213941", True)]),
    ("order_number_no_context", "订单号330106196013139417", []),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_id_by_context(text: str, expected: list[tuple[str, str, bool | None]]) -> None:
    found = [f for f in analyze(text) if f.label in ("id_card", "bank_card")]
    assert [(f.label, text[f.start:f.end], f.validated) for f in found] == expected


def test_unvalidated_id_explains_why_it_was_kept() -> None:
    (f,) = analyze(f"持有身份证号{ISSUE}")
    assert f.detector == "ContextIdCardRecognizer" and f.score > 0.5
    assert "checksum GB 11643 failed" in f.explanation and "身份证号 before the number" in f.explanation


def test_v1_still_drops_a_failed_checksum() -> None:
    v1 = registry.get("nlp_guard.pii.id_card.v1")
    assert v1.analyze(f"持有身份证号{ISSUE}") == []
    assert registry.for_type("id_card").VERSION == 2


def test_full_width_dressed_up_number_is_found_and_masked_in_the_original() -> None:
    wide = ISSUE.translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789"})
    text = f"持有身份証號：{wide}。"
    (f,) = [f for f in pii_findings(text) if f.label == "id_card"]
    assert text[f.start:f.end] == wide and f.validated is False
    masked = redact_original(text)
    assert len(masked) == len(text) and wide not in masked and masked.endswith("９４１６。")


def _f(label: str, validated: bool | None, score: float = 0.5) -> Finding:
    return Finding(label, 0, 18, score, "pii", "T", "", validated)


def test_resolve_overlaps_context_then_validation_then_score() -> None:
    card, idc = _f("bank_card", True, 0.8), _f("id_card", False, 0.7)
    assert resolve_overlaps([card, idc], {card: None, idc: 0}) == [idc]
    assert resolve_overlaps([card, idc], {card: 0, idc: 3}) == [card]
    assert resolve_overlaps([card, idc]) == [card]  # no context: validation decides
    a, b = _f("id_card", True, 0.6), _f("uscc", True, 0.9)
    assert resolve_overlaps([a, b], {a: 1, b: 1}) == [b]  # same context distance and validation: score
