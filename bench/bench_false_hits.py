"""Rules-only hits on the corpus's agent lines (train + dev): how many compliant lines a rule
fires on (false hits) and how many violating lines it catches, to compare policy packs.

    .venv/bin/python bench/bench_false_hits.py [--show N]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nlp_guard import Guard, Message  # noqa: E402
from nlp_guard.recipient import RECIPIENTS  # noqa: E402

SPLITS = ("train", "dev")


def agent_rows(data: Path = ROOT / "training" / "data") -> list[dict]:
    """Agent lines of train and dev (rows without a speaker are agent lines)."""
    rows = [json.loads(line) for s in SPLITS for line in (data / f"{s}.jsonl").read_text("utf-8").splitlines()]
    return [r for r in rows if r.get("speaker", "agent") == "agent"]


def as_message(row: dict) -> Message:
    """The row's recipient when the guard knows it (company_staff speaks for the debtor)."""
    return Message(row["text"], row["recipient"] if row.get("recipient") in RECIPIENTS else "debtor")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--show", type=int, default=0, help="print this many false hits")
    args = ap.parse_args()
    guard = Guard.default(rules_only=True)
    rows = agent_rows()
    decisions = [d for b in range(0, len(rows), 256)
                 for d in guard.check_many([as_message(r) for r in rows[b:b + 256]], suggest=False)]
    compliant = [(r, d) for r, d in zip(rows, decisions, strict=True) if not r["labels"]]
    violating = [(r, d) for r, d in zip(rows, decisions, strict=True) if r["labels"]]
    false_hits = [(r, d) for r, d in compliant if d.decision != "allow"]
    caught = sum(d.decision != "allow" for _, d in violating)
    print(f"policy {guard.policy.version}: false hits on compliant lines {len(false_hits)}/{len(compliant)}, "
          f"hits on violating lines {caught}/{len(violating)}")
    for r, d in false_hits[:args.show]:
        print(" ", d.decision, [v.subcategory for v in d.violations], r["recipient"], r["text"])


if __name__ == "__main__":
    main()
