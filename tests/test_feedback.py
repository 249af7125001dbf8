"""The feedback loop: queue export → QA verdicts → store → labelled TRAIN examples → ship guard."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from nlp_guard.cli import main
from nlp_guard.feedback import FeedbackStore
from training.feedback import data_card, examples_from_rows, promote, ship_decision

SAMPLES = Path(__file__).resolve().parents[1] / "nlp_guard" / "data" / "samples.jsonl"


def _cli(*args: str) -> str:
    r = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return r.output


@pytest.fixture()
def queue_xlsx(tmp_path: Path) -> Path:
    out, xlsx = tmp_path / "out.jsonl", tmp_path / "queue.xlsx"
    _cli("scan", "--rules-only", str(SAMPLES), "-o", str(out))
    _cli("report", str(out), "--input", str(SAMPLES), "-o", str(tmp_path / "r.html"), "--queue-xlsx", str(xlsx))
    return xlsx


def _fill(xlsx: Path, verdicts: dict[str, str], reviewer: str | None = "li.na") -> None:
    from openpyxl import load_workbook

    wb = load_workbook(xlsx)
    ws = wb.active
    head = [c.value for c in ws[1]]
    for row in ws.iter_rows(min_row=2):
        qid = row[head.index("queue_id")].value
        if qid in verdicts:
            row[head.index("verdict")].value = verdicts[qid]
            row[head.index("reviewer")].value = reviewer
    wb.save(xlsx)


def test_import_filled_sheet_is_idempotent_and_keeps_provenance(queue_xlsx: Path, tmp_path: Path) -> None:
    store = tmp_path / "fb.sqlite"
    _fill(queue_xlsx, {"sms-002": "confirmed", "app-006": "误报"})
    assert "imported 2 verdicts" in _cli("feedback", "import", str(queue_xlsx), "--store", str(store))
    again = _cli("feedback", "import", str(queue_xlsx), "--store", str(store))
    assert "imported 0 verdicts" in again and "2 already stored" in again
    rows = {r["queue_id"]: r for r in FeedbackStore(store).rows()}
    assert rows["app-006"]["verdict"] == "false_positive" and rows["sms-002"]["verdict"] == "confirmed"
    assert rows["sms-002"]["categories"] == ["abuse", "threat"] and "老赖" in rows["sms-002"]["text"]
    r = rows["sms-002"]
    assert r["reviewer"] == "li.na" and r["source_file"] == "queue.xlsx" and len(r["source_sha256"]) == 64
    assert r["imported_at"].endswith("+00:00")


def test_a_bad_row_imports_nothing_and_names_the_row(queue_xlsx: Path, tmp_path: Path) -> None:
    store = tmp_path / "fb.sqlite"
    _fill(queue_xlsx, {"sms-002": "confirmed", "wx-003": "maybe"})
    r = CliRunner().invoke(main, ["feedback", "import", str(queue_xlsx), "--store", str(store)])
    import openpyxl

    sheet = openpyxl.load_workbook(queue_xlsx).active
    head = [c.value for c in sheet[1]]
    (row,) = [n for n, cells in enumerate(sheet.iter_rows(min_row=2, values_only=True), start=2)
              if cells[head.index("queue_id")] == "wx-003"]
    assert r.exit_code == 1 and f"row {row}: verdict 'maybe'" in r.output and "nothing imported" in r.output
    assert not store.exists() or FeedbackStore(store).rows() == []


def test_jsonl_and_csv_need_a_reviewer(tmp_path: Path) -> None:
    src = tmp_path / "v.jsonl"
    src.write_text(json.dumps({"id": "x1", "text": "老赖还钱", "categories": ["abuse"], "verdict": "confirmed"},
                              ensure_ascii=False) + "\n", "utf-8")
    r = CliRunner().invoke(main, ["feedback", "import", str(src), "--store", str(tmp_path / "s.sqlite")])
    assert r.exit_code == 1 and "no reviewer" in r.output
    out = _cli("feedback", "import", str(src), "--store", str(tmp_path / "s.sqlite"), "--reviewer", "qa1")
    assert "imported 1" in out


def test_default_store_is_the_user_data_folder_not_the_source_tree(monkeypatch: pytest.MonkeyPatch,
                                                                   tmp_path: Path) -> None:
    import sys

    from platformdirs import user_data_path

    from nlp_guard.feedback import default_store

    monkeypatch.delenv("NLP_GUARD_FEEDBACK_DB", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))  # Linux: where user data folders live
    store = default_store()
    assert store == user_data_path("nlp_guard") / "feedback.sqlite"
    assert Path(__file__).resolve().parents[1] not in store.resolve().parents
    if sys.platform.startswith("linux"):
        assert store == tmp_path / "data" / "nlp_guard" / "feedback.sqlite"
    src = tmp_path / "v.jsonl"
    src.write_text(json.dumps({"id": "x1", "text": "老赖还钱", "categories": ["abuse"], "verdict": "confirmed"},
                              ensure_ascii=False) + "\n", "utf-8")
    assert f"into {store}" in _cli("feedback", "import", str(src), "--reviewer", "qa1")
    assert [r["text"] for r in FeedbackStore(store).rows()] == ["老赖还钱"]
    monkeypatch.setenv("NLP_GUARD_FEEDBACK_DB", str(tmp_path / "chosen.sqlite"))
    assert default_store() == tmp_path / "chosen.sqlite"


def _row(text: str, cats: list[str], verdict: str, n: int, **kw: object) -> dict:
    return {"queue_id": f"q{n}", "text": text, "categories": cats, "subcategories": [f"{c}.x" for c in cats],
            "verdict": verdict, "reviewer": kw.get("reviewer", "qa"), "source_file": "queue.xlsx",
            "source_sha256": "ab" * 32, "source_row": n, "imported_at": f"2026-11-2{n}T00:00:00+00:00"}


@pytest.mark.parametrize(("rows", "expected"), [
    ([_row("老赖快还钱", ["abuse"], "confirmed", 1)], ["abuse"]),
    ([_row("您好请按时还款", ["threat"], "false_positive", 1)], []),
    ([_row("再不还去你单位闹老赖", ["abuse", "threat"], "confirmed", 1),
      _row("再不还去你单位闹老赖", ["threat"], "false_positive", 2)], ["abuse"]),  # later verdict wins per category
    ([_row("你个骗子等着坐牢", ["deception"], "false_positive", 1),
      _row("你个骗子等着坐牢", ["deception"], "confirmed", 2)], ["deception"]),
])
def test_verdicts_become_labels(rows: list[dict], expected: list[str]) -> None:
    examples, rep = examples_from_rows(rows)
    (ex,) = examples
    assert ex["labels"] == expected and ex["split"] == "train" and ex["source"] == "feedback"
    assert len(ex["provenance"]) == len(rows) and ex["provenance"][0]["reviewer"] == "qa"
    assert ex["subcategories"] == [f"{c}.x" for c in expected]


def test_examples_leave_out_test_texts_missing_texts_and_unknown_categories() -> None:
    rows = [_row("老赖快还钱，不然去你单位闹", ["abuse"], "confirmed", 1), _row("", ["abuse"], "confirmed", 2),
            _row("注意安全", ["violence"], "confirmed", 3), _row("您好，请于今日还款", ["threat"], "false_positive", 4)]
    examples, rep = examples_from_rows(rows, held_out=["老赖快还钱，不然去你单位闹！"])
    assert [e["text"] for e in examples] == ["您好，请于今日还款"]
    assert sum(rep.skipped.values()) == 3
    card = data_card(rep, Path("feedback.sqlite"))
    assert "TRAIN only" in card and "queue.xlsx" in card and "dev/test" in card and "| clean | 1 |" in card


def _model_dir(path: Path, f1: float) -> Path:
    path.mkdir(parents=True)
    (path / "metrics.json").write_text(json.dumps({"version": "v-test", "test_onnx_int8": {"macro": {"f1": f1}}}))
    (path / "model.onnx").write_bytes(b"onnx")
    return path


def test_ship_guard_rejects_a_retrain_below_the_shipped_model(tmp_path: Path) -> None:
    shipped = _model_dir(tmp_path / "models" / "nlp_guard-zh", 0.80)
    cand = _model_dir(tmp_path / "cand", 0.78)
    ok, where, why = promote(cand, shipped, tmp_path / "rejected")
    assert not ok and where.parent == tmp_path / "rejected" and (where / "REJECTED.txt").exists()
    assert "0.7800 is below the shipped model's 0.8000" in why
    assert json.loads((shipped / "metrics.json").read_text())["test_onnx_int8"]["macro"]["f1"] == 0.80

    cand = _model_dir(tmp_path / "cand2", 0.81)
    ok, where, _ = promote(cand, shipped, tmp_path / "rejected")
    assert ok and where == shipped and json.loads((shipped / "metrics.json").read_text())["test_onnx_int8"]["macro"]["f1"] == 0.81
    assert ship_decision(0.5, None)[0] and ship_decision(0.8, 0.8)[0]
