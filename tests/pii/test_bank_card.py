"""Bank card recognizer: Luhn, grouping and deference to id_card/phone."""
from __future__ import annotations

import pytest
from pii_gen import bad_luhn, group4, make_card, make_id, single_match

from nlp_guard.pii import analyze
from nlp_guard.pii.bank_card import BankCardRecognizer, luhn_ok

REC = BankCardRecognizer()
CARD16 = make_card("622202123456789")
CARD19 = make_card("621700123456789012")
CARD17 = make_card("4000123412341234")


def _id_that_passes_luhn() -> str:
    """A valid resident ID that is also Luhn-valid, so both recognizers could claim it."""
    for seq in range(1000):
        value = make_id("110105", "19880808", f"{seq:03d}")
        if value[-1] != "X" and luhn_ok(value):
            return value
    raise AssertionError("no such id in range")


ID_LUHN = _id_that_passes_luhn()

CASES: list[tuple[str, str, str | None]] = [
    ("plain_16", f"卡号{CARD16}", CARD16),
    ("plain_19", f"银行卡：{CARD19}。", CARD19),
    ("plain_17", CARD17, CARD17),
    ("visa_test_number", "4111111111111111", "4111111111111111"),
    ("grouped_spaces", f"卡号 {group4(CARD16)} 请核对", group4(CARD16)),
    ("grouped_dashes", group4(CARD16, "-"), group4(CARD16, "-")),
    ("grouped_19", group4(CARD19), group4(CARD19)),
    ("bad_luhn_plain", bad_luhn(CARD16), None),
    ("bad_luhn_grouped", group4(bad_luhn(CARD16)), None),
    ("mixed_separators", CARD16[:4] + " " + CARD16[4:8] + "-" + CARD16[8:12] + " " + CARD16[12:], None),
    ("too_short_15", make_card("62220212345678"), None),
    ("too_long_20", make_card("6222021234567890123"), None),
    ("valid_id_card_run", ID_LUHN, None),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bank_card_table(text: str, expected: str | None) -> None:
    f = single_match(REC.analyze(text), text, expected)
    if f is None:
        return
    assert f.validated is True
    assert "checksum Luhn ok" in f.explanation


def test_valid_id_is_reported_as_id_card_not_bank_card() -> None:
    found = analyze(f"号码{ID_LUHN}")
    assert [f.label for f in found] == ["id_card"]
    (rejected,) = REC.analyze(ID_LUHN, keep_invalid=True)
    assert "is a valid id_card" in rejected.explanation


def test_luhn_score_stays_below_checksum_types() -> None:
    (f,) = REC.analyze(CARD16)
    assert 0.7 <= f.score < 1.0
