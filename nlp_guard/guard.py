"""Guard: the screening pipeline.

    text → normalize (offset map) → rules ∥ PII ∥ recipient rule ∥ classifier
         → policy engine → Decision (spans in the original text)
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import regex

from .classifier import Classifier, EvidenceClassifier, Scored
from .engine import PolicyEngine
from .errors import EmptyTextError, InputError, TextTooLongError
from .explain import Driver, Request, explain
from .finding import Finding
from .model import find_model_dir, load_classifier
from .normalize import Normalized, normalize
from .pii import analyze
from .policy import PolicyPack, default_policy
from .recipient import RECIPIENTS, RecipientRule
from .results import Decision, TranscriptDecision, TurnResult, worst
from .rewrite import clean_clauses, fallback, rewrite
from .rules import RuleSet
from .signals import SignalDetector

MAX_CHARS = 5_000
EXPLAIN_MODES = ("auto", "head", "occlusion")
SPEAKERS = ("agent", "customer")
_BAD_CONTROL = regex.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class Message:
    text: str
    recipient: str = "debtor"


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
                 max_chars: int = MAX_CHARS, explain: str = "auto") -> None:
        """``explain`` says how a violation only the model sees gets word-level evidence:
        ``head`` reads the model's evidence head (the same forward pass), ``occlusion``
        re-scores the message with words cut out (several passes; the audit reference),
        ``auto`` takes the head when the model has one."""
        if explain not in EXPLAIN_MODES:
            raise InputError(f"explain: {explain!r} is not one of {', '.join(EXPLAIN_MODES)}")
        self.policy = policy or default_policy()
        self.classifier = classifier
        self.max_chars = max_chars
        has_head = isinstance(classifier, EvidenceClassifier) and bool(getattr(classifier, "evidence_head", False))
        if explain == "head" and not has_head:
            raise InputError("explain: 'head' needs a model with an evidence head (a distilled student)")
        self.explain = "head" if explain == "auto" and has_head else "occlusion" if explain == "auto" else explain
        self.rules = RuleSet(self.policy)
        self.recipient_rule = RecipientRule.from_pack(self.policy, self.rules.context)
        self.engine = PolicyEngine(self.policy, self.recipient_rule.relay_suggestion())
        self.signals = SignalDetector(self.policy)

    @classmethod
    def default(cls, policy: PolicyPack | None = None, model_dir: str | Path | None = None,
                rules_only: bool = False, threads: int | None = None) -> Guard:
        """The shipped policy with a model: ``model_dir``, else ``$NLP_GUARD_MODEL_DIR``, else the
        model installed with the package (``nlp_guard.model.find_model_dir``). No model is a
        ModelNotFoundError, never a silent rules-only guard: ask for that with ``rules_only=True``.
        The model is loaded once per process and shared by every Guard built here. ``threads`` caps
        the model's intra-op threads (default: every core), for processes that share cores."""
        if rules_only:
            return cls(policy)
        return cls(policy, classifier=_shared_classifier(find_model_dir(model_dir), threads))

    @property
    def model_version(self) -> str | None:
        return self.classifier.version if self.classifier else None

    def with_policy(self, policy: PolicyPack) -> Guard:
        """The same classifier under another pack (a tenant overlay)."""
        return Guard(policy, self.classifier, self.max_chars, self.explain)

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
        for i, text in zip(flagged, self._suggest([(messages[i], decisions[i]) for i in flagged]), strict=True):
            decisions[i] = replace(decisions[i], rewrite=text)
        return decisions

    def _screen(self, messages: Sequence[Message], explain_model: bool) -> list[Decision]:
        """Without ``explain_model`` a model-only category is evidenced by the whole
        message: enough to verify a rewrite, at no extra inference."""
        for i, m in enumerate(messages):
            validate_text(m.text, "text" if len(messages) == 1 else f"items[{i}].text", self.max_chars)
            validate_recipient(m.recipient)
        norms = [normalize(m.text) for m in messages]
        texts = [n.text for n in norms]
        head: list[Scored] | None = None
        if self.classifier is None:
            scores: list[dict[str, float] | None] = [None] * len(norms)
        elif self.explain == "head":
            head = self.classifier.predict_with_evidence(texts)  # type: ignore[attr-defined]
            scores = [h.scores for h in head]
        else:
            scores = list(self.classifier.predict(texts))
        findings = [self.rules.match(n.text, m.recipient) + self.recipient_rule.check(n.text, m.recipient)
                    for m, n in zip(messages, norms, strict=True)]
        evidence = self._model_evidence(norms, findings, scores, explain_model, head)
        return [self.engine.decide(norm, found + extra, analyze(norm.text), sc, self.model_version)
                for norm, found, (extra, sc) in zip(norms, findings, evidence, strict=True)]

    def _model_evidence(self, norms: Sequence[Normalized], findings: Sequence[list[Finding]],
                        scores: Sequence[dict[str, float] | None], explain_model: bool,
                        head: Sequence[Scored] | None = None) -> list[tuple[list[Finding], dict[str, float] | None]]:
        """Evidence for categories that only the model saw, and the scores the engine should use.

        The words that drive a score go through the same protective-context
        filter as rule hits: when the strongest one is quoted, negated or
        warned against ("请勿相信'…拘留'的说法"), the category does not fire.
        """
        if self.classifier is None:
            return [([], sc) for sc in scores]
        cats = self.policy.categories
        requests = []
        for n, found, sc in zip(norms, findings, scores, strict=True):
            seen = {f.category for f in found}
            model_only = tuple(c for c, cat in cats.items() if c not in seen and (sc or {}).get(c, 0.0) >= cat.threshold)
            requests.append(Request(n.text, sc or {}, model_only))
        todo = [i for i, r in enumerate(requests) if r.categories]
        if head is not None:  # the evidence head marked the words in the same forward pass
            explained = [{c: [Driver(sp.start, sp.end, sp.weight) for sp in head[i].evidence.get(c, ())[:3]]
                          for c in requests[i].categories} for i in todo]
        elif explain_model:
            explained = explain(self.classifier, [requests[i] for i in todo])
        else:
            explained = [dict.fromkeys(requests[i].categories, []) for i in todo]
        drivers = dict(zip(todo, explained, strict=True))
        out: list[tuple[list[Finding], dict[str, float] | None]] = []
        for i, (n, sc) in enumerate(zip(norms, scores, strict=True)):
            extra: list[Finding] = []
            adjusted = dict(sc) if sc else sc
            for code, spans in drivers.get(i, {}).items():
                cat = cats[code]
                if spans and self.rules.context.reason(n.text, spans[0].start, spans[0].end):
                    adjusted[code] = min(adjusted[code], cat.threshold / 2)
                    continue
                extra += [Finding(cat.model_subcategory, d.start, d.end, adjusted[code], "model", self.classifier.version,
                                  _why(n.text[d.start:d.end], code, d.drop, head is not None))
                          for d in spans] or [Finding(cat.model_subcategory, 0, len(n.text), adjusted[code], "model",
                                                      self.classifier.version, "whole message")]
            out.append((extra, adjusted))
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

    def _suggest(self, flagged: Sequence[tuple[Message, Decision]]) -> list[str]:
        """Per flagged message, a rewrite that itself passes the check, else the plain
        suggestions. Two screening batches for all of them: their clauses, then the rewrites."""
        clean = [[c for c in clean_clauses(m.text, d.violations) if c.strip()] for m, d in flagged]
        ok = self._allowed([Message(c, m.recipient) for (m, _), cs in zip(flagged, clean, strict=True) for c in cs])
        candidates = [Message(rewrite(m.text, d.violations, lambda c, r=m.recipient: not c.strip() or Message(c, r) in ok),
                              m.recipient) for m, d in flagged]
        passed = self._allowed(candidates)
        return [c.text if c in passed else fallback(d.violations) for c, (_, d) in zip(candidates, flagged, strict=True)]

    # -- transcripts ----------------------------------------------------------------
    def check_transcript(self, turns: Sequence[dict[str, object]]) -> TranscriptDecision:
        """Agent turns are judged; customer turns yield signals only."""
        if not turns:
            raise InputError("turns: a transcript needs at least one turn")
        agent: list[tuple[int, Message]] = []
        for i, t in enumerate(turns):
            if not isinstance(t, dict):
                raise InputError(f"turns[{i}]: expected an object with speaker and text")
            if t.get("speaker") not in SPEAKERS:
                raise InputError(f"turns[{i}].speaker: {t.get('speaker')!r} is not one of {', '.join(SPEAKERS)}")
            validate_text(t.get("text"), f"turns[{i}].text", self.max_chars)
            if t["speaker"] == "agent":
                agent.append((i, Message(str(t["text"]), str(t.get("recipient", "debtor")))))
        decisions = dict(zip((i for i, _ in agent), self.check_many([m for _, m in agent], suggest=False), strict=True))
        results = []
        for i, t in enumerate(turns):
            if i in decisions:
                d = decisions[i]
                results.append(TurnResult(i, "agent", d.decision, d.violations, (), d.pii))
            else:
                norm = normalize(str(t["text"]))
                results.append(TurnResult(i, "customer", "allow", (), self.signals.detect(norm),
                                          self.engine.pii(norm, analyze(norm.text))))
        return TranscriptDecision(worst([r.decision for r in results]), tuple(results),
                                  self.policy.version, self.model_version)
