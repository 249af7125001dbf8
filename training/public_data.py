"""Permissively licensed public data used as extra TRAINING examples.

Read from ../shared/data at training time, never copied into the repository.
Only Apache-2.0 / MIT sets are used for training; the non-commercial sets are
read by bench/eval_model.py for evaluation only.
"""
from __future__ import annotations

import csv
import json
import os
import random
from pathlib import Path

SHARED = Path(os.environ.get("NLP_GUARD_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
# agent templates that tell a third party about the loan are NOT compliant (see the set's SOURCE.md)
_DISCLOSING_TEMPLATES = ("byff", "byother")


def _ex(text: str, labels: list[str], source: str) -> dict:
    return {"text": text.strip(), "labels": labels, "source": source, "obfuscated": False}


def crosswoz(n: int, rng: random.Random) -> list[dict]:
    rows = [json.loads(l)["text"] for l in (SHARED / "crosswoz_utterances" / "crosswoz_val_test_utterances.jsonl").open(encoding="utf-8")]
    return [_ex(t, [], "crosswoz (Apache-2.0)") for t in rng.sample(rows, min(n, len(rows)))]


def kdconv(n: int, rng: random.Random) -> list[dict]:
    texts: list[str] = []
    for path in sorted((SHARED / "kdconv").rglob("*.json")):
        data = json.loads(path.read_text("utf-8"))
        for dialog in data if isinstance(data, list) else data.get("dialogs", []):
            for turn in dialog.get("messages", []) if isinstance(dialog, dict) else []:
                msg = turn.get("message") if isinstance(turn, dict) else None
                if msg and len(msg) <= 120:
                    texts.append(msg)
    return [_ex(t, [], "kdconv (Apache-2.0)") for t in rng.sample(texts, min(n, len(texts)))]


def debt_reminder() -> list[dict]:
    base = SHARED / "debt_reminder_rasa_intents"
    out = [_ex(json.loads(l)["text"], [], "debt_reminder_rasa customer (Apache-2.0)") for l in (base / "nlu_utterances.jsonl").open(encoding="utf-8")]
    for action, templates in json.loads((base / "agent_templates.json").read_text("utf-8")).items():
        for t in templates:
            labels = ["privacy"] if any(k in action for k in _DISCLOSING_TEMPLATES) else []
            out.append(_ex(t.replace("XXX", "张先生").replace("X月X日", "5月8日"), labels, "debt_reminder_rasa agent (Apache-2.0)"))
    return out


def cold(n_each: int, rng: random.Random, split: str = "train") -> list[dict]:
    with (SHARED / "cold" / f"{split}.csv").open(encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    off = [r["TEXT"] for r in rows if r["label"] == "1"]
    safe = [r["TEXT"] for r in rows if r["label"] == "0"]
    return ([_ex(t, ["abuse"], "cold offensive (Apache-2.0)") for t in rng.sample(off, min(n_each, len(off)))]
            + [_ex(t, [], "cold safe (Apache-2.0)") for t in rng.sample(safe, min(n_each, len(safe)))])


def training_examples(seed: int, scale: float = 1.0) -> list[dict]:
    """The public slice of the training set, or [] when ../shared/data is absent."""
    if not SHARED.is_dir():
        return []
    rng = random.Random(seed)
    k = lambda n: max(1, int(n * scale))  # noqa: E731
    return crosswoz(k(1200), rng) + kdconv(k(500), rng) + debt_reminder() + cold(k(1000), rng)
