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


# Service wrapping a collector puts around a message: openings, sign-offs and anti-fraud warnings,
# written for training only (bench/adversarial.py keeps its own, different lists, so the bench
# measures how the hardening carries over to wording it never saw).
WRAP_OPENINGS = ("尊敬的客户您好！", "【消费金融】", "早上好，打扰您一下。", "您好，我是贷后服务专员。", "亲爱的会员：",
                 "【{0}】温馨提醒：", "%s先生/女士您好，", "您好呀～", "晚上好，这边是还款提醒。", "[系统通知]")
WRAP_CLOSINGS = ("本通知由系统自动发送，请勿直接回复。", "感谢您的支持与理解！", "如已处理请忽略本信息。",
                 "详情请咨询在线客服。", "祝您工作顺利，生活愉快。", "客服电话：400-XXX-XXXX", "退订请回复TD",
                 "请通过官方APP核实账单信息。", "谢谢！", "期待您的回复～")
WRAP_WARNINGS = ("警惕电信诈骗，保护财产安全", "请勿向任何个人账户转账", "接到可疑电话请拨打110",
                 "防范金融诈骗，人人有责", "谨记：官方不会索要验证码", "如有人冒充工作人员请及时举报")


def wrap(text: str, rng: random.Random) -> str:
    """``text`` dressed in service wrapping: the padding, glued sign-off, warning-on-the-next-line
    and quoted-pleasantry evasions, which must not change what the text says."""
    kind = rng.randrange(5)
    if kind == 0:
        return rng.choice(WRAP_OPENINGS) + text + rng.choice(WRAP_CLOSINGS)
    if kind == 1:
        return text.rstrip("。！？!?") + rng.choice(WRAP_CLOSINGS + WRAP_WARNINGS)
    if kind == 2:
        return text + rng.choice(("\n", "\n\n", " ", "\r\n")) + rng.choice(WRAP_WARNINGS)
    if kind == 3:
        return f"“{rng.choice(('您好呀', '早', '打扰了', '亲'))}”{text}“{rng.choice(('感谢', '拜拜', '辛苦了'))}”"
    return rng.choice(WRAP_OPENINGS) + text + "\n" + rng.choice(WRAP_WARNINGS)


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
