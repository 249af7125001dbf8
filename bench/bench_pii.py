"""Names and ID numbers: the NER pipeline and the v2 recognizers against v1, in one run.

    .venv/bin/python bench/bench_pii.py [--rules-only] [--no-write]

- Weibo NER test split (named mentions, exact spans): the NER pipeline's PER / ORG / LOC F1, and the
  v1 anchored person patterns on PER as the baseline.
- multipriv_pii_zh paragraphs (eval only, CC BY-NC-SA): recall of the record's person name and of its
  ID number (as id_card, validated or not), v2 (default registry) against v1.
- The compliant lines of the frozen TEST split (labels == []): how many Guard decisions change when the
  NER is switched on, and Guard throughput with the NER against without it (batches of 32), with the
  NER's matrix products in numpy (shipped) and, as a baseline, in thinc's blis.
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

from thinc.api import NumpyOps  # noqa: E402

from bench.results_md import write_section  # noqa: E402
from nlp_guard import Guard, Message  # noqa: E402
from nlp_guard.normalize import normalize  # noqa: E402
from nlp_guard.pii import analyze, registry  # noqa: E402
from nlp_guard.pii import ner  # noqa: E402
from nlp_guard.recipient import RECIPIENTS  # noqa: E402
from training.ner_data import SHARED, read_weibo  # noqa: E402
from training.train_ner import span_scores  # noqa: E402

MULTIPRIV = SHARED / "multipriv_pii_zh" / "data_person_1000_zh.json"
TEST = ROOT / "training" / "data" / "test.jsonl"


def weibo(model: ner.NerModel) -> dict:
    gold = read_weibo("test")
    pred = [[(e.start, e.end, e.label) for e in model.entities(g.text)] for g in gold]
    v1 = registry.get("nlp_guard.pii.person.v1")
    base = [[(f.start, f.end, "PER") for f in v1.analyze(g.text)] for g in gold]
    return {"ner": span_scores(gold, pred), "v1_person": span_scores(gold, base)["PER"]}


def multipriv() -> dict:
    rows = json.loads(MULTIPRIV.read_text("utf-8"))
    out = {"paragraphs": len(rows)}
    for version in ("v1", "v2"):
        person = registry.get(f"nlp_guard.pii.person.{version}")
        id_card = registry.get(f"nlp_guard.pii.id_card.{version}")
        names = found_names = ids = found_ids = 0
        for r in rows:
            text = normalize(r["naturalParagraph"]).text
            found = analyze(text) if version == "v2" else [*person.analyze(text), *id_card.analyze(text)]
            spans = {(f.label, f.start, f.end) for f in found}
            at = text.find(r["name"])
            if at >= 0:
                names += 1
                found_names += ("person", at, at + len(r["name"])) in spans
            number = str(r["idCardNumbers"])
            at = text.find(number)
            if at >= 0:
                ids += 1
                found_ids += ("id_card", at, at + len(number)) in spans
        out[version] = {"names": names, "person_recall": round(found_names / names, 4),
                        "ids": ids, "id_recall": round(found_ids / ids, 4)}
    return out


def compliant_lines() -> list[Message]:
    rows = [json.loads(line) for line in TEST.read_text("utf-8").splitlines() if line.strip()]
    # company_staff (the debtor's colleagues) are third parties to the Guard.
    return [Message(r["text"], r["recipient"] if r["recipient"] in RECIPIENTS else "third_party")
            for r in rows if r["labels"] == [] and r.get("speaker", "agent") == "agent"]


def decisions(guard: Guard, msgs: list[Message]) -> list[str]:
    return [d.decision for b in range(0, len(msgs), 32) for d in guard.check_many(msgs[b:b + 32], suggest=False)]


def throughput(guard: Guard, msgs: list[Message]) -> float:
    guard.check_many(msgs[:32], suggest=False)
    t0 = time.perf_counter()
    for b in range(0, len(msgs), 32):
        guard.check_many(msgs[b:b + 32], suggest=False)
    return len(msgs) / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rules-only", action="store_true", help="Guard without the classifier")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    model = ner.get_ner()
    if model is None:
        sys.exit(f"bench_pii needs the NER pipeline: {ner.ner_status()}")
    wb = weibo(model)
    mp = multipriv()
    guard = Guard.default(rules_only=args.rules_only)
    msgs = compliant_lines()
    ner.set_enabled(False)
    off = decisions(guard, msgs)
    ner.set_enabled(True)
    on = decisions(guard, msgs)
    changed = [(m.text, a, b) for m, a, b in zip(msgs, off, on, strict=True) if a != b]
    # The NER caches per text: the cache is cleared before each timed run with it. Other processes share
    # the cores, so runs alternate (without, with) and the median of the per-round ratios is reported.
    # A third run per round multiplies with thinc's blis, as the NER did before `use_numpy_products`.
    shipped_ops = model.nlp.get_pipe("ner").model.ops
    rounds: list[tuple[float, float, float]] = []
    for _ in range(3):
        row = []
        for enabled, ops in ((False, shipped_ops), (True, shipped_ops), (True, NumpyOps())):
            ner.set_enabled(enabled)
            ner.set_ops(model.nlp, ops)
            model.clear()
            row.append(throughput(guard, msgs))
        rounds.append((row[0], row[1], row[2]))
    ner.set_enabled(True)
    ner.set_ops(model.nlp, shipped_ops)
    ratios = sorted(on / off for off, on, _ in rounds)
    blis_ratios = sorted(blis / off for off, _, blis in rounds)
    speed = [statistics.median(r[i] for r in rounds) for i in range(3)]
    report = {"ner": model.version, "weibo_test": wb, "multipriv": mp, "compliant_test_lines": len(msgs),
              "decisions_changed": len(changed), "changed_examples": changed[:5],
              "guard_msgs_per_s": {"without_ner": round(speed[0], 1), "with_ner": round(speed[1], 1),
                                   "ratio": round(ratios[1], 3), "round_ratios": [round(r, 3) for r in ratios],
                                   "with_ner_blis": round(speed[2], 1), "blis_ratio": round(blis_ratios[1], 3)},
              "guard": "rules only" if args.rules_only else f"model {guard.model_version}"}
    print(json.dumps(report, ensure_ascii=False, indent=1))
    if not args.no_write:
        write_section("PII: names and ID numbers", _markdown(report, " ".join(sys.argv[1:])))


def _markdown(r: dict, argv: str) -> str:
    w, mp, g = r["weibo_test"], r["multipriv"], r["guard_msgs_per_s"]
    ner_rows = "\n".join(f"| {k} | {v['precision']:.3f} | {v['recall']:.3f} | {v['f1']:.3f} | {v['support']} |"
                         for k, v in w["ner"].items())
    changed = "".join(f"\n  - {a} → {b}: {t}" for t, a, b in r["changed_examples"])
    return f"""Command: `.venv/bin/python bench/bench_pii.py{(' ' + argv) if argv else ''}` (NER {r['ner']}, Guard with {r['guard']}).

Weibo NER test split, named mentions, exact spans (targets: PER F1 ≥ 0.75):

| label | precision | recall | F1 | support |
|---|---|---|---|---|
{ner_rows}

Baseline in the same run, v1 anchored person patterns on PER: precision {w['v1_person']['precision']:.3f},
recall {w['v1_person']['recall']:.3f}, F1 {w['v1_person']['f1']:.3f}.

multipriv_pii_zh paragraphs ({mp['paragraphs']}; evaluation only), exact spans, v2 (default) against v1:

| | v1 | v2 | target |
|---|---|---|---|
| person recall (record name, first mention; {mp['v2']['names']} paragraphs) | {mp['v1']['person_recall']:.3f} | {mp['v2']['person_recall']:.3f} | ≥ 0.95 |
| ID-number recall as id_card, validated or not ({mp['v2']['ids']}) | {mp['v1']['id_recall']:.3f} | {mp['v2']['id_recall']:.3f} | ≥ 0.98 |

Frozen TEST split, {r['compliant_test_lines']} compliant agent lines (labels == []): {r['decisions_changed']} Guard
decisions change when the NER is switched on (company_staff lines are checked as third_party).{changed}

Guard throughput on those lines (batches of 32; three rounds, each timing without then with the NER, its
cache cleared; medians): {g['without_ner']} messages/s without the NER, {g['with_ner']} with it. Median of the
per-round ratios **{g['ratio']:.2f}×** (rounds: {', '.join(f"{x:.2f}" for x in g['round_ratios'])}; target ≥ 0.85×). Rounds
alternate so that a slow stretch of the machine falls on both sides of a ratio. Baseline in the same rounds, the NER
multiplying with thinc's blis (as before `nlp_guard.pii.ner.use_numpy_products`): {g['with_ner_blis']} messages/s,
{g['blis_ratio']:.2f}× of without the NER.
"""


if __name__ == "__main__":
    main()
