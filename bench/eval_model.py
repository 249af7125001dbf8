"""Accuracy benchmark: own frozen test split and external sets, side by side with
a keyword baseline and rules-only.

    .venv/bin/python bench/eval_model.py [--limit N]

External sets are read from ../shared/data at run time (evaluation only; the
non-commercial ones are never trained on). Results go to bench/RESULTS.md.
"""
from __future__ import annotations

import argparse
import csv
import json
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.results_md import write_section  # noqa: E402
from nlp_guard import Guard, Message  # noqa: E402
from nlp_guard.normalize import normalize  # noqa: E402
from training.metrics import multilabel_report, prf  # noqa: E402
from training.public_data import SHARED  # noqa: E402

from nlp_guard.policy import CATEGORY_CODES  # noqa: E402

LABELS = list(CATEGORY_CODES)
# What a typical keyword (DFA) filter ships with: single words per category.
KEYWORDS = {
    "threat": ["死", "砍", "打断", "上门", "后果", "小心", "收拾", "等着", "家人", "孩子"],
    "abuse": ["老赖", "傻", "妈的", "骗子", "垃圾", "废物", "滚", "狗", "贱"],
    "deception": ["法院", "公安", "警察", "坐牢", "拘留", "立案", "冻结", "律师", "传票", "黑名单"],
    "privacy": ["联系人", "通讯录", "同事", "朋友圈", "家族群", "曝光", "身份证", "紧急联系人"],
    "coercion": ["借", "套现", "卖", "公积金", "网贷", "口子"],
}

Predictor = Callable[[list[str], list[str]], list[set[str]]]


def keyword_baseline(texts: list[str], recipients: list[str]) -> list[set[str]]:
    return [{c for c, words in KEYWORDS.items() if any(w in t for w in words)} for t in texts]


def guard_predictor(guard: Guard) -> Predictor:
    def run(texts: list[str], recipients: list[str]) -> list[set[str]]:
        out = []
        for b in range(0, len(texts), 64):
            msgs = [Message(_screenable(t, guard.max_chars), r) for t, r in zip(texts[b:b + 64], recipients[b:b + 64])]
            out += [{v.category for v in d.violations} for d in guard.check_many(msgs, suggest=False)]
        return out
    return run


def _screenable(text: str, limit: int) -> str:
    """External sets carry control characters and empty rows, which the Guard rightly refuses."""
    import re

    cleaned = re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", " ", text)[:limit]
    return cleaned if cleaned.strip() else "空"


def own_split(limit: int | None) -> tuple[list[str], list[str], list[list[str]], list[bool]]:
    rows = [json.loads(l) for l in (ROOT / "training" / "data" / "test.jsonl").read_text("utf-8").splitlines()]
    # customers' words are judged by speaker role in transcripts (never violations), not by the message check
    rows = [r for r in rows if r.get("speaker") != "customer"]
    rows = random.Random(3).sample(rows, limit) if limit and limit < len(rows) else rows
    # the recipient is metadata the API receives; authored rows carry it
    rec = [r.get("recipient") if r.get("recipient") in ("debtor", "guarantor", "emergency_contact", "third_party") else "debtor" for r in rows]
    return [r["text"] for r in rows], rec, [r["labels"] for r in rows], [r.get("obfuscated", False) for r in rows]


def external_sets(limit: int | None, rng: random.Random) -> dict[str, tuple[str, list[str], list[int]]]:
    """name -> (head, texts, binary gold)."""
    sets = {}
    with (SHARED / "cold" / "test.csv").open(encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    sets["COLD test (Apache-2.0): offensive vs safe"] = ("abuse", [r["TEXT"] for r in rows], [int(r["label"]) for r in rows])
    bench = json.loads((SHARED / "chineseharm_bench" / "bench.json").read_text("utf-8"))
    pos = [r["文本"] for r in bench if r["标签"] == "谩骂引战"]
    neg = [r["文本"] for r in bench if r["标签"] == "不违规"]
    sets["ChineseHarm-Bench (CC BY-NC, eval only): 谩骂引战 vs 不违规"] = ("abuse", pos + neg, [1] * len(pos) + [0] * len(neg))
    tf = SHARED / "telecom_fraud_texts"

    def col(name: str) -> list[str]:
        with (tf / name).open(encoding="utf-8-sig") as fh:
            return [r["content"] for r in csv.DictReader(fh)]
    imp, normal = col("label1-new1030.csv"), col("label00-last.csv")
    normal = rng.sample(normal, len(imp))
    sets["telecom_fraud_texts (research only, eval only): 冒充公检法 vs normal"] = ("deception", imp + normal, [1] * len(imp) + [0] * len(normal))
    if limit:
        for k, (h, t, y) in sets.items():
            idx = rng.sample(range(len(t)), min(limit, len(t)))
            sets[k] = (h, [t[i] for i in idx], [y[i] for i in idx])
    return sets


def binary_macro_f1(gold: list[int], pred: list[int]) -> dict:
    import numpy as np

    y, p = np.array(gold, float), np.array(pred, float)
    pos, neg = prf(y, p), prf(1 - y, 1 - p)
    return {"macro_f1": round((pos["f1"] + neg["f1"]) / 2, 4), "pos": pos}


def main() -> None:
    import numpy as np

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=None, help="cap examples per EXTERNAL set (random sample)")
    args = ap.parse_args()
    rng = random.Random(7)
    systems: dict[str, Predictor] = {"keyword baseline": keyword_baseline,
                                     "rules only": guard_predictor(Guard.default(rules_only=True))}
    full = Guard.default()  # the shipped model; a ModelNotFoundError says where it looked
    systems[f"model only ({full.model_version})"] = lambda texts, recs: [
        {c for c, s in sc.items() if s >= 0.5} for sc in full.classifier.predict([normalize(_screenable(t, full.max_chars)).text for t in texts])]
    systems["Guard: rules + model"] = guard_predictor(full)

    texts, recs, gold, obf = own_split(None)
    y = np.array([[1.0 if l in g else 0.0 for l in LABELS] for g in gold])
    obf_idx = np.array(obf) & (y.sum(axis=1) > 0)
    rows_own, rows_ext, times = [], [], {}
    ext = external_sets(args.limit, rng)
    for name, fn in systems.items():
        t0 = time.perf_counter()
        pred = fn(texts, recs)
        p = np.array([[1.0 if l in s else 0.0 for l in LABELS] for s in pred])
        rep = multilabel_report(y, p, np.full(5, 0.5), LABELS)
        obf_recall = float((y[obf_idx] * p[obf_idx]).sum() / max(y[obf_idx].sum(), 1))
        rows_own.append((name, rep, obf_recall))
        for ename, (head, etexts, egold) in ext.items():
            epred = fn(etexts, ["debtor"] * len(etexts))
            rows_ext.append((name, ename, head, binary_macro_f1(egold, [int(head in s) for s in epred])))
        times[name] = time.perf_counter() - t0

    lines = [f"Command: `.venv/bin/python bench/eval_model.py{' --limit ' + str(args.limit) if args.limit else ''}`. "
             f"Own test split: {len(texts)} examples (frozen before training, `training/data/test.jsonl`), "
             f"{int(obf_idx.sum())} obfuscated violation examples. External sets: "
             + (f"a seeded random sample of {args.limit} per set." if args.limit else "complete."), "",
             "### Own frozen test split", "",
             "| system | macro-F1 | " + " | ".join(f"{l} F1" for l in LABELS) + " | FPR on compliant | recall on obfuscated |",
             "|---|---|" + "---|" * len(LABELS) + "---|---|"]
    for name, rep, orc in rows_own:
        per = rep["per_category"]
        lines.append(f"| {name} | {rep['macro']['f1']:.3f} | " + " | ".join(f"{per[l]['f1']:.3f}" for l in LABELS)
                     + f" | {rep['compliant_false_positive_rate']:.3f} | {orc:.3f} |")
    lines += ["", "### External sets (written by no one here)", "",
              "| system | set | head | binary macro-F1 | positive P / R |", "|---|---|---|---|---|"]
    for name, ename, head, r in rows_ext:
        lines.append(f"| {name} | {ename} | {head} | {r['macro_f1']:.3f} | {r['pos']['precision']:.3f} / {r['pos']['recall']:.3f} |")
    lines += ["", "Reference: the published roberta-base-cold (100M parameters, trained on COLD) scores 0.824 macro-F1 on COLD test.",
              "", "Wall time per system (all sets): " + ", ".join(f"{k}: {v:.0f} s" for k, v in times.items())]
    text = "\n".join(lines)
    print(text)
    write_section("Model accuracy (issue 3)", text)


if __name__ == "__main__":
    main()
