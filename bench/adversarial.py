"""Evasions a collector would try on a message, as pure text transforms (no nlp_guard import).

Each transform takes a message and a ``random.Random`` and returns the dressed-up
message, or None when it does not apply (no word to swap). The same transforms are
applied to violating messages (an evasion that becomes allow is a bypass) and to
compliant ones (a decoration that becomes flag or block is a false alarm).
"""
from __future__ import annotations

import random
import re
from collections.abc import Callable
from functools import lru_cache

Transform = Callable[[str, random.Random], "str | None"]

_HAN = re.compile(r"[\u4e00-\u9fff]")
GREETINGS = ["您好，这里是客户服务中心。", "【温馨提示】", "亲，早上好！", "您好，打扰了。"]
CLOSINGS = ["谢谢配合，祝您生活愉快！", "如有疑问请拨打官方客服热线。", "谨防诈骗，请认准官方渠道。", "回T退订"]
WARNINGS = ["谨防诈骗", "请勿相信陌生来电", "如遇冒充请立即报警"]
EMOJI = ["😊", "🙏", "👍", "🌹", "⚠️"]
HEARSAY = ["据说", "听说", "大家都说", "网上都说", "有人说", "同事们都说"]
DISCLAIMERS = ["，这只是提醒，不是威胁。", "（善意提醒，并非威胁）", "，我们不是吓唬您，您懂的。", "。以上仅为温馨提示，无任何威胁之意。"]
# swaps collectors use; several are also in the normaliser's list, some are not
HOMOPHONES = {"坐牢": "坐劳", "判刑": "判型", "拘留": "拘溜", "法院": "法阮", "起诉": "起述", "老赖": "老癞",
              "上门": "上们", "通讯录": "通迅录", "公安": "公按", "警察": "警查", "傻逼": "煞笔", "骗子": "骗纸"}
PINYIN = {"骗子": "pian zi", "法院": "fa yuan", "坐牢": "zuo lao", "拘留": "ju liu", "判刑": "pan xing",
          "老赖": "lao lai", "起诉": "qi su"}


def quote_sandwich(text: str, rng: random.Random) -> str:
    """“您好”…“谢谢”: quotes around pleasantries, the message between them."""
    return f"“{rng.choice(['您好', '你好', '早上好'])}”{text}“{rng.choice(['谢谢', '再见', '祝好'])}”"


def _body(text: str) -> tuple[str, str]:
    """The message without its closing punctuation, and that punctuation."""
    core = text.rstrip("。！？!?.…～~ ")
    return core, text[len(core):] or "。"


def quoted_hearsay(text: str, rng: random.Random) -> str:
    """据说“…”: the message quoted as hearsay, as if someone else had said it."""
    core, end = _body(text)
    return f"{rng.choice(HEARSAY)}“{core}”{end}"


def disclaimer(text: str, rng: random.Random) -> str:
    """…，这只是提醒，不是威胁: the sender disowns the threat he has just made."""
    core, _ = _body(text)
    return core + rng.choice(DISCLAIMERS)


def padding(text: str, rng: random.Random) -> str:
    """A polite greeting before and a service closing after."""
    return rng.choice(GREETINGS) + text + rng.choice(CLOSINGS)


def newline_warning(text: str, rng: random.Random) -> str:
    """A warning on the next line, hoping it reads as protective context."""
    return f"{text}\n{rng.choice(WARNINGS)}"


def newline_split(text: str, rng: random.Random) -> str | None:
    """A line break between two Chinese characters somewhere inside the message."""
    cuts = [i for i in range(1, len(text)) if _HAN.match(text[i - 1]) and _HAN.match(text[i])]
    if not cuts:
        return None
    i = rng.choice(cuts)
    return text[:i] + "\n" + text[i:]


def space_split(text: str, rng: random.Random) -> str:
    """A space between every two Chinese characters (法 院 传 票)."""
    return re.sub(r"(?<=[\u4e00-\u9fff])(?=[\u4e00-\u9fff])", " ", text)


@lru_cache(maxsize=1)
def _s2t() -> Callable[[str], str]:
    from opencc import OpenCC

    return OpenCC("s2t").convert


def traditional(text: str, rng: random.Random) -> str | None:
    """Traditional characters, as copied from a mirror site."""
    out = _s2t()(text)
    return out if out != text else None


def full_width(text: str, rng: random.Random) -> str | None:
    """Digits, letters and punctuation in their full-width forms."""
    table = {c: chr(ord(c) + 0xFEE0) for c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz,!?:;"}
    out = "".join(table.get(c, c) for c in text)
    return out if out != text else None


def _swap(text: str, table: dict[str, str], rng: random.Random) -> str | None:
    present = [w for w in table if w in text]
    if not present:
        return None
    w = rng.choice(present)
    return text.replace(w, table[w])


def homophone(text: str, rng: random.Random) -> str | None:
    """One key word swapped for a homophone (坐牢 → 坐劳)."""
    return _swap(text, HOMOPHONES, rng)


def pinyin(text: str, rng: random.Random) -> str | None:
    """One key word written in pinyin (法院 → fa yuan)."""
    return _swap(text, PINYIN, rng)


def emoji(text: str, rng: random.Random) -> str:
    """Emoji at the start, the end and after each comma."""
    e = rng.choice(EMOJI)
    return e + text.replace("，", "，" + e) + e


TRANSFORMS: dict[str, Transform] = {
    "quote_sandwich": quote_sandwich,
    "quoted_hearsay": quoted_hearsay,
    "disclaimer": disclaimer,
    "padding": padding,
    "newline_warning": newline_warning,
    "newline_split": newline_split,
    "space_split": space_split,
    "traditional": traditional,
    "full_width": full_width,
    "homophone": homophone,
    "pinyin": pinyin,
    "emoji": emoji,
}


def evasions(text: str, seed: int = 0) -> dict[str, str]:
    """Every transform that applies to ``text``, by name; deterministic for a seed."""
    out = {}
    for name, fn in TRANSFORMS.items():
        dressed = fn(text, random.Random(f"{seed}:{name}:{text}"))
        if dressed is not None and dressed != text:
            out[name] = dressed
    return out
