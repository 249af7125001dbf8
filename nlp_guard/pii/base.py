"""Base class shared by all Chinese PII recognizers.

Modelled on presidio-analyzer's ``PatternRecognizer``: each recognizer declares
its ``PATTERNS`` (name, regex, base score) and ``CONTEXT`` words at class level,
and may override :meth:`validate_result` (checksum: True raises the score,
False drops the match, None means "cannot tell") and :meth:`invalidate_result`
(drop a match that is really something else). Every emitted
:class:`~nlp_guard.finding.Finding` carries an explanation of how its score was
reached, so a reviewer can see why a span was flagged.

Regexes are compiled with the third-party ``regex`` module and run with a
timeout: the checker sees untrusted chat text, and one pathological message must
not stall the pipeline. A pattern that times out contributes no findings and is
logged.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import ClassVar

import regex

from nlp_guard.finding import Finding

log = logging.getLogger(__name__)

#: Every PII type the package can detect, in a stable order.
PII_TYPES: tuple[str, ...] = (
    "id_card",
    "phone",
    "bank_card",
    "uscc",
    "email",
    "plate",
    "address",
    "person",
    "organization",
)

#: Name of the capture group that, when present, marks the PII part of a match
#: (the rest of the match is anchoring context such as "你老婆").
PII_GROUP = "pii"


@dataclass(frozen=True, slots=True)
class Pattern:
    """One named regex with the score a bare match earns."""

    name: str
    regex: str
    score: float


class PatternRecognizer:
    """Find one PII type with class-level patterns, context and validation.

    Subclasses set ``ENTITY``, ``PATTERNS`` and usually ``CONTEXT``; the compiled
    patterns are cached per class so constructing a recognizer is cheap.
    """

    ENTITY: ClassVar[str] = ""
    VERSION: ClassVar[int] = 1
    PATTERNS: ClassVar[tuple[Pattern, ...]] = ()
    CONTEXT: ClassVar[tuple[str, ...]] = ()
    #: Characters searched on each side of a match for a context word. Chinese
    #: has no word boundaries, so the window is counted in characters.
    CONTEXT_WINDOW: ClassVar[int] = 12
    CONTEXT_BOOST: ClassVar[float] = 0.1
    #: Score a match is raised to when ``validate_result`` returns True.
    VALIDATED_SCORE: ClassVar[float] = 1.0
    #: What ``validate_result`` checks, used in explanations ("checksum GB 11643").
    VALIDATION: ClassVar[str] = ""
    #: Seconds one pattern may spend on one text before it is abandoned.
    TIMEOUT: ClassVar[float] = 1.0
    FLAGS: ClassVar[int] = regex.VERSION1
    #: Optional cheap regex every match must contain (e.g. an address suffix
    #: character). When set, the full patterns run only in windows around its
    #: hits, which keeps expensive free-form patterns linear on long texts.
    PREFILTER: ClassVar[str | None] = None
    #: How far (chars) a match may reach left of the first / right of the last hit.
    PREFILTER_MARGIN: ClassVar[tuple[int, int]] = (0, 0)

    _compiled: ClassVar[tuple[tuple[Pattern, regex.Pattern[str]], ...] | None] = None
    _prefilter: ClassVar[regex.Pattern[str] | None] = None

    def __init__(self, timeout: float | None = None) -> None:
        self.timeout = self.TIMEOUT if timeout is None else timeout

    # -- identity -----------------------------------------------------------------

    @property
    def name(self) -> str:
        """The class name; used as ``Finding.detector``."""
        return type(self).__name__

    @property
    def registry_name(self) -> str:
        """Versioned lookup name, e.g. ``nlp_guard.pii.id_card.v1``."""
        return f"nlp_guard.pii.{self.ENTITY}.v{self.VERSION}"

    @classmethod
    def compiled(cls) -> tuple[tuple[Pattern, regex.Pattern[str]], ...]:
        """Compile ``PATTERNS`` once per class (not per instance or call)."""
        if cls.__dict__.get("_compiled") is None:
            cls._compiled = tuple((p, regex.compile(p.regex, cls.FLAGS)) for p in cls.PATTERNS)
        return cls._compiled  # type: ignore[return-value]

    # -- hooks ----------------------------------------------------------------------

    def validate_result(self, pattern_text: str) -> bool | None:
        """True: confirmed (score raised); False: impossible (dropped); None: unknown."""
        return None

    def invalidate_result(self, pattern_text: str) -> str | None:
        """A reason to drop a match that is really something else, or None to keep it."""
        return None

    def validation_note(self, pattern_text: str, result: bool | None) -> str:
        """Explain the validation outcome; override for a more specific reason."""
        if result is None or not self.VALIDATION:
            return ""
        return f"{self.VALIDATION} {'ok' if result else 'failed'}"

    def score_match(self, pattern: Pattern, pattern_text: str) -> float:
        """Base score of a match; override when the match's shape says more."""
        return pattern.score

    # -- running --------------------------------------------------------------------

    def context_word(self, text: str, start: int, end: int) -> str | None:
        """The first CONTEXT word found within the window around [start, end)."""
        if not self.CONTEXT:
            return None
        before = text[max(0, start - self.CONTEXT_WINDOW) : start]
        after = text[end : end + self.CONTEXT_WINDOW]
        for word in self.CONTEXT:
            if word in before or word in after:
                return word
        return None

    def context_distance(self, text: str, start: int, end: int) -> int | None:
        """Characters between [start, end) and the nearest CONTEXT word in the window, or None.

        Used to settle which type a span is when two recognizers claim it: the type whose
        context word sits closer wins ("身份证号和银行卡号：6222…" is a card).
        """
        before = text[max(0, start - self.CONTEXT_WINDOW) : start]
        after = text[end : end + self.CONTEXT_WINDOW]
        best: int | None = None
        for word in self.CONTEXT:
            gaps = [len(before) - (before.rfind(word) + len(word))] if word in before else []
            gaps += [after.find(word)] if word in after else []
            for gap in gaps:
                best = gap if best is None else min(best, gap)
        return best

    def windows(self, text: str) -> list[tuple[int, int]]:
        """Spans of ``text`` worth running the full patterns on (all of it without a prefilter)."""
        if self.PREFILTER is None:
            return [(0, len(text))]
        cls = type(self)
        if cls.__dict__.get("_prefilter") is None:
            cls._prefilter = regex.compile(self.PREFILTER, self.FLAGS)
        left, right = self.PREFILTER_MARGIN
        spans: list[tuple[int, int]] = []
        try:
            for hit in cls._prefilter.finditer(text, timeout=self.timeout):
                start, end = max(0, hit.start() - left), min(len(text), hit.end() + right)
                if spans and start <= spans[-1][1]:
                    spans[-1] = (spans[-1][0], max(spans[-1][1], end))
                else:
                    spans.append((start, end))
        except TimeoutError:
            log.warning("%s prefilter timed out on %d chars; windows so far kept", self.name, len(text))
        return spans

    def analyze(self, text: str, keep_invalid: bool = False) -> list[Finding]:
        """All matches of all patterns, validated and context-scored.

        ``keep_invalid`` also returns matches that failed validation (with
        ``validated=False`` and score 0) so an audit can show what was rejected.
        """
        findings: list[Finding] = []
        seen: set[tuple[int, int]] = set()
        windows = self.windows(text)
        for pattern, compiled in self.compiled():
            deadline = time.monotonic() + self.timeout
            try:
                for pos, endpos in windows:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise TimeoutError
                    for match in compiled.finditer(text, pos, endpos, timeout=left):
                        finding = self._build(text, pattern, match, keep_invalid)
                        if finding is not None and (finding.start, finding.end) not in seen:
                            seen.add((finding.start, finding.end))
                            findings.append(finding)
            except TimeoutError:
                log.warning(
                    "%s pattern %s timed out after %.2fs on %d chars; partial results kept",
                    self.name,
                    pattern.name,
                    self.timeout,
                    len(text),
                )
        findings.sort(key=lambda f: (f.start, -f.end))
        return findings

    def _build(
        self, text: str, pattern: Pattern, match: regex.Match[str], keep_invalid: bool
    ) -> Finding | None:
        """Turn one regex match into a Finding, or None when it must be dropped."""
        if PII_GROUP in match.re.groupindex and match.start(PII_GROUP) >= 0:
            start, end = match.span(PII_GROUP)
        else:
            start, end = match.span()
        if start == end:
            return None
        value = text[start:end]
        notes = [f"pattern {pattern.name}"]
        anchor = text[match.start() : start].strip(" ：:是叫为")
        if anchor:
            notes.append(f"anchor {anchor}")

        reason = self.invalidate_result(value)
        validated = self.validate_result(value) if reason is None else False
        note = reason or self.validation_note(value, validated)
        if note:
            notes.append(note)
        if validated is False:
            if not keep_invalid:
                return None
            return Finding(
                label=self.ENTITY,
                start=start,
                end=end,
                score=0.0,
                source="pii",
                detector=self.name,
                explanation="; ".join(notes),
                validated=False,
            )

        score = self.score_match(pattern, value)
        if validated:
            score = max(score, self.VALIDATED_SCORE)
        word = self.context_word(text, start, end)
        if word is not None:
            notes.append(f"context {word} +{self.CONTEXT_BOOST:g}")
            score += self.CONTEXT_BOOST
        score = round(min(1.0, max(0.0, score)), 4)
        return Finding(
            label=self.ENTITY,
            start=start,
            end=end,
            score=score,
            source="pii",
            detector=self.name,
            explanation="; ".join(notes),
            validated=validated,
        )


def han_except(chars: str) -> str:
    """A VERSION1 character class of Han characters minus ``chars``.

    Chinese text has no spaces, so free-form components (a road name, a given
    name) must stop at common function characters instead of a word boundary.
    """
    return r"[\p{Han}--[" + regex.escape(chars) + "]]"
