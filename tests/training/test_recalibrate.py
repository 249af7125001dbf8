"""The held-out calibration slices: read with field checks, and kept apart from every corpus split."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from training.recalibrate import CALIBRATION, read_calibration
from training.train import ROOT, read_split


def _write(folder: Path, rows: list[dict]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "slice.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")


def test_lines_near_any_split_and_customer_lines_are_dropped(tmp_path: Path) -> None:
    test_line = read_split(ROOT / "training" / "data", "test")[0]["text"]
    fresh = "尊敬的客户，您的本期账单已出，请于本月二十八日前通过官方渠道还款，如已还款请忽略本短信。"
    rows = [{"id": "a", "text": test_line, "labels": [], "recipient": "debtor"},          # exact copy of a test line
            {"id": "b", "text": test_line + "。", "labels": [], "recipient": "debtor"},   # near copy
            {"id": "c", "text": fresh, "labels": [], "recipient": "debtor"},
            {"id": "d", "text": fresh + "谢谢您", "labels": [], "recipient": "debtor", "speaker": "customer"}]
    _write(tmp_path, rows)
    kept, counts = read_calibration(tmp_path)
    assert [r["id"] for r in kept] == ["c"]
    assert counts == {"lines": 4, "customer_lines": 1, "near_the_corpus_dropped": 2, "kept": 1}


@pytest.mark.parametrize("row", [{"id": "x", "text": "您好", "recipient": "debtor"},                # no labels
                                 {"id": "x", "text": "您好", "labels": ["rudeness"], "recipient": "debtor"}])
def test_a_bad_line_names_its_file_and_line(tmp_path: Path, row: dict) -> None:
    _write(tmp_path, [row])
    with pytest.raises(ValueError, match=r"slice\.jsonl:1"):
        read_calibration(tmp_path)


def test_the_shipped_slices_hold_nothing_near_the_corpus() -> None:
    kept, counts = read_calibration(CALIBRATION)
    assert counts["near_the_corpus_dropped"] == 0 and counts["kept"] == len(kept) > 0
