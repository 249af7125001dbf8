"""Rules + model on the dev split's agent lines, with the shipped pack and with threshold overlays.

    .venv/bin/python bench/eval_guard_dev.py [--thresholds threat=0.7,deception=0.7 ...]

Dev is where policy and model choices are made; the frozen test (``bench/eval_model.py``) is run
after a choice, once. Each row is one pack (the shipped one first, as the baseline of the same run):
per-category F1, macro-F1 and the false-positive rate on compliant lines. Prints only: these are
tuning figures, not results.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.eval_model import guard_predictor  # noqa: E402
from nlp_guard import Guard  # noqa: E402
from nlp_guard.policy.loader import apply_overlay, default_policy, load_overlay  # noqa: E402
from training.train import read_split  # noqa: E402

CATEGORIES = ("threat", "abuse", "deception", "privacy", "coercion")
RECIPIENTS = ("debtor", "guarantor", "emergency_contact", "third_party")


def thresholds(spec: str) -> dict[str, float]:
    """``threat=0.7,deception=0.7`` as a thresholds overlay."""
    try:
        return {k.strip(): float(v) for k, v in (part.split("=") for part in spec.split(",") if part.strip())}
    except ValueError:
        raise argparse.ArgumentTypeError(f"{spec!r}: expected category=threshold[,category=threshold]") from None


def row(name: str, gold: list[list[str]], pred: list[set[str]]) -> str:
    f1 = []
    for c in CATEGORIES:
        tp = sum(c in p and c in g for p, g in zip(pred, gold))
        wrong = sum((c in p) != (c in g) for p, g in zip(pred, gold))
        f1.append(2 * tp / (2 * tp + wrong) if tp + wrong else 0.0)
    compliant = [bool(p) for p, g in zip(pred, gold) if not g]
    return (f"| {name} | " + " | ".join(f"{x:.4f}" for x in f1) + f" | {sum(f1) / len(f1):.4f} | "
            f"{sum(compliant) / len(compliant):.4f} ({sum(compliant)}/{len(compliant)}) |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--thresholds", type=thresholds, action="append", default=[],
                    help="an overlay to compare with the shipped pack (repeatable)")
    args = ap.parse_args()
    rows = [r for r in read_split(ROOT / "training" / "data", "dev") if r.get("speaker") != "customer"]
    texts = [r["text"] for r in rows]
    recipients = [r.get("recipient") if r.get("recipient") in RECIPIENTS else "debtor" for r in rows]
    gold = [r["labels"] for r in rows]
    base = Guard.default()
    print(f"{len(rows)} dev agent lines, model {base.model_version}\n")
    print("| pack | " + " | ".join(f"{c} F1" for c in CATEGORIES) + " | macro-F1 | FPR on compliant |")
    print("|---|" + "---:|" * (len(CATEGORIES) + 2))
    packs = [("shipped", base)] + [
        (",".join(f"{k}={v}" for k, v in th.items()),
         base.with_policy(apply_overlay(default_policy(), load_overlay({"tenant": "dev", "version": "1", "thresholds": th}))))
        for th in args.thresholds]
    for name, guard in packs:
        print(row(name, gold, guard_predictor(guard)(texts, recipients)), flush=True)


if __name__ == "__main__":
    main()
