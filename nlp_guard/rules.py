"""The policy pack's rules, compiled: phrases, time-bounded regexes and token patterns.

Rules run on normalised text and return :class:`Finding` objects with
normalised offsets; the engine maps them to the original text.
"""
from __future__ import annotations

import logging
from collections.abc import Set
from dataclasses import dataclass

import regex

from .context import ContextFilter
from .finding import Finding
from .policy.schema import PolicyPack, Rule
from .segment import segmenter_for

log = logging.getLogger(__name__)
#: A rule's regex gets this long (wall clock), then, on a busy machine, one more try of
#: REGEX_RETRY_S: a plain rule timed out at 0.05 s when both cores were taken. One that fails
#: twice (a pathological pattern in a tenant's overlay) counts as a hit over the whole text,
#: so the message goes to review instead of through.
REGEX_TIMEOUT_S = 0.05
REGEX_RETRY_S = 1.0


@dataclass(frozen=True)
class _Compiled:
    rule: Rule
    pattern: regex.Pattern[str] | None  # phrases and regexes, one alternation
    slots: tuple[frozenset[str], ...]  # token patterns
    lawful_with: tuple[regex.Pattern[str], ...] = ()


def _compile(rule: Rule) -> _Compiled:
    lawful = tuple(regex.compile(p) for p in rule.lawful_with)
    if rule.phrases:
        alts = "|".join(regex.escape(p) for p in sorted(set(rule.phrases), key=len, reverse=True))
        return _Compiled(rule, regex.compile(alts), (), lawful)
    if rule.regex:
        return _Compiled(rule, regex.compile("|".join(f"(?:{r})" for r in rule.regex)), (), lawful)
    return _Compiled(rule, None, tuple(frozenset(s) for s in rule.tokens), lawful)


class RuleSet:
    """All rules of a pack, ready to match."""

    def __init__(self, pack: PolicyPack) -> None:
        self.pack = pack
        self._rules = [_compile(r) for r in pack.rules]
        self.context = ContextFilter(pack.context, tuple(pack.allow_list))
        firsts = sorted({w for c in self._rules if c.slots for w in c.slots[0]}, key=len, reverse=True)
        # a token pattern can only match where its first slot's word occurs, so a text with none of those
        # words skips segmentation, the costliest step for a clean message
        self._token_gate = regex.compile("|".join(map(regex.escape, firsts))) if firsts else None
        # this pack's own tokenizer: a tenant's words never reach another tenant's segmentation
        self.segmenter = segmenter_for(frozenset(w for c in self._rules for s in c.slots for w in s if len(w) > 1))

    def match(self, text: str, recipient: str | None = None, breaks: Set[int] = frozenset()) -> list[Finding]:
        """Rule hits in normalised ``text`` that survive the context filter (``breaks``: the
        sentence boundaries normalisation removed, :attr:`Normalized.breaks`)."""
        hits: list[Finding] = []
        tokens = self.segmenter.tokenize(text) if self._token_gate is not None and self._token_gate.search(text) else []
        for c in self._rules:
            if c.rule.recipients and recipient not in c.rule.recipients:
                continue
            for start, end, how in self._spans(c, text, tokens):
                why_not = (c.rule.lawful_after and self.context.lawful(text, start, end, breaks, c.rule.lawful_after)) or (
                    c.lawful_with and self.context.lawful_beside(text, start, end, breaks, c.lawful_with)) or (
                    self.context.reason(text, start, end, breaks) if c.rule.protective_context else None)
                if why_not:
                    log.debug("rule %s suppressed at %d-%d: %s", c.rule.id, start, end, why_not)
                    continue
                for sub in (c.rule.subcategory, *c.rule.also):
                    hits.append(Finding(sub, start, end, c.rule.score, "rule", c.rule.id, how))
        return hits

    def _spans(self, c: _Compiled, text: str, tokens: list[tuple[str, int, int]]) -> list[tuple[int, int, str]]:
        if c.pattern is None:
            return _token_pattern(c.slots, c.rule.gap, tokens)
        kind = "phrase" if c.rule.phrases else "regex"
        matches = timed_matches(c.pattern, text, f"rule {c.rule.id}")
        if matches is None:
            return [(0, len(text), f"{kind} timed out twice ({REGEX_TIMEOUT_S:g} s, then {REGEX_RETRY_S:g} s): "
                                   "counted as a hit so the message is reviewed, not let through")]
        return [(m.start(), m.end(), f"{kind} {m.group()!r}") for m in matches if m.end() > m.start()]


def timed_matches(pattern: regex.Pattern[str], text: str, what: str) -> list[regex.Match[str]] | None:
    """Every match of ``pattern`` within REGEX_TIMEOUT_S, or within REGEX_RETRY_S on a second try;
    None (logged as an error) when both run out, for the caller to fail closed."""
    for timeout in (REGEX_TIMEOUT_S, REGEX_RETRY_S):
        try:
            return list(pattern.finditer(text, timeout=timeout))
        except TimeoutError:
            log.warning("%s timed out after %gs", what, timeout)
    log.error("%s timed out twice; the check fails closed", what)
    return None


def _token_pattern(slots: tuple[frozenset[str], ...], gap: int,
                   tokens: list[tuple[str, int, int]]) -> list[tuple[int, int, str]]:
    """Slots in order on word boundaries, at most ``gap`` words apart."""
    found = []
    n = len(tokens)
    for i in range(n):
        if tokens[i][0] not in slots[0]:
            continue
        j, words, ok = i, [tokens[i][0]], True
        for slot in slots[1:]:
            k = next((k for k in range(j + 1, min(n, j + gap + 2)) if tokens[k][0] in slot), None)
            if k is None:
                ok = False
                break
            j = k
            words.append(tokens[k][0])
        if ok:
            found.append((tokens[i][1], tokens[j][2], "token pattern " + " … ".join(words)))
    return found
