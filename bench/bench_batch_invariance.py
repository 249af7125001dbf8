"""Does a message's result depend on the other messages in its batch?

    .venv/bin/python bench/bench_batch_invariance.py [--n 400] [--model DIR]

Scans, the API's micro-batcher and ``check_many`` batch messages. A dynamically
quantised int8 model scales each layer's activations over the whole batch, so
a message's scores can move with its neighbours. This screens the same seeded
sample of test-split agent messages in batches of 32 twice, the second time
with the batch boundaries shifted by 16, and counts what changed; and it times
nothing. A batch-invariant model reports 0 everywhere.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nlp_guard import Guard, Message  # noqa: E402
from nlp_guard.normalize import normalize  # noqa: E402


def _batched(fn, items: list, offset: int, size: int = 32) -> list:
    cuts = ([0, offset] if offset else [0]) + list(range(offset + size, len(items), size)) + [len(items)]
    out: list = []
    for a, b in zip(cuts, cuts[1:]):
        if b > a:
            out += fn(items[a:b])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=400)
    ap.add_argument("--model", type=Path, help="model directory (default: the shipped model)")
    args = ap.parse_args()
    rows = [json.loads(line) for line in (ROOT / "training" / "data" / "test.jsonl").read_text("utf-8").splitlines()]
    agent = [r for r in rows if r.get("speaker") != "customer"]
    msgs = [Message(r["text"]) for r in random.Random(7).sample(agent, args.n)]
    guard = Guard.default(model_dir=args.model)
    clf = guard.classifier
    texts = [normalize(m.text).text for m in msgs]
    alone = [clf.logits([t])[0] for t in texts]
    batched = _batched(clf.logits, texts, 0)
    shifted = _batched(clf.logits, texts, 16)
    diff = max(abs(x - y) for a, b in zip(alone, batched, strict=True) for x, y in zip(a, b, strict=True))
    shift = max(abs(x - y) for a, b in zip(batched, shifted, strict=True) for x, y in zip(a, b, strict=True))
    one = [d.to_dict() for d in _batched(lambda ms: guard.check_many(ms, suggest=False), msgs, 0)]
    two = [d.to_dict() for d in _batched(lambda ms: guard.check_many(ms, suggest=False), msgs, 16)]
    cats = [({v["category"] for v in a["violations"]}, {v["category"] for v in b["violations"]}) for a, b in zip(one, two)]
    print(f"Command: `.venv/bin/python bench/bench_batch_invariance.py {' '.join(sys.argv[1:])}`; model "
          f"{clf.version}; {len(msgs)} test-split agent messages (seed 7), batches of 32.")
    print(f"- model alone, largest probability change, one message alone vs in its batch: {diff:.4f}")
    print(f"- model alone, largest probability change, batch boundaries shifted by 16: {shift:.4f}")
    print(f"- Guard, boundaries shifted by 16: decisions changed {sum(a['decision'] != b['decision'] for a, b in zip(one, two))}"
          f", category sets changed {sum(a != b for a, b in cats)}, records identical "
          f"{sum(a == b for a, b in zip(one, two))} of {len(one)}")


if __name__ == "__main__":
    main()
