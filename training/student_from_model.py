"""Read the shipped student back from its export into a training folder, to fine-tune it further.

    python -m training.student_from_model [--model models/nlp_guard-zh] [--out training/.work/student]
    make student    # 0.5.0, the student 0.6.0 was hardened from, restored from git history first

Why: ``training.harden`` starts from the fp16 weights ``training.distill`` writes, and those live
in ``training/.work`` (a lent GPU machine made 0.5.0's; they are not in git). Without them the only
copy of the student is its int8 ONNX export. Its weights are read back dequantized (per-channel
scale × (int8 − zero point), ``training.distill.teacher_from_onnx``): the network that results
scores as the served model does, not as the fp16 original did, and a fine-tune starts from there.
The distillation run's record (teacher's dev figures, transfer counts, seed) comes from the
export's ``metrics.json``; ``derived_from`` in the written one says where the weights came from.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from .distill import LABELS, build_net, load_state, save_fp16_shards, teacher_from_onnx

ROOT = Path(__file__).resolve().parents[1]


def read_back(model_dir: Path, out: Path) -> dict:
    """Write ``student_config.json``, fp16 shards and ``metrics.json`` for the exported student."""
    config = json.loads((model_dir / "config.json").read_text("utf-8"))
    shipped = json.loads((model_dir / "metrics.json").read_text("utf-8"))
    if "distillation" not in shipped or not config.get("evidence_head"):
        raise SystemExit(f"{model_dir} holds no distilled student with an evidence head (config.json, metrics.json)")
    if list(config["labels"]) != LABELS:
        raise SystemExit(f"{model_dir} labels {config['labels']} are not {LABELS}")
    bert, state = teacher_from_onnx(model_dir / "model.onnx", heads=config["attention_heads"])
    net = build_net(bert, len(LABELS), token_head=True)
    load_state(net, state)  # raises when a weight is missing or left over
    if "token_classifier.weight" not in state:
        raise SystemExit(f"{model_dir / 'model.onnx'}: the evidence head's weights were not found")
    out.mkdir(parents=True, exist_ok=True)
    shards = save_fp16_shards(net.state_dict(), out)
    (out / "student_config.json").write_text(json.dumps(
        {"bert": bert, "labels": LABELS, "thresholds": config["thresholds"], "layer_map": config["distilled_from"]["layer_map"],
         "shards": shards, "max_length": config["max_length"]}, indent=2) + "\n", "utf-8")
    run = {**shipped["distillation"],
           "args": {"seed": shipped["seed"], "teacher_epochs": config["distilled_from"]["teacher_epochs_on_new_corpus"]},
           "derived_from": {"model": config["version"], "weights": "int8 ONNX export, dequantized"}}
    (out / "metrics.json").write_text(json.dumps(run, ensure_ascii=False, indent=2) + "\n", "utf-8")
    return {"version": config["version"], "layers": bert["num_hidden_layers"], "out": str(out),
            "weights": int(sum(np.prod(v.shape) for v in state.values()))}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=ROOT / "models" / "nlp_guard-zh")
    ap.add_argument("--out", type=Path, default=ROOT / "training" / ".work" / "student")
    args = ap.parse_args(argv)
    print(json.dumps(read_back(args.model, args.out)))


if __name__ == "__main__":
    main()
