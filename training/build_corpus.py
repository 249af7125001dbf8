"""Build the labelled corpus splits from the authored slices.

    python -m training.build_corpus

Authored lines (training/data/authored/*.jsonl) are grouped with their near
duplicates, each group is assigned to exactly one split, and only then expanded
with placeholder fills, surface variants and the evasions the normaliser
defeats. So no base sentence, and no variant of it, crosses a split.

Slices written after the test split was frozen (training/data/authored/train_only/)
go to train only, and a line that is a near duplicate of any dev or test base
sentence is dropped, so the frozen splits stay byte-identical (splits.json
records their sha256).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
from collections import Counter
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
from nlp_guard.policy import CATEGORY_CODES  # noqa: E402

LABELS = list(CATEGORY_CODES)
SPLITS = {"test": 0.24, "dev": 0.12, "train": 0.64}
PLACEHOLDER = re.compile(r"\{(name|contact|amount|platform|company|days|date)\}")

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华红玉萍建国志文斌鹏辉丹宇浩凯瑞婷雪琳晨阳佳欣博"
PLATFORMS = ["借呗", "微粒贷", "京东金条", "360借条", "分期乐", "安逸花", "招联金融", "马上消费", "拍拍贷", "度小满", "有钱花",
             "平安普惠", "捷信", "小赢卡贷", "洋钱罐", "众安小贷", "榕树贷款", "省呗", "宜人贷", "恒易贷", "浦发信用卡", "招商银行信用卡",
             "建设银行", "工商银行", "华夏银行", "兴业消费金融", "中原消费金融"]
COMPANIES = ["华信建材有限公司", "鑫达物流", "宏远建筑工程有限公司", "东方机械制造厂", "聚丰贸易", "恒通电子科技", "金源食品加工厂",
             "盛世装饰工程公司", "博远医疗器械", "安达运输有限公司", "润华置业", "新锐广告传媒", "天成纺织", "鼎盛钢构"]
DATES = [f"{m}月{d}日" for m in range(1, 13) for d in (1, 5, 8, 10, 15, 18, 20, 25, 28)]

# Evasions the normaliser is built to undo (see nlp_guard/normalize.py).
PINYIN = {"骗子": "pian zi", "法院": "fa yuan", "坐牢": "zuo lao", "拘留": "ju liu", "警察": "jing cha", "公安": "gong an",
          "老赖": "lao lai", "起诉": "qi su", "上门": "shang men", "曝光": "bao guang", "网贷": "wang dai", "套现": "tao xian",
          "通讯录": "tong xun lu", "家人": "jia ren", "孩子": "hai zi", "单位": "dan wei", "傻逼": "sb", "判刑": "pan xing"}
HOMOPHONES = {"判刑": "判型", "坐牢": "坐劳", "老赖": "老癞", "法院": "法阮", "起诉": "起述", "傻逼": "煞笔"}
SEPARATORS = ["*", " ", "-", ".", "·", "_"]


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def fill(text: str, rng: random.Random) -> str:
    def one(m: re.Match[str]) -> str:
        kind = m.group(1)
        if kind in ("name", "contact"):
            return _name(rng)
        if kind == "amount":
            v = rng.choice([rng.randint(3, 99) * 100, rng.randint(1000, 99999), rng.randint(10, 500) * 1000])
            return rng.choice([f"{v:,}.00元", f"{v}元", f"{v / 10000:.2f}万元" if v >= 10000 else f"{v}元"])
        if kind == "platform":
            return rng.choice(PLATFORMS)
        if kind == "company":
            return rng.choice(COMPANIES)
        if kind == "days":
            return str(rng.choice([3, 5, 7, 10, 15, 23, 30, 45, 60, 90, 120, 180, 365]))
        return rng.choice(DATES)
    return PLACEHOLDER.sub(one, text)


def surface(text: str, rng: random.Random) -> str:
    """A realistic surface variant: fillers, punctuation habits, sign-offs."""
    choice = rng.randrange(5)
    if choice == 0:
        return rng.choice(["喂，", "那个，", "你好，", "哎，", "我跟你说，", "嗯，"]) + text
    if choice == 1:
        return re.sub(r"[，。！？,!?]", " ", text).strip()
    if choice == 2:
        return text.rstrip("。！!") + rng.choice(["！！", "。", "…", "?", "~"])
    if choice == 3:
        return text + rng.choice(["", "【回T退订】", "（本短信由系统发送）", " 收到请回复"])
    return text.replace("您", "你") if "您" in text else text.replace("你", "您")


def obfuscate(text: str, rng: random.Random) -> str | None:
    """One evasion the normaliser handles, or None when nothing applies."""
    options = []
    for word, py in PINYIN.items():
        if word in text:
            options.append(lambda t, w=word, p=py: t.replace(w, p, 1))
    for word, h in HOMOPHONES.items():
        if word in text:
            options.append(lambda t, w=word, hh=h: t.replace(w, hh, 1))
    han = [m.start() for m in re.finditer(r"[\u4e00-\u9fff](?=[\u4e00-\u9fff])", text)]
    if han:
        def sep(t: str) -> str:
            idx = sorted(rng.sample(han, min(len(han), rng.randint(1, 3))), reverse=True)
            s = rng.choice(SEPARATORS)
            for i in idx:
                t = t[:i + 1] + s + t[i + 1:]
            return t
        options.append(sep)
    options.append(_traditional)
    if re.search(r"[0-9A-Za-z，]", text):
        options.append(lambda t: "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in t))
    out = rng.choice(options)(text)
    return out if out != text else None


def _traditional(text: str) -> str:
    from opencc import OpenCC

    return OpenCC("s2t").convert(text)


def _shingles(text: str) -> set[str]:
    t = re.sub(r"\{\w+\}|[^\u4e00-\u9fff\w]", "", text)
    return {t[i:i + 3] for i in range(max(1, len(t) - 2))}


NEAR_DUPLICATE = 0.7


def text_key(text: str) -> str:
    """The text without whitespace: what counts as an exact duplicate."""
    return "".join(text.split())


class LeakIndex:
    """Exact and near-duplicate look-up against held-out (dev and test) texts,
    with the same 3-gram Jaccard as the split grouping."""

    def __init__(self, texts: list[str]) -> None:
        self.exact = {text_key(t) for t in texts}
        self.sh = [_shingles(t) for t in texts]
        self.index: dict[str, list[int]] = {}
        for i, s in enumerate(self.sh):
            for g in s:
                self.index.setdefault(g, []).append(i)

    def leaks(self, text: str) -> bool:
        if text_key(text) in self.exact:
            return True
        s = _shingles(text)
        cands = Counter(j for g in s for j in self.index.get(g, ()))
        return any(shared / (len(s) + len(self.sh[j]) - shared) >= NEAR_DUPLICATE for j, shared in cands.items())


def group_near_duplicates(texts: list[str], threshold: float = NEAR_DUPLICATE) -> list[int]:
    """Union-find over pairs whose character-3-gram Jaccard is at least ``threshold``."""
    parent = list(range(len(texts)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    sh = [_shingles(t) for t in texts]
    index: dict[str, list[int]] = {}
    for i, s in enumerate(sh):
        for g in s:
            index.setdefault(g, []).append(i)
    for i, s in enumerate(sh):
        cands = Counter(j for g in s for j in index[g] if j > i and len(index[g]) < 200)
        for j, shared in cands.items():
            if shared / (len(s) + len(sh[j]) - shared) >= threshold:
                parent[find(j)] = find(i)
    return [find(i) for i in range(len(texts))]


def load_authored(folder: Path, prefix: str = "authored") -> list[dict]:
    rows = []
    for path in sorted(folder.glob("*.jsonl")):
        for n, line in enumerate(path.read_text("utf-8").splitlines(), 1):
            if not line.strip():
                continue
            d = json.loads(line)
            bad = set(d["labels"]) - set(LABELS)
            if bad:
                raise ValueError(f"{path.name}:{n}: unknown labels {sorted(bad)}")
            d["source"] = f"{prefix}/{path.stem}"
            rows.append(d)
    return rows


def assign_splits(rows: list[dict], seed: int) -> None:
    groups = group_near_duplicates([r["text"] for r in rows])
    by_group: dict[int, list[dict]] = {}
    for r, g in zip(rows, groups, strict=True):
        by_group.setdefault(g, []).append(r)
    rng = random.Random(seed)
    # stratify by the group's primary label so every split has every category
    strata: dict[str, list[int]] = {}
    for g, members in by_group.items():
        key = "+".join(sorted(members[0]["labels"])) or "clean"
        strata.setdefault(key, []).append(g)
    for key in sorted(strata):
        gs = sorted(strata[key])
        rng.shuffle(gs)
        n = len(gs)
        n_test, n_dev = round(n * SPLITS["test"]), round(n * SPLITS["dev"])
        for k, g in enumerate(gs):
            split = "test" if k < n_test else "dev" if k < n_test + n_dev else "train"
            for r in by_group[g]:
                r["split"], r["group"] = split, f"g{g}"


def expand(row: dict, rng: random.Random) -> list[dict]:
    base = {k: row[k] for k in ("labels", "subcategories", "channel", "loan_type", "recipient", "speaker", "kind",
                                "source", "split", "group") if k in row}
    base["base_id"] = row["id"]
    n_plain = 3 if row["labels"] else 2
    texts = {fill(row["text"], rng)}
    for _ in range(n_plain * 2):
        if len(texts) >= n_plain:
            break
        texts.add(surface(fill(row["text"], rng), rng))
    out = [{**base, "text": t, "obfuscated": False} for t in sorted(texts)]
    if row["labels"] or rng.random() < 0.4:
        ob = obfuscate(fill(row["text"], rng), rng)
        if ob:
            out.append({**base, "text": ob, "obfuscated": True})
    return out


def _dedupe(rows: list[dict], seen: set[str]) -> list[dict]:
    unique = []
    for r in rows:
        key = text_key(r["text"])
        if key not in seen:
            seen.add(key)
            unique.append(r)
    return unique


def train_only(rows: list[dict], held_out: list[str]) -> tuple[list[dict], int]:
    """Late slices join train; lines near a dev/test base sentence are dropped (how many is returned)."""
    leak = LeakIndex(held_out)
    kept = [r for r in rows if not leak.leaks(r["text"])]
    for k, r in enumerate(kept):
        r["split"], r["group"] = "train", f"t{k}"
    return kept, len(rows) - len(kept)


def apply_label_fixes(rows: list[dict], path: Path) -> int:
    """Audited label corrections (``label_fixes.jsonl``: id, text, subcategories to add, why),
    applied after the split is drawn so that dev and test stay frozen; a fix to a held-out row
    is refused rather than silently moving the evaluation."""
    if not path.exists():
        return 0
    by_id = {r["id"]: r for r in rows}
    fixes = [json.loads(l) for l in path.read_text("utf-8").splitlines() if l.strip()]
    for n, fix in enumerate(fixes, 1):
        row = by_id.get(fix["id"])
        if row is None or row["text"] != fix["text"]:
            raise ValueError(f"{path.name}:{n}: no authored row {fix['id']!r} with that text")
        if row["split"] != "train":
            raise ValueError(f"{path.name}:{n}: {fix['id']} is in the frozen {row['split']} split")
        row["subcategories"] = sorted(set(row["subcategories"]) | set(fix["add"]))
        row["labels"] = [lab for lab in LABELS if lab in row["labels"] or any(s.startswith(lab + ".") for s in fix["add"])]
    return len(fixes)


def build(seed: int = 13) -> tuple[dict[str, list[dict]], int]:
    seen: set[str] = set()
    unique = _dedupe(load_authored(DATA / "authored"), seen)
    assign_splits(unique, seed)
    late, dropped = train_only(_dedupe(load_authored(DATA / "authored" / "train_only", "authored/train_only"), seen),
                               [r["text"] for r in unique if r["split"] != "train"])
    apply_label_fixes(unique + late, DATA / "label_fixes.jsonl")
    rng = random.Random(seed)
    splits: dict[str, list[dict]] = {s: [] for s in SPLITS}
    texts: set[str] = set()
    late_rng = random.Random(seed + 1)  # its own stream: the frozen splits' expansion does not move
    for rows, r_ng in ((unique, rng), (late, late_rng)):
        for r in rows:
            for ex in expand(r, r_ng):
                if ex["text"] not in texts:
                    texts.add(ex["text"])
                    splits[ex["split"]].append(ex)
    return splits, dropped


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=13)
    args = ap.parse_args()
    splits, dropped = build(args.seed)
    stats: dict[str, object] = {}
    for name, rows in splits.items():
        path = DATA / f"{name}.jsonl"
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
        c = Counter(lab for r in rows for lab in r["labels"])
        c["clean"] = sum(1 for r in rows if not r["labels"])
        c["obfuscated"] = sum(1 for r in rows if r["obfuscated"])
        c["customer_utterances"] = sum(1 for r in rows if r.get("speaker") == "customer")
        stats[name] = {"examples": len(rows), **dict(sorted(c.items())),
                       "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    stats["train_only_dropped_near_held_out"] = dropped
    (DATA / "splits.json").write_text(json.dumps(stats, ensure_ascii=False, indent=2) + "\n", "utf-8")
    print(json.dumps(stats, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
