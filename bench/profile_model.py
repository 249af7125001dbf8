"""Where the shipped model's own time goes: ONNX Runtime kernel time per encoder layer and outside them.

    .venv/bin/python bench/profile_model.py [--model-dir DIR] [--n 128] [--rounds 20]

Issue 13 asks a student for 2.5x the 12-layer teacher's messages/s. How far depth alone can take a
student depends on how much of a forward pass is not in the encoder layers (embeddings, pooling,
heads, quantize/dequantize at the edges): with a share ``f`` outside and the rest spread over
``L`` equal layers, keeping ``k`` of them gives at most ``1 / (f + (1 - f) * k / L)``. This profiles
the model on the speed bench's kind of traffic (short compliant agent lines of the test split,
batches of 32, one intra-op thread so that kernel times add up) with ONNX Runtime's own profiler,
and sums kernel time by the layer index in each node's name. Also prints ``predict`` (tokenise,
pad, run, sigmoid) against ``session.run`` alone, per message. Writes nothing to RESULTS.md.
"""
from __future__ import annotations

import argparse
import collections
import json
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402

from nlp_guard.model import DISABLED_OPTIMIZERS, find_model_dir, load_classifier  # noqa: E402
from nlp_guard.normalize import normalize  # noqa: E402

_LAYER = re.compile(r"layers?[._/](\d+)")


def short_compliant(n: int) -> list[str]:
    """The first ``n`` compliant agent lines of the test split of at most 30 characters, normalised."""
    out = []
    for line in (ROOT / "training" / "data" / "test.jsonl").read_text("utf-8").splitlines():
        r = json.loads(line)
        for t in r.get("turns", [r]):
            if t.get("speaker", "agent") == "agent" and not t.get("labels") and len(t["text"]) <= 30:
                out.append(normalize(t["text"]).text)
    return out[:n]


def per_message_ms(fn: Any, count: int, seconds: float = 5.0) -> float:
    fn()
    t0, n = time.perf_counter(), 0
    while time.perf_counter() - t0 < seconds:
        fn()
        n += count
    return (time.perf_counter() - t0) * 1000 / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model-dir", default=None)
    ap.add_argument("--n", type=int, default=128)
    ap.add_argument("--rounds", type=int, default=20)
    args = ap.parse_args()
    model_dir = find_model_dir(args.model_dir)
    texts = short_compliant(args.n)
    clf = load_classifier(model_dir, threads=1)
    encs = sorted(clf.tokenizer.encode_batch(texts), key=lambda e: len(e.ids))  # as predict batches them
    feeds = []
    for b in range(0, len(encs), 32):
        chunk = encs[b:b + 32]
        width = max(len(e.ids) for e in chunk)
        ids = np.full((len(chunk), width), clf.pad_id, dtype=np.int64)
        for i, e in enumerate(chunk):
            ids[i, :len(e.ids)] = e.ids
        feed = {"input_ids": ids, "attention_mask": (ids != clf.pad_id).astype(np.int64)}
        if "token_type_ids" in clf._inputs:
            feed["token_type_ids"] = np.zeros_like(ids)
        feeds.append(feed)

    predict = per_message_ms(lambda: clf.predict(texts), len(texts))
    run = per_message_ms(lambda: [clf.session.run(None, f) for f in feeds], len(texts))

    with tempfile.TemporaryDirectory() as tmp:
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.enable_profiling = True
        opts.profile_file_prefix = str(Path(tmp) / "ort")
        session = ort.InferenceSession(str(model_dir / "model.onnx"), opts, providers=["CPUExecutionProvider"],
                                       disabled_optimizers=DISABLED_OPTIMIZERS)
        for _ in range(args.rounds):
            for f in feeds:
                session.run(None, f)
        events = json.loads(Path(session.end_profiling()).read_text("utf-8"))
    by: collections.Counter[str] = collections.Counter()
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            m = _LAYER.search(e["name"])
            by[f"layer {int(m.group(1))}" if m else "outside the layers"] += e["dur"]
    total = sum(by.values())
    layers = [k for k in by if k.startswith("layer ")]
    print(f"model {clf.version} ({len(layers)} layers), {len(texts)} short compliant test lines, "
          f"{np.mean([len(e.ids) for e in encs]):.1f} tokens on average, batches of 32, 1 thread")
    print(f"predict: {predict:.3f} ms/message; session.run alone: {run:.3f} ms/message")
    print("| part | share of kernel time |\n|---|---:|")
    for k in sorted(by, key=lambda k: (not k.startswith("layer"), int(k.split()[1]) if k.startswith("layer") else 0)):
        print(f"| {k} | {100 * by[k] / total:.1f}% |")
    outside = by["outside the layers"] / total
    print(f"Outside the layers: {100 * outside:.1f}%. Keeping k of these {len(layers)} layers (equal cost) gives at "
          f"most: " + ", ".join(f"k={k}: {1 / (outside + (1 - outside) * k / len(layers)):.2f}x"
                               for k in range(len(layers) - 1, 0, -1)))


if __name__ == "__main__":
    main()
