"""Late train-only slices never leak into, or near, the frozen dev/test splits."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from training.build_corpus import DATA, train_only


def test_train_only_rows_near_a_held_out_sentence_are_dropped() -> None:
    held_out = ["你再不还钱，我们就去你单位找你领导谈谈", "您好，您的账单将于本月25日到期，请按时还款"]
    rows = [{"text": "你再不还钱，我们就去你单位找你领导谈谈！"},        # a near duplicate of a test sentence
            {"text": "你不还钱的话我们天天给你打电话，打到你接为止"},
            {"text": "【平台】您本期账单已出，请于到期日前通过官方渠道还款"}]
    kept, dropped = train_only(rows, held_out)
    assert dropped == 1
    assert [r["text"] for r in kept] == [rows[1]["text"], rows[2]["text"]]
    assert {r["split"] for r in kept} == {"train"} and len({r["group"] for r in kept}) == 2


# the sha256 of dev.jsonl and test.jsonl when they were frozen, before the first training run
FROZEN = {"dev": "37af53efebccb06d70a97ec6bad56dfcae403e44f3329f1eab42379b5461e757",
          "test": "6938a8fbc5e454693ade0c33d465c4a17056bc32e2cdca363cd38a5dbe1e6ca5"}


def test_frozen_splits_are_unchanged() -> None:
    recorded = json.loads((DATA / "splits.json").read_text("utf-8"))
    for split, frozen in FROZEN.items():
        digest = hashlib.sha256(Path(DATA / f"{split}.jsonl").read_bytes()).hexdigest()
        assert digest == frozen == recorded[split]["sha256"], f"{split}.jsonl changed after it was frozen"
