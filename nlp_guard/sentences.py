"""The classifier's second view: each sentence of a message scored on its own.

Padding is the cheapest evasion there is: a threat between a service greeting and
an anti-fraud sign-off (``您好，这里是客户服务中心。…谨防诈骗，请认准官方渠道。``)
drags the whole message's score under the threshold. Scoring every sentence of a
multi-sentence message as well, in the same classifier call, and keeping the
strongest view per category takes that lever away: the violating sentence is
judged as if the padding were not there. Evidence comes from the view that set the
score, shifted to the message's offsets; the protective-context filter still
reads the whole message.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import regex

from .classifier import Classifier, Scored, Span
from .normalize import Normalized

_END = regex.compile(r"[。!?;…]+|\.{3,}")
MIN_CHARS = 4  # shorter pieces (好的。) carry no violation of their own


def sentence_spans(norm: Normalized) -> list[tuple[int, int]]:
    """The sentences of a normalised message, cut at end punctuation; empty when there
    is only one, so single sentences cost nothing extra. Measured on dev (rules + model
    0.5.0, agent lines): cutting at kept line breaks and pauses too raised false positives
    on compliant lines from 1.2% to 4.3% (spoken turns pause mid-sentence), and cutting at
    commas as well flagged 30 more of the 257 compliant lines; punctuation alone left the
    rate at 1.2% and halved the padding bypass (36% → 18%)."""
    cuts = {m.end() for m in _END.finditer(norm.text)}
    spans, start = [], 0
    for cut in sorted(c for c in cuts if 0 < c < len(norm.text)) + [len(norm.text)]:
        piece = norm.text[start:cut]
        lead = len(piece) - len(piece.lstrip())
        if len(piece.strip()) >= MIN_CHARS:
            spans.append((start + lead, start + len(piece.rstrip())))
        start = cut
    return spans if len(spans) > 1 else []


@dataclass(frozen=True, slots=True)
class View:
    """The piece of a message that set a category's score: its span and its own scores."""

    start: int
    end: int
    scores: dict[str, float]


def score_views(classifier: Classifier, norms: Sequence[Normalized], head: bool
                ) -> tuple[list[dict[str, float]], list[Scored] | None, list[dict[str, View]]]:
    """Per message, the strongest of its whole-message and per-sentence scores (one
    classifier call for every view), with ``head`` the evidence of the view that won
    (in the message's offsets), and per category the view that won (what occlusion
    should cut words from)."""
    views = [[(0, len(n.text)), *sentence_spans(n)] for n in norms]
    texts = [n.text[s:e] for n, spans in zip(norms, views, strict=True) for s, e in spans]
    if head:
        flat = classifier.predict_with_evidence(texts)  # type: ignore[attr-defined]
    else:
        flat = [Scored(sc, {}) for sc in classifier.predict(texts)]
    it = iter(flat)
    scores: list[dict[str, float]] = []
    scored: list[Scored] = []
    origins: list[dict[str, View]] = []
    for spans in views:
        per = [(s, e, next(it)) for s, e in spans]
        best = {c: max(per, key=lambda v: v[2].scores.get(c, 0.0)) for c in per[0][2].scores}
        scores.append({c: v.scores[c] for c, (_, _, v) in best.items()})
        origins.append({c: View(s, e, v.scores) for c, (s, e, v) in best.items()})
        scored.append(Scored(scores[-1], {c: tuple(Span(sp.start + s, sp.end + s, sp.weight) for sp in v.evidence.get(c, ()))
                                          for c, (s, _, v) in best.items()}))
    return scores, scored if head else None, origins
