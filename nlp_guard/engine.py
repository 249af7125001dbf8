"""The policy engine: findings and model scores in, one Decision out.

Per category, the rule score (the strongest surviving hit) and the model score
combine by noisy-OR; the category fires at or above the pack's threshold.
Every evidence span is mapped back to the original text here.
"""
from __future__ import annotations

from collections import defaultdict

from .finding import Finding
from .normalize import Normalized
from .policy.schema import PolicyPack
from .recipient import MAY_KNOW_THE_DEBT
from .recipient import SUBCATEGORY as RECIPIENT_SUBCATEGORY
from .results import Decision, Evidence, PIIEntity, Verdict, Violation, worst


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[list[int]] = []
    for s, e in sorted(spans):
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    return [(s, e) for s, e in merged]


class PolicyEngine:
    def __init__(self, pack: PolicyPack, relay_suggestion: str) -> None:
        self.pack = pack
        self.relay_suggestion = relay_suggestion

    def evidence(self, norm: Normalized, findings: list[Finding]) -> tuple[Evidence, ...]:
        spans = _merge([norm.to_original(f.start, f.end) for f in findings])
        return tuple(Evidence(s, e, norm.original[s:e]) for s, e in spans)

    def violations(self, norm: Normalized, findings: list[Finding],
                   scores: dict[str, float] | None, recipient: str = "debtor") -> tuple[Violation, ...]:
        by_sub: dict[str, list[Finding]] = defaultdict(list)
        for f in findings:
            by_sub[self._label(f, recipient)].append(f)
        out: list[Violation] = []
        for code, cat in self.pack.categories.items():
            model = scores.get(code, 0.0) if scores is not None else None
            subs = {s: fs for s, fs in by_sub.items() if s.split(".", 1)[0] == code}
            for sub, fs in subs.items():
                detected = [f for f in fs if f.source != "model"]
                rule = max((f.score for f in detected), default=0.0)
                score = rule if model is None else 1 - (1 - rule) * (1 - model)
                if score < cat.threshold:
                    continue
                sources = sorted({f.source for f in fs} | ({"model"} if model is not None and model >= cat.threshold else set()))
                out.append(self._violation(norm, code, sub, score, "+".join(sources), fs, recipient))
        return tuple(sorted(out, key=lambda v: (-v.score, v.subcategory)))

    def _label(self, f: Finding, recipient: str) -> str:
        """The subcategory a finding reports: a model-only one takes ``model_subcategory_known``
        when the reader may know the debt ("去你单位闹，让你同事都知道" to the debtor is exposure,
        and its suggestion must not ask the debtor to pass a message to himself)."""
        cat = self.pack.categories.get(f.label.split(".", 1)[0])
        if (f.source == "model" and recipient in MAY_KNOW_THE_DEBT and cat is not None
                and cat.model_subcategory_known and f.label == cat.model_subcategory):
            return cat.model_subcategory_known
        return f.label

    def _violation(self, norm: Normalized, category: str, sub: str, score: float,
                   source: str, fs: list[Finding], recipient: str) -> Violation:
        cat = self.pack.categories[category]
        spec = cat.subcategories[sub]
        # a contact or third party gets the call-back relay, never a sentence about the debt
        relay = recipient not in MAY_KNOW_THE_DEBT or (
            sub == RECIPIENT_SUBCATEGORY and any(f.source == "context" for f in fs))
        return Violation(
            category=category,
            subcategory=sub,
            score=score,
            source=source,
            action=spec.action or cat.action,
            severity=cat.severity,
            evidence=self.evidence(norm, fs),
            citations=tuple(self.pack.citations_for(sub)),
            suggestion=self.relay_suggestion if relay else spec.suggestion,
            detectors=tuple(sorted({f.detector for f in fs})),
            explanation="; ".join(sorted({f.explanation for f in fs}))[:500],
        )

    def pii(self, norm: Normalized, findings: list[Finding]) -> tuple[PIIEntity, ...]:
        out = []
        for f in findings:
            s, e = norm.to_original(f.start, f.end)
            out.append(PIIEntity(f.label, s, e, norm.original[s:e], f.score, f.validated))
        return tuple(out)

    def decide(self, norm: Normalized, findings: list[Finding], pii: list[Finding],
               scores: dict[str, float] | None, model_version: str | None, recipient: str = "debtor") -> Decision:
        violations = self.violations(norm, findings, scores, recipient)
        verdict: Verdict = worst([v.action for v in violations])
        return Decision(verdict, violations, self.pii(norm, pii), self.pack.version, model_version,
                        scores=dict(scores or {}))
