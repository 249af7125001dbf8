"""Normalisation: evasions undone, offsets exact (property tests)."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nlp_guard import Guard
from nlp_guard.normalize import normalize

_GUARD = Guard()

TABLE = [
    ("法 院 传 票", "法院传票"),
    ("骗*子", "骗子"),
    ("上-门", "上门"),
    ("ＡＢＣ１２３", "abc123"),
    ("你個老賴", "你个老赖"),
    ("pian zi", "骗子"),
    ("pian-zi", "骗子"),
    ("fy", "法院"),
    ("你要判型了", "你要判刑了"),
    ("🔪", "刀"),
    ("a\u200bb", "ab"),
    ("骗\u200d子", "骗子"),
    ("usb", "usb"),
    ("我的邮箱 sb@x.com", "我的邮箱 sb@x.com"),
    ("你好，我是", "你好,我是"),
    # template slots read as one 某, whatever the template language …
    ("【%s消费金融】", "【某消费金融】"),
    ("尊敬的${name}", "尊敬的某"),
    ("%1$s您好", "某您好"),
    ("[name]您好", "某您好"),
    ("{{name}}，您好", "某,您好"),
    # … and as nothing between two Chinese characters, where one could split a word
    ("您的孩子{{child}}今年", "您的孩子今年"),
    ("欠款{0}元，{}天", "欠款元,某天"),
    ("您是#NAME#的同事吧", "您是的同事吧"),
    ("再不还就让你坐{}牢", "再不还就让你坐牢"),
    # a character written as its parts
    ("你就是个马扁子", "你就是个骗子"),
    ("你这个老{{a}}赖", "你这个老赖"),
    ("逾期100%", "逾期100%"),
    ('{"a": 1}', '{"a": 1}'),
    # a sentence in pinyin (three syllables or more) reads as Chinese, a character per syllable
    ("ni lao po zai na shang ban wo men dou zhi dao", "你老婆在哪上班我们都知道"),
    ("再不还 wo men jiu qu ni jia", "再不还我们就去你家"),     # the space ends a sentence (BREAKS)
    ("qu-bie-de ping tai jie yi bi", "去别的平台借一笔"),
    ("WO MEN JIU QU", "我们就去"),
    ("ni hao", "ni hao"),                      # two syllables: left to the abbreviation pass
    ("call me at nine", "call me at nine"),    # English words that are not syllables
    ("ni hao a123", "ni hao a123"),            # a syllable glued to digits is no syllable
]


@pytest.mark.parametrize(("raw", "expected"), TABLE)
def test_normalize_table(raw: str, expected: str) -> None:
    assert normalize(raw).text == expected


@pytest.mark.parametrize(("raw", "expected"), TABLE)
def test_whole_span_maps_to_whole_original(raw: str, expected: str) -> None:
    n = normalize(raw)
    s, e = n.to_original(0, len(n.text))
    assert raw[s:e].strip("\u200b\u200d") == raw.strip("\u200b\u200d")


pieces = st.sampled_from(["骗", "子", "法", "院", " ", "*", "-", "ｓｂ", "Ｆ", "fy", "pian zi", "傳", "票", "🔪", "\u200b",
                          "，", "1", "３", "a", "判型", "老賴", "\n", "\ufe0f", "é", "ﬁ"])


@settings(max_examples=300, deadline=None)
@given(st.lists(pieces, max_size=30).map("".join))
def test_offsets_are_monotonic_and_inside_the_original(raw: str) -> None:
    n = normalize(raw)
    assert len(n.starts) == len(n.ends) == len(n.text)
    for i in range(len(n.text)):
        assert 0 <= n.starts[i] < n.ends[i] <= len(raw)
        if i:
            assert n.starts[i] >= n.starts[i - 1]
    assert all(0 < b < len(n.text) for b in n.breaks)


BREAKS = [
    ("后果自负\n谨防诈骗", "后果自负谨防诈骗", {4}),
    ("法 院 传 票", "法院传票", set()),        # letters spaced out: no sentence ends
    ("后果自负 谨防诈骗", "后果自负谨防诈骗", {4}),
    ("后 果 自 负\n谨 防", "后果自负谨防", {4}),
    ("a😊b，😊骗子", "ab,骗子", set()),
    ("骗*子", "骗子", set()),
    ("pian zi", "骗子", set()),           # one replacement, no boundary inside it
    ("你好，我是", "你好,我是", set()),
    ("app 账号", "app 账号", {3, 4}),
    ("pian zi", "骗子", set()),
    ("ni lao po zai na", "你老婆在哪", set()),     # the spaces of a pinyin sentence end nothing
    ("再不还 wo men jiu qu", "再不还我们就去", {3}),
]


def test_each_pinyin_character_points_at_its_own_syllable() -> None:
    raw = "好的 ni lao po zai na shang ban"
    n = normalize(raw)
    assert n.text == "好的你老婆在哪上班" and set(n.breaks) == {2}
    assert [raw[s:e] for s, e in zip(n.starts, n.ends)][2:] == ["ni", "lao", "po", "zai", "na", "shang", "ban"]


@pytest.mark.parametrize(("raw", "text", "breaks"), BREAKS)
def test_whitespace_leaves_a_sentence_break(raw: str, text: str, breaks: set[int]) -> None:
    n = normalize(raw)
    assert (n.text, set(n.breaks)) == (text, breaks)


filler = st.text(alphabet="您好请尽快处理账单的谢谢今天明天 0123456789abc", max_size=12)
disguises = st.sampled_from(["老赖", "老*赖", "老 赖", "老賴", "老\u200b赖", "ｌａｏ ｌａｉ", "lao-lai", "LAO LAI", "老-賴", "老癞"])


@settings(max_examples=200, deadline=None)
@given(filler, disguises, filler)
def test_evidence_points_exactly_at_the_disguised_word(prefix: str, word: str, suffix: str) -> None:
    raw = f"{prefix}，{word}，{suffix}"
    d = _GUARD.check(raw)
    spans = [(e.start, e.end) for v in d.violations if v.subcategory == "abuse.insult" for e in v.evidence]
    start = len(prefix) + 1
    assert (start, start + len(word)) in spans, (raw, spans)


def test_span_outside_text_is_an_error() -> None:
    with pytest.raises(ValueError):
        normalize("abc").to_original(0, 9)


T2S_CASES = [
    "您好，请于本月底前还款。",  # nothing to convert: returned as is
    "你這個騙子，趕緊還錢",  # single characters
    "一目瞭然的證據",  # a phrase entry
    "情有獨鍾",  # a phrase with several candidate conversions
    "乾淨的帳戶，乾隆年間",  # 乾 converts by context
]


@pytest.mark.parametrize("text", T2S_CASES)
def test_t2s_shortcut_agrees_with_opencc(text: str) -> None:
    from opencc import OpenCC

    from nlp_guard.normalize import _t2s

    assert _t2s()(text) == OpenCC("t2s").convert(text)


def test_t2s_shortcut_skips_text_with_nothing_to_convert() -> None:
    from nlp_guard.normalize import _t2s

    text = T2S_CASES[0]
    assert _t2s()(text) is text


@pytest.mark.parametrize(("raw", "text", "cased", "starts"), [
    ("Ⅻ号", "xii号", "XII号", (0, 0, 0, 1)),  # one character folds to three, each mapped to it
    ("ǅ", "dž", "Dž", (0, 0)),
    ("İ", "i\u0307", "i\u0307", (0, 0)),  # lower-cases to two characters: cased takes the lower-cased pair
    ("Ａ\u200bＢ", "ab", "AB", (0, 2)),  # the zero-width space is dropped, full-width letters keep their case
    ("ﬁ欠款", "fi欠款", "fi欠款", (0, 0, 1, 2)),
])
def test_characters_that_fold_to_several_keep_case_and_offsets(raw: str, text: str, cased: str,
                                                               starts: tuple[int, ...]) -> None:
    """Folding is remembered per character; a repeat must fold exactly like the first time."""
    for _ in range(2):
        n = normalize(raw)
        assert (n.text, n.cased, n.starts) == (text, cased, starts)
