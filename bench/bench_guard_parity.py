"""Do Guard's decisions and findings stay exactly the same across a code change?

    .venv/bin/python bench/bench_guard_parity.py --write before.jsonl      # on the old code
    .venv/bin/python bench/bench_guard_parity.py --against before.jsonl    # on the new code: exit 1 on any change

Speed work on the pipeline around the model must not move a single decision, finding,
evidence offset, score or PII entity. This screens a fixed sample the same way every time
(``--n`` agent lines of the dev split, seed 7, with their recipients (``as_message``), through
``Guard.check_many`` in batches of 32 without rewrites; the first 32 again with verified
rewrites; and transcripts of consecutive lines through ``check_transcript``) and writes one
JSON line per result, or compares them with a file the old code wrote. The int8 model's
scores move with a message's batch neighbours (``bench_batch_invariance.py``), so the
batches here are fixed and the comparison is exact.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_false_hits import as_message  # noqa: E402
from nlp_guard import Guard  # noqa: E402

BATCH = 32
TURNS = 4  # lines per transcript, alternating agent and customer


def sample(split: str, n: int) -> list[dict]:
    """``n`` agent lines of ``split`` (seed 7), in a fixed order."""
    rows = [json.loads(line) for line in (ROOT / "training" / "data" / f"{split}.jsonl").read_text("utf-8").splitlines()]
    agent = [r for r in rows if r.get("speaker") != "customer"]
    return random.Random(7).sample(agent, min(n, len(agent)))


def records(guard: Guard, rows: list[dict], transcripts: int) -> list[dict]:
    """One record per screened item: which path screened it, its input and its full result."""
    msgs = [as_message(r) for r in rows]
    out = []
    for b in range(0, len(msgs), BATCH):
        out += [{"path": "check_many", "text": m.text, "recipient": m.recipient, "result": d.to_dict()}
                for m, d in zip(msgs[b:b + BATCH], guard.check_many(msgs[b:b + BATCH], suggest=False), strict=True)]
    out += [{"path": "check_many+suggest", "text": m.text, "recipient": m.recipient, "result": d.to_dict()}
            for m, d in zip(msgs[:BATCH], guard.check_many(msgs[:BATCH], suggest=True), strict=True)]
    for t in range(transcripts):
        turns = [{"speaker": "agent" if k % 2 == 0 else "customer", "text": r["text"]}
                 for k, r in enumerate(rows[t * TURNS:(t + 1) * TURNS])]
        out.append({"path": "check_transcript", "turns": turns, "result": guard.check_transcript(turns).to_dict()})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=400)
    ap.add_argument("--split", default="dev")
    ap.add_argument("--transcripts", type=int, default=20, help="transcripts of consecutive sampled lines")
    ap.add_argument("--model", type=Path, help="model directory (default: the shipped model)")
    what = ap.add_mutually_exclusive_group(required=True)
    what.add_argument("--write", type=Path, help="write the results here")
    what.add_argument("--against", type=Path, help="compare with results an earlier run wrote")
    args = ap.parse_args()
    guard = Guard.default(model_dir=args.model)
    got = records(guard, sample(args.split, args.n), args.transcripts)
    lines = [json.dumps(r, ensure_ascii=False, sort_keys=True) for r in got]
    if args.write:
        args.write.write_text("\n".join(lines) + "\n", "utf-8")
        print(f"wrote {len(lines)} results (model {guard.model_version}, policy {guard.policy.version}) to {args.write}")
        return
    before = args.against.read_text("utf-8").splitlines()
    changed = [k for k, (a, b) in enumerate(zip(before, lines, strict=False)) if a != b]
    print(f"Command: `.venv/bin/python bench/bench_guard_parity.py {' '.join(sys.argv[1:])}`; model "
          f"{guard.model_version}; {len(lines)} results ({args.n} {args.split} agent lines, seed 7).")
    print(f"- results changed: {len(changed)} of {len(lines)}; counts {len(before)} before, {len(lines)} now")
    for k in changed[:5]:
        print(f"  first difference at result {k}:\n    before {before[k][:400]}\n    now    {lines[k][:400]}")
    if changed or len(before) != len(lines):
        sys.exit(1)


if __name__ == "__main__":
    main()
