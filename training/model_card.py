"""Render MODEL_CARD.md next to the weights from metrics.json and config.json.

    python -m training.model_card models/nlp_guard-zh
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from nlp_guard.model import STATIC_INT8  # noqa: E402
from nlp_guard.policy import CATEGORY_CODES  # noqa: E402

LABELS = list(CATEGORY_CODES)


def _table(rep: dict) -> str:
    rows = ["| category | precision | recall | F1 | support |", "|---|---|---|---|---|"]
    for lab in LABELS:
        r = rep["per_category"][lab]
        rows.append(f"| {lab} | {r['precision']:.3f} | {r['recall']:.3f} | {r['f1']:.3f} | {r['support']} |")
    m = rep["macro"]
    rows.append(f"| **macro** | {m['precision']:.3f} | {m['recall']:.3f} | **{m['f1']:.3f}** | |")
    return "\n".join(rows)


def _quantization(q: dict | None) -> str:
    if not q:
        return "dynamic int8 (per-channel weights) for every MatMul; the embedding table stays fp32"
    kept = len(q["fp32_layers"])
    scheme = q.get("int8", "dynamic, per-channel MatMul weights")
    static = (f" (activation ranges fixed on {q['calibration_texts']:,} train lines, so a message scores the same in "
              f"any batch)" if scheme.startswith(STATIC_INT8) and "calibration_texts" in q else "")
    return (f"{scheme}{static}, fitted on dev to a parity target of {q['budget']:.1%} "
            f"of decisions: all-int8 flipped {q['all_int8_dev_flip_rate']:.2%} of dev decisions against torch, so {kept} "
            f"FFN down-projection{'s' if kept != 1 else ''} (GELU inputs, outlier activations) "
            f"{'stay' if kept != 1 else 'stays'} fp32, which leaves "
            f"{q['dev_decision_flip_rate']:.2%}; the embedding table stays fp32")


def _depth(config: dict) -> str:
    layers = config.get("layers", 12)
    if "distilled_from" in config:
        return f"{layers} layers (a distilled student with an evidence head: per-token scores in the same pass)"
    return "12 layers" if layers == 12 else f"the bottom {layers} of its 12 layers"


def _training(m: dict, c: dict) -> str:
    d = m.get("distillation")
    if not d:
        return (f"`make train` (seed {m['seed']}), multi-label BCE, {m['train_examples']:,} training examples "
                f"({m['public_train_examples']:,} of them public, permissively licensed), "
                f"{m['train_seconds'] / 60:.1f} minutes on 2 CPU cores.")
    kinds = ", ".join(f"{v:,} {k}" for k, v in d["transfer_by_kind"].items())
    t, s = d["dev_teacher"], d["dev_student"]
    return (f"distilled (`make distill`, seed {m['seed']}) from teacher {c['distilled_from']['teacher']} "
            f"(12 layers, fine-tuned {c['distilled_from']['teacher_epochs_on_new_corpus']:g} more epoch on the current "
            f"train split first); student layers copied from teacher layers {d['layer_map']}; trained on the teacher's "
            f"probabilities and hidden states, the gold labels where there are any, and token-level evidence "
            f"(teacher occlusion on {d['occlusion_sentences']:,} flagged sentences plus rule spans) over "
            f"{d['transfer_sentences']:,} transfer sentences ({kinds}); {d['total_s'] / 60:.1f} minutes on "
            f"{d['device']}. Ship rule (dev): macro-F1 {s['macro']['f1']:.4f} against the teacher's "
            f"{t['macro']['f1']:.4f} (allowed: 0.5 points below), false positives {s['compliant_false_positive_rate']:.2%} "
            f"against {t['compliant_false_positive_rate']:.2%} (allowed: not higher).{_hardening(d.get('hardening'), d.get('derived_from'))} "
            f"Evidence head against {_evidence_reference(d)} on dev: token F1 {d['dev_evidence_token_f1']['f1']:.3f} "
            f"(precision {d['dev_evidence_token_f1']['precision']:.3f}, recall {d['dev_evidence_token_f1']['recall']:.3f}).")


def _evidence_reference(d: dict) -> str:
    h = d.get("hardening")
    return f"the {h['evidence_token_f1']['reference']}" if h and "after" in h["evidence_token_f1"] else "the teacher's occlusion"


def _hardening(h: dict | None, derived: dict | None = None) -> str:
    if not h:
        return ""
    b, a = h["dev_wrapped_before"], h["dev_wrapped_after"]
    return (f" Then hardened against service wrapping (`make harden`): {h['steps']:,} steps of consistency "
            f"fine-tuning ({h['dressed_lines']:,} train lines dressed in openings, sign-offs and warnings learn the "
            f"bare line's scores; {h['anchors']:,} undressed sentences keep theirs), {h['seconds']['total'] / 60:.1f} "
            f"minutes on CPU; the ship-rule figures above are the hardened model's. On dev lines dressed the same way "
            f"(training's wrapping lists), the model alone missed {b['bypass']:.1%} of the violations it caught bare "
            f"before and {a['bypass']:.1%} after, and flagged {b['false_alarm']:.1%} / {a['false_alarm']:.1%} of the "
            f"compliant lines it left bare.{' It started from ' + derived['model'] + ' read back from its int8 export.' if derived else ''}")


def _thresholds(m: dict) -> str:
    r = m.get("recalibration")
    if not r:
        return f"calibrated on dev, {m['dev_examples']:,} examples"
    g = r["guard_dev_and_calibration"]
    c = r["compliant_lines"]
    after = g["after"]["compliant_false_positive_rate"]
    reach = ("until" if after <= r["guard_fpr_cap"] else
             "towards a cap (out of reach: the lines still flagged are rule hits and confident model scores, and the "
             "raising stops where no step clears another line) for")
    return (f"calibrated on dev, {m['dev_examples']:,} examples, then raised (`python -m training.recalibrate`) {reach} "
            f"rules + model flagging at most {r['guard_fpr_cap']:.1%} of the {c['dev'] + c['calibration']:,} compliant lines "
            f"of dev and the held-out calibration slices ({r['calibration_lines']['kept']:,} authored lines no training "
            f"run reads): {g['before']['compliant_false_positive_rate']:.2%} → {after:.2%}, "
            f"macro-F1 {g['before']['macro']['f1']:.3f} → {g['after']['macro']['f1']:.3f}; from {r['from']}, same weights")


def render(model_dir: Path) -> str:
    m = json.loads((model_dir / "metrics.json").read_text("utf-8"))
    c = json.loads((model_dir / "config.json").read_text("utf-8"))
    size = (model_dir / "model.onnx").stat().st_size / 2**20
    t = m["test_onnx_int8"]
    return f"""# Model card: {c['version']}

A multi-label classifier over `{', '.join(LABELS)}` for Chinese debt-collection
messages, used by `nlp_guard.Guard` together with the policy pack's rules.

- **Base encoder:** {c.get('base', 'multilingual-e5-small')}; {_depth(c)}, hidden 384; vocabulary trimmed from
  {m['vocab']['original']:,} to {m['vocab']['kept']:,} pieces (the pieces the corpus uses plus every single CJK,
  digit, ASCII and punctuation character), all layers fine-tuned.
- **Serving format:** int8 ONNX, {size:.1f} MiB: {_quantization(c.get('quantization'))};
  tokenizer and calibrated thresholds beside it; loaded from local files only.
- **Training:** {_training(m, c)}
- **Thresholds** ({_thresholds(m)}; scores are rescaled so each lands on 0.5):
  {', '.join(f'{k} {v:.2f}' for k, v in m['thresholds'].items())}.

## Data and licences
See `training/DATA_CARD.md`. Authored corpus written for this project; public training data: COLD train
(Apache-2.0), CrossWOZ and KdConv (Apache-2.0), the debt-reminder Rasa set (Apache-2.0). **ToxiCN,
ChineseHarm-Bench, telecom_fraud_texts and multipriv_pii_zh are non-commercial and were used for evaluation
only, never for training.**

## Frozen test split ({t['examples']:,} agent utterances, int8 ONNX, model alone)
{_table(t)}

False-positive rate on compliant messages: {t['compliant_false_positive_rate']:.3f}.
Obfuscated variants: macro recall {m['test_onnx_int8_obfuscated']['macro']['recall']:.3f}.
Torch fp32 on the same split: macro-F1 {m['test_torch_fp32']['macro']['f1']:.3f}.
Parity with torch fp32 on the test split: {m['parity']['decision_flip_rate']:.2%} of decisions (violation or
none) flip; {m['parity'].get('label_flip_rate', float('nan')):.2%} of messages change at least one category
(mostly messages that stay violations and swap a second category near its threshold); the largest probability
difference is {m['parity']['max_abs_prob_diff']:.3f}. The 17 test messages over 64 tokens are read in overlapping
windows by the ONNX model and truncated by torch, which accounts for part of the difference.

The whole system (rules + model) and external benchmarks: `bench/RESULTS.md`.

## Limits
- The authored corpus is synthetic; precision on real traffic is unknown until QA feedback is imported.
- Subcategories come from rules; when only the model fires, the category's default subcategory is reported.
- Customers' words are not judged by this model: transcripts route them to signals by speaker role.
- Recipient-dependent privacy (the same reminder to an emergency contact) is the recipient rule's job; the model
  sees text only.
"""


def main() -> None:
    model_dir = Path(sys.argv[1] if len(sys.argv) > 1 else "models/nlp_guard-zh")
    (model_dir / "MODEL_CARD.md").write_text(render(model_dir), "utf-8")
    print(f"wrote {model_dir / 'MODEL_CARD.md'}")


if __name__ == "__main__":
    main()
