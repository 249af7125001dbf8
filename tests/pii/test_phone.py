"""Phone recognizer: mobile, landline and service numbers."""
from __future__ import annotations

import pytest
from pii_gen import single_match

from nlp_guard.pii.phone import PhoneRecognizer, mobile_digits

REC = PhoneRecognizer()

CASES: list[tuple[str, str, str | None, str | None]] = [
    # (case id, text, expected span, expected pattern name)
    ("mobile_plain", "手机13812345678", "13812345678", "phone_mobile"),
    ("mobile_dashes", "打138-1234-5678找我", "138-1234-5678", "phone_mobile"),
    ("mobile_spaces", "号码 139 1234 5678。", "139 1234 5678", "phone_mobile"),
    ("mobile_plus86", "+86 15012345678", "+86 15012345678", "phone_mobile"),
    ("mobile_86_dash", "86-18612345678", "86-18612345678", "phone_mobile"),
    ("mobile_0086", "008619912345678", "008619912345678", "phone_mobile"),
    ("mobile_chinese_around", "请拨打17712345678联系", "17712345678", "phone_mobile"),
    ("landline_beijing", "座机010-12345678", "010-12345678", "phone_landline"),
    ("landline_shenzhen", "0755-1234567", "0755-1234567", "phone_landline"),
    ("landline_parens", "(020)87654321", "(020)87654321", "phone_landline"),
    ("landline_ext", "021-55556666转801", "021-55556666转801", "phone_landline"),
    ("service_400", "客服400-123-4567", "400-123-4567", "phone_service"),
    ("service_800", "8008101234", "8008101234", "phone_service"),
    ("not_mobile_prefix_12", "12812345678", None, None),
    ("ten_digits", "1381234567", None, None),
    ("twelve_digits", "138123456789", None, None),
    ("inside_long_run", "6213812345678000", None, None),
    ("plain_number", "共计50000元", None, None),
]


@pytest.mark.parametrize(
    ("text", "expected", "pattern"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_phone_table(text: str, expected: str | None, pattern: str | None) -> None:
    f = single_match(REC.analyze(text), text, expected)
    if f is None:
        return
    assert f.explanation.startswith(f"pattern {pattern}")
    assert f.validated is None


def test_mobile_scores_above_landline_and_context_boosts() -> None:
    (mobile,) = REC.analyze("13812345678")
    (landline,) = REC.analyze("010-12345678")
    assert mobile.score > landline.score
    (boosted,) = REC.analyze("手机号13812345678")
    assert boosted.score == pytest.approx(mobile.score + 0.1)
    assert "context 手机" in boosted.explanation


@pytest.mark.parametrize(
    ("value", "digits"),
    [("+86 138-1234-5678", "13812345678"), ("13812345678", "13812345678"), ("010-12345678", None)],
)
def test_mobile_digits(value: str, digits: str | None) -> None:
    assert mobile_digits(value) == digits
