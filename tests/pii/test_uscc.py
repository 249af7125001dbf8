"""USCC recognizer: GB 32100 check character."""
from __future__ import annotations

import pytest
from pii_gen import USCC_CHARS, bad_check, make_uscc, single_match

from nlp_guard.pii.uscc import UsccRecognizer, is_valid_uscc

REC = UsccRecognizer()
GEN = make_uscc("91440300MA5F0ABC1")
GEN_DIGITS = make_uscc("12100000400000624")

#: Codes printed on public business licences (listed companies).
PUBLIC = ["91330100716105852F", "9144030071526726XG", "91110108551385082Q", "91310000MA1FL1MMXL"]

CASES: list[tuple[str, str, str | None]] = [
    *[(f"public_{i}", f"统一社会信用代码：{v}", v) for i, v in enumerate(PUBLIC)],
    ("generated", f"营业执照{GEN}号", GEN),
    ("generated_digits_only", GEN_DIGITS, GEN_DIGITS),
    ("bad_check", bad_check(GEN, USCC_CHARS), None),
    ("bad_check_public", bad_check(PUBLIC[0], USCC_CHARS), None),
    ("letter_O_not_allowed", "91330100716105852O", None),
    ("lowercase", PUBLIC[0].lower(), PUBLIC[0].lower()),  # typed in lower case: the same code
    ("division_not_digits", "91AB0100716105852F", None),
    ("inside_longer", "X" + PUBLIC[0], None),
    ("seventeen", PUBLIC[0][:17], None),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_uscc_table(text: str, expected: str | None) -> None:
    f = single_match(REC.analyze(text), text, expected)
    if f is None:
        return
    assert f.validated is True
    assert "checksum GB 32100 ok" in f.explanation


def test_helper_and_package_agree() -> None:
    for v in PUBLIC + [GEN, GEN_DIGITS]:
        assert is_valid_uscc(v)
