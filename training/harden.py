"""Harden a distilled student against service wrapping: a violation between a polite
opening and a sign-off, glued to an anti-fraud warning, or with a warning on the next
line must score as the bare violation does.

    python -m training.harden [--student training/.work/student] [--out training/.work/hardened]
    python -m training.ship_student --student training/.work/hardened --version nlp_guard-zh-0.6.0

Why: the student learnt from a corpus where service phrases (如有疑问请拨打…, 谢谢配合…,
谨防诈骗) only ever appear in compliant messages, so it reads them as proof of compliance:
``你丫的钱还不还`` scores 0.99 abuse, ``你丫的钱还不还谢谢配合，祝您生活愉快！`` 0.24. The
sentence views in ``nlp_guard.sentences`` take away the wrapping that has its own full
stop; this takes away the rest, in the model.

How (CPU, minutes): consistency self-distillation. The student it starts from is frozen as
the reference. Every labelled in-domain train line is dressed once with
``training.augment.wrap`` (training-only wrapping lists, disjoint from the adversarial
bench's), and the student learns to give the dressed line the reference's probabilities
for the *bare* line, plus its gold labels. An equal number of undressed transfer
sentences keep their own reference probabilities and evidence-head outputs, so nothing
else moves. The word embeddings stay frozen (they are most of the weights and the
wrapping adds no new words).

The ship rule is distillation's: dev macro-F1 within 0.5 points of the teacher's (the
figures recorded by the ``training.distill`` run) and a dev false-positive rate not higher.
The thresholds are calibrated under that cap: the best-F1 plateau points
(``training.metrics.best_thresholds``), raised where needed until the dev false-positive
rate is the teacher's or lower (``thresholds_within_fpr``). Both earlier runs, calibrated
for F1 alone, flagged 7 and 8 of 257 compliant dev lines against the teacher's 5 and failed.
The evidence head is checked against occlusion of the 12-layer teacher that
``make teacher`` restores, for the student before and after, in the same run.
"""
from __future__ import annotations

import copy
import json
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from nlp_guard.normalize import normalize

from .augment import wrap
from .distill import (LABELS, SHIP_F1_MARGIN, Encoder, _optimiser, _steps, build_net, evidence_pred, labels_array,
                      load_state, occlusion_targets, pad_batch, predict, read_jsonl_gz, save_fp16_shards,
                      teacher_from_onnx, token_f1)
from .metrics import best_thresholds, multilabel_report, thresholds_within_fpr
from .ship_student import load_student

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "training" / ".work"


@dataclass
class HardenArgs:
    student: str = str(WORK / "student")
    transfer_dir: str = str(WORK / "transfer")
    tokenizer: str = str(ROOT / "models" / "nlp_guard-zh" / "tokenizer.json")
    teacher: str = str(WORK / "teacher")  # the evidence reference only; skipped when absent
    out: str = str(WORK / "hardened")
    anchors: int = 0  # undressed sentences kept in place; 0 = as many as dressed ones
    epochs: float = 1.0
    lr: float = 3e-5
    batch_size: int = 32
    hard_weight: float = 0.0  # gold labels beside the consistency target; 0.6.0 shipped from 0 (0.5 raised dev FPR more)
    token_weight: float = 1.0
    seed: int = 17
    threads: int = 2
    limit: int = 0  # debug: cap the dressed lines (a smoke run)

    def __post_init__(self) -> None:
        if self.epochs <= 0 or self.lr <= 0 or self.batch_size < 1:
            raise ValueError("epochs, lr and batch_size must be positive")


def _in_repo(path: str) -> str:
    """A path as the record keeps it: relative to the repository when inside it (no machine paths in models/)."""
    p = Path(path)
    return str(p.relative_to(ROOT)) if p.is_absolute() and p.is_relative_to(ROOT) else path


def dressed_rate(probs_bare: np.ndarray, probs_dressed: np.ndarray, th: np.ndarray, violating: np.ndarray) -> dict:
    """Of the violating lines the model flags bare, the share it misses dressed (a model-level
    bypass); of the compliant lines it leaves bare, the share it flags dressed."""
    bare, dressed = (probs_bare >= th).any(1), (probs_dressed >= th).any(1)
    caught, left = violating & bare, ~violating & ~bare
    return {"bypass": round(float((caught & ~dressed).sum() / max(caught.sum(), 1)), 4), "caught_bare": int(caught.sum()),
            "false_alarm": round(float((left & dressed).sum() / max(left.sum(), 1)), 4), "allowed_bare": int(left.sum())}


def train(net, ref_soft: np.ndarray, gold: np.ndarray, has_gold: np.ndarray, ids: list[list[int]],
          ref_tok: list[np.ndarray | None], args: HardenArgs, pad: int, rng: random.Random) -> int:
    import torch
    import torch.nn.functional as F

    net.bert.embeddings.word_embeddings.weight.requires_grad_(False)
    total = _steps(len(ids), args.batch_size, args.epochs)
    opt, sched = _optimiser(net, args.lr, total)
    net.train()
    order = rng.sample(range(len(ids)), len(ids))
    t0 = time.time()
    for step in range(total):
        if len(order) < args.batch_size:
            order += rng.sample(range(len(ids)), len(ids))
        idx, order = order[: args.batch_size], order[args.batch_size:]
        x, m = pad_batch([ids[i] for i in idx], pad)
        logits, tok, _ = net(x, m)
        loss = F.binary_cross_entropy_with_logits(logits, torch.from_numpy(ref_soft[idx]))
        hg = torch.from_numpy(has_gold[idx])
        if hg.any():
            hard = F.binary_cross_entropy_with_logits(logits, torch.from_numpy(gold[idx]), reduction="none").mean(1)
            loss = loss + args.hard_weight * (hard * hg).sum() / hg.sum()
        ty, tm = torch.zeros(tok.shape), torch.zeros(tok.shape[:2])
        for r, i in enumerate(idx):
            if ref_tok[i] is not None:
                ty[r, : len(ref_tok[i])] = torch.from_numpy(ref_tok[i])
                tm[r, : len(ref_tok[i])] = 1.0
        if tm.any():
            tl = F.binary_cross_entropy_with_logits(tok, ty, reduction="none").mean(-1)
            loss = loss + args.token_weight * (tl * tm).sum() / tm.sum()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step(), sched.step(), opt.zero_grad(set_to_none=True)
        if step % 100 == 0:
            print(f"harden step {step}/{total} loss {loss.item():.4f} ({time.time() - t0:.0f} s)", flush=True)
    net.eval()
    return total


def evidence_check(teacher_dir: Path, students: dict, dev_ids: list[list[int]], pad: int) -> dict:
    """Each student's evidence head against the teacher's occlusion on the dev lines the teacher flags."""
    import torch

    cfg = json.loads((teacher_dir / "config.json").read_text("utf-8"))
    config, state = teacher_from_onnx(teacher_dir / "model.onnx", cfg.get("attention_heads"))
    teacher = build_net({**config, "attn_implementation": "eager"}, len(LABELS), token_head=False)
    load_state(teacher, state)
    cpu = torch.device("cpu")
    th = np.array([cfg["thresholds"][lab] for lab in LABELS])
    t_dev = predict(teacher, dev_ids, pad, cpu)
    flagged = [i for i in range(len(dev_ids)) if (t_dev[i] >= th).any()]
    ref = occlusion_targets(teacher, [dev_ids[i] for i in flagged], t_dev[flagged], th, pad, cpu)
    out: dict = {"reference": f"occlusion of {cfg['version']} (int8 weights read back), {len(flagged)} dev lines it flags"}
    for name, net in students.items():
        _, tok = predict(net, dev_ids, pad, cpu, tokens=True)
        out[name] = token_f1([evidence_pred(tok[i], t_dev[i] >= th) for i in flagged], ref)
    return out


def main(argv: list[str] | None = None) -> None:
    from transformers import HfArgumentParser

    (args,) = HfArgumentParser(HardenArgs).parse_args_into_dataclasses(args=argv)
    import torch

    t_start = time.time()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    source_dir = Path(args.student)
    run = json.loads((source_dir / "metrics.json").read_text("utf-8"))
    net, cfg = load_student(source_dir)
    ref = copy.deepcopy(net).eval()
    enc = Encoder(Path(args.tokenizer), cfg["max_length"])

    tdir = Path(args.transfer_dir)
    rows, dev, test = (read_jsonl_gz(tdir / f"{n}.jsonl.gz") for n in ("transfer", "dev", "test"))
    bare = [r for r in rows if r["k"] == "train" and "y" in r]
    rng.shuffle(bare)
    bare = bare[: args.limit] if args.limit else bare
    dressed = [normalize(wrap(r["t"], rng)).text for r in bare]
    anchors = rng.sample(rows, min(len(rows), args.anchors or len(bare)))
    bare_ids, _ = enc.encode([r["t"] for r in bare])
    dressed_ids, _ = enc.encode(dressed)
    anchor_ids, _ = enc.encode([r["t"] for r in anchors])
    cpu = torch.device("cpu")
    ref_bare = predict(ref, bare_ids, enc.pad, cpu)
    ref_anchor, ref_anchor_tok = predict(ref, anchor_ids, enc.pad, cpu, tokens=True)
    ids = dressed_ids + anchor_ids
    soft = np.concatenate([ref_bare, ref_anchor]).astype(np.float32)
    gold = np.concatenate([labels_array(bare), labels_array(anchors)])
    has_gold = np.array([1.0] * len(bare) + [1.0 if "y" in r else 0.0 for r in anchors], dtype=np.float32)
    ref_tok: list[np.ndarray | None] = [None] * len(dressed_ids) + list(ref_anchor_tok)
    print(f"{len(dressed_ids)} dressed train lines, {len(anchor_ids)} undressed anchors", flush=True)
    t_data = time.time() - t_start
    steps = train(net, soft, gold, has_gold, ids, ref_tok, args, enc.pad, rng)
    t_train = time.time() - t_start - t_data

    dev_ids, _ = enc.encode([r["t"] for r in dev])
    drng = random.Random(args.seed + 1)
    dev_dressed_ids, _ = enc.encode([normalize(wrap(r["t"], drng)).text for r in dev])
    y_dev = labels_array(dev)
    violating = y_dev.any(1)
    before_th = np.array([cfg["thresholds"][lab] for lab in LABELS])
    ref_dev = predict(ref, dev_ids, enc.pad, cpu)
    before = {"dev": multilabel_report(y_dev, ref_dev, before_th, LABELS),
              "dev_wrapped": dressed_rate(ref_dev, predict(ref, dev_dressed_ids, enc.pad, cpu), before_th, violating)}
    s_dev = predict(net, dev_ids, enc.pad, cpu)
    teacher_dev = run["dev_teacher"]
    best_f1_th = best_thresholds(y_dev, s_dev, LABELS)
    th = thresholds_within_fpr(y_dev, s_dev, LABELS, best_f1_th, teacher_dev["compliant_false_positive_rate"])
    tharr = np.array([th[lab] for lab in LABELS])
    student_dev = multilabel_report(y_dev, s_dev, tharr, LABELS)
    after_wrapped = dressed_rate(s_dev, predict(net, dev_dressed_ids, enc.pad, cpu), tharr, violating)
    gap = teacher_dev["macro"]["f1"] - student_dev["macro"]["f1"]
    shippable = gap <= SHIP_F1_MARGIN and student_dev["compliant_false_positive_rate"] <= teacher_dev["compliant_false_positive_rate"]
    print("hardened dev", student_dev["macro"], "fpr", student_dev["compliant_false_positive_rate"],
          f"gap {gap:+.4f} shippable={shippable}; wrapped dev before {before['dev_wrapped']} after {after_wrapped}", flush=True)
    # scored once, after the ship decision above
    test_ids, _ = enc.encode([r["t"] for r in test])
    test_report = multilabel_report(labels_array(test), predict(net, test_ids, enc.pad, cpu), tharr, LABELS)
    evidence = (evidence_check(Path(args.teacher), {"before": ref, "after": net}, dev_ids, enc.pad)
                if (Path(args.teacher) / "model.onnx").is_file() else {"reference": "none: no teacher at " + args.teacher})
    print("evidence head vs teacher occlusion (dev):", evidence, flush=True)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    shards = save_fp16_shards(net.state_dict(), out)
    (out / "student_config.json").write_text(json.dumps({**cfg, "thresholds": th, "shards": shards}, indent=2) + "\n", "utf-8")
    metrics = {**run, "student_thresholds": th, "student_thresholds_best_f1": best_f1_th, "dev_student": student_dev, "dev_macro_f1_gap": round(gap, 4),
               "shippable": shippable, "test_student_torch": test_report,
               "dev_evidence_token_f1": evidence.get("after", run["dev_evidence_token_f1"]),
               "hardening": {"args": {k: _in_repo(v) if isinstance(v, str) else v for k, v in asdict(args).items()},
                             "from": _in_repo(str(source_dir)),
                             "dressed_lines": len(dressed_ids), "anchors": len(anchor_ids), "steps": steps,
                             "dev_before": before["dev"], "dev_wrapped_before": before["dev_wrapped"],
                             "dev_wrapped_after": after_wrapped, "evidence_token_f1": evidence,
                             "seconds": {"data": round(t_data, 1), "train": round(t_train, 1),
                                         "total": round(time.time() - t_start, 1)}}}
    (out / "metrics.json").write_text(json.dumps(metrics, ensure_ascii=False, indent=2) + "\n", "utf-8")
    print(json.dumps({k: metrics[k] for k in ("dev_macro_f1_gap", "shippable")} | {"test": test_report["macro"]}))


if __name__ == "__main__":
    main()
