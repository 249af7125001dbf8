"""Resumable, robust local scans: --resume, --errors, --workers."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from nlp_guard.batch import done_ids, id_key
from nlp_guard.cli import main

SAMPLES = Path(__file__).resolve().parents[1] / "nlp_guard" / "data" / "samples.jsonl"


def _input(tmp_path: Path, copies: int = 4) -> Path:
    rows = []
    for i in range(copies):
        for line in SAMPLES.read_text("utf-8").splitlines():
            d = json.loads(line)
            d["id"] = f"{d['id']}-{i}"
            rows.append(json.dumps(d, ensure_ascii=False))
    rows.insert(3, "{broken")
    rows.insert(9, json.dumps({"id": "no-text", "recipient": "debtor"}))
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(rows) + "\n", "utf-8")
    return src


def _scan(*args: str) -> None:
    r = CliRunner().invoke(main, ["scan", "--rules-only", *args], catch_exceptions=False)
    assert r.exit_code == 0, r.output


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def test_resume_after_interruption_skips_done_ids_and_repairs_a_cut_line(tmp_path: Path) -> None:
    src = _input(tmp_path)
    full = tmp_path / "full.jsonl"
    _scan(str(src), "-o", str(full))
    expected = full.read_text("utf-8").splitlines(keepends=True)

    out = tmp_path / "out.jsonl"  # an interrupted scan: 10 lines written, the 11th cut half way
    out.write_text("".join(expected[:10]) + expected[10][: len(expected[10]) // 2], "utf-8")
    r = CliRunner().invoke(main, ["scan", "--rules-only", "--resume", str(src), "-o", str(out)],
                           catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "skipped (already done)" in r.output and " 10 " in r.output.split("skipped (already done)")[1][:40]
    assert out.read_text("utf-8").splitlines(keepends=True) == expected

    _scan("--resume", str(src), "-o", str(out))  # nothing left to do: the file is unchanged
    assert out.read_text("utf-8").splitlines(keepends=True) == expected


def test_errors_file_names_line_and_reason_and_the_scan_goes_on(tmp_path: Path) -> None:
    src = _input(tmp_path, copies=1)
    out, errs = tmp_path / "out.jsonl", tmp_path / "errors.jsonl"
    _scan(str(src), "-o", str(out), "--errors", str(errs))
    rows = _lines(out)
    assert len(rows) == len(src.read_text("utf-8").splitlines())
    errors = _lines(errs)
    assert [(e["line"], e["code"]) for e in errors] == [(4, "E103"), (10, "E103")]
    assert "malformed JSON" in errors[0]["reason"] and errors[0]["id"] == 4
    assert errors[1]["id"] == "no-text" and "text: missing" in errors[1]["reason"]
    assert sum("decision" in r for r in rows) == len(rows) - 2


def test_two_workers_write_exactly_what_one_process_writes(tmp_path: Path) -> None:
    src = _input(tmp_path, copies=6)
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    _scan(str(src), "-o", str(one))
    _scan(str(src), "-o", str(two), "--workers", "2")
    assert two.read_text("utf-8") == one.read_text("utf-8")


def test_done_ids_keeps_numbers_and_strings_apart(tmp_path: Path) -> None:
    out = tmp_path / "o.jsonl"
    out.write_text('{"id": 7}\n{"id": "7"}\n{"id": "x", "decision"', "utf-8")
    assert done_ids(out) == {id_key(7), id_key("7")}
    assert out.read_text("utf-8") == '{"id": 7}\n{"id": "7"}\n'
    assert done_ids(tmp_path / "missing.jsonl") == set()


@pytest.mark.parametrize(("args", "message"), [
    (["--resume"], "--resume needs -o/--output"),
    (["--format", "parquet"], "Parquet input needs --engine spark"),
    (["--table", "t"], "--table needs --engine spark"),
])
def test_scan_usage_errors(tmp_path: Path, args: list[str], message: str) -> None:
    src = _input(tmp_path, copies=1)
    r = CliRunner().invoke(main, ["scan", "--rules-only", str(src), *args])
    assert r.exit_code == 2 and message in r.output
