"""Transcript context (issue 12): per agent turn recall and false-positive rate, with and without context.

    .venv/bin/python bench/eval_transcripts.py [--split test|dev] [--rules-only] [--no-write]
                                               [--agent-turns N] [--customers] [--lift X] [--confirm P]

The frozen splits hold single utterances (``speaker``, ``channel``; ``group`` only ties the
variants of one base sentence), not calls, so calls are assembled from them with a fixed seed:

- mixed calls: every agent utterance of the split, shuffled, 3 to 6 agent turns a call, a
  customer utterance of the split between two agent turns half of the time;
- lawful calls: the compliant agent utterances only, assembled the same way;
- split threats: each violating utterance with a clause break (，。！？ or a space) cut there
  into two consecutive agent turns (a customer utterance between them half of the time);
  caught when a gold category is flagged on either half; compliant utterances cut the same way.

A turn's gold labels are its utterance's. Tune window options on ``--split dev`` only.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.results_md import write_section  # noqa: E402
from nlp_guard import Guard  # noqa: E402
from nlp_guard.guard import Window  # noqa: E402

CUT = "，。！？,!? "
Call = list[dict[str, str]]
Gold = list[list[str] | None]  # per turn: gold categories of an agent turn, None for customers


def load(split: str) -> tuple[list[dict], list[str]]:
    rows = [json.loads(line) for line in (ROOT / "training" / "data" / f"{split}.jsonl").read_text("utf-8").splitlines()]
    return [r for r in rows if r["speaker"] == "agent"], [r["text"] for r in rows if r["speaker"] == "customer"]


def assemble(agent: list[dict], customers: list[str], rng: random.Random) -> list[tuple[Call, Gold]]:
    rows = agent[:]
    rng.shuffle(rows)
    calls = []
    while rows:
        n = rng.randint(3, 6)
        take, rows = rows[:n], rows[n:]
        turns: Call = []
        gold: Gold = []
        for k, r in enumerate(take):
            if k and rng.random() < 0.5:
                turns.append({"speaker": "customer", "text": rng.choice(customers)})
                gold.append(None)
            turns.append({"speaker": "agent", "text": r["text"]})
            gold.append(r["labels"])
        calls.append((turns, gold))
    return calls


def cut(text: str) -> tuple[str, str] | None:
    """The utterance cut at the clause break nearest its middle (None when it has none inside)."""
    breaks = [i for i, ch in enumerate(text) if ch in CUT and 2 <= i < len(text) - 3]
    if not breaks:
        return None
    i = min(breaks, key=lambda b: abs(b - len(text) / 2))
    first, second = text[:i + 1].strip(), text[i + 1:].strip()
    return (first, second) if first and second else None


def splits(agent: list[dict], customers: list[str], rng: random.Random) -> list[tuple[Call, list[str]]]:
    out = []
    for r in agent:
        parts = cut(r["text"])
        if parts is None:
            continue
        turns = [{"speaker": "agent", "text": parts[0]}]
        if rng.random() < 0.5:
            turns.append({"speaker": "customer", "text": rng.choice(customers)})
        turns.append({"speaker": "agent", "text": parts[1]})
        out.append((turns, r["labels"]))
    return out


def flagged(guard: Guard, calls: list[Call], context: bool) -> list[list[set[str]]]:
    return [[{v.category for v in t.violations} for t in guard.check_transcript(c, context=context).turns] for c in calls]


def rates(pairs: list[tuple[list[str], set[str]]]) -> dict[str, float]:
    """Recall over gold (item, category) pairs; false-positive rate over compliant items."""
    pos = sum(len(g) for g, _ in pairs)
    hit = sum(len(set(g) & found) for g, found in pairs)
    neg = sum(1 for g, _ in pairs if not g)
    fp = sum(1 for g, found in pairs if not g and found)
    return {"recall": hit / max(pos, 1), "fpr": fp / max(neg, 1), "pos": pos, "neg": neg, "fp": fp}


def turn_metrics(calls: list[tuple[Call, Gold]], pred: list[list[set[str]]]) -> dict[str, float]:
    """Per agent turn."""
    return rates([(g, found) for (_, gold), p in zip(calls, pred, strict=True)
                  for g, found in zip(gold, p, strict=True) if g is not None])


def split_metrics(items: list[tuple[Call, list[str]]], pred: list[list[set[str]]]) -> dict[str, float]:
    """Per cut utterance: caught when either half carries the category."""
    return rates([(gold, set().union(*p)) for (_, gold), p in zip(items, pred, strict=True)])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", choices=("test", "dev"), default="test")
    ap.add_argument("--rules-only", action="store_true")
    ap.add_argument("--agent-turns", type=int, default=Window().agent_turns)
    ap.add_argument("--customers", action="store_true", default=Window().customers)
    ap.add_argument("--lift", type=float, default=Window().lift)
    ap.add_argument("--confirm", type=float, default=Window().confirm)
    ap.add_argument("--threads", type=int, default=None, help="the model's intra-op threads")
    ap.add_argument("--no-write", action="store_true", help="print only (use for dev tuning)")
    args = ap.parse_args()
    base = Guard.default(rules_only=args.rules_only, threads=args.threads)
    guard = Guard(base.policy, base.classifier, window=Window(args.agent_turns, args.customers, args.lift, args.confirm))
    agent, customers = load(args.split)
    compliant = [r for r in agent if not r["labels"]]
    mixed = assemble(agent, customers, random.Random(12))
    lawful = assemble(compliant, customers, random.Random(13))
    cuts = splits(agent, customers, random.Random(14))
    rows, times = [], {}
    for context in (False, True):
        t0 = time.perf_counter()
        m = turn_metrics(mixed, flagged(guard, [c for c, _ in mixed], context))
        law = turn_metrics(lawful, flagged(guard, [c for c, _ in lawful], context))
        sp = split_metrics(cuts, flagged(guard, [c for c, _ in cuts], context))
        times[context] = time.perf_counter() - t0
        rows.append((context, m, law, sp))
    system = "rules only" if guard.classifier is None else f"rules + model ({guard.model_version})"
    cmd = " ".join(["bench/eval_transcripts.py", *sys.argv[1:]])
    n_split_v = sum(1 for _, g in cuts if g)
    lines = [
        f"Command: `.venv/bin/python {cmd}`. {system}, policy {guard.policy.version}; window: "
        f"{args.agent_turns} earlier agent turn(s), customer turns {'included' if args.customers else 'left out'}, "
        f"lift {args.lift}, confirm {args.confirm} (chosen on the dev split). Split `{args.split}`: {len(agent)} agent utterances "
        f"({len(compliant)} compliant) in {len(mixed)} mixed calls; {len(lawful)} lawful calls; "
        f"{n_split_v} violating and {len(cuts) - n_split_v} compliant utterances cut into two agent turns. "
        "The splits hold no real calls, so calls are assembled from single utterances (seeded; see the script).",
        "",
        "| context | mixed calls: recall per turn | mixed: FPR on compliant turns | lawful calls: FPR | "
        "split across two turns: recall | split compliant: FPR | wall time |",
        "|---|---|---|---|---|---|---|",
    ]
    for context, m, law, sp in rows:
        lines.append(f"| {'with' if context else 'without'} | {m['recall']:.3f} | {m['fpr']:.3f} ({m['fp']}/{m['neg']}) "
                     f"| {law['fpr']:.3f} ({law['fp']}/{law['neg']}) | {sp['recall']:.3f} | "
                     f"{sp['fpr']:.3f} ({sp['fp']}/{sp['neg']}) | {times[context]:.0f} s |")
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        write_section(f"Transcript context (issue 12), {system.split(' (')[0]}", text)


if __name__ == "__main__":
    main()
