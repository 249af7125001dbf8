"""Distil the 12-layer teacher into a shallow student with an evidence head.

    make distill        # = python -m training.transfer && python -m training.distill && python -m training.ship_student

Seeded end to end, and free of nlp_guard's own dependencies (torch, numpy,
onnx and tokenizers only), so that it runs on whatever machine has the cores
or the GPU: ``python -m training.transfer`` prepares the normalised sentences
first. Steps:

1. **Teacher.** The shipped 12-layer model, read back from its ONNX file (int8
   weights dequantised), optionally fine-tuned further on the labelled train
   lines (``--teacher-epochs``, the new corpus slices). Its thresholds are
   calibrated on dev.
2. **Transfer set.** The seed sentences plus augmentations of the in-domain
   ones (``training.augment``) up to ``--size``.
3. **Evidence targets.** For every sentence the teacher flags (up to
   ``--occlusion-cap``), occlusion at token level: each token, and each run of
   three, is cut out and the drop of every flagged category recorded. The
   tokens that drive a category (drop ≥ a quarter of the strongest, as in
   ``nlp_guard.explain``), plus the rule spans of in-domain lines, are that
   category's targets for the token head.
4. **Student.** ``--layers`` layers copied from the teacher (evenly spaced,
   first and last included), trained on the teacher's probabilities (BCE),
   the gold labels where there are any, the teacher's hidden states at the
   mapped layers (MSE), and the token targets.
5. **Ship rule.** The student is only marked shippable if its dev macro-F1 is
   within 0.5 points of the teacher's and its dev false-positive rate is not
   higher. The test split is scored after that, for the report only.

Outputs (``--out``): the student's weights (fp16 shards), its config and
calibrated thresholds, and metrics.json; ``training.ship_student`` exports them.
"""
from __future__ import annotations

import argparse
import gzip
import json
import math
import random
import time
import unicodedata
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .augment import expand
from .metrics import best_thresholds, multilabel_report, prf

ROOT = Path(__file__).resolve().parents[1]
LABELS = ["threat", "abuse", "deception", "privacy", "coercion"]
SHIP_F1_MARGIN = 0.005
RUN = 3
SHARD_BYTES = 15 * 2**20


@dataclass
class DistillArgs:
    teacher: str = str(ROOT / "models" / "nlp_guard-zh")
    transfer_dir: str = str(ROOT / "training" / ".work" / "transfer")
    out: str = str(ROOT / "training" / ".work" / "student")
    layers: int = 6
    size: int = 220_000
    teacher_epochs: float = 1.0
    teacher_lr: float = 2e-5
    epochs: float = 3.0
    lr: float = 1.5e-4
    batch_size: int = 128
    max_length: int = 64
    hard_weight: float = 0.5
    hidden_weight: float = 1.0
    token_weight: float = 1.0
    occlusion_cap: int = 50_000
    time_budget_s: float = 0.0  # >0: fewer student steps when the first ones show the run would take longer
    seed: int = 13
    device: str = "auto"
    limit: int = 0  # debug: cap seeds and transfer size (a smoke run)

    def __post_init__(self) -> None:
        if not 1 <= self.layers <= 12:
            raise ValueError(f"layers must be between 1 and 12, got {self.layers}")
        if self.epochs <= 0 or self.teacher_epochs < 0:
            raise ValueError("epochs must be positive and teacher_epochs not negative")
        if not 16 <= self.max_length <= 512:
            raise ValueError(f"max_length must be between 16 and 512, got {self.max_length}")


def model_form(text: str) -> str:
    """What the normaliser does to the ASCII and full-width characters augmentation adds."""
    return unicodedata.normalize("NFKC", text).lower()


def layer_map(student: int, teacher: int = 12) -> list[int]:
    """Teacher layers a student copies: evenly spaced, first and last included."""
    if student == 1:
        return [teacher - 1]
    return [round(i * (teacher - 1) / (student - 1)) for i in range(student)]


def read_jsonl_gz(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [json.loads(l) for l in fh if l.strip()]


# -- the network ---------------------------------------------------------------------------------------
def build_net(config_kwargs: dict, n_labels: int, token_head: bool):
    """A BERT encoder with a sequence head (pooler → labels) and an optional token head."""
    import torch
    from transformers import BertConfig, BertModel

    class GuardNet(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.config = BertConfig(**config_kwargs)
            self.bert = BertModel(self.config)
            self.dropout = torch.nn.Dropout(self.config.hidden_dropout_prob)
            self.classifier = torch.nn.Linear(self.config.hidden_size, n_labels)
            self.token_classifier = torch.nn.Linear(self.config.hidden_size, n_labels) if token_head else None

        def forward(self, input_ids, attention_mask, hidden: bool = False):
            out = self.bert(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=hidden)
            logits = self.classifier(self.dropout(out.pooler_output))
            tokens = self.token_classifier(self.dropout(out.last_hidden_state)) if self.token_classifier is not None else None
            return logits, tokens, out.hidden_states if hidden else None

    return GuardNet()


def teacher_from_onnx(path: Path, heads: int | None = None) -> tuple[dict, dict[str, np.ndarray]]:
    """The teacher's config and weights, read back from its (partly int8) ONNX export
    (``heads`` defaults to multilingual-e5-small's head size of 32).

    Dynamic int8 MatMul weights are stored transposed ([in, out]) with one scale and
    zero point per output channel; static QDQ ones are the output of a DequantizeLinear
    node with the same layout; fp32 ones keep their MatMul node's name."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(path)).graph
    inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    inits.update({n.output[0]: inits[n.input[0]] for n in graph.node if n.op_type == "Identity" and n.input[0] in inits})
    inits.update({n.output[0]: _dequantize(n, inits) for n in graph.node  # static QDQ weights
                  if n.op_type == "DequantizeLinear" and all(i in inits for i in n.input)})
    state = {k[len("inner."):]: v for k, v in inits.items() if k.startswith("inner.") and "_Transposed" not in k}
    for node in graph.node:  # the exporter shares identical tensors (fresh zero biases), so names come from nodes
        if not node.name.startswith("/inner/"):
            continue
        module = node.name[len("/inner/"):].rsplit("/", 1)[0].replace("/", ".")
        if node.op_type == "LayerNormalization":
            state[module + ".weight"], state[module + ".bias"] = inits[node.input[1]], inits[node.input[2]]
        elif node.op_type == "Add" and module.endswith(("query", "key", "value", "dense", "classifier")):
            bias = [i for i in node.input if i in inits]
            if bias:
                state[module + ".bias"] = inits[bias[0]]
        if node.op_type not in ("MatMul", "MatMulInteger"):
            continue
        weight = node.input[1]
        if node.op_type == "MatMul":
            if weight not in inits:
                continue  # attention's activation × activation products
            w = inits[weight].astype(np.float32)
        else:
            base = weight[: -len("_quantized")]
            w = (inits[weight].astype(np.float32) - inits[base + "_zero_point"].astype(np.float32)) * inits[base + "_scale"]
        state[module + ".weight"] = np.ascontiguousarray(w.T)
    layers = 1 + max(int(k.split(".")[3]) for k in state if k.startswith("bert.encoder.layer."))
    emb = state["bert.embeddings.word_embeddings.weight"]
    config = {"vocab_size": emb.shape[0], "hidden_size": emb.shape[1], "num_hidden_layers": layers,
              "num_attention_heads": heads or emb.shape[1] // 32,
              "intermediate_size": state["bert.encoder.layer.0.intermediate.dense.weight"].shape[0],
              "max_position_embeddings": state["bert.embeddings.position_embeddings.weight"].shape[0],
              "type_vocab_size": state["bert.embeddings.token_type_embeddings.weight"].shape[0],
              "layer_norm_eps": 1e-12, "hidden_act": "gelu"}
    return config, state


def _dequantize(node, inits: dict[str, np.ndarray]) -> np.ndarray:
    """A DequantizeLinear of initializers, computed: (q − zero point) × scale along its axis."""
    q = inits[node.input[0]].astype(np.float32)
    scale = inits[node.input[1]].astype(np.float32)
    zero = inits[node.input[2]].astype(np.float32) if len(node.input) > 2 else np.zeros_like(scale)
    if scale.ndim:
        axis = next((a.i for a in node.attribute if a.name == "axis"), 1)
        shape = [1] * q.ndim
        shape[axis] = -1
        scale, zero = scale.reshape(shape), zero.reshape(shape)
    return (q - zero) * scale


def load_state(net, state: dict[str, np.ndarray]) -> None:
    import torch

    missing, unexpected = net.load_state_dict({k: torch.from_numpy(np.array(v, dtype=np.float32)) for k, v in state.items()}, strict=False)
    missing = [k for k in missing if not k.startswith("token_classifier") and not k.endswith(("position_ids", "token_type_ids"))]
    if missing or unexpected:
        raise RuntimeError(f"weights do not fit the network: missing {missing[:5]}, unexpected {unexpected[:5]}")


def student_state(teacher_state: dict[str, np.ndarray], keep: list[int]) -> dict[str, np.ndarray]:
    out = {}
    for k, v in teacher_state.items():
        if k.startswith("bert.encoder.layer."):
            parts = k.split(".")
            src = int(parts[3])
            if src not in keep:
                continue
            parts[3] = str(keep.index(src))
            out[".".join(parts)] = v
        else:
            out[k] = v
    return out


# -- batches -------------------------------------------------------------------------------------------
class Encoder:
    def __init__(self, tokenizer_json: Path, max_length: int) -> None:
        from tokenizers import Tokenizer

        self.tok = Tokenizer.from_file(str(tokenizer_json))
        self.tok.no_padding()
        self.tok.enable_truncation(max_length)
        self.pad = self.tok.token_to_id("<pad>") or 0

    def encode(self, texts: list[str]) -> tuple[list[list[int]], list[list[tuple[int, int]]]]:
        encs = self.tok.encode_batch(texts)
        return [e.ids for e in encs], [e.offsets for e in encs]


def pad_batch(seqs: list[list[int]], pad: int):
    import torch

    width = max(len(s) for s in seqs)
    ids = np.full((len(seqs), width), pad, dtype=np.int64)
    mask = np.zeros((len(seqs), width), dtype=np.int64)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = s
        mask[i, : len(s)] = 1
    return torch.from_numpy(ids), torch.from_numpy(mask)


def predict(net, ids: list[list[int]], pad: int, device, batch: int = 512, tokens: bool = False):
    """Sigmoid probabilities (and token probabilities), in input order."""
    import torch

    net.eval()
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    probs = np.zeros((len(ids), len(LABELS)), dtype=np.float32)
    tok_probs: list[np.ndarray | None] = [None] * len(ids)
    with torch.inference_mode(), _autocast(device):
        for b in range(0, len(order), batch):
            idx = order[b: b + batch]
            x, m = pad_batch([ids[i] for i in idx], pad)
            logits, tok, _ = net(x.to(device), m.to(device))
            probs[idx] = torch.sigmoid(logits.float()).cpu().numpy()
            if tokens and tok is not None:
                tp = torch.sigmoid(tok.float()).cpu().numpy()
                for r, i in enumerate(idx):
                    tok_probs[i] = tp[r, : len(ids[i])]
    return (probs, tok_probs) if tokens else probs


def _autocast(device):
    import contextlib

    import torch

    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


# -- evidence targets ----------------------------------------------------------------------------------
def occlusion_targets(net, ids: list[list[int]], probs: np.ndarray, th: np.ndarray, pad: int, device) -> list[np.ndarray]:
    """Per sentence, a [tokens, labels] 0/1 array: the tokens whose removal lowers a flagged
    category the most (single tokens first; the strongest run of three when no single token matters)."""
    variants: list[list[int]] = []
    index: list[tuple[int, str, int, int]] = []  # (sentence, kind, start, end) per variant
    for s, seq in enumerate(ids):
        body = range(1, len(seq) - 1)
        for i in body:
            variants.append(seq[:i] + seq[i + 1:])
            index.append((s, "tok", i, i + 1))
        if len(seq) - 2 > RUN + 1:
            for i in range(1, len(seq) - 1, RUN):
                j = min(i + RUN, len(seq) - 1)
                variants.append(seq[:i] + seq[j:])
                index.append((s, "run", i, j))
    vp = predict(net, variants, pad, device, batch=2048) if variants else np.zeros((0, len(LABELS)))
    tok_drop = [np.zeros((len(seq), len(LABELS)), dtype=np.float32) for seq in ids]
    run_drop: list[list[tuple[int, int, np.ndarray]]] = [[] for _ in ids]
    for (s, kind, a, b), p in zip(index, vp):
        d = probs[s] - p
        if kind == "tok":
            tok_drop[s][a] = d
        else:
            run_drop[s].append((a, b, d))
    out = []
    for s, seq in enumerate(ids):
        y = np.zeros((len(seq), len(LABELS)), dtype=np.float32)
        for c in np.nonzero(probs[s] >= th)[0]:
            d = tok_drop[s][:, c]
            best = float(d.max()) if len(d) else 0.0
            if best >= 0.05:
                y[(d > 0) & (d >= 0.25 * best), c] = 1.0
            elif run_drop[s]:
                a, b, rd = max(run_drop[s], key=lambda r: r[2][c])
                if rd[c] >= 0.05:
                    y[a:b, c] = 1.0
        out.append(y)
    return out


def rule_targets(offsets: list[tuple[int, int]], spans: list[list]) -> np.ndarray:
    y = np.zeros((len(offsets), len(LABELS)), dtype=np.float32)
    for start, end, cat in spans:
        if cat not in LABELS:
            continue
        c = LABELS.index(cat)
        for t, (a, b) in enumerate(offsets):
            if b > a and a < end and b > start:
                y[t, c] = 1.0
    return y


def token_f1(pred: list[np.ndarray], gold: list[np.ndarray]) -> dict[str, float]:
    """Micro token-level F1 of evidence tokens (both as 0/1 [tokens, labels])."""
    p = np.concatenate([x.reshape(-1) for x in pred]) if pred else np.zeros(0)
    g = np.concatenate([x.reshape(-1) for x in gold]) if gold else np.zeros(0)
    return prf(g, p)


# -- training ------------------------------------------------------------------------------------------
def _steps(n: int, batch: int, epochs: float) -> int:
    return max(1, math.ceil(epochs * n / batch))


def _optimiser(net, lr: float, total: int):
    import torch

    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=0.01)
    warm = max(1, int(0.06 * total))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm))))
    return opt, sched


def finetune_teacher(net, ids: list[list[int]], y: np.ndarray, args: DistillArgs, pad: int, device, rng: random.Random) -> None:
    import torch

    total = _steps(len(ids), 32, args.teacher_epochs)
    opt, sched = _optimiser(net, args.teacher_lr, total)
    bce = torch.nn.BCEWithLogitsLoss()
    net.train()
    order: list[int] = []
    for step in range(total):
        if len(order) < 32:
            order += rng.sample(range(len(ids)), len(ids))
        idx, order = order[:32], order[32:]
        x, m = pad_batch([ids[i] for i in idx], pad)
        with _autocast(device):
            logits, _, _ = net(x.to(device), m.to(device))
        loss = bce(logits.float(), torch.from_numpy(y[idx]).to(device))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step(), sched.step(), opt.zero_grad(set_to_none=True)
        if step % 200 == 0:
            print(f"teacher step {step}/{total} loss {loss.item():.4f}", flush=True)


def train_student(student, teacher, ids: list[list[int]], gold: np.ndarray, has_gold: np.ndarray,
                  tok_y: list[np.ndarray | None], keep: list[int], args: DistillArgs, pad: int, device,
                  rng: random.Random) -> int:
    """Returns the number of optimiser steps taken."""
    import torch
    import torch.nn.functional as F

    total = _steps(len(ids), args.batch_size, args.epochs)
    opt, sched = _optimiser(student, args.lr, total)
    pos = sum(float(t.sum()) for t in tok_y if t is not None)
    neg = sum(float(t.size) for t in tok_y if t is not None) - pos
    pos_weight = torch.tensor(min(20.0, max(1.0, neg / max(pos, 1.0)) ** 0.5), device=device)
    teacher.eval()
    student.train()
    order: list[int] = []
    t0 = time.time()
    step = 0
    while step < total:
        if step == 50 and args.time_budget_s > 0:  # the schedule is rebuilt once, so the learning rate still decays to 0
            projected = (time.time() - t0) / 50 * total
            if projected > args.time_budget_s:
                total = max(100, int(total * args.time_budget_s / projected))
                opt, sched = _optimiser(student, args.lr, total)
                print(f"time budget: {projected:.0f} s projected, cut to {total} steps", flush=True)
        if len(order) < args.batch_size:
            order += rng.sample(range(len(ids)), len(ids))
        idx, order = order[: args.batch_size], order[args.batch_size:]
        x, m = pad_batch([ids[i] for i in idx], pad)
        x, m = x.to(device), m.to(device)
        with torch.no_grad(), _autocast(device):
            t_logits, _, t_hidden = teacher(x, m, hidden=True)
        with _autocast(device):
            s_logits, s_tok, s_hidden = student(x, m, hidden=True)
        loss = F.binary_cross_entropy_with_logits(s_logits.float(), torch.sigmoid(t_logits.float()))
        hg = torch.from_numpy(has_gold[idx]).to(device)
        if hg.any():
            hard = F.binary_cross_entropy_with_logits(s_logits.float(), torch.from_numpy(gold[idx]).to(device), reduction="none")
            loss = loss + args.hard_weight * (hard.mean(dim=1) * hg).sum() / hg.sum()
        mf = m.unsqueeze(-1).float()
        hid = sum(((s_hidden[j + 1].float() - t_hidden[k + 1].float()) ** 2 * mf).sum() / (mf.sum() * s_hidden[0].shape[-1])
                  for j, k in enumerate(keep))
        loss = loss + args.hidden_weight * hid / len(keep)
        ty = torch.zeros(s_tok.shape, device=device)
        tm = torch.zeros(s_tok.shape[:2], device=device)
        for r, i in enumerate(idx):
            if tok_y[i] is not None:
                n = len(tok_y[i])
                ty[r, :n] = torch.from_numpy(tok_y[i]).to(device)
                tm[r, :n] = 1.0
        if tm.any():
            tl = F.binary_cross_entropy_with_logits(s_tok.float(), ty, reduction="none", pos_weight=pos_weight)
            loss = loss + args.token_weight * (tl.mean(-1) * tm).sum() / tm.sum()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(student.parameters(), 1.0)
        opt.step(), sched.step(), opt.zero_grad(set_to_none=True)
        if step % 250 == 0:
            print(f"student step {step}/{total} loss {loss.item():.4f} ({time.time() - t0:.0f} s)", flush=True)
        step += 1
    return step


# -- the run -------------------------------------------------------------------------------------------
def labels_array(rows: list[dict]) -> np.ndarray:
    return np.array([[1.0 if lab in (r.get("y") or []) else 0.0 for lab in LABELS] for r in rows], dtype=np.float32)


def evidence_pred(tok_probs: np.ndarray, flagged: np.ndarray) -> np.ndarray:
    y = (tok_probs >= 0.5).astype(np.float32)
    y[:, ~flagged] = 0.0
    return y


def save_fp16_shards(state: dict, out: Path) -> list[str]:
    """fp16 safetensors shards of at most SHARD_BYTES (what can travel back from a lent machine)."""
    import torch
    from safetensors.torch import save_file

    names, shard, size, k = [], {}, 0, 0
    for key, t in state.items():
        t = t.detach().to("cpu", torch.float16).contiguous()
        if shard and size + t.numel() * 2 > SHARD_BYTES:
            names.append(f"student-{k}.safetensors")
            save_file(shard, str(out / names[-1]))
            shard, size, k = {}, 0, k + 1
        shard[key] = t
        size += t.numel() * 2
    names.append(f"student-{k}.safetensors")
    save_file(shard, str(out / names[-1]))
    return names


def main(argv: list[str] | None = None) -> None:
    from transformers import HfArgumentParser

    (args,) = HfArgumentParser(DistillArgs).parse_args_into_dataclasses(args=argv)
    import torch

    t_start = time.time()
    rng = random.Random(args.seed)
    torch.manual_seed(args.seed)
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          "cpu" if args.device == "auto" else args.device)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
    timings: dict[str, float] = {}

    def lap(name: str, since: float) -> float:
        timings[name] = round(time.time() - since, 1)
        print(f"[{name}] {timings[name]} s", flush=True)
        return time.time()

    tdir = Path(args.transfer_dir)
    seeds, dev, test = (read_jsonl_gz(tdir / f"{n}.jsonl.gz") for n in ("transfer", "dev", "test"))
    if args.limit:
        seeds, dev, test = seeds[: args.limit], dev[: max(50, args.limit // 4)], test[: max(50, args.limit // 4)]
    size = min(args.size, args.limit) if args.limit else args.size
    domain = [r["t"] for r in seeds if r["k"] == "train"]
    augmented = [model_form(t) for t in expand(domain, max(0, size - len(seeds)), rng)]
    known = {r["t"] for r in seeds}
    rows = seeds + [{"t": t, "k": "augmented"} for t in dict.fromkeys(augmented) if t not in known]
    enc = Encoder(Path(args.teacher) / "tokenizer.json", args.max_length)
    ids, offsets = enc.encode([r["t"] for r in rows])
    dev_ids, dev_off = enc.encode([r["t"] for r in dev])
    test_ids, _ = enc.encode([r["t"] for r in test])
    y_dev, y_test = labels_array(dev), labels_array(test)
    print(f"transfer set: {len(rows)} sentences ({len(seeds)} seeds, {len(rows) - len(seeds)} augmented); "
          f"dev {len(dev)}; device {device}", flush=True)
    t = lap("data", t_start)

    teacher_cfg = json.loads((Path(args.teacher) / "config.json").read_text("utf-8"))
    config, tstate = teacher_from_onnx(Path(args.teacher) / "model.onnx", teacher_cfg.get("attention_heads"))
    config["attn_implementation"] = "sdpa" if device.type == "cuda" else "eager"
    teacher = build_net(config, len(LABELS), token_head=False)
    load_state(teacher, tstate)
    teacher.to(device)
    dev_before = multilabel_report(y_dev, predict(teacher, dev_ids, enc.pad, device),
                                   np.array([teacher_cfg["thresholds"][l] for l in LABELS]), LABELS)
    labelled = [i for i, r in enumerate(rows) if "y" in r]
    if args.teacher_epochs > 0:
        finetune_teacher(teacher, [ids[i] for i in labelled], labels_array([rows[i] for i in labelled]), args, enc.pad,
                         device, rng)
    t_dev = predict(teacher, dev_ids, enc.pad, device)
    t_th = best_thresholds(y_dev, t_dev, LABELS)
    t_tharr = np.array([t_th[l] for l in LABELS])
    teacher_dev = multilabel_report(y_dev, t_dev, t_tharr, LABELS)
    print("teacher dev macro", teacher_dev["macro"], "fpr", teacher_dev["compliant_false_positive_rate"], flush=True)
    t = lap("teacher", t)

    probs = predict(teacher, ids, enc.pad, device)
    flagged = [i for i in range(len(ids)) if (probs[i] >= t_tharr).any()]
    rng.shuffle(flagged)
    chosen = sorted(flagged[: args.occlusion_cap])
    occl = occlusion_targets(teacher, [ids[i] for i in chosen], probs[chosen], t_tharr, enc.pad, device)
    tok_y: list[np.ndarray | None] = [None] * len(ids)
    capped = set(flagged[args.occlusion_cap:])
    for i in range(len(ids)):  # an unflagged sentence's evidence target is "no token drives anything"
        if i not in capped:
            tok_y[i] = np.zeros((len(ids[i]), len(LABELS)), dtype=np.float32)
    for i, y in zip(chosen, occl):
        tok_y[i] = y
    for i, r in enumerate(rows):
        if r.get("r") and tok_y[i] is not None:
            tok_y[i] = np.maximum(tok_y[i], rule_targets(offsets[i], r["r"]))
    t = lap("evidence_targets", t)

    keep = layer_map(args.layers, config["num_hidden_layers"])
    sconfig = {**config, "num_hidden_layers": args.layers}
    student = build_net(sconfig, len(LABELS), token_head=True)
    load_state(student, student_state(tstate if args.teacher_epochs == 0 else
                                      {k: v.detach().cpu().float().numpy() for k, v in teacher.state_dict().items()
                                       if not k.endswith(("position_ids", "token_type_ids"))}, keep))
    student.to(device)
    gold = labels_array(rows)
    has_gold = np.array([1.0 if "y" in r else 0.0 for r in rows], dtype=np.float32)
    steps = train_student(student, teacher, ids, gold, has_gold, tok_y, keep, args, enc.pad, device, rng)
    t = lap("student", t)

    s_dev, s_dev_tok = predict(student, dev_ids, enc.pad, device, tokens=True)
    s_th = best_thresholds(y_dev, s_dev, LABELS)
    s_tharr = np.array([s_th[l] for l in LABELS])
    student_dev = multilabel_report(y_dev, s_dev, s_tharr, LABELS)
    dev_flag = [i for i in range(len(dev_ids)) if (t_dev[i] >= t_tharr).any()]
    ref = occlusion_targets(teacher, [dev_ids[i] for i in dev_flag], t_dev[dev_flag], t_tharr, enc.pad, device)
    head = [evidence_pred(s_dev_tok[i], t_dev[i] >= t_tharr) for i in dev_flag]
    span = token_f1(head, ref)
    gap = teacher_dev["macro"]["f1"] - student_dev["macro"]["f1"]
    shippable = gap <= SHIP_F1_MARGIN and student_dev["compliant_false_positive_rate"] <= teacher_dev["compliant_false_positive_rate"]
    print("student dev macro", student_dev["macro"], "fpr", student_dev["compliant_false_positive_rate"],
          f"gap {gap:+.4f} shippable={shippable}; evidence token F1 vs teacher occlusion {span}", flush=True)
    # scored once, after the ship decision above
    obf = np.array([bool(r.get("o")) for r in test])
    s_test, t_test = predict(student, test_ids, enc.pad, device), predict(teacher, test_ids, enc.pad, device)
    t = lap("evaluate", t)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    shards = save_fp16_shards(student.state_dict(), out)
    metrics = {
        "args": asdict(args), "device": str(device), "layer_map": keep, "transfer_sentences": len(rows), "student_steps": steps,
        "transfer_seeds": len(seeds), "transfer_by_kind": {k: sum(1 for r in rows if r["k"] == k) for k in
                                                              sorted({r["k"] for r in rows})},
        "flagged_by_teacher": len(flagged), "occlusion_sentences": len(chosen),
        "teacher_thresholds": t_th, "student_thresholds": s_th,
        "dev_shipped_teacher_before_finetune": dev_before, "dev_teacher": teacher_dev, "dev_student": student_dev,
        "dev_macro_f1_gap": round(gap, 4), "shippable": shippable, "dev_evidence_token_f1": span,
        "test_teacher_torch": multilabel_report(y_test, t_test, t_tharr, LABELS),
        "test_student_torch": multilabel_report(y_test, s_test, s_tharr, LABELS),
        "test_student_torch_obfuscated": multilabel_report(y_test[obf], s_test[obf], s_tharr, LABELS),
        "timings_s": timings, "total_s": round(time.time() - t_start, 1),
    }
    (out / "metrics.json").write_text(json.dumps(metrics, ensure_ascii=False, indent=2) + "\n", "utf-8")
    (out / "student_config.json").write_text(json.dumps(
        {"bert": {k: v for k, v in sconfig.items() if k != "attn_implementation"}, "labels": LABELS,
         "thresholds": s_th, "layer_map": keep, "shards": shards, "max_length": args.max_length}, indent=2) + "\n", "utf-8")
    print(json.dumps({k: metrics[k] for k in ("dev_macro_f1_gap", "shippable", "dev_evidence_token_f1", "timings_s")}))
    print("test student (torch):", metrics["test_student_torch"]["macro"], "fpr",
          metrics["test_student_torch"]["compliant_false_positive_rate"])


if __name__ == "__main__":
    main()
