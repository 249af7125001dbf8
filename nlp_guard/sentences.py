"""The classifier's second view: each sentence of a message scored on its own.

Padding is the cheapest evasion there is: a threat between a service greeting and
an anti-fraud sign-off (``您好，这里是客户服务中心。…谨防诈骗，请认准官方渠道。``)
drags the whole message's score under the threshold. Scoring every sentence of a
multi-sentence message as well, in the same classifier call, and keeping the
strongest view per category takes that lever away: the violating sentence is
judged as if the padding were not there. A third view drops the policy's
allow-listed service phrases (an anti-fraud sign-off glued to an insult, with no
full stop between them). Evidence comes from the view that set the score, mapped
to the message's offsets; the protective-context filter still reads the whole
message.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence, Set
from dataclasses import dataclass

import regex

from .classifier import Classifier, LazyEvidence, Scored, Span
from .normalize import Normalized
from .segment import segmenter_for

_END = regex.compile(r"[。!?;…]+|\.{3,}")
MIN_CHARS = 4  # shorter pieces (好的。) carry no violation of their own


def _ends(text: str) -> set[int]:
    """Where a sentence ends at punctuation."""
    return {m.end() for m in _END.finditer(text)}


def _cut(text: str, cuts: set[int]) -> list[tuple[int, int]]:
    """``text`` cut at ``cuts``, pieces trimmed; pieces under MIN_CHARS dropped; empty when one is left."""
    spans, start = [], 0
    for cut in sorted(c for c in cuts if 0 < c < len(text)) + [len(text)]:
        piece = text[start:cut]
        lead = len(piece) - len(piece.lstrip())
        if len(piece.strip()) >= MIN_CHARS:
            spans.append((start + lead, start + len(piece.rstrip())))
        start = cut
    return spans if len(spans) > 1 else []


def sentence_spans(norm: Normalized) -> list[tuple[int, int]]:
    """The sentences of a normalised message, cut at end punctuation and at written line
    breaks that fall between two words; empty when there is only one, so single sentences
    cost nothing extra. Measured on dev (rules + model 0.5.0, agent lines): cutting at every
    kept break, spaces and pauses included, raised false positives on compliant lines from
    1.2% to 4.3% (spoken turns pause mid-sentence), and cutting at commas as well flagged 30
    more of the 257 compliant lines; punctuation alone left the rate at 1.2% and halved the
    padding bypass (36% → 18%). A line break inside a word (``账\n户``) is a dodge, not a
    sentence end: with it, line breaks dressed as mid-sentence cuts flagged 15 of 253
    compliant lines, without it 8 (``bench/bench_adversarial.py``)."""
    cuts = _ends(norm.text)
    lines = {i for i in norm.breaks if "\n" in norm.original[norm.ends[i - 1]:norm.starts[i]]}
    if lines:
        cuts |= lines & {start for _, start, _ in segmenter_for().tokenize(norm.text)}
    return _cut(norm.text, cuts)


@dataclass(frozen=True, slots=True)
class View:
    """A piece of a message the classifier scored on its own: its text, the message offset
    of each of its characters, and its scores."""

    text: str
    positions: tuple[int, ...]
    scores: dict[str, float]

    def to_message(self, start: int, end: int) -> tuple[int, int]:
        """A span of the view as a span of the message."""
        return self.positions[start], self.positions[end - 1] + 1

    def spans_to_message(self, spans: Sequence[Span]) -> tuple[Span, ...]:
        """Spans of the view as spans of the message, weights kept."""
        return tuple(Span(*self.to_message(sp.start, sp.end), sp.weight) for sp in spans)


def _kept(text: str, phrases: Sequence[str]) -> tuple[int, ...]:
    """The positions of ``text`` outside every occurrence of ``phrases``."""
    keep = [True] * len(text)
    for phrase in phrases:
        i = text.find(phrase)  # most messages hold none of the phrases
        while i != -1:
            keep[i:i + len(phrase)] = [False] * len(phrase)
            i = text.find(phrase, i + 1)
    return tuple(i for i, k in enumerate(keep) if k)


def _without(text: str, kept: tuple[int, ...]) -> list[tuple[str, tuple[int, ...]]]:
    """The text at ``kept`` and its own sentences, as views."""
    rest = "".join(text[i] for i in kept)
    return [(rest, kept)] + [(rest[s:e], kept[s:e]) for s, e in _cut(rest, _ends(rest))]


def _pieces(norm: Normalized, boilerplate: Sequence[str],
            dressing: Sequence[str] = ()) -> tuple[list[tuple[str, tuple[int, ...]]], int | None]:
    """The whole message, its sentences, the message without its ``dressing`` (quote marks
    and the sender's own disclaimers: 据说“不还钱会被抓”，这只是提醒，不是威胁 reads to the
    classifier as reported, disowned speech) with its sentences, and the message without
    ``boilerplate`` phrases with its own sentences (the policy's allow-listed service and
    anti-fraud phrases protect only themselves: glued to a violation, they must not dilute its
    score either, and a greeting before the sentence that holds one must not either). The count
    says how many of the pieces, at the end, are the message without its phrases (None: it
    holds none; 0: nothing of substance is left)."""
    text = norm.text
    pieces = [(text, tuple(range(len(text))))]
    pieces += [(text[s:e], tuple(range(s, e))) for s, e in sentence_spans(norm)]
    bare = _kept(text, dressing)
    undressed = _without(text, bare) if len(bare) < len(text) else []
    if undressed and len(undressed[0][0].strip()) < MIN_CHARS:
        undressed = []
    kept = _kept(text, boilerplate)
    if len(kept) == len(text):
        return pieces + undressed, None
    unpadded = _without(text, kept)
    if len(unpadded[0][0].strip()) < MIN_CHARS:
        return pieces + undressed, 0
    # undressed views that hold no allow-listed phrase count as the message without them too
    held, free = [], []
    for v in undressed:
        (held if any(phrase in v[0] for phrase in boilerplate) else free).append(v)
    return pieces + held + unpadded + free, len(unpadded) + len(free)


@dataclass(frozen=True, slots=True)
class Views:
    """The classifier's reading of a batch, view by view.

    ``scores``: per message, the strongest view per category. ``head``: with an evidence
    head, the winning view's marked words in the message's offsets. ``origins``: per
    message and category, the view that won (what occlusion cuts words from).
    ``unpadded``: per message, the strongest scores of the message without its allow-listed
    phrases and of its sentences (None when it holds none, {} when nothing of substance is left)."""

    scores: list[dict[str, float]]
    head: list[Scored] | None
    origins: list[dict[str, View]]
    unpadded: list[dict[str, float] | None]


def score_views(classifier: Classifier, norms: Sequence[Normalized], head: bool, boilerplate: Sequence[str] = (),
                dressing: Callable[[str, Set[int]], Sequence[str]] | None = None) -> Views:
    """Every view of every message in one classifier call; ``dressing`` says what a message's
    sender wrapped it in (``ContextFilter.dressing``)."""
    pieces = [_pieces(n, boilerplate, dressing(n.text, n.breaks) if dressing else ()) for n in norms]
    texts = [t for ps, _ in pieces for t, _ in ps]
    if head:
        flat = classifier.predict_with_evidence(texts)  # type: ignore[attr-defined]
    else:
        flat = [Scored(sc, {}) for sc in classifier.predict(texts)]
    it = iter(flat)
    out = Views([], [] if head else None, [], [])
    for ps, n_unpadded in pieces:
        views = [(View(t, pos, sc.scores), sc) for (t, pos), sc in zip(ps, (next(it) for _ in ps), strict=True)]
        best = {c: max(views, key=lambda v: v[0].scores.get(c, 0.0)) for c in views[0][0].scores}
        out.scores.append({c: v.scores[c] for c, (v, _) in best.items()})
        out.origins.append({c: v for c, (v, _) in best.items()})
        out.unpadded.append(None if n_unpadded is None else
                            {c: max(v.scores.get(c, 0.0) for v, _ in views[-n_unpadded:]) for c in best} if n_unpadded else {})
        if out.head is not None:
            out.head.append(Scored(out.scores[-1], LazyEvidence(
                tuple(best), lambda c, best=best: best[c][0].spans_to_message(best[c][1].evidence.get(c, ())))))
    return out
