"""redact() and hash_pii()."""
from __future__ import annotations

import hashlib

import pytest
from pii_gen import group4, make_card

from nlp_guard.finding import Finding
from nlp_guard.pii import analyze, hash_pii, redact

CARD = make_card("622202123456789")

MASK_CASES: list[tuple[str, str, str]] = [
    ("mobile", "手机13812345678", "手机138****5678"),
    ("mobile_prefixed", "+86 138-1234-5678", "+86 138-****-5678"),
    ("landline", "座机010-12345678", "座机010-****5678"),
    ("id_card", "身份证11010519491231002X", "身份证110***********002X"),
    ("bank_card_grouped", group4(CARD), group4(CARD[:4] + "*" * 8 + CARD[-4:])),
    ("email", "邮箱zhang@qq.com", "邮箱z****@qq.com"),
    ("plate", "车牌京A12345", "车牌京A****5"),
    ("person", "你老婆李秀英的", "你老婆李**的"),
    ("person_compound", "欧阳娜娜女士", "欧阳**女士"),
    ("address_keeps_region", "住在北京市朝阳区建国路88号", "住在北京市*********"),
    ("uscc", "代码91330100716105852F", "代码91************852F"),
    ("nothing", "请尽快还款", "请尽快还款"),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in MASK_CASES], ids=[c[0] for c in MASK_CASES])
def test_mask_style(text: str, expected: str) -> None:
    out = redact(text)
    assert out == expected
    assert len(out) == len(text)


TYPE_CASES: list[tuple[str, str, str]] = [
    ("mobile", "手机13812345678。", "手机<PHONE>。"),
    ("two", "你老婆李秀英的手机13812345678", "你老婆<PERSON>的手机<PHONE>"),
    ("id_card", "11010519491231002X", "<ID_CARD>"),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in TYPE_CASES], ids=[c[0] for c in TYPE_CASES])
def test_type_style(text: str, expected: str) -> None:
    assert redact(text, style="type") == expected


def test_given_findings_are_used() -> None:
    text = "abc 13812345678 def"
    findings = analyze(text)
    assert redact(text, findings) == "abc 138****5678 def"
    assert redact(text, []) == text


def test_overlapping_caller_findings_leave_no_pii_unmasked() -> None:
    text = "0123456789ABCDEF"
    findings = [
        Finding("phone", 0, 11, 0.7, "pii", "T"),
        Finding("bank_card", 5, 16, 0.3, "pii", "T"),
    ]
    out = redact(text, findings)
    assert out[:11] == "012****789A"
    assert out[11:] == "*****"
    assert redact(text, findings, style="type") == "<PHONE><PII>"


def test_out_of_range_finding_rejected() -> None:
    with pytest.raises(ValueError):
        redact("abc", [Finding("phone", 0, 10, 0.5, "pii", "T")])


def test_unknown_style_rejected() -> None:
    with pytest.raises(ValueError):
        redact("abc", [], style="blur")  # type: ignore[arg-type]


def test_hash_pii() -> None:
    assert hash_pii("13812345678") == hashlib.sha256(b"13812345678").hexdigest()
    assert len(hash_pii("x")) == 64
    assert hash_pii("13812345678", salt="k") != hash_pii("13812345678")
