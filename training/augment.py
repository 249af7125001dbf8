"""Augmentations for the distillation transfer set, on NORMALISED text.

Standard library only, so that the expansion runs wherever the student is
trained (a bare GPU machine has no jieba or OpenCC). Evasions the normaliser
undoes (pinyin, separators, 繁体) are applied before normalisation by
``training.transfer``; what is left here changes the words the model sees:
template placeholders, padding, clause order, cuts and joins.
"""
from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence

PLACEHOLDERS = ("{0}", "{1}", "%s", "%d", "***", "XX", "XXX", "某某", "${name}", "[姓名]", "#NAME#", "*先生", "*女士")
GREETINGS = ("您好，", "你好，", "尊敬的客户，", "尊敬的{0}，", "【%s】", "#NAME#您好：", "亲爱的用户，", "喂，", "那个，",
             "打扰了，", "xx先生您好，", "【{1}】尊敬的***：", "早上好，")
CLOSINGS = ("谢谢。", "谢谢配合！", "回T退订", "（本短信由系统发送）", "祝您生活愉快。", "如已还款请忽略。", "详询客服。",
            "收到请回复。", "感谢理解。", "拒收请回复R", "退订回N")
_CLAUSE = re.compile(r"(?<=[，。！？；,!?;])")
_DIGITS = re.compile(r"\d[\d,.]*")
_NAMEISH = re.compile(r"(?<=[您你尊敬的])([\u4e00-\u9fff]{2,3})(?=[先女您你，,：:])")


def clauses(text: str) -> list[str]:
    return [c for c in _CLAUSE.split(text) if c]


def placeholder_swap(text: str, rng: random.Random) -> str:
    """Numbers and name-like words become raw template tokens, as in unfilled templates."""
    text = _DIGITS.sub(lambda m: rng.choice(PLACEHOLDERS) if rng.random() < 0.6 else m.group(), text)
    return _NAMEISH.sub(lambda m: rng.choice(PLACEHOLDERS) if rng.random() < 0.5 else m.group(), text)


def pad(text: str, rng: random.Random) -> str:
    head = rng.choice(GREETINGS) if rng.random() < 0.7 else ""
    tail = rng.choice(CLOSINGS) if rng.random() < 0.7 else ""
    return head + text + tail


def shuffle_clauses(text: str, rng: random.Random) -> str:
    parts = clauses(text)
    if len(parts) < 2:
        return text
    rng.shuffle(parts)
    return "".join(parts)


def cut(text: str, rng: random.Random) -> str:
    """A contiguous run of clauses: what a truncated SMS or a split turn shows."""
    parts = clauses(text)
    if len(parts) < 2:
        return text
    i = rng.randrange(len(parts))
    j = rng.randrange(i + 1, len(parts) + 1)
    return "".join(parts[i:j])


def space_split(text: str, rng: random.Random) -> str:
    """A pause or line break between clauses, as in ASR output and pasted SMS."""
    return rng.choice((" ", "\n", "  ")).join(clauses(text)) if len(clauses(text)) > 1 else text


Aug = Callable[[str, random.Random], str]
SINGLE: tuple[Aug, ...] = (placeholder_swap, pad, shuffle_clauses, cut, space_split)


def expand(seeds: Sequence[str], n: int, rng: random.Random, max_chars: int = 160) -> list[str]:
    """``n`` distinct augmented texts drawn from ``seeds`` (seeds themselves excluded):
    one to three single augmentations, or a join of two seeds."""
    seen = set(seeds)
    out: list[str] = []
    tries = 0
    while len(out) < n and tries < 20 * n:
        tries += 1
        a = rng.choice(seeds)
        if rng.random() < 0.15:
            b = rng.choice(seeds)
            t = a.rstrip("。！？!?") + rng.choice(("。", "，", "！", " ")) + b
        else:
            t = a
            for f in rng.sample(SINGLE, rng.randint(1, 3)):
                t = f(t, rng)
        t = t.strip()
        if t and len(t) <= max_chars and t not in seen:
            seen.add(t)
            out.append(t)
    return out
