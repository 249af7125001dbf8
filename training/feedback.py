"""QA verdicts → labelled TRAIN-only examples, with provenance, and the ship guard.

    python -m training.feedback [--store FILE]   # examples + data card, no training (default: default_store())
    python -m training.train --feedback FILE      # retrain with them

Rules (per text, the latest verdict for a category wins):
- confirmed       → the categories the guard raised are labels of the text;
- false_positive  → those categories are removed: the text is a negative for them.
A text keeps the categories that some row confirmed and no later row refuted; a
text refuted for everything becomes a clean (no-label) example.

Rows without text (a queue exported without ``--input``) or with categories the
classifier does not have are counted and left out. A feedback text that is (a
near duplicate of) a dev or test text is left out too, so the frozen test split
stays unseen. Provenance (source file, its SHA-256, reviewer, imported_at) is kept
on each example and summarised in ``training/DATA_CARD_FEEDBACK.md``.
"""
from __future__ import annotations

import argparse
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nlp_guard.feedback import FeedbackStore, default_store

from .build_corpus import NEAR_DUPLICATE, LeakIndex, text_key

ROOT = Path(__file__).resolve().parents[1]
from nlp_guard.policy import CATEGORY_CODES  # noqa: E402

LABELS = list(CATEGORY_CODES)
DATA_CARD = ROOT / "training" / "DATA_CARD_FEEDBACK.md"


@dataclass
class FeedbackReport:
    verdicts: int = 0
    examples: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    by_verdict: Counter[str] = field(default_factory=Counter)
    labels: Counter[str] = field(default_factory=Counter)
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)


def examples_from_rows(rows: list[dict[str, Any]], held_out: list[str] | None = None
                       ) -> tuple[list[dict[str, Any]], FeedbackReport]:
    """Labelled examples (one per distinct text) from stored verdict rows, oldest first."""
    rep = FeedbackReport(verdicts=len(rows))
    leak = LeakIndex(held_out or [])
    state: dict[str, dict[str, Any]] = {}
    for r in rows:
        rep.by_verdict[r["verdict"]] += 1
        src = rep.sources.setdefault(r["source_sha256"], {"file": r["source_file"], "sha256": r["source_sha256"],
                                                           "rows": 0, "reviewers": set(), "imported_at": set()})
        src["rows"] += 1
        src["reviewers"].add(r["reviewer"])
        src["imported_at"].add(r["imported_at"])
        text = (r.get("text") or "").strip()
        if not text:
            rep.skipped["no text (queue exported without --input)"] += 1
            continue
        unknown = [c for c in r["categories"] if c not in LABELS]
        if unknown:
            rep.skipped[f"category not in the classifier ({', '.join(sorted(set(unknown)))})"] += 1
            continue
        if leak.leaks(text):
            rep.skipped["same as or near a dev/test text (kept out of training)"] += 1
            continue
        st = state.setdefault(text_key(text), {"text": text, "labels": {}, "subcategories": set(), "provenance": []})
        for c in r["categories"]:
            st["labels"][c] = r["verdict"] == "confirmed"
        if r["verdict"] == "confirmed":
            st["subcategories"].update(s for s in r["subcategories"] if s.split(".")[0] in r["categories"])
        st["provenance"].append({"source_file": r["source_file"], "source_sha256": r["source_sha256"],
                                 "row": r["source_row"], "reviewer": r["reviewer"], "verdict": r["verdict"],
                                 "queue_id": r["queue_id"], "imported_at": r["imported_at"]})
    out = []
    for st in state.values():
        labels = sorted(c for c, keep in st["labels"].items() if keep)
        subs = sorted(s for s in st["subcategories"] if s.split(".")[0] in labels)
        out.append({"text": st["text"], "labels": labels, "subcategories": subs, "source": "feedback",
                    "kind": "violation" if labels else "compliant", "split": "train", "obfuscated": False,
                    "provenance": st["provenance"]})
        rep.labels.update(labels or ["clean"])
    rep.examples = len(out)
    return out, rep


def feedback_examples(store: Path, data_dir: Path) -> tuple[list[dict[str, Any]], FeedbackReport]:
    """Examples from a store, held apart from ``data_dir``'s dev and test splits."""
    held = []
    for name in ("dev", "test"):
        path = data_dir / f"{name}.jsonl"
        if path.exists():
            held += [json.loads(line)["text"] for line in path.read_text("utf-8").splitlines() if line.strip()]
    return examples_from_rows(FeedbackStore(store).rows(), held)


def data_card(rep: FeedbackReport, store: Path) -> str:
    lines = [
        "# Data card: QA feedback (TRAIN-only source)",
        "",
        "Written by `training/feedback.py` (also on `python -m training.train --feedback …`). Do not edit by hand.",
        "",
        f"- Store: `{store.name}` (SQLite; see `nlp_guard/feedback.py`)",
        f"- Verdict rows: {rep.verdicts} ({rep.by_verdict.get('confirmed', 0)} confirmed, "
        f"{rep.by_verdict.get('false_positive', 0)} false_positive)",
        f"- Training examples: {rep.examples} (one per distinct text; the latest verdict per category wins)",
        "- Labels: confirmed keeps the categories the guard raised; false_positive removes them "
        "(a text refuted for all of them is a clean example).",
        "- Used for: TRAIN only. Dev and the frozen test split are untouched; feedback texts equal or near "
        f"(3-gram Jaccard ≥ {NEAR_DUPLICATE}) to a dev/test text are left out.",
        "",
        *(["No verdicts imported yet: this source adds nothing to training.", ""] if not rep.verdicts else []),
        "## Labels",
        "",
        "| label | examples |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in sorted(rep.labels.items())],
        "",
        "## Left out",
        "",
        *([f"- {k}: {v}" for k, v in sorted(rep.skipped.items())] or ["- nothing"]),
        "",
        "## Provenance",
        "",
        "| source file | sha256 | rows | reviewers | imported at (UTC) |",
        "|---|---|---|---|---|",
    ]
    for s in rep.sources.values():
        when = sorted(s["imported_at"])
        lines.append(f"| {s['file']} | `{s['sha256'][:16]}…` | {s['rows']} | {', '.join(sorted(s['reviewers']))} | "
                     f"{when[0]}{' … ' + when[-1] if len(when) > 1 else ''} |")
    lines += ["", "Each example also carries its own provenance list (file, row, reviewer, verdict, queue id, "
              "imported_at) in the training rows.", ""]
    return "\n".join(lines)


def shipped_macro_f1(metrics_path: Path) -> float | None:
    """The shipped model's frozen-test macro-F1 (int8 ONNX), or None when no model is shipped."""
    if not metrics_path.exists():
        return None
    m = json.loads(metrics_path.read_text("utf-8"))
    return float(m["test_onnx_int8"]["macro"]["f1"])


def ship_decision(new_f1: float, shipped_f1: float | None) -> tuple[bool, str]:
    """Ship a feedback-driven retrain unless its frozen-test macro-F1 is below the shipped model's."""
    if shipped_f1 is None:
        return True, f"no shipped model to compare with; shipping (test macro-F1 {new_f1:.4f})"
    if new_f1 < shipped_f1:
        return False, (f"test macro-F1 {new_f1:.4f} is below the shipped model's {shipped_f1:.4f}; "
                       "not shipped")
    return True, f"test macro-F1 {new_f1:.4f} ≥ shipped {shipped_f1:.4f}; shipping"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Turn stored QA verdicts into training examples and a data card.")
    ap.add_argument("--store", type=Path, default=default_store())
    ap.add_argument("--data-dir", type=Path, default=ROOT / "training" / "data")
    ap.add_argument("--out", type=Path, help="also write the examples as JSONL here")
    ap.add_argument("--card", type=Path, default=DATA_CARD)
    args = ap.parse_args(argv)
    examples, rep = feedback_examples(args.store, args.data_dir)
    args.card.write_text(data_card(rep, args.store), "utf-8")
    if args.out:
        args.out.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in examples), "utf-8")
    print(f"{rep.examples} examples from {rep.verdicts} verdicts; data card: {args.card}")


if __name__ == "__main__":
    main()


def promote(candidate: Path, out_dir: Path, rejected_dir: Path) -> tuple[bool, Path, str]:
    """Move a feedback-driven candidate model to ``out_dir`` or, when it loses on the frozen test, to
    ``rejected_dir/<version>-<time>``. Returns (shipped, where it went, why)."""
    import datetime as dt
    import shutil

    metrics = json.loads((candidate / "metrics.json").read_text("utf-8"))
    ship, reason = ship_decision(float(metrics["test_onnx_int8"]["macro"]["f1"]),
                                 shipped_macro_f1(out_dir / "metrics.json"))
    if ship:
        if out_dir.exists():
            shutil.rmtree(out_dir)
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(candidate), str(out_dir))
        return True, out_dir, reason
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    dest = rejected_dir / f"{metrics.get('version', 'model')}-{stamp}"
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(candidate), str(dest))
    (dest / "REJECTED.txt").write_text(reason + "\n", "utf-8")
    return False, dest, reason
