"""Guard: the screening pipeline.

    text → normalize (offset map) → rules ∥ PII ∥ recipient rule ∥ classifier
         → policy engine → Decision (spans in the original text)
"""
from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import regex

from .classifier import Classifier, EvidenceClassifier
from .engine import PolicyEngine
from .errors import EmptyTextError, InputError, TextTooLongError
from .explain import Driver, Request, explain
from .finding import Finding
from .model import find_model_dir, load_classifier
from .normalize import Normalized, normalize
from .pii import analyze
from .pii.ner import prefetch_beside
from .policy import PolicyPack, default_policy
from .recipient import RECIPIENTS, RecipientRule
from .results import Decision, Evidence, TranscriptDecision, TurnResult, Violation, worst
from .rewrite import clean_clauses, fallback, rewrite
from .rules import RuleSet
from .sentences import View, Views, score_views
from .signals import SignalDetector

MAX_CHARS = 5_000
EXPLAIN_MODES = ("auto", "head", "occlusion")
SPEAKERS = ("agent", "customer")
_BAD_CONTROL = regex.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class Detected:
    """What one detection pass found beyond rule hits: the classifier's views (None without a
    model) and what the PII recognizers found per message (names feed the recipient rule)."""

    views: Views | None
    pii: list[list[Finding]]


@dataclass(frozen=True, slots=True)
class Message:
    text: str
    recipient: str = "debtor"


@dataclass(frozen=True, slots=True)
class Window:
    """How an agent turn is judged in context (issue 12): joined after the ``agent_turns``
    agent turns before it, with the customer turns between them when ``customers``. A
    category that an earlier agent turn already violates on its own is added to this turn
    only when the turn raises the model's score for it: the window's logit exceeds every
    earlier turn's own strength (model or rule score) by ``lift`` or more (你知道后果的 after naming the parents' address),
    which a polite turn after a threat does not (it dilutes the score). Either way the model must
    score the window at ``confirm`` or more (calibrated, where 0.5 is the category's threshold).
    Asking ``confirm`` only of the categories no turn shows alone was measured with 0.6.1: one
    more false positive on dev mixed calls and three on test, recall unchanged."""

    agent_turns: int = 1
    customers: bool = False
    lift: float = 1.0
    confirm: float = 0.95  # dev, model 0.5.0: mixed-call FPR 5.4% at 0.5, 4.7% at 0.8, 2.7% at 0.95 (1.6% without context)


def validate_text(text: object, field: str = "text", max_chars: int = MAX_CHARS) -> str:
    """The text if it can be screened; otherwise an InputError naming ``field``."""
    if not isinstance(text, str):
        raise InputError(f"{field}: expected a string, got {type(text).__name__}")
    if not text.strip():
        raise EmptyTextError(f"{field}: text is empty")
    if len(text) > max_chars:
        raise TextTooLongError(f"{field}: text has {len(text)} characters; the limit is {max_chars}")
    bad = _BAD_CONTROL.search(text)
    if bad:
        raise InputError(f"{field}: control character U+{ord(bad.group()):04X} at position {bad.start()}")
    return text


def validate_recipient(recipient: object, field: str = "recipient") -> str:
    if recipient not in RECIPIENTS:
        raise InputError(f"{field}: {recipient!r} is not one of {', '.join(RECIPIENTS)}")
    return str(recipient)


def _why(words: str, category: str, weight: float, from_head: bool) -> str:
    if from_head:
        return f"the evidence head marks {words!r} for {category} ({weight:.2f})"
    return f"removing {words!r} lowers the {category} score by {weight:.2f}"


@lru_cache(maxsize=4)
def _shared_classifier(path: Path, threads: int | None) -> Classifier:
    return load_classifier(path, threads=threads)


class Guard:
    """Screens messages and transcripts against a policy pack and an optional classifier."""

    def __init__(self, policy: PolicyPack | None = None, classifier: Classifier | None = None,
                 max_chars: int = MAX_CHARS, explain: str = "auto", window: Window = Window()) -> None:
        """``explain`` says how a violation only the model sees gets word-level evidence:
        ``head`` reads the model's evidence head (the same forward pass), ``occlusion``
        re-scores the message with words cut out (several passes; the audit reference),
        ``auto`` takes the head when the model has one."""
        if explain not in EXPLAIN_MODES:
            raise InputError(f"explain: {explain!r} is not one of {', '.join(EXPLAIN_MODES)}")
        self.policy = policy or default_policy()
        self.window = window
        self.classifier = classifier
        self.max_chars = max_chars
        has_head = isinstance(classifier, EvidenceClassifier) and bool(getattr(classifier, "evidence_head", False))
        if explain == "head" and not has_head:
            raise InputError("explain: 'head' needs a model with an evidence head (a distilled student)")
        self.explain = "head" if explain == "auto" and has_head else "occlusion" if explain == "auto" else explain
        self.rules = RuleSet(self.policy)
        self.recipient_rule = RecipientRule.from_pack(self.policy)
        self.engine = PolicyEngine(self.policy, self.recipient_rule.relay_suggestion())
        self.signals = SignalDetector(self.policy)

    @classmethod
    def default(cls, policy: PolicyPack | None = None, model_dir: str | Path | None = None,
                rules_only: bool = False, threads: int | None = None, explain: str = "auto") -> Guard:
        """The shipped policy with a model: ``model_dir``, else ``$NLP_GUARD_MODEL_DIR``, else the
        model installed with the package (``nlp_guard.model.find_model_dir``). No model is a
        ModelNotFoundError, never a silent rules-only guard: ask for that with ``rules_only=True``.
        The model is loaded once per process and shared by every Guard built here. ``threads`` caps
        the model's intra-op threads (default: every core), for processes that share cores."""
        if rules_only:
            return cls(policy)
        return cls(policy, classifier=_shared_classifier(find_model_dir(model_dir), threads), explain=explain)

    @property
    def model_version(self) -> str | None:
        return self.classifier.version if self.classifier else None

    def with_policy(self, policy: PolicyPack) -> Guard:
        """The same classifier under another pack (a tenant overlay)."""
        return Guard(policy, self.classifier, self.max_chars, self.explain, self.window)

    # -- messages -----------------------------------------------------------------
    def check(self, text: str, recipient: str = "debtor", suggest: bool = True) -> Decision:
        return self.check_many([Message(text, recipient)], suggest=suggest)[0]

    def check_many(self, messages: Sequence[Message], suggest: bool | Sequence[bool] = True) -> list[Decision]:
        """Screen messages; the classifier sees them in one batch, and the
        explanations of model-only violations in one batch per round. ``suggest``
        (one flag for all, or one per message) asks for verified rewrites, so callers
        that mix drafts with outreach still share one batch."""
        wants = [suggest] * len(messages) if isinstance(suggest, bool) else list(suggest)
        if len(wants) != len(messages):
            raise InputError(f"suggest: {len(wants)} flags for {len(messages)} messages")
        decisions = self._screen(messages, explain_model=True)
        flagged = [i for i, d in enumerate(decisions) if wants[i] and d.decision != "allow"]
        if not flagged:
            return decisions
        for i, (text, note) in zip(flagged, self._suggest([(messages[i], decisions[i]) for i in flagged]), strict=True):
            decisions[i] = replace(decisions[i], rewrite=text, rewrite_note=note)
        return decisions

    def _screen(self, messages: Sequence[Message], explain_model: bool) -> list[Decision]:
        """Without ``explain_model`` a model-only category is evidenced by the whole
        message: enough to verify a rewrite, at no extra inference."""
        for i, m in enumerate(messages):
            validate_text(m.text, "text" if len(messages) == 1 else f"items[{i}].text", self.max_chars)
            validate_recipient(m.recipient)
        norms, findings, scores, detected = self._detect(messages)
        return self._decide(messages, norms, findings, scores, explain_model, None, detected)

    def _detect(self, messages: Sequence[Message]) -> tuple[list[Normalized], list[list[Finding]],
                                                            list[dict[str, float] | None], Detected]:
        """Normalised texts, rule and recipient findings, model scores (the strongest of the
        message and its sentences, ``nlp_guard.sentences``) and which view set each score, with
        an evidence head's marked words (one classifier call)."""
        norms = [normalize(m.text) for m in messages]
        # the NER runs on its own thread while the classifier and the rules run: its matrix products and
        # parser, like ONNX Runtime, let go of the GIL; only the PII recognizers wait for its names
        names = prefetch_beside([n.cased for n in norms])
        views = None if self.classifier is None else score_views(
            self.classifier, norms, self.explain == "head", self.rules.context.allow_list, self.rules.context.dressing)
        matched = [self.rules.match(n.text, m.recipient, n.breaks) for m, n in zip(messages, norms, strict=True)]
        names.result()
        scores: list[dict[str, float] | None] = list(views.scores) if views else [None] * len(norms)
        pii = [analyze(n.cased) for n in norms]
        findings = [hits + self.recipient_rule.check(n.text, m.recipient, found)
                    for m, n, hits, found in zip(messages, norms, matched, pii, strict=True)]
        return norms, findings, scores, Detected(views, pii)

    def _decide(self, messages: Sequence[Message], norms: Sequence[Normalized], findings: Sequence[list[Finding]],
                scores: Sequence[dict[str, float] | None], explain_model: bool,
                only: Sequence[Collection[str]] | None, detected: Detected) -> list[Decision]:
        """Decisions; with ``only``, the model may add no category outside each message's set."""
        evidence = self._model_evidence(norms, findings, scores, explain_model, only, detected)
        return [self.engine.decide(norm, found + extra, p, sc, self.model_version, m.recipient)
                for m, norm, found, p, (extra, sc) in zip(messages, norms, findings, detected.pii, evidence, strict=True)]

    def _model_evidence(self, norms: Sequence[Normalized], findings: Sequence[list[Finding]],
                        scores: Sequence[dict[str, float] | None], explain_model: bool,
                        only: Sequence[Collection[str]] | None, detected: Detected,
                        ) -> list[tuple[list[Finding], dict[str, float] | None]]:
        """Evidence for categories that only the model saw, and the scores the engine should use.

        The words that drive a score go through the same protective-context
        filter as rule hits: when the strongest one is quoted, negated or
        warned against ("请勿相信'…拘留'的说法"), the category does not fire.
        """
        if self.classifier is None:
            return [([], sc) for sc in scores]
        cats = self.policy.categories
        requests = []
        for i, (n, found, sc) in enumerate(zip(norms, findings, scores, strict=True)):
            seen = {f.category for f in found}
            model_only = tuple(c for c, cat in cats.items() if c not in seen and (sc or {}).get(c, 0.0) >= cat.threshold
                               and (only is None or c in only[i]))
            requests.append(Request(n.text, sc or {}, model_only))
        todo = [i for i, r in enumerate(requests) if r.categories]
        head = detected.views.head if detected.views else None
        if head is not None:  # the evidence head marked the words in the same forward pass
            explained = [{c: list(head[i].evidence.get(c, ())[:3])
                          for c in requests[i].categories} for i in todo]
        elif explain_model:
            explained = self._occlude(norms, [(i, requests[i]) for i in todo], detected)
        else:
            explained = [dict.fromkeys(requests[i].categories, []) for i in todo]
        drivers = dict(zip(todo, explained, strict=True))
        carried = self._carried_by_allow_list([(i, requests[i]) for i in todo], detected)
        out: list[tuple[list[Finding], dict[str, float] | None]] = []
        for i, (n, sc) in enumerate(zip(norms, scores, strict=True)):
            extra: list[Finding] = []
            adjusted = dict(sc) if sc else sc
            for code, spans in drivers.get(i, {}).items():
                cat = cats[code]
                if code in carried.get(i, ()) or spans and self.rules.context.reason(n.text, spans[0].start, spans[0].end,
                                                                                      n.breaks):
                    adjusted[code] = min(adjusted[code], cat.threshold / 2)
                    continue
                extra += [Finding(cat.model_subcategory, d.start, d.end, adjusted[code], "model", self.classifier.version,
                                  _why(n.text[d.start:d.end], code, d.weight, head is not None))
                          for d in spans] or [Finding(cat.model_subcategory, 0, len(n.text), adjusted[code], "model",
                                                      self.classifier.version, "whole message")]
            out.append((extra, adjusted))
        return out

    def _carried_by_allow_list(self, todo: Sequence[tuple[int, Request]], detected: Detected) -> dict[int, set[str]]:
        """Model-only categories that an allow-listed phrase carries: without the phrase, the
        message no longer reaches the threshold (咱们一起看看怎么更稳当些), read off the view
        ``score_views`` already scored. A violation glued to such a phrase still does, so the
        phrase protects only itself."""
        unpadded = detected.views.unpadded if detected.views else []
        cats = self.policy.categories
        return {i: {c for c in r.categories if sc.get(c, 0.0) < cats[c].threshold}
                for i, r in todo if (sc := unpadded[i]) is not None}

    def _occlude(self, norms: Sequence[Normalized], todo: Sequence[tuple[int, Request]],
                 detected: Detected) -> list[dict[str, list[Driver]]]:
        """Occlusion evidence, cut from the view (message, sentence or message without its
        boilerplate) that set each category's score, in one batch per round; spans come back
        in the message's offsets."""
        jobs: list[tuple[int, View | None, Request]] = []
        for k, (i, r) in enumerate(todo):
            by_view: dict[str, tuple[View | None, dict[str, float], list[str]]] = {}
            for c in r.categories:
                v = detected.views.origins[i].get(c) if detected.views else None
                by_view.setdefault(v.text if v else norms[i].text, (v, v.scores if v else r.scores, []))[2].append(c)
            jobs += [(k, v, Request(text, sc, tuple(cs))) for text, (v, sc, cs) in by_view.items()]
        out: list[dict[str, list[Driver]]] = [{} for _ in todo]
        for (k, v, _), found in zip(jobs, explain(self.classifier, [r for *_, r in jobs], segmenter=self.rules.segmenter),
                                    strict=True):
            out[k].update({c: [Driver(*(v.to_message(d.start, d.end) if v else (d.start, d.end)), d.weight) for d in ds]
                           for c, ds in found.items()})
        return out

    def _allowed(self, messages: Sequence[Message]) -> set[Message]:
        """The messages that pass, screened in one batch (a text that cannot be screened does not pass)."""
        unique: list[Message] = []
        for m in dict.fromkeys(messages):
            try:
                validate_text(m.text, max_chars=self.max_chars)
            except InputError:
                continue
            unique.append(m)
        return {m for m, d in zip(unique, self._screen(unique, False), strict=True) if d.decision == "allow"}

    def _suggest(self, flagged: Sequence[tuple[Message, Decision]]) -> list[tuple[str | None, str | None]]:
        """Per flagged message, the first of (the clause rewrite, the plain suggestions) that itself
        passes the check for the same recipient, else no rewrite and a note saying why. Two
        screening batches for all of them: their clauses, then the candidates."""
        clean = [[c for c in clean_clauses(m.text, d.violations) if c.strip()] for m, d in flagged]
        ok = self._allowed([Message(c, m.recipient) for (m, _), cs in zip(flagged, clean, strict=True) for c in cs])
        candidates = [[Message(t, m.recipient) for t in dict.fromkeys((
            rewrite(m.text, d.violations, lambda c, r=m.recipient: not c.strip() or Message(c, r) in ok),
            fallback(d.violations)))] for m, d in flagged]
        passed = self._allowed([c for cs in candidates for c in cs])
        out: list[tuple[str | None, str | None]] = []
        for cs, (m, _) in zip(candidates, flagged, strict=True):
            good = next((c.text for c in cs if c in passed), None)
            out.append((good, None) if good else
                       (None, f"no rewrite: each of {len(cs)} candidate(s) is itself flagged for recipient={m.recipient}"))
        return out

    # -- transcripts ----------------------------------------------------------------
    def check_transcript(self, turns: Sequence[dict[str, object]], context: bool = True) -> TranscriptDecision:
        """Agent turns are judged, each alone and (with ``context``) in a window of the turns
        before it; customer turns yield signals only. The classifier sees all agent turns in
        one batch and all windows in another."""
        if not turns:
            raise InputError("turns: a transcript needs at least one turn")
        checked = [self._turn(t, f"turns[{i}]") for i, t in enumerate(turns)]
        results = self._judge(checked, range(len(checked)), context)
        return TranscriptDecision(worst([r.decision for r in results]), tuple(results),
                                  self.policy.version, self.model_version)

    def check_turn(self, history: Sequence[dict[str, object]], turn: dict[str, object]) -> TurnResult:
        """One new turn of a live call, judged exactly as ``check_transcript`` judges it
        within the whole call; ``history`` holds the turns before it."""
        checked = [self._turn(t, f"history[{i}]") for i, t in enumerate(history)] + [self._turn(turn, "turn")]
        return self._judge(checked, [len(checked) - 1], context=True)[0]

    def _turn(self, t: object, field: str) -> tuple[str, Message]:
        """A turn's speaker and message, or an InputError naming ``field``."""
        if not isinstance(t, dict):
            raise InputError(f"{field}: expected an object with speaker and text")
        if t.get("speaker") not in SPEAKERS:
            raise InputError(f"{field}.speaker: {t.get('speaker')!r} is not one of {', '.join(SPEAKERS)}")
        text = validate_text(t.get("text"), f"{field}.text", self.max_chars)
        return str(t["speaker"]), Message(text, validate_recipient(t.get("recipient", "debtor"), f"{field}.recipient"))

    def _judge(self, turns: Sequence[tuple[str, Message]], targets: Sequence[int], context: bool) -> list[TurnResult]:
        """Results for the ``targets`` turns of a validated transcript."""
        agent = [i for i in targets if turns[i][0] == "agent"]
        windows = {i: w for i in agent if (w := self._context_turns(turns, i))} if context else {}
        alone_at = sorted(set(agent) | {j for w in windows.values() for j in w if turns[j][0] == "agent"})
        alone = dict(zip(alone_at, self.check_many([turns[i][1] for i in alone_at], suggest=False), strict=True))
        completed = self._completed(turns, windows, alone) if windows else {}
        results = []
        for i in targets:
            speaker, m = turns[i]
            if speaker == "agent":
                vs = tuple(sorted(alone[i].violations + completed.get(i, ()), key=lambda v: (-v.score, v.subcategory)))
                results.append(TurnResult(i, "agent", worst([v.action for v in vs]), vs, (), alone[i].pii))
            else:
                norm = normalize(m.text)
                results.append(TurnResult(i, "customer", "allow", (), self.signals.detect(norm),
                                          self.engine.pii(norm, analyze(norm.cased))))
        return results

    def _context_turns(self, turns: Sequence[tuple[str, Message]], i: int) -> tuple[int, ...]:
        """The turns an agent turn is judged with: the ``window.agent_turns`` agent turns
        before it (and the customer turns between them, if ``window.customers``); none
        when no agent turn precedes it."""
        before: list[int] = []
        agents = 0
        for j in range(i - 1, -1, -1):
            if agents == self.window.agent_turns:
                break
            if turns[j][0] == "agent":
                agents += 1
                before.append(j)
            elif self.window.customers:
                before.append(j)
        while before and turns[before[-1]][0] != "agent":
            before.pop()
        return tuple(reversed(before))

    def _completed(self, turns: Sequence[tuple[str, Message]], windows: dict[int, tuple[int, ...]],
                   alone: dict[int, Decision]) -> dict[int, tuple[Violation, ...]]:
        """Violations that an agent turn completes: found in its window (the context turns
        joined before it), in a category the turn alone does not violate, with evidence in
        the turn itself (see ``_attribute``). A category that an earlier agent turn already
        violates alone counts only when the window lifts the model's score (``Window``)."""
        items = []
        for i, before in windows.items():
            text, starts = _join([turns[j][1].text for j in (*before, i)])
            if len(text) <= self.max_chars:  # a longer window is not judged (each turn still is)
                items.append((i, before, starts, Message(text, turns[i][1].recipient)))
        if not items:
            return {}
        norms, findings, scores, detected = self._detect([m for *_, m in items])
        wanted, lifted = [], []
        for (i, before, *_), sc in zip(items, scores, strict=True):
            own = {v.category for v in alone[i].violations}
            earlier = [alone[j] for j in before if j in alone]
            violated = {v.category for d in earlier for v in d.violations}
            up = {c for c in self.policy.categories if sc is not None and
                  _logit(sc.get(c, 0.0)) - max(_logit(_strength(d, c)) for d in earlier) >= self.window.lift}
            # with a model, a violation that exists only across turns needs its agreement (a lawful
            # 请和家人商量… followed by 我们每天…接听 must not complete a token pattern)
            wanted.append({c for c, cat in self.policy.categories.items() if c not in own and
                           (sc is None or sc.get(c, 0.0) >= max(cat.threshold, self.window.confirm))
                           and (c not in violated or c in up)})
            lifted.append(up & violated)
        findings = [[f for f in found if f.category in w] for found, w in zip(findings, wanted, strict=True)]
        out: dict[int, tuple[Violation, ...]] = {}
        decisions = self._decide([m for *_, m in items], norms, findings, scores, True, wanted, detected)
        for (i, before, starts, _), d, up in zip(items, decisions, lifted, strict=True):
            segments = [(j, s, turns[j][1].text) for j, s in zip((*before, i), starts, strict=True) if turns[j][0] == "agent"]
            vs = tuple(v for v in (_attribute(v, i, segments, alone, v.category in up) for v in d.violations) if v)
            if vs:
                out[i] = vs
        return out


_SENTENCE_FINAL = frozenset("。！？!?；;…")


def _strength(d: Decision, category: str) -> float:
    """How strongly a turn alone violates a category: its model score, or its violation's
    (rules and model combined) when a rule made it stronger."""
    return max([d.scores.get(category, 0.0), *(v.score for v in d.violations if v.category == category)])


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def _join(texts: Sequence[str]) -> tuple[str, tuple[int, ...]]:
    """The turns as one text with a sentence end between them, and where each turn starts in it."""
    out, starts = "", []
    for t in texts:
        if out and out.rstrip()[-1:] not in _SENTENCE_FINAL:
            out += "。"
        starts.append(len(out))
        out += t
    return out, tuple(starts)


def _attribute(v: Violation, i: int, segments: Sequence[tuple[int, int, str]],
               alone: dict[int, Decision], lifted: bool) -> Violation | None:
    """A window's violation as turn ``i``'s, or None when the turn does not complete it.

    Its evidence is split at turn boundaries into offsets of each agent turn's original
    text, and some of it must lie in turn ``i``. One exception: a category an earlier turn
    already violates, whose score this turn ``lifted`` (the explainer then points at the
    earlier turn's stronger words); the turn as a whole is its evidence. With none in the
    earlier turns, their own evidence for the category stands in, else the nearest earlier
    agent turn as a whole.
    """
    pieces = [Evidence(s - at, e - at, text[s - at:e - at], j) for ev in v.evidence for j, at, text in segments
              for s, e in [(max(ev.start, at), min(ev.end, at + len(text)))] if s < e]
    texts = {j: text for j, _, text in segments}
    here = tuple(replace(p, turn=None) for p in pieces if p.turn == i) or ((_whole(texts[i]),) if lifted else ())
    if not here:
        return None
    earlier = tuple(p for p in pieces if p.turn != i) \
        or tuple(replace(e, turn=j) for j in texts if j != i
                 for w in alone[j].violations if w.category == v.category for e in w.evidence) \
        or (replace(_whole(texts[segments[-2][0]]), turn=segments[-2][0]),)
    turns = sorted({e.turn for e in earlier if e.turn is not None})
    return replace(v, evidence=here, context_evidence=earlier, detectors=(*v.detectors, "transcript.window"),
                   explanation=f"completed with turn {', '.join(map(str, turns))}: {v.explanation}"[:500])


def _whole(text: str) -> Evidence:
    body = text.strip()
    start = text.index(body)
    return Evidence(start, start + len(body), body)
