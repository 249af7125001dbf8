"""Sentences written in toneless pinyin, read back as Chinese characters.

A collector who wants a threat past a screen can write it in pinyin, word for word
(``ni lao po zai na shang ban wo men dou zhi dao``). A run of three or more syllables
separated by spaces, apostrophes or hyphens is read the way an input method reads it:
the most likely words over the syllables (jieba's dictionary, by frequency), where the
words of ``variants.yaml``'s ``pinyin_words`` and ``pinyin_lexicon`` outweigh any other
reading (``zai na shang ban`` is 在哪上班 here, not 在那上班). Each syllable becomes one
character, so every character still points at its own syllable in the original.

Shorter runs are left to the abbreviation pass (``pian zi``, ``fy``): two syllables are as
often an English word pair as a sentence.
"""
from __future__ import annotations

import itertools
import math
import os
from dataclasses import dataclass
from functools import lru_cache

import regex

#: The fewest syllables in a row read as a pinyin sentence.
MIN_SYLLABLES = 3
#: Words no longer than this many syllables are looked up.
MAX_WORD = 4
#: jieba's dictionary words rarer than this are left out (a fifth of a second to load, not two).
MIN_FREQ = 50
#: The weight of a word the variants list (no dictionary word outweighs it).
LISTED_FREQ = 10_000_000

_TOKEN = regex.compile(r"(?<![a-z0-9])[a-z]+(?![a-z0-9])")  # a whole ASCII word (a123 is none)
_JOINER = regex.compile(r"[\s'\-]+")
_HAN_WORD = regex.compile(r"\p{Han}+")


@dataclass(frozen=True)
class Lexicon:
    """Words by their syllables, each with its weight; and the syllables any word uses."""

    words: dict[tuple[str, ...], tuple[str, float]]
    syllables: frozenset[str]

    def read(self, syllables: list[str]) -> str | None:
        """The likeliest characters for ``syllables`` (one per syllable), or None when some
        syllable has no character."""
        n = len(syllables)
        best: list[tuple[float, str] | None] = [(0.0, "")] + [None] * n
        for i in range(n):
            if best[i] is None:
                continue
            score, text = best[i]  # type: ignore[misc]
            for k in range(1, min(MAX_WORD, n - i) + 1):
                entry = self.words.get(tuple(syllables[i:i + k]))
                if entry is None:
                    continue
                word, logf = entry
                cand = (score + logf, text + word)
                if best[i + k] is None or cand[0] > best[i + k][0]:  # type: ignore[index]
                    best[i + k] = cand
        return best[n][1] if best[n] is not None else None


@lru_cache(maxsize=1)
def lexicon(listed: tuple[str, ...]) -> Lexicon:
    """jieba's dictionary (words of Chinese characters, ``MIN_FREQ`` and over) plus ``listed``."""
    import jieba
    from pypinyin import Style, lazy_pinyin, pinyin

    counted: list[tuple[str, int]] = []
    with open(os.path.join(os.path.dirname(jieba.__file__), "dict.txt"), encoding="utf-8") as f:
        for line in f:
            word, freq, *_ = line.split()
            if len(word) <= MAX_WORD and int(freq) >= MIN_FREQ and _HAN_WORD.fullmatch(word):
                counted.append((word, int(freq)))
    total = math.log(sum(f for _, f in counted) + LISTED_FREQ * len(listed))
    # a reading's weight is the sum of its words' log probabilities: fewer, likelier words win
    words: dict[tuple[str, ...], tuple[str, float]] = {}

    def add(key: tuple[str, ...], word: str, freq: int) -> None:
        if len(key) != len(word) or not all(s.isascii() and s.isalpha() for s in key):
            return
        logp = math.log(freq) - total
        if key not in words or words[key][1] < logp:
            words[key] = (word, logp)

    for word, freq in counted:
        add(tuple(lazy_pinyin(word)), word, freq)
    for word in listed:  # every reading of a listed word: 还 in 还我们 is huan, not only hai
        for key in itertools.product(*pinyin(word, style=Style.NORMAL, heteronym=True)):
            add(key, word, LISTED_FREQ)
    return Lexicon(words, frozenset(s for key in words for s in key))


def runs(text: str, syllables: frozenset[str]) -> list[list[regex.Match[str]]]:
    """Maximal runs of ``MIN_SYLLABLES`` or more pinyin syllables in lower-cased ``text``, each
    syllable a whole ASCII word and the words joined by spaces, apostrophes or hyphens only."""
    found: list[list[regex.Match[str]]] = []
    run: list[regex.Match[str]] = []
    for m in _TOKEN.finditer(text):
        syllable = m.group() in syllables
        if not syllable or (run and not _JOINER.fullmatch(text, run[-1].end(), m.start())):
            found.append(run)
            run = []
        if syllable:
            run.append(m)
    found.append(run)
    return [r for r in found if len(r) >= MIN_SYLLABLES]
