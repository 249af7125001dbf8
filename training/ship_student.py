"""Export a distilled student (``training.distill``'s output) to the serving
format, with its evidence head, and measure it the way ``make train`` measures
the teacher.

    python -m training.ship_student [--student training/.work/student] [--out models/nlp_guard-zh]

The student is written only when ``training.distill`` marked it shippable (dev
macro-F1 within 0.5 points of the teacher's, dev false positives not higher),
unless ``--force`` (then it goes to ``training/.work/rejected_student``).
int8 quantization is fitted on dev to the same parity budget as the teacher's.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np

from nlp_guard.normalize import normalize

from .distill import LABELS, Encoder, build_net, labels_array
from .export import write_model_dir
from .model_card import render as render_card
from .train import ROOT, read_split

CALIBRATION_EVERY = 25


def load_student(student_dir: Path):
    """The student network in fp32 with eager attention (what the ONNX exporter traces)."""
    import torch
    from safetensors.torch import load_file

    cfg = json.loads((student_dir / "student_config.json").read_text("utf-8"))
    net = build_net({**cfg["bert"], "attn_implementation": "eager"}, len(cfg["labels"]), token_head=True)
    state: dict = {}
    for shard in cfg["shards"]:
        state.update({k: v.float() for k, v in load_file(str(student_dir / shard)).items()})
    missing, unexpected = net.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith(("position_ids", "token_type_ids"))]
    if missing or unexpected:
        raise RuntimeError(f"{student_dir}: weights do not fit: missing {missing[:5]}, unexpected {unexpected[:5]}")
    return net.eval(), cfg


def torch_probs(net, tokenizer_json: Path, texts: list[str], max_length: int) -> np.ndarray:
    import torch

    from .distill import Encoder, predict

    enc = Encoder(tokenizer_json, max_length)
    ids, _ = enc.encode(texts)
    with torch.inference_mode():
        return predict(net, ids, enc.pad, torch.device("cpu"), batch=64)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--student", type=Path, default=ROOT / "training" / ".work" / "student")
    ap.add_argument("--teacher", type=Path, default=ROOT / "models" / "nlp_guard-zh",
                    help="the model distilled from (its tokenizer is the student's)")
    ap.add_argument("--out", type=Path, default=ROOT / "models" / "nlp_guard-zh")
    ap.add_argument("--version", default="nlp_guard-zh-0.5.0")
    ap.add_argument("--force", action="store_true", help="export a student the ship rule rejected, to the rejected folder")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    run = json.loads((args.student / "metrics.json").read_text("utf-8"))
    if not run["shippable"] and not args.force:
        sys.exit(f"the student failed the ship rule (dev macro-F1 gap {run['dev_macro_f1_gap']:+.4f}, dev FPR "
                 f"{run['dev_student']['compliant_false_positive_rate']} vs teacher "
                 f"{run['dev_teacher']['compliant_false_positive_rate']}); nothing written")
    out = args.out if run["shippable"] else ROOT / "training" / ".work" / "rejected_student"
    net, cfg = load_student(args.student)
    teacher_cfg = json.loads((args.teacher / "config.json").read_text("utf-8"))
    tokenizer = ROOT / "training" / ".work" / "student_tokenizer.json"
    tokenizer.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(args.teacher / "tokenizer.json", tokenizer)  # the teacher's folder may be the one being replaced
    dev = [r for r in read_split(ROOT / "training" / "data", "dev") if r.get("speaker") != "customer"]
    test = [r for r in read_split(ROOT / "training" / "data", "test") if r.get("speaker") != "customer"]
    dev_texts = [normalize(r["text"]).text for r in dev]
    test_texts = [normalize(r["text"]).text for r in test]
    th = np.array([cfg["thresholds"][l] for l in LABELS])
    dev_p = torch_probs(net, tokenizer, dev_texts, cfg["max_length"])

    from nlp_guard.model import OnnxClassifier, load_classifier

    def dev_flip_rate(candidate: Path) -> float:
        p = np.array(OnnxClassifier(candidate.parent, threads=args.threads).logits(dev_texts))
        return float(((dev_p >= th).any(axis=1) != (p >= th).any(axis=1)).mean())

    # static int8's activation ranges: a fixed sample of train lines (every 25th agent line, in file order)
    train = [normalize(r["text"]).text for r in read_split(ROOT / "training" / "data", "train") if r.get("speaker") != "customer"]
    calibration, _ = Encoder(tokenizer, cfg["max_length"]).encode(train[::CALIBRATION_EVERY])
    write_model_dir(net, tokenizer, out, labels=LABELS, thresholds=cfg["thresholds"], version=args.version,
                    max_length=cfg["max_length"], stride=teacher_cfg.get("stride", 16), flip_rate=dev_flip_rate,
                    calibration=calibration,
                    extra={"base": teacher_cfg.get("base", "multilingual-e5-small"), "vocab_size": cfg["bert"]["vocab_size"],
                           "layers": cfg["bert"]["num_hidden_layers"], "seed": run["args"]["seed"],
                           "attention_heads": cfg["bert"]["num_attention_heads"],
                           "evidence_head": True,
                           "distilled_from": {"teacher": teacher_cfg["version"], "layer_map": cfg["layer_map"],
                                              "teacher_epochs_on_new_corpus": run["args"]["teacher_epochs"]}})
    onnx = load_classifier(out, threads=args.threads)
    torch_test = torch_probs(net, tokenizer, test_texts, cfg["max_length"])
    onnx_test = np.array(onnx.logits(test_texts))
    onnx_dev = np.array(onnx.logits(dev_texts))
    y_test, y_dev = labels_array([{"y": r["labels"]} for r in test]), labels_array([{"y": r["labels"]} for r in dev])
    obf = np.array([bool(r.get("obfuscated")) for r in test])
    from .metrics import multilabel_report

    metrics = {
        "version": args.version, "seed": run["args"]["seed"],
        "distillation": {k: run[k] for k in ("layer_map", "transfer_sentences", "transfer_by_kind", "flagged_by_teacher",
                                              "occlusion_sentences", "dev_teacher", "dev_student", "dev_macro_f1_gap",
                                              "shippable", "dev_evidence_token_f1", "timings_s", "total_s", "device",
                                              "test_teacher_torch", "hardening", "derived_from") if k in run},
        "train_examples": run["transfer_sentences"], "public_train_examples": sum(
            v for k, v in run["transfer_by_kind"].items() if k in ("public", "neutral")),
        "dev_examples": len(dev), "test_examples": len(test),
        "vocab": {"kept": cfg["bert"]["vocab_size"], "original": 250002},
        "train_seconds": run["total_s"], "thresholds": cfg["thresholds"],
        "dev": multilabel_report(y_dev, onnx_dev, th, LABELS),
        "test_torch_fp32": multilabel_report(y_test, torch_test, th, LABELS),
        "test_onnx_int8": multilabel_report(y_test, onnx_test, th, LABELS),
        "test_onnx_int8_obfuscated": multilabel_report(y_test[obf], onnx_test[obf], th, LABELS),
        "parity": {"decision_flip_rate": round(float(((torch_test >= th).any(1) != (onnx_test >= th).any(1)).mean()), 4),
                   "label_flip_rate": round(float(((torch_test >= th) != (onnx_test >= th)).any(1).mean()), 4),
                   "max_abs_prob_diff": round(float(np.abs(torch_test - onnx_test).max()), 4)},
    }
    (out / "metrics.json").write_text(json.dumps(metrics, ensure_ascii=False, indent=2) + "\n", "utf-8")
    (out / "MODEL_CARD.md").write_text(render_card(out), "utf-8")
    print(json.dumps({"out": str(out), "dev_onnx": metrics["dev"]["macro"], "parity": metrics["parity"]}, indent=2))
    if metrics["parity"]["decision_flip_rate"] > 0.01:
        sys.exit(f"parity check FAILED: {metrics['parity']['decision_flip_rate']:.2%} of test decisions flip")


if __name__ == "__main__":
    main()
