"""analyze(): all recognizers together, overlap resolution, registry."""
from __future__ import annotations

import pytest
from pii_gen import make_card, make_id, make_uscc

from nlp_guard.finding import Finding
from nlp_guard.pii import PII_TYPES, analyze, registry, resolve_overlaps

ID = make_id("110105", "19900307", "123")
CARD = make_card("622202123456789")
USCC = make_uscc("91440300MA5F0ABC1")

DOC = (
    f"你老婆李秀英的身份证{ID}，手机+86 138-1234-5678，卡号{CARD}，"
    f"邮箱zhang@qq.com，车牌粤B·D12345，住在北京市朝阳区建国路88号，公司代码{USCC}"
)


def _f(label: str, start: int, end: int, score: float = 0.5, validated: bool | None = None) -> Finding:
    return Finding(label, start, end, score, "pii", "Test", "", validated)


def test_every_type_found_in_order() -> None:
    found = analyze(DOC)
    assert [f.label for f in found] == [
        "person", "id_card", "phone", "bank_card", "email", "plate", "address", "uscc",
    ]
    assert [f.start for f in found] == sorted(f.start for f in found)
    assert all(f.source == "pii" and f.explanation.startswith(("pattern ", "NER ")) for f in found)


def test_types_filter() -> None:
    found = analyze(DOC, types=["phone", "email"])
    assert {f.label for f in found} == {"phone", "email"}


def test_unknown_type_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown PII types"):
        analyze(DOC, types=["passport"])


def test_no_findings_overlap() -> None:
    found = analyze(DOC)
    for a, b in zip(found, found[1:]):
        assert a.end <= b.start


OVERLAP_CASES: list[tuple[str, list[Finding], list[tuple[str, int, int]]]] = [
    (
        "validated_beats_longer",
        [_f("bank_card", 0, 19, 0.9, None), _f("id_card", 0, 18, 0.5, True)],
        [("id_card", 0, 18)],
    ),
    (
        "longer_beats_higher_score",
        [_f("address", 0, 12, 0.3), _f("person", 3, 6, 0.9)],
        [("address", 0, 12)],
    ),
    (
        "higher_score_breaks_tie",
        [_f("uscc", 0, 18, 0.6, True), _f("id_card", 0, 18, 1.0, True)],
        [("id_card", 0, 18)],
    ),
    (
        "failed_validation_loses",
        [_f("bank_card", 0, 16, 0.0, False), _f("phone", 2, 13, 0.7)],
        [("phone", 2, 13)],
    ),
    (
        "disjoint_both_kept_sorted",
        [_f("email", 20, 30), _f("phone", 0, 11)],
        [("phone", 0, 11), ("email", 20, 30)],
    ),
    (
        "touching_spans_both_kept",
        [_f("phone", 0, 11), _f("email", 11, 20)],
        [("phone", 0, 11), ("email", 11, 20)],
    ),
    (
        "middle_winner_blocks_both_sides",
        [_f("a", 0, 5), _f("b", 4, 12, 0.5, True), _f("c", 11, 15)],
        [("b", 4, 12)],
    ),
]


@pytest.mark.parametrize(
    ("findings", "expected"), [c[1:] for c in OVERLAP_CASES], ids=[c[0] for c in OVERLAP_CASES]
)
def test_resolve_overlaps(findings: list[Finding], expected: list[tuple[str, int, int]]) -> None:
    assert [(f.label, f.start, f.end) for f in resolve_overlaps(findings)] == expected


def test_valid_id_card_wins_over_luhn_and_uscc_in_analyze() -> None:
    found = analyze(f"证件{ID}")
    assert [(f.label, f.validated) for f in found] == [("id_card", True)]


def test_registry_versioned_names() -> None:
    names = registry.names()
    v2 = {"id_card", "person"}  # ID by context, names by NER; v1 stays for replays
    assert names == sorted([f"nlp_guard.pii.{t}.v1" for t in PII_TYPES] + [f"nlp_guard.pii.{t}.v2" for t in v2])
    rec = registry.get("nlp_guard.pii.id_card.v1")
    assert rec.ENTITY == "id_card" and rec.name == "IdCardRecognizer"
    assert {t: registry.for_type(t).VERSION for t in v2} == {"id_card": 2, "person": 2}
    assert "nlp_guard.pii.phone.v1" in registry
    with pytest.raises(KeyError, match="unknown recognizer"):
        registry.get("nlp_guard.pii.id_card.v9")
    assert registry.types() == list(PII_TYPES)


def test_empty_text() -> None:
    assert analyze("") == []
