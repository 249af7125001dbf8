"""Guard: the screening pipeline.

    text → normalize (offset map) → rules ∥ PII ∥ recipient rule ∥ classifier
         → policy engine → Decision (spans in the original text)
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import regex

from .classifier import Classifier
from .engine import PolicyEngine
from .errors import EmptyTextError, InputError, TextTooLongError
from .explain import occlusion
from .finding import Finding
from .normalize import Normalized, normalize
from .pii import analyze
from .policy import PolicyPack, default_policy
from .recipient import RECIPIENTS, RecipientRule
from .results import Decision, TranscriptDecision, TurnResult, worst
from .rewrite import clean_clauses, fallback, rewrite
from .rules import RuleSet
from .signals import SignalDetector

MAX_CHARS = 5_000
SPEAKERS = ("agent", "customer")
_BAD_CONTROL = regex.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
DEFAULT_MODEL_DIR = Path(__file__).resolve().parent.parent / "models" / "nlp_guard-zh"


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


@lru_cache(maxsize=4)
def _shared_classifier(path: Path) -> Classifier:
    from .model import load_classifier

    return load_classifier(path)


class Guard:
    """Screens messages and transcripts against a policy pack and an optional classifier."""

    def __init__(self, policy: PolicyPack | None = None, classifier: Classifier | None = None,
                 max_chars: int = MAX_CHARS) -> None:
        self.policy = policy or default_policy()
        self.classifier = classifier
        self.max_chars = max_chars
        self.rules = RuleSet(self.policy)
        self.recipient_rule = RecipientRule.from_pack(self.policy, self.rules.context)
        self.engine = PolicyEngine(self.policy, self.recipient_rule.relay_suggestion())
        self.signals = SignalDetector(self.policy)

    @classmethod
    def default(cls, policy: PolicyPack | None = None, model_dir: str | Path | None = None,
                rules_only: bool = False) -> Guard:
        """The shipped policy with the shipped model (when it is installed); the model is
        loaded once per process and shared by every Guard built here."""
        if rules_only:
            return cls(policy)
        path = Path(model_dir or os.environ.get("NLP_GUARD_MODEL_DIR") or DEFAULT_MODEL_DIR)
        return cls(policy, classifier=_shared_classifier(path.resolve()) if model_dir or path.exists() else None)

    @property
    def model_version(self) -> str | None:
        return self.classifier.version if self.classifier else None

    def with_policy(self, policy: PolicyPack) -> Guard:
        """The same classifier under another pack (a tenant overlay)."""
        return Guard(policy, self.classifier, self.max_chars)

    # -- messages -----------------------------------------------------------------
    def check(self, text: str, recipient: str = "debtor", suggest: bool = True) -> Decision:
        return self.check_many([Message(text, recipient)], suggest=suggest)[0]

    def check_many(self, messages: Sequence[Message], suggest: bool = True) -> list[Decision]:
        """Screen messages; the classifier sees them in one batch."""
        for i, m in enumerate(messages):
            validate_text(m.text, "text" if len(messages) == 1 else f"items[{i}].text", self.max_chars)
            validate_recipient(m.recipient)
        norms = [normalize(m.text) for m in messages]
        scores = self.classifier.predict([n.text for n in norms]) if self.classifier else [None] * len(norms)
        out = []
        for m, norm, sc in zip(messages, norms, scores, strict=True):
            findings = self.rules.match(norm.text, m.recipient) + self.recipient_rule.check(norm.text, m.recipient)
            findings += self._model_evidence(norm, findings, sc)
            decision = self.engine.decide(norm, findings, analyze(norm.text), sc, self.model_version)
            if suggest and decision.decision != "allow":
                decision = replace(decision, rewrite=self._suggest(m.text, decision, m.recipient))
            out.append(decision)
        return out

    def _model_evidence(self, norm: Normalized, findings: list[Finding],
                        scores: dict[str, float] | None) -> list[Finding]:
        """Evidence for categories that only the model saw.

        The words that drive the score go through the same protective-context
        filter as rule hits: when the strongest one is quoted, negated or
        warned against ("请勿相信'…拘留'的说法"), the category does not fire.
        """
        if not scores or self.classifier is None:
            return []
        seen = {f.category for f in findings}
        extra: list[Finding] = []
        for code, cat in self.policy.categories.items():
            if code in seen or scores.get(code, 0.0) < cat.threshold:
                continue
            words = occlusion(self.classifier, norm.text, code, cat.model_subcategory, scores[code])
            if words and self.rules.context.reason(norm.text, words[0].start, words[0].end):
                scores[code] = min(scores[code], cat.threshold / 2)
                continue
            extra += words or [Finding(cat.model_subcategory, 0, len(norm.text), scores[code], "model",
                                       self.classifier.version, "whole message")]
        return extra

    def _suggest(self, text: str, decision: Decision, recipient: str) -> str:
        """A rewrite that itself passes the check, else the plain suggestions."""
        clauses = [c for c in clean_clauses(text, decision.violations) if c.strip()]
        try:  # one batch for all clauses
            ok = {c for c, d in zip(clauses, self.check_many([Message(c, recipient) for c in clauses], suggest=False),
                                    strict=True) if d.decision == "allow"}
        except InputError:
            ok = set()

        def clause_ok(clause: str) -> bool:
            return not clause.strip() or clause in ok

        for candidate in (rewrite(text, decision.violations, clause_ok), fallback(decision.violations)):
            try:
                if self.check(candidate, recipient, suggest=False).decision == "allow":
                    return candidate
            except InputError:
                continue
        return fallback(decision.violations)

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
