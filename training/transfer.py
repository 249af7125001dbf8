"""Build the distillation transfer set: unlabelled and labelled sentences the
teacher scores and the student learns to copy.

    python -m training.transfer            # → training/.work/transfer/{transfer,dev,test}.jsonl.gz

Sources, TRAIN split and permissive public text only (never dev/test as
training signal, never the evaluation-only sets):
- the train split's agent lines, each also once through an evasion the
  normaliser undoes (pinyin, separators, 繁体, homophones) before normalising;
- the public training slice with its labels (``training.public_data``);
- neutral public text without labels: crosswoz, kdconv, COLD train, SWSR comments;
- augmentations of the in-domain lines (``training.augment``), made by
  ``training.distill`` up to its ``--size`` so that this file stays small
  enough to travel to a training machine.

Every line is normalised here, so the file holds exactly what the model sees.
Labelled lines carry their labels (``y``) and, for in-domain lines, the spans
the policy pack's rules find (``r``: [start, end, category], normalised
offsets), which the evidence head learns from beside the teacher's occlusion.
The dev split goes to its own file, for the ship rule and span overlap only;
the test split too, scored once after the ship decision (as ``make train`` does).
"""
from __future__ import annotations

import argparse
import csv
import gzip
import json
import random
from pathlib import Path

from nlp_guard.normalize import normalize
from nlp_guard.policy import default_policy
from nlp_guard.rules import RuleSet

from . import public_data
from .build_corpus import obfuscate

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "training" / ".work" / "transfer"
NEUTRAL_CAP = 25_000


def _read_split(name: str) -> list[dict]:
    path = ROOT / "training" / "data" / f"{name}.jsonl"
    return [r for r in map(json.loads, path.read_text("utf-8").splitlines()) if r.get("speaker") != "customer"]


def _neutral(rng: random.Random) -> list[str]:
    """Unlabelled permissive public text (the teacher labels it)."""
    shared = public_data.SHARED
    if not shared.is_dir():
        return []
    texts = [json.loads(l)["text"] for l in (shared / "crosswoz_utterances" / "crosswoz_val_test_utterances.jsonl")
             .open(encoding="utf-8")]
    texts += [e["text"] for e in public_data.kdconv(NEUTRAL_CAP, rng)]
    with (shared / "cold" / "train.csv").open(encoding="utf-8-sig") as fh:
        texts += [r["TEXT"] for r in csv.DictReader(fh)][:NEUTRAL_CAP]
    with (shared / "swsr" / "SexComment.csv").open(encoding="utf-8-sig") as fh:
        texts += [r["comment_text"] for r in csv.DictReader(fh)]
    return [t for t in texts if t and len(t) <= 160]


def build(seed: int) -> tuple[list[dict], list[dict]]:
    rng = random.Random(seed)
    rules = RuleSet(default_policy())
    seen: set[str] = set()
    rows: list[dict] = []

    def add(raw: str, labels: list[str] | None, kind: str, spans: bool) -> None:
        text = normalize(raw).text.strip()
        if not text or text in seen:
            return
        seen.add(text)
        row: dict = {"t": text, "k": kind}
        if labels is not None:
            row["y"] = labels
        if spans:
            row["r"] = [[f.start, f.end, f.category] for f in rules.match(text)]
        rows.append(row)

    for r in _read_split("train"):
        for raw in (r["text"], obfuscate(r["text"], rng)):
            if raw:
                add(raw, r["labels"], "train", True)
    for e in public_data.training_examples(seed, 1.0):
        add(e["text"], e["labels"], "public", False)
    for t in _neutral(rng):
        add(t, None, "neutral", False)
    dev, test = ([{"t": normalize(r["text"]).text, "y": r["labels"], "o": bool(r.get("obfuscated"))} for r in _read_split(s)]
                 for s in ("dev", "test"))
    return rows, dev, test


def _write(path: Path, rows: list[dict]) -> None:
    with gzip.open(path, "wt", encoding="utf-8", compresslevel=9) as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    rows, dev, test = build(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    _write(args.out / "transfer.jsonl.gz", rows)
    _write(args.out / "dev.jsonl.gz", dev)
    _write(args.out / "test.jsonl.gz", test)
    kinds: dict[str, int] = {}
    for r in rows:
        kinds[r["k"]] = kinds.get(r["k"], 0) + 1
    print(json.dumps({"transfer": len(rows), "by_kind": kinds, "dev": len(dev)}, ensure_ascii=False))


if __name__ == "__main__":
    main()
