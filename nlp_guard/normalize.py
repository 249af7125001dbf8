"""Text normalisation that defeats evasions and keeps an exact offset map.

Every character of the normalised text records the ``[start, end)`` range of
original characters it came from, so a span found on normalised text maps back
to the user's original text exactly.

Steps, in order: drop zero-width and control characters; NFKC (full-width to
half-width) and lower-case (:attr:`Normalized.cased` keeps the case, for PII
such as ``91350100M000100Y43`` and ``京A12345``); traditional to simplified (OpenCC); emoji that
stand for weapons (other emoji are dropped: 😊 between words is decoration); pinyin and ASCII initials (``pian zi``, ``fy``); separators
inserted between Chinese characters (``骗*子``, ``法 院``); homophones
(``判型`` → ``判刑``). Template placeholders (``{{name}}``, ``{0}``, ``%s``, ``${amount}``,
``[name]``, ``#name#``) read as one ``某`` (``{{name}}，您好`` → ``某,您好``), or as nothing
between two Chinese characters, as an inserted separator does: ``您的孩子{{child}}今年的入学``
must reach a rule that allows a few characters between its words, and ``坐{}牢`` must read ``坐牢``.

Whitespace between Chinese characters is removed for matching (``法 院``), but
where it stood a sentence ended as far as the context filter is concerned
(``后果自负\n谨防诈骗``): :attr:`Normalized.breaks` keeps those boundaries.
"""
from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import regex
import yaml

from . import pinyin

CJK = r"\p{Han}"
_SEPARATORS = r"[\s*\-_.·•/\\|~^#+=]"  # quotes are not separators: they mark quoted speech
_ZERO_WIDTH = {"\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\ufe0f", "\ufe0e"}
_KEEP_CONTROLS = {"\n", "\t"}


@dataclass(frozen=True, slots=True)
class Normalized:
    """Normalised text plus, per character, the original range it stands for."""

    original: str
    text: str
    starts: tuple[int, ...]
    ends: tuple[int, ...]
    breaks: frozenset[int] = frozenset()  # positions i with a sentence boundary between text[i-1] and text[i]
    cased: str = ""  # ``text`` with the original case kept (same length and offsets): what PII recognizers read

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """Map a normalised span ``[start, end)`` to the original text."""
        if not 0 <= start <= end <= len(self.text):
            raise ValueError(f"span [{start}, {end}) outside normalised text of length {len(self.text)}")
        if start == end:
            pos = self.starts[start] if start < len(self.starts) else len(self.original)
            return pos, pos
        return self.starts[start], self.ends[end - 1]


class _Builder:
    """Characters with their original ranges, rewritten pass by pass."""

    def __init__(self, chars: list[str], spans: list[tuple[int, int]], cased: list[str]) -> None:
        self.chars = chars
        self.spans = spans
        self.cased = cased  # chars before lower-casing; a rewritten character takes its rewrite

    @property
    def text(self) -> str:
        return "".join(self.chars)

    def sub(self, pattern: regex.Pattern[str], repl: Callable[[regex.Match[str]], str]) -> None:
        found = [m for m in pattern.finditer(self.text) if m.end() > m.start()]
        if found:  # most passes change nothing: keep the lists instead of copying them
            self.splice([(m.start(), m.end(), repl(m)) for m in found])

    def splice(self, edits: list[tuple[int, int, str]]) -> None:
        """Replace each ``[i, j)`` (in order, not overlapping) by its text, whose characters all
        stand for the original range the replaced ones covered."""
        chars: list[str] = []
        spans: list[tuple[int, int]] = []
        cased: list[str] = []
        pos = 0
        for i, j, new in edits:
            chars.extend(self.chars[pos:i])
            spans.extend(self.spans[pos:i])
            cased.extend(self.cased[pos:i])
            covered = (self.spans[i][0], self.spans[j - 1][1])
            for ch in new:
                chars.append(ch)
                spans.append(covered)
                cased.append(ch)
            pos = j
        chars.extend(self.chars[pos:])
        spans.extend(self.spans[pos:])
        cased.extend(self.cased[pos:])
        self.chars, self.spans, self.cased = chars, spans, cased


@dataclass(frozen=True)
class _Variants:
    emoji: regex.Pattern[str] | None
    emoji_map: dict[str, str]
    ascii: regex.Pattern[str] | None
    ascii_map: dict[str, str]
    homophones: regex.Pattern[str] | None
    homophone_map: dict[str, str]
    pinyin_listed: tuple[str, ...] = ()


def _alternation(keys: list[str]) -> str:
    return "|".join(regex.escape(k) for k in sorted(keys, key=len, reverse=True))


@lru_cache(maxsize=1)
def _variants() -> _Variants:
    from pypinyin import lazy_pinyin

    raw = yaml.safe_load(resources.files("nlp_guard.data").joinpath("variants.yaml").read_text("utf-8"))
    emoji_map = {unicodedata.normalize("NFKC", k): v for k, v in raw.get("emoji", {}).items()}
    ascii_map: dict[str, str] = {k.lower(): v for k, v in raw.get("abbreviations", {}).items()}
    ascii_alts = [regex.escape(k) for k in ascii_map]
    pinyin_map: dict[str, str] = {}
    for word in raw.get("pinyin_words", []):
        syllables = lazy_pinyin(word)
        pinyin_map["".join(syllables)] = word
        ascii_alts.append(r"[\s\-_*.]*".join(regex.escape(s) for s in syllables))
    ascii_map.update(pinyin_map)
    homophone_map = {unicodedata.normalize("NFKC", k).lower(): v for k, v in raw.get("homophones", {}).items()}
    ascii_alts.sort(key=len, reverse=True)
    return _Variants(
        emoji=regex.compile(_alternation(list(emoji_map))) if emoji_map else None,
        emoji_map=emoji_map,
        ascii=regex.compile(r"(?<![a-z0-9@_.])(?:" + "|".join(ascii_alts) + r")(?![a-z0-9@_]|\.[a-z0-9])") if ascii_alts else None,
        ascii_map=ascii_map,
        homophones=regex.compile(_alternation(list(homophone_map))) if homophone_map else None,
        homophone_map=homophone_map,
        pinyin_listed=tuple(dict.fromkeys([*raw.get("pinyin_words", []), *raw.get("pinyin_lexicon", [])])),
    )


def _changed_chars(key: str, value: str) -> str:
    """The characters of a dictionary key that a text must hold for the entry to change it."""
    out = value.split(" ")[0]
    if out == key:
        return ""
    if len(out) != len(key):
        return key
    return next(k for k, o in zip(key, out, strict=True) if k != o)


@lru_cache(maxsize=1)
def _t2s() -> Callable[[str], str]:
    """OpenCC's t2s, skipped for texts with no character its dictionaries would change (most texts:
    the pure-Python converter costs about a fifth of a clean message's rule screening)."""
    from opencc import OpenCC

    cc = OpenCC("t2s")
    cc.convert("")  # loads the dictionaries
    try:
        gate = frozenset(ch for chain in cc._dict_chain_data for *_, table in chain
                         for key, value in table.items() for ch in _changed_chars(key, value))
    except (AttributeError, TypeError, ValueError):  # another opencc layout: convert every text
        return cc.convert
    return lambda text: text if gate.isdisjoint(text) else cc.convert(text)


#: A template's slot (already lower-cased and NFKC-folded): {{name}}, {0}, {}, ${amount}, %s, %1$s, [name], #name#.
_PLACEHOLDER = regex.compile(r"\{\{\s*[^{}\s]{1,24}\s*\}\}|\$\{[^{}\s]{1,24}\}|\{[\w.]{0,24}\}"
                             r"|(?<![0-9a-z%])%(?:\d\$)?[sd](?![a-z])|\[[a-z_][a-z0-9_]{0,23}\]|#[a-z_][a-z0-9_]{0,23}#")
#: What a slot reads as: "a certain …", a word no rule or recognizer takes for a name or a threat.
SLOT = "某"
_HAN = regex.compile(CJK)


def _slot(m: regex.Match[str]) -> str:
    """A slot between two Chinese characters reads as nothing, like an inserted separator: a
    sender can split a word with one (坐{}牢); elsewhere it reads as ``SLOT``."""
    i, j, text = m.start(), m.end(), m.string
    return "" if 0 < i and j < len(text) and _HAN.match(text[i - 1]) and _HAN.match(text[j]) else SLOT


_INSERTED_SEPARATOR = regex.compile(rf"(?<={CJK}){_SEPARATORS}+(?={CJK})")
_PICTOGRAPH = regex.compile(r"\p{Extended_Pictographic}+")  # decoration left after the emoji that stand for words


def _ascii_key(matched: str) -> str:
    return regex.sub(r"[\s\-_*.]", "", matched)


_WHITESPACE = regex.compile(r"\s+")
_PINYIN_GATE = regex.compile(r"[a-z]+(?:[\s'\-]+[a-z]+){%d}" % (pinyin.MIN_SYLLABLES - 1))
_RUN = regex.compile(r"\S+")


def _sentence_space(original: str) -> set[int]:
    """Indices of the original's whitespace that ends a sentence: a line break, or spaces between
    two runs of at least two characters. Spaces between single characters (``法 院 传 票``)
    only space the letters out."""
    run_ending = {m.end(): len(m.group()) for m in _RUN.finditer(original)}
    run_starting = {m.start(): len(m.group()) for m in _RUN.finditer(original)}
    out: set[int] = set()
    for m in _WHITESPACE.finditer(original):
        ws = m.group()
        if "\n" in ws or "\r" in ws or (run_ending.get(m.start(), 2) >= 2 and run_starting.get(m.end(), 2) >= 2):
            out.update(range(m.start(), m.end()))
    return out


def _breaks(original: str, text: str, starts: list[int], ends: list[int], joined: set[int]) -> frozenset[int]:
    """Positions of ``text`` where sentence-ending whitespace stood, removed or kept (not the
    ``joined`` whitespace between the syllables of a pinyin sentence)."""
    ends_here = _sentence_space(original) - joined
    if not ends_here:
        return frozenset()
    return frozenset(i for i in range(1, len(text))
                     if any(p in ends_here for p in range(ends[i - 1] - 1, max(ends[i - 1], starts[i]) + 1)))


@lru_cache(maxsize=65536)
def _fold(ch: str) -> tuple[str, str] | None:
    """One original character as (NFKC lower-cased, NFKC with its case), or None when it is
    dropped; remembered per character, since a message repeats few distinct ones."""
    if ch in _ZERO_WIDTH or (unicodedata.category(ch) in ("Cc", "Cf") and ch not in _KEEP_CONTROLS):
        return None
    kept = unicodedata.normalize("NFKC", ch)
    lowered = kept.lower()
    return lowered, kept if len(kept) == len(lowered) else lowered  # "İ" lower-cases to two characters


def _read_pinyin(b: _Builder, listed: tuple[str, ...]) -> set[int]:
    """Pinyin sentences (``ni lao po zai na shang ban``) rewritten as Chinese, a character per
    syllable; the original indices of the whitespace between their syllables, which ends no sentence."""
    text = b.text
    if not _PINYIN_GATE.search(text):  # no three ASCII words in a row: no lexicon to load
        return set()
    lex = pinyin.lexicon(listed)
    edits: list[tuple[int, int, str]] = []
    joined: set[int] = set()
    for run in pinyin.runs(text, lex.syllables):
        read = lex.read([m.group() for m in run])
        if read is None:
            continue
        for k, (m, ch) in enumerate(zip(run, read, strict=True)):
            edits.append((m.start(), m.end(), ch))
            if k < len(run) - 1:  # the joiner goes: 在哪 reads as one word
                j = run[k + 1].start()
                edits.append((m.end(), j, ""))
                joined.update(range(b.spans[m.end()][0], b.spans[j - 1][1]))
    if edits:
        b.splice(edits)
    return joined


def preload() -> None:
    """Load what only some texts need (the pinyin lexicon, 1 to 2 s), so that a service's or a
    scan worker's first such text is not the one that waits."""
    pinyin.lexicon(_variants().pinyin_listed)


def normalize(original: str) -> Normalized:
    """Normalise ``original`` for matching; see the module docstring for the steps."""
    chars: list[str] = []
    spans: list[tuple[int, int]] = []
    cased: list[str] = []
    for i, ch in enumerate(original):
        folded = _fold(ch)
        if folded is None:
            continue
        lowered, kept = folded
        if len(lowered) == 1:
            chars.append(lowered)
            spans.append((i, i + 1))
            cased.append(kept)
        else:
            chars.extend(lowered)
            spans.extend([(i, i + 1)] * len(lowered))
            cased.extend(kept)
    b = _Builder(chars, spans, cased)

    simplified = _t2s()(b.text)
    if len(simplified) != len(b.chars):  # phrase conversion changed the length: convert per character
        simplified = "".join(_t2s()(c) if len(_t2s()(c)) == 1 else c for c in b.chars)
    b.cased = [new if new != old else kept for new, old, kept in zip(simplified, b.chars, b.cased, strict=True)]
    b.chars = list(simplified)

    b.sub(_PLACEHOLDER, _slot)
    v = _variants()
    if v.emoji is not None:
        b.sub(v.emoji, lambda m: v.emoji_map[m.group()])
    b.sub(_PICTOGRAPH, lambda m: "")
    joined = _read_pinyin(b, v.pinyin_listed)
    if v.ascii is not None:
        b.sub(v.ascii, lambda m: v.ascii_map.get(_ascii_key(m.group()), m.group()))
    b.sub(_INSERTED_SEPARATOR, lambda m: "")
    if v.homophones is not None:
        b.sub(v.homophones, lambda m: v.homophone_map[m.group()])
    return Normalized(
        original=original,
        text=b.text,
        starts=tuple(s for s, _ in b.spans),
        ends=tuple(e for _, e in b.spans),
        breaks=_breaks(original, b.text, [s for s, _ in b.spans], [e for _, e in b.spans], joined),
        cased="".join(b.cased),
    )
