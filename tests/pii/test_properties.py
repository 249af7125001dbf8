"""Property tests: spans are exact, redaction touches only PII spans."""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pii_gen import group4, make_card, make_id, make_uscc

from nlp_guard.finding import Finding
from nlp_guard.pii import analyze, redact, registry
from nlp_guard.pii.base import PII_GROUP
from nlp_guard.pii.ner import get_ner
from nlp_guard.pii.redact import type_tag

FRAGMENTS = [
    make_id(), "11010519491231002X", "13812345678", "+86 139-1234-5678", "010-12345678", "400-123-4567",
    make_card("622202123456789"), group4(make_card("621700123456789012")), make_uscc("91440300MA5F0ABC1"),
    "zhang.san@qq.com", "京A12345", "粤B·D12345", "北京市朝阳区建国路88号", "阳光小区3栋2单元301室",
    "你老婆李秀英", "担保人刘强", "王建国先生", "身份证", "手机", "卡号", "地址", "的", "，", "。", " ", "-",
    "请尽快还款", "逾期", "1", "23", "X", "@", "路", "市", "区", "号",
]

texts = st.lists(
    st.one_of(st.sampled_from(FRAGMENTS), st.text(alphabet="0123456789 -张李王市区路号@.aX京A·", max_size=6)),
    max_size=12,
).map("".join)

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _pattern_spans(label: str, text: str) -> set[tuple[int, int]]:
    """Every span any pattern of the recognizer for ``label`` matches in ``text``."""
    spans: set[tuple[int, int]] = set()
    rec = registry.for_type(label)
    for _pattern, compiled in rec.compiled():
        for m in compiled.finditer(text, overlapped=True):
            use_group = PII_GROUP in m.re.groupindex and m.start(PII_GROUP) >= 0
            spans.add(m.span(PII_GROUP) if use_group else m.span())
    return spans


@SETTINGS
@given(texts)
def test_finding_spans_are_the_matched_strings(text: str) -> None:
    model = get_ner()
    for f in analyze(text):
        assert 0 <= f.start < f.end <= len(text)
        if f.explanation.startswith("NER "):  # a name the NER found: its span is the NER's
            assert model is not None and (f.start, f.end) in {(e.start, e.end) for e in model.entities(text)}
        else:
            assert (f.start, f.end) in _pattern_spans(f.label, text), (f, text[f.start : f.end])
        assert 0.0 <= f.score <= 1.0 and f.explanation


@SETTINGS
@given(texts)
def test_mask_redaction_only_changes_pii_spans(text: str) -> None:
    findings = analyze(text)
    out = redact(text, findings)
    assert len(out) == len(text)
    inside = {i for f in findings for i in range(f.start, f.end)}
    for i, (a, b) in enumerate(zip(text, out)):
        if i not in inside:
            assert a == b


@SETTINGS
@given(texts)
def test_type_redaction_keeps_outside_text_in_order(text: str) -> None:
    findings = analyze(text)
    expected, pos = [], 0
    for f in findings:
        expected += [text[pos : f.start], type_tag(f.label)]
        pos = f.end
    expected.append(text[pos:])
    assert redact(text, findings, style="type") == "".join(expected)


@SETTINGS
@given(
    st.text(alphabet="abc0123456789", max_size=30),
    st.lists(st.tuples(st.integers(0, 30), st.integers(0, 30)), max_size=5),
)
def test_arbitrary_overlapping_findings_mask_every_covered_char(text: str, spans: list[tuple[int, int]]) -> None:
    findings = [
        Finding("phone", min(a, b), max(a, b), 0.5, "pii", "T")
        for a, b in spans
        if max(a, b) <= len(text)
    ]
    out = redact(text, findings)
    assert len(out) == len(text)
    covered = {i for f in findings for i in range(f.start, f.end)}
    for i, (a, b) in enumerate(zip(text, out)):
        if i not in covered:
            assert a == b
