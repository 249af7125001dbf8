"""Evidence for model-only violations: which words drove the score.

Occlusion over jieba words, coarse to fine. Round one drops runs of ``RUN``
consecutive words and re-scores; round two drops single words inside the run
whose removal lowered each flagged category the most. One round serves every
flagged category of a message, and every message of a batch goes through the
classifier in one call per round. A message of n words so costs about
n / RUN + RUN extra inferences, not n per category.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import regex

from .classifier import Classifier
from .classifier import Span as Driver  # a driver's weight is how much cutting it out lowers the score
from .segment import Segmenter, segmenter_for

_CONTENT = regex.compile(r"[\p{Han}\p{L}\p{N}]")
MAX_WORDS = 24
RUN = 3

Span = tuple[int, int]


@dataclass(frozen=True, slots=True)
class Request:
    """One message to explain: its text, its scores, the categories to explain."""

    text: str
    scores: dict[str, float]
    categories: tuple[str, ...]


def _drops(classifier: Classifier, jobs: list[tuple[Request, list[Span]]]) -> list[list[dict[str, float]]]:
    """Per job, per span, the score drop of every category when that span is cut out."""
    variants = [r.text[:s] + r.text[e:] for r, spans in jobs for s, e in spans]
    scores = iter(classifier.predict(variants) if variants else [])
    return [[{c: r.scores.get(c, 0.0) - sc.get(c, 0.0) for c in r.categories} for sc in (next(scores) for _ in spans)]
            for r, spans in jobs]


def _runs(words: list[Span]) -> list[Span]:
    if len(words) <= RUN + 1:
        return []
    return [(words[i][0], words[min(i + RUN, len(words)) - 1][1]) for i in range(0, len(words), RUN)]


def _within(span: Span, run: Span | None) -> bool:
    """Whether a word lies in a run (every word does when there is no run)."""
    return run is None or run[0] <= span[0] and span[1] <= run[1]


def _strongest(drops: list[tuple[float, Span]], top_k: int) -> list[Driver]:
    ranked = sorted(drops, key=lambda x: (-x[0], x[1]))
    best = ranked[0][0] if ranked else 0.0
    return [Driver(s, e, d) for d, (s, e) in ranked[:top_k] if d > 0 and d >= 0.25 * best]


def explain(classifier: Classifier, requests: Sequence[Request], top_k: int = 3,
            segmenter: Segmenter | None = None) -> list[dict[str, list[Driver]]]:
    """Per request, per category, the spans that drive its score, strongest first
    (empty when no span's removal lowers it); words are cut by ``segmenter`` (the pack's)."""
    seg = segmenter or segmenter_for()
    words = [[(s, e) for w, s, e in seg.tokenize(r.text) if _CONTENT.search(w)][:MAX_WORDS] for r in requests]
    runs = [_runs(w) for w in words]
    run_drops = _drops(classifier, list(zip(requests, runs, strict=True)))
    # round two: single words inside each category's strongest run (all words when the message is short)
    focus: list[dict[str, Span | None]] = []
    for r, rs, rd in zip(requests, runs, run_drops, strict=True):
        focus.append({c: max(zip(rs, rd), key=lambda x: x[1][c])[0] if rs else None for c in r.categories})
    singles = [sorted({w for c in r.categories for w in ws if _within(w, f[c])})
               for r, ws, f in zip(requests, words, focus, strict=True)]
    word_drops = _drops(classifier, list(zip(requests, singles, strict=True)))
    out: list[dict[str, list[Driver]]] = []
    for r, f, ws, wd, rs, rd in zip(requests, focus, singles, word_drops, runs, run_drops, strict=True):
        per: dict[str, list[Driver]] = {}
        for c in r.categories:
            inside = [(d[c], w) for w, d in zip(ws, wd, strict=True) if _within(w, f[c])]
            # no single word matters on its own (redundant wording): the run itself is the evidence
            per[c] = _strongest(inside, top_k) or _strongest([(d[c], s) for s, d in zip(rs, rd, strict=True)], 1)
        out.append(per)
    return out
