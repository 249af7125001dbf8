"""Resident ID recognizer: checksum, birth date and boundary cases."""
from __future__ import annotations

import pytest
from pii_gen import bad_check, make_id

from nlp_guard.pii.id_card import IdCardRecognizer, id_check_char, is_valid_id_card

REC = IdCardRecognizer()
GOOD = make_id("440305", "19851120", "047")

CASES: list[tuple[str, str, str | None]] = [
    # (case id, text, expected span text or None)
    ("public_example_X", "身份证号11010519491231002X", "11010519491231002X"),
    ("public_example_lower_x", "证件号:11010519491231002x。", "11010519491231002x"),
    ("generated", f"他的身份证是{GOOD}", GOOD),
    ("generated_born_2000s", make_id("510104", "20030101", "555"), make_id("510104", "20030101", "555")),
    ("generated_bare", make_id(), make_id()),
    ("generated_with_spaces_around", f" {make_id('330106', '19700101', '001')} ", make_id("330106", "19700101", "001")),
    ("bad_checksum", f"身份证{bad_check(GOOD)}", None),
    ("bad_checksum_public", "身份证110105194912310029", None),
    ("bad_month", "110105" + "19901301" + "1234", None),
    ("feb_30", make_id("110105", "19990230", "123"), None),
    ("future_birth", make_id("110105", "20990101", "123"), None),
    ("born_1880_gb_example", "440524188001010014", None),  # checksum ok, date implausible
    ("inside_longer_run", "9" + make_id() + "9", None),
    ("followed_by_letter", make_id("110105", "19900307", "124") + "A", None),
    ("region_starts_0", "0" + make_id()[1:], None),
    ("seventeen_digits", make_id()[:17], None),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_id_card_table(text: str, expected: str | None) -> None:
    found = REC.analyze(text)
    if expected is None:
        assert found == []
    else:
        assert [text[f.start : f.end] for f in found] == [expected]
        f = found[0]
        assert f.label == "id_card" and f.source == "pii" and f.detector == "IdCardRecognizer"
        assert f.validated is True and f.score == 1.0
        assert "checksum GB 11643 ok" in f.explanation


def test_check_char_matches_test_helper() -> None:
    body = "11010519491231002"
    assert id_check_char(body) == "X"
    assert is_valid_id_card("11010519491231002X")
    assert not is_valid_id_card("11010519491231002")


def test_context_is_explained() -> None:
    (f,) = REC.analyze(f"请核对身份证 {GOOD}")
    assert "context 身份证 +0.1" in f.explanation


def test_keep_invalid_explains_rejection() -> None:
    (f,) = REC.analyze("440524188001010014", keep_invalid=True)
    assert f.validated is False and f.score == 0.0
    assert "birth date invalid" in f.explanation
    (g,) = REC.analyze(bad_check(GOOD), keep_invalid=True)
    assert "checksum GB 11643 failed" in g.explanation
