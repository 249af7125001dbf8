"""Chinese word segmentation with jieba and a debt-collection user dictionary.

jieba builds its prefix dictionary on first use (about a second), so the
tokenizer is created lazily, once per process, as spaCy's ``try_jieba_import``
does.
"""
from __future__ import annotations

import logging
from functools import lru_cache
from importlib import resources
from typing import Any

from .errors import GuardError


class SegmenterMissing(GuardError):
    code = "E401"


@lru_cache(maxsize=1)
def _tokenizer() -> Any:
    try:
        import jieba
    except ImportError as exc:  # pragma: no cover - jieba is a core dependency
        raise SegmenterMissing("jieba is not installed: pip install jieba") from exc
    jieba.setLogLevel(logging.WARNING)
    tok = jieba.Tokenizer()
    with resources.as_file(resources.files("nlp_guard.data").joinpath("userdict.txt")) as path:
        tok.load_userdict(str(path))
    return tok


def tokenize(text: str) -> list[tuple[str, int, int]]:
    """Words of ``text`` as ``(word, start, end)``; offsets cover the text exactly."""
    return [(w, s, e) for w, s, e in _tokenizer().tokenize(text)]


def add_words(words: list[str]) -> None:
    """Teach the segmenter policy phrases so token patterns align with them."""
    tok = _tokenizer()
    for w in words:
        tok.add_word(w, freq=2000)
