"""Recalibrate the shipped model's thresholds on dev plus the held-out calibration slices (issue 12).

    python -m training.recalibrate --version nlp_guard-zh-0.6.1 [--guard-fpr 0.025]

Dev holds 257 compliant agent lines: one line is 0.39 points of false-positive rate, too coarse to hold
the Guard's 3% on new text. ``training/data/calibration/*.jsonl`` are authored lines (mostly lawful)
that no training run reads; lines that are exact or near duplicates of any train, dev or test line are
dropped first. On dev plus those lines the thresholds are raised, as little as possible, until the
*Guard* (rules and model, as it serves: sentence views, protective context) flags at most
``--guard-fpr`` of the compliant lines; what the rules flag counts against the cap whatever the
thresholds (``training.metrics.thresholds_within_fpr`` with ``fixed``). The ship rule then holds on the
same lines, model alone: macro-F1 at most 0.5 points below the teacher's and a false-positive rate no
higher. The weights do not change; config.json, metrics.json and the model card do. The frozen test
is scored after the choice, for the record.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nlp_guard.normalize import normalize

from .build_corpus import LeakIndex
from .distill import LABELS, labels_array
from .metrics import multilabel_report, thresholds_within_fpr
from .model_card import render as render_card
from .train import ROOT, read_split

CALIBRATION = ROOT / "training" / "data" / "calibration"
RECIPIENTS = ("debtor", "guarantor", "emergency_contact", "third_party")
REQUIRED = ("id", "text", "labels", "recipient")


@dataclass(frozen=True)
class Lines:
    texts: list[str]
    recipients: list[str]
    y: np.ndarray
    sources: list[str]


def read_calibration(folder: Path = CALIBRATION) -> tuple[list[dict], dict[str, int]]:
    """The calibration slices, agent lines only, without anything near the corpus splits."""
    rows: list[dict] = []
    for path in sorted(folder.glob("*.jsonl")):
        for n, line in enumerate(path.read_text("utf-8").splitlines(), 1):
            if not line.strip():
                continue
            row = json.loads(line)
            missing = [k for k in REQUIRED if k not in row]
            if missing or set(row["labels"]) - set(LABELS):
                raise ValueError(f"{path.name}:{n}: missing {missing} or unknown labels {row.get('labels')}")
            rows.append({**row, "slice": path.stem})
    corpus = [r["text"] for split in ("train", "dev", "test") for r in read_split(ROOT / "training" / "data", split)]
    leak = LeakIndex(corpus)
    agent = [r for r in rows if r.get("speaker") != "customer"]
    kept = [r for r in agent if not leak.leaks(r["text"])]
    return kept, {"lines": len(rows), "customer_lines": len(rows) - len(agent),
                  "near_the_corpus_dropped": len(agent) - len(kept), "kept": len(kept)}


def lines(rows: list[dict], source: str) -> Lines:
    return Lines([r["text"] for r in rows], [r.get("recipient") if r.get("recipient") in RECIPIENTS else "debtor"
                                             for r in rows],
                 labels_array([{"y": r["labels"]} for r in rows]), [source] * len(rows))


def guard_view(model_dir: Path, data: Lines) -> tuple[np.ndarray, np.ndarray]:
    """Per line and category, as the Guard serves it: the model's probability (the best sentence view,
    after protective context, mapped back from the calibrated score) and whether a rule fired."""
    from nlp_guard import Guard, Message
    from nlp_guard.model import OnnxClassifier

    guard = Guard.default(model_dir=model_dir)
    th = OnnxClassifier(model_dir, threads=1).config.thresholds
    probs = np.zeros((len(data.texts), len(LABELS)))
    fixed = np.zeros(probs.shape, bool)
    for b in range(0, len(data.texts), 64):
        msgs = [Message(t, r) for t, r in zip(data.texts[b:b + 64], data.recipients[b:b + 64])]
        for i, d in enumerate(guard.check_many(msgs, suggest=False), b):
            for j, lab in enumerate(LABELS):
                s = d.scores.get(lab, 0.0)
                probs[i, j] = 2 * s * th[lab] if s < 0.5 else th[lab] + (s - 0.5) * 2 * (1 - th[lab])
            for v in d.violations:
                if v.source != "model":
                    fixed[i, LABELS.index(v.category)] = True
    return probs, fixed


def model_probs(model_dir: Path, texts: list[str]) -> np.ndarray:
    from nlp_guard.model import OnnxClassifier

    return np.array(OnnxClassifier(model_dir, threads=2).logits([normalize(t).text for t in texts]))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=ROOT / "models" / "nlp_guard-zh")
    ap.add_argument("--teacher", type=Path, default=ROOT / "training" / ".work" / "teacher")
    ap.add_argument("--student", type=Path, default=ROOT / "training" / ".work" / "hardened",
                    help="the model's torch weights, for parity on test at the new thresholds")
    ap.add_argument("--version", required=True)
    ap.add_argument("--guard-fpr", type=float, default=0.025,
                    help="cap on the Guard's false-positive rate on dev + calibration (the target is 3%%; the rest "
                         "is a margin for sampling error)")
    args = ap.parse_args(argv)
    for need, how in ((args.teacher / "model.onnx", "make teacher"), (args.student / "student_config.json", "make harden")):
        if not need.exists():
            sys.exit(f"{need} not found: build it with `{how}`")
    cal_rows, cal_counts = read_calibration()
    dev_rows = [r for r in read_split(ROOT / "training" / "data", "dev") if r.get("speaker") != "customer"]
    dev, cal = lines(dev_rows, "dev"), lines(cal_rows, "calibration")
    both = Lines(dev.texts + cal.texts, dev.recipients + cal.recipients, np.vstack([dev.y, cal.y]),
                 dev.sources + cal.sources)
    config = json.loads((args.model / "config.json").read_text("utf-8"))
    start = dict(config["thresholds"])
    g_probs, fixed = guard_view(args.model, both)
    th = thresholds_within_fpr(both.y, g_probs, LABELS, start, args.guard_fpr, fixed)

    def guard_report(t: dict[str, float], rows: slice) -> dict:
        pred = (g_probs[rows] >= np.array([t[lab] for lab in LABELS])) | fixed[rows]
        return multilabel_report(both.y[rows], pred.astype(float), np.full(len(LABELS), 0.5), LABELS)

    n_dev = len(dev.texts)
    student = model_probs(args.model, both.texts)
    teacher = model_probs(args.teacher, both.texts)
    t_cfg = json.loads((args.teacher / "config.json").read_text("utf-8"))
    arr = np.array([th[lab] for lab in LABELS])
    s_rep = multilabel_report(both.y, student, arr, LABELS)
    t_rep = multilabel_report(both.y, teacher, np.array([t_cfg["thresholds"][lab] for lab in LABELS]), LABELS)
    gap = s_rep["macro"]["f1"] - t_rep["macro"]["f1"]
    shippable = gap >= -0.005 and s_rep["compliant_false_positive_rate"] <= t_rep["compliant_false_positive_rate"]
    record = {
        "from": config["version"], "guard_fpr_cap": args.guard_fpr, "calibration_lines": cal_counts,
        "compliant_lines": {"dev": int((dev.y.sum(1) == 0).sum()), "calibration": int((cal.y.sum(1) == 0).sum())},
        "thresholds_before": start, "thresholds_after": th,
        "guard_dev_and_calibration": {"before": guard_report(start, slice(None)), "after": guard_report(th, slice(None))},
        "guard_calibration_only": {"before": guard_report(start, slice(n_dev, None)),
                                   "after": guard_report(th, slice(n_dev, None))},
        "ship_rule_dev_and_calibration": {"student": s_rep, "teacher": t_rep, "macro_f1_gap": round(gap, 4),
                                          "shippable": shippable},
    }
    summary = {k: (v["before"]["compliant_false_positive_rate"], v["after"]["compliant_false_positive_rate"],
                   v["before"]["macro"]["f1"], v["after"]["macro"]["f1"])
               for k, v in record.items() if k in ("guard_dev_and_calibration", "guard_calibration_only")}
    print(json.dumps({"thresholds": th, "guard (FPR before, after, macro-F1 before, after)": summary,
                      "ship rule": {"gap": round(gap, 4), "student_fpr": s_rep["compliant_false_positive_rate"],
                                    "teacher_fpr": t_rep["compliant_false_positive_rate"], "shippable": shippable}},
                     ensure_ascii=False, indent=1))
    if not shippable:
        sys.exit("the recalibrated thresholds fail the ship rule; nothing written")
    write(args, config, th, record)


def write(args: argparse.Namespace, config: dict, th: dict[str, float], record: dict) -> None:
    """The new thresholds and version into config.json; dev, test and parity re-scored at them."""
    from .ship_student import load_student, torch_probs

    config.update(version=args.version, thresholds=th)
    (args.model / "config.json").write_text(json.dumps(config, ensure_ascii=False, indent=2) + "\n", "utf-8")
    metrics = json.loads((args.model / "metrics.json").read_text("utf-8"))
    arr = np.array([th[lab] for lab in LABELS])
    split = {s: [r for r in read_split(ROOT / "training" / "data", s) if r.get("speaker") != "customer"]
             for s in ("dev", "test")}
    y = {s: labels_array([{"y": r["labels"]} for r in rows]) for s, rows in split.items()}
    onnx = {s: model_probs(args.model, [r["text"] for r in rows]) for s, rows in split.items()}
    net, cfg = load_student(args.student)
    torch_test = torch_probs(net, args.model / "tokenizer.json", [normalize(r["text"]).text for r in split["test"]],
                             cfg["max_length"])
    obf = np.array([bool(r.get("obfuscated")) for r in split["test"]])
    metrics.update({
        "version": args.version, "thresholds": th, "recalibration": record,
        "dev": multilabel_report(y["dev"], onnx["dev"], arr, LABELS),
        "test_torch_fp32": multilabel_report(y["test"], torch_test, arr, LABELS),
        "test_onnx_int8": multilabel_report(y["test"], onnx["test"], arr, LABELS),
        "test_onnx_int8_obfuscated": multilabel_report(y["test"][obf], onnx["test"][obf], arr, LABELS),
        "parity": {"decision_flip_rate": round(float(((torch_test >= arr).any(1) != (onnx["test"] >= arr).any(1)).mean()), 4),
                   "label_flip_rate": round(float(((torch_test >= arr) != (onnx["test"] >= arr)).any(1).mean()), 4),
                   "max_abs_prob_diff": round(float(np.abs(torch_test - onnx["test"]).max()), 4)},
    })
    (args.model / "metrics.json").write_text(json.dumps(metrics, ensure_ascii=False, indent=2) + "\n", "utf-8")
    (args.model / "MODEL_CARD.md").write_text(render_card(args.model), "utf-8")
    print(json.dumps({"test_onnx_int8": metrics["test_onnx_int8"]["macro"],
                      "test_fpr": metrics["test_onnx_int8"]["compliant_false_positive_rate"],
                      "parity": metrics["parity"]}, indent=1))


if __name__ == "__main__":
    main()
