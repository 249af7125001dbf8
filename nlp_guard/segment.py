"""Chinese word segmentation with jieba and a debt-collection user dictionary.

jieba builds its prefix dictionary on first use (about a second), so the base
tokenizer (jieba's dictionary plus ``userdict.txt``) is created lazily, once
per process, as spaCy's ``try_jieba_import`` does. Each policy pack gets its
own :class:`Segmenter`, a copy of the base with the pack's words added, so one
tenant's overlay never changes how another tenant's text is cut (a shared
``jieba.add_word`` would: ``孩子上学`` as one word hides ``孩子``).
"""
from __future__ import annotations

import logging
from collections.abc import Iterable
from functools import lru_cache
from importlib import resources
from typing import Any

from .errors import GuardError


class SegmenterMissing(GuardError):
    code = "E401"


@lru_cache(maxsize=1)
def _base() -> Any:
    try:
        import jieba
    except ImportError as exc:  # pragma: no cover - jieba is a core dependency
        raise SegmenterMissing("jieba is not installed: pip install jieba") from exc
    jieba.setLogLevel(logging.WARNING)
    tok = jieba.Tokenizer()
    with resources.as_file(resources.files("nlp_guard.data").joinpath("userdict.txt")) as path:
        tok.load_userdict(str(path))
    return tok


class Segmenter:
    """A jieba tokenizer of its own: the base dictionary, copied (not re-read), plus ``words``."""

    def __init__(self, words: Iterable[str] = ()) -> None:
        self.words = tuple(sorted(set(words)))
        self._tok: Any = None  # built on first use: a pack whose text never needs segmenting costs nothing

    def _tokenizer(self) -> Any:
        if self._tok is None:
            base = _base()
            if not self.words:
                self._tok = base
            else:
                import jieba

                tok = jieba.Tokenizer()
                tok.FREQ, tok.total = dict(base.FREQ), base.total
                tok.user_word_tag_tab = dict(base.user_word_tag_tab)
                tok.initialized = True
                for w in self.words:
                    tok.add_word(w, freq=2000)
                self._tok = tok
        return self._tok

    def tokenize(self, text: str) -> list[tuple[str, int, int]]:
        """Words of ``text`` as ``(word, start, end)``; offsets cover the text exactly."""
        return [(w, s, e) for w, s, e in self._tokenizer().tokenize(text)]


@lru_cache(maxsize=64)
def segmenter_for(words: frozenset[str] = frozenset()) -> Segmenter:
    """One segmenter per set of words: guards built for the same pack (``Guard.with_policy``) share it."""
    return Segmenter(words)
