"""PII with letters, in upper-case, lower-case and full-width forms (issue 12): recognizers read
the normalised text with its case kept, and evidence maps back to the original characters."""
from __future__ import annotations

import pytest

from nlp_guard import Guard
from nlp_guard.normalize import normalize
from nlp_guard.redaction import redact_original

# (original, PII type, the PII as written, validated)
CASES = [
    ("统一社会信用代码91350100M000100Y43", "uscc", "91350100M000100Y43", True),
    ("统一社会信用代码91350100m000100y43", "uscc", "91350100m000100y43", True),
    ("统一社会信用代码９１３５０１００Ｍ０００１００Ｙ４３", "uscc", "９１３５０１００Ｍ０００１００Ｙ４３", True),
    ("統一社會信用代碼91350100M000100Y43", "uscc", "91350100M000100Y43", True),
    ("车牌京A12345已被登记", "plate", "京A12345", None),
    ("车牌京a12345已被登记", "plate", "京a12345", None),
    ("车牌京Ａ１２３４５已被登记", "plate", "京Ａ１２３４５", None),
    ("新能源车牌粤BD12345", "plate", "粤BD12345", None),
    ("新能源车牌粤bd12345", "plate", "粤bd12345", None),
    ("身份证11010519491231002X", "id_card", "11010519491231002X", True),
    ("身份证11010519491231002x", "id_card", "11010519491231002x", True),
    ("邮箱 Zhang.Wei@Example.COM", "email", "Zhang.Wei@Example.COM", True),
]

# a failed checksum in any case is dropped
NOT_PII = ["统一社会信用代码91350100M000100Y44", "统一社会信用代码91350100m000100y44"]


@pytest.fixture(scope="module")
def guard() -> Guard:
    return Guard()


@pytest.mark.parametrize(("text", "kind", "value", "validated"), CASES, ids=[c[0][-10:] for c in CASES])
def test_found_in_every_case_form(guard: Guard, text: str, kind: str, value: str, validated: bool | None) -> None:
    pii = [(p.type, p.text, text[p.start:p.end]) for p in guard.check(text).pii]
    assert (kind, value, value) in pii, pii
    assert any(p.validated is validated for p in guard.check(text).pii if p.type == kind)


@pytest.mark.parametrize("text", NOT_PII)
def test_bad_check_character_is_dropped(guard: Guard, text: str) -> None:
    assert [p for p in guard.check(text).pii if p.type == "uscc"] == []


@pytest.mark.parametrize(("text", "kind", "value", "validated"), CASES[:3] + CASES[4:7], ids=[c[0][-10:] for c in CASES[:3] + CASES[4:7]])
def test_redaction_masks_the_original_characters(text: str, kind: str, value: str, validated: bool | None) -> None:
    assert value not in redact_original(text)


def test_cased_text_parallels_the_matching_text() -> None:
    n = normalize("Ｆy 法 院 京A12345 LAO LAI")
    assert len(n.cased) == len(n.text) and n.cased.lower() == n.text
    assert "京A12345" in n.cased and "京a12345" in n.text
