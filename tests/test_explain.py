"""Coarse-to-fine occlusion: what it finds, and what it costs."""
from __future__ import annotations

from collections.abc import Sequence

import pytest

from nlp_guard.explain import MAX_WORDS, RUN, Request, explain
from nlp_guard.segment import segmenter_for


class KeywordClassifier:
    """Scores a category high while any of its trigger words is present; counts its calls."""

    version = "kw-1"
    labels = ("threat", "abuse", "deception", "privacy", "coercion")

    def __init__(self, triggers: dict[str, tuple[str, ...]]) -> None:
        self.triggers = triggers
        self.calls: list[int] = []

    def predict(self, texts: Sequence[str]) -> list[dict[str, float]]:
        self.calls.append(len(texts))
        return [{c: 0.9 if any(w in t for w in ws) else 0.1 for c, ws in self.triggers.items()} for t in texts]

    def request(self, text: str) -> Request:
        scores = self.predict([text])[0]
        self.calls.clear()
        return Request(text, scores, tuple(c for c, s in scores.items() if s >= 0.5))


LONG = "王先生您好，我们这边想提醒一下，听说你儿子每天放学都走那条小路，这笔钱今天必须处理，否则后果自负"


@pytest.mark.parametrize("text,triggers,expected", [
    ("你常去公园吧", {"threat": ("公园",)}, {"threat": ["公园"]}),                       # short: word level only
    (LONG, {"threat": ("小路",)}, {"threat": ["小路"]}),                                  # long: run, then word
    (LONG, {"threat": ("小路",), "coercion": ("今天",)}, {"threat": ["小路"], "coercion": ["今天"]}),
])
def test_finds_the_driving_word(text: str, triggers: dict, expected: dict) -> None:
    clf = KeywordClassifier(triggers)
    (per,) = explain(clf, [clf.request(text)])
    assert {c: [text[d.start:d.end] for d in ds] for c, ds in per.items()} == expected
    assert all(d.weight == pytest.approx(0.8) for ds in per.values() for d in ds)


def test_redundant_words_fall_back_to_their_run() -> None:
    text = "你好，小区楼下我们都知道，钱今天到账，别让大家难做，我跟你说清楚"
    clf = KeywordClassifier({"threat": ("小区", "楼下")})   # either word alone keeps the score up
    (per,) = explain(clf, [clf.request(text)])
    (d,) = per["threat"]
    assert "小区" in text[d.start:d.end] and "楼下" in text[d.start:d.end]  # the run that holds both


def test_redundancy_across_runs_is_left_unexplained() -> None:
    """No span's removal lowers the score: Guard then cites the whole message."""
    text = "我跟你说清楚，你家小区我们知道，你家楼下我们也知道，钱今天到账"
    clf = KeywordClassifier({"threat": ("小区", "楼下")})
    assert explain(clf, [clf.request(text)]) == [{"threat": []}]


def test_one_call_per_round_for_the_whole_batch_and_fewer_variants_than_words() -> None:
    clf = KeywordClassifier({"threat": ("小路",), "privacy": ("儿子",)})
    reqs = [clf.request(LONG), clf.request(LONG.replace("王先生", "李女士"))]
    explain(clf, reqs)
    words = sum(1 for _ in segmenter_for().tokenize(LONG))
    assert len(clf.calls) == 2  # round one (runs) and round two (words), both messages together
    per_message = sum(clf.calls) / 2
    assert per_message <= min(words, MAX_WORDS) / RUN + 2 * RUN + 1 < words


def test_nothing_to_explain_costs_nothing() -> None:
    clf = KeywordClassifier({"threat": ("小路",)})
    assert explain(clf, []) == []
    assert clf.calls == []
