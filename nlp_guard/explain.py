"""Evidence for model-only violations: which words drove the score.

Occlusion over jieba words: drop each word, re-score, and keep the words whose
removal lowers the category's score the most. All variants go through the
classifier in one batch.
"""
from __future__ import annotations

import regex

from .classifier import Classifier
from .finding import Finding
from .segment import tokenize

_CONTENT = regex.compile(r"[\p{Han}\p{L}\p{N}]")
MAX_WORDS = 24


def occlusion(classifier: Classifier, text: str, category: str, subcategory: str,
              base: float, top_k: int = 3) -> list[Finding]:
    """The words that drive ``category``'s score, strongest first."""
    words = [(s, e) for w, s, e in tokenize(text) if _CONTENT.search(w)][:MAX_WORDS]
    if not words:
        return []
    variants = [text[:s] + text[e:] for s, e in words]
    scores = [p.get(category, 0.0) for p in classifier.predict(variants)]
    drops = sorted(((base - sc, s, e) for sc, (s, e) in zip(scores, words, strict=True)), reverse=True)
    best = drops[0][0]
    keep = [(d, s, e) for d, s, e in drops[:top_k] if d > 0 and d >= 0.25 * best]
    return [Finding(subcategory, s, e, base, "model", classifier.version,
                    f"removing {text[s:e]!r} lowers the {category} score by {d:.2f}")
            for d, s, e in keep]
