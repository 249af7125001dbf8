"""Email and licence plate recognizers."""
from __future__ import annotations

import pytest
from pii_gen import single_match

from nlp_guard.pii.email import EmailRecognizer
from nlp_guard.pii.plate import PlateRecognizer

EMAIL = EmailRecognizer()
PLATE = PlateRecognizer()

EMAIL_CASES: list[tuple[str, str, str | None, bool | None]] = [
    ("qq", "邮箱123456@qq.com请查收", "123456@qq.com", True),
    ("dotted_local", "zhang.san+debt@example.com.cn", "zhang.san+debt@example.com.cn", True),
    ("unknown_tld", "a_b@corp.example", "a_b@corp.example", None),
    ("chinese_after", "发到li@163.net。", "li@163.net", True),
    ("double_dot_local", "a..b@qq.com", None, None),
    ("no_tld", "user@localhost", None, None),
    ("no_local", "@qq.com", None, None),
    ("numeric_tld", "a@b.123", None, None),
]


@pytest.mark.parametrize(
    ("text", "expected", "validated"), [c[1:] for c in EMAIL_CASES], ids=[c[0] for c in EMAIL_CASES]
)
def test_email_table(text: str, expected: str | None, validated: bool | None) -> None:
    f = single_match(EMAIL.analyze(text), text, expected)
    if f is None:
        return
    assert f.validated is validated


PLATE_CASES: list[tuple[str, str, str | None, str | None]] = [
    ("standard", "车牌京A12345", "京A12345", "plate_standard"),
    ("standard_letters", "沪B8C9D7", "沪B8C9D7", "plate_standard"),
    ("standard_dot", "粤B·12345", "粤B·12345", "plate_standard"),
    ("trailer", "鲁A1234挂", "鲁A1234挂", "plate_standard"),
    ("new_energy_small", "粤B·D12345", "粤B·D12345", "plate_new_energy"),
    ("new_energy_F", "浙AF12345", "浙AF12345", "plate_new_energy"),
    ("new_energy_small_plain", "京AD12345", "京AD12345", "plate_new_energy"),
    ("new_energy_large", "苏E12345D", "苏E12345D", "plate_new_energy"),
    ("letter_I_invalid", "京I12345", None, None),
    ("too_short", "京A1234", None, None),
    ("too_long", "京A1234567", None, None),
    ("not_province", "中A12345", None, None),
]


@pytest.mark.parametrize(
    ("text", "expected", "pattern"), [c[1:] for c in PLATE_CASES], ids=[c[0] for c in PLATE_CASES]
)
def test_plate_table(text: str, expected: str | None, pattern: str | None) -> None:
    f = single_match(PLATE.analyze(text), text, expected)
    if f is None:
        return
    assert f.explanation.startswith(f"pattern {pattern}")
