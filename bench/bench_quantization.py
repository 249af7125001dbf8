"""Quantisation scheme, chosen by measurement (issue 13): dynamic int8 (what ships)
against static QDQ int8 calibrated on fixed data, for the distilled student.

    .venv/bin/python bench/bench_quantization.py [--student training/.work/student]

Both are built from the same student weights (``training.distill``'s output) in this
run. Measured per scheme, on the dev split's agent lines: decisions that flip against
torch fp32 (the parity budget is 1%), batch invariance (a message scored in a batch of
32 against alone: dynamic int8 scales activations over the whole batch), and speed at
batch 32. Results go to bench/RESULTS.md.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.results_md import write_section  # noqa: E402
from nlp_guard.model import OnnxClassifier  # noqa: E402
from nlp_guard.normalize import normalize  # noqa: E402
from training.distill import LABELS  # noqa: E402
from training.export import export_onnx, quantize_int8  # noqa: E402
from training.ship_student import load_student, torch_probs  # noqa: E402


def quantize_static_int8(src: Path, dst: Path, tokenizer: Path, texts: list[str]) -> None:
    """QDQ int8 with per-channel weights and activation ranges fixed by ``texts`` (MinMax)."""
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tokenizer))
    tok.no_padding()
    tok.enable_truncation(64)

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.items = iter([{"input_ids": np.array([ids], np.int64), "attention_mask": np.ones((1, len(ids)), np.int64)}
                               for ids in (tok.encode(t).ids for t in texts)])

        def get_next(self) -> dict | None:
            return next(self.items, None)

    quantize_static(str(src), str(dst), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    weight_type=QuantType.QInt8, activation_type=QuantType.QUInt8, op_types_to_quantize=["MatMul"],
                    calibrate_method=CalibrationMethod.MinMax)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--student", type=Path, default=ROOT / "training" / ".work" / "student")
    ap.add_argument("--model", type=Path, default=ROOT / "models" / "nlp_guard-zh", help="tokenizer and config source")
    ap.add_argument("--invariance-n", type=int, default=300)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    net, cfg = load_student(args.student)
    rows = [json.loads(l) for l in (ROOT / "training" / "data" / "dev.jsonl").read_text("utf-8").splitlines()]
    dev = [normalize(r["text"]).text for r in rows if r.get("speaker") != "customer"]
    th = np.array([cfg["thresholds"][lab] for lab in LABELS])
    reference = torch_probs(net, args.model / "tokenizer.json", dev, cfg["max_length"])
    work = Path(tempfile.mkdtemp(prefix="nlp_guard_quant_"))
    export_onnx(net, work / "fp32.onnx", cfg["bert"]["vocab_size"])
    lines = []
    for scheme in ("dynamic", "static QDQ (calibrated on every third dev line)"):
        out = work / scheme.split()[0]
        out.mkdir()
        for name in ("tokenizer.json", "config.json"):
            shutil.copy(args.model / name, out / name)
        if scheme == "dynamic":
            quantize_int8(work / "fp32.onnx", out / "model.onnx")
        else:
            quantize_static_int8(work / "fp32.onnx", out / "model.onnx", args.model / "tokenizer.json", dev[::3])
        batched = OnnxClassifier(out, threads=2)
        p = np.array(batched.logits(dev))
        alone = OnnxClassifier(out, threads=2, batch_size=1)
        n = args.invariance_n
        p1 = np.array(alone.logits(dev[:n]))
        t0 = time.perf_counter()
        batched.logits(dev)
        rate = len(dev) / (time.perf_counter() - t0)
        flips = float(((reference >= th).any(1) != (p >= th).any(1)).mean())
        moved = int(((p[:n] >= th).any(1) != (p1 >= th).any(1)).sum())
        line = (f"| {scheme} | {flips:.2%} | {float(np.abs(p[:n] - p1).max()):.4f} | {moved}/{n} | {rate:.0f} |")
        print(line, flush=True)
        lines.append(line)
    shutil.rmtree(work, ignore_errors=True)
    body = "\n".join([
        f"`.venv/bin/python bench/bench_quantization.py` ({len(dev)} dev agent lines; the student's weights from "
        "`training/.work/student`, exported twice in this run). Flips: decisions (a violation or none) that differ "
        "from torch fp32. Batch invariance: the largest probability difference and the decisions that change between "
        "scoring a line in a batch of 32 and alone.", "",
        "| scheme | dev decision flips vs torch | batch vs alone: max prob diff | decisions changed | lines/s (batch 32) |",
        "|---|---:|---:|---:|---:|", *lines])
    if not args.no_write:
        write_section("Quantisation scheme (issue 13)", body)


if __name__ == "__main__":
    main()
