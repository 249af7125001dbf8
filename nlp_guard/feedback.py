"""QA verdicts on the review queue, kept for the training pipeline.

    nlp-guard report results.jsonl --input calls.jsonl -o report.html --queue-xlsx queue.xlsx
    # QA fills the verdict column: confirmed | false_positive (确认 | 误报 also accepted)
    nlp-guard feedback import queue.xlsx --reviewer li.na

The store is one SQLite file (default ``feedback.sqlite`` in the user's data folder, e.g.
``~/.local/share/nlp_guard`` on Linux, so an installed package never writes into its own
tree; ``--store`` or ``NLP_GUARD_FEEDBACK_DB`` to change it). SQLite, not a folder of JSONL, because an
import is one transaction (a sheet with a bad row changes nothing) and re-importing
the same file is a no-op (rows are keyed by the file's SHA-256 and row number).
Every verdict keeps its provenance: source file, its hash, row, reviewer, imported_at.
``training/feedback.py`` turns the verdicts into labelled training examples.
"""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from platformdirs import user_data_path

from .errors import InputError

VERDICTS = ("confirmed", "false_positive")
_ALIASES = {"confirmed": "confirmed", "confirm": "confirmed", "确认": "confirmed", "属实": "confirmed",
            "false_positive": "false_positive", "false positive": "false_positive", "fp": "false_positive",
            "误报": "false_positive"}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS verdicts (
  id INTEGER PRIMARY KEY,
  queue_id TEXT NOT NULL,
  record_id TEXT,
  turn INTEGER,
  text TEXT,
  categories TEXT NOT NULL,      -- JSON list of category codes the guard raised
  subcategories TEXT NOT NULL,   -- JSON list
  verdict TEXT NOT NULL CHECK (verdict IN ('confirmed', 'false_positive')),
  reviewer TEXT NOT NULL,
  note TEXT,
  source_file TEXT NOT NULL,
  source_sha256 TEXT NOT NULL,
  source_row INTEGER NOT NULL,
  imported_at TEXT NOT NULL,
  UNIQUE (source_sha256, source_row)
);
"""


@dataclass(frozen=True, slots=True)
class Verdict:
    queue_id: str
    record_id: str
    turn: int | None
    text: str | None
    categories: tuple[str, ...]
    subcategories: tuple[str, ...]
    verdict: str
    reviewer: str
    note: str
    row: int


@dataclass(frozen=True, slots=True)
class ImportResult:
    added: int
    already_stored: int
    not_reviewed: int
    store: Path


def default_store() -> Path:
    """``$NLP_GUARD_FEEDBACK_DB``, else ``feedback.sqlite`` in the user's data folder (platformdirs)."""
    return Path(os.environ.get("NLP_GUARD_FEEDBACK_DB") or user_data_path("nlp_guard") / "feedback.sqlite")


def _split(value: Any) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    if isinstance(value, list):
        return tuple(str(v).strip() for v in value if str(v).strip())
    return tuple(p.strip() for p in str(value).replace("，", ",").split(",") if p.strip())


def _rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        out = []
        for n, line in enumerate(path.read_text("utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{path.name} line {n}: malformed JSON ({exc.msg})") from None
            if not isinstance(obj, dict):
                raise InputError(f"{path.name} line {n}: expected a JSON object")
            out.append((n, obj))
        return out
    if suffix == ".csv":
        with path.open(encoding="utf-8-sig", newline="") as fh:
            return [(n, row) for n, row in enumerate(csv.DictReader(fh), start=2)]
    if suffix == ".xlsx":
        try:
            from openpyxl import load_workbook
        except ImportError:
            raise InputError("reading XLSX needs openpyxl: pip install 'nlp_guard[report]'") from None
        ws = load_workbook(path, read_only=True, data_only=True).worksheets[0]
        it = ws.iter_rows(values_only=True)
        header = [str(h).strip() if h is not None else "" for h in next(it, ())]
        return [(n, dict(zip(header, row))) for n, row in enumerate(it, start=2) if any(c not in (None, "") for c in row)]
    raise InputError(f"{path.name}: feedback must be .jsonl, .csv or .xlsx (the exported review queue)")


def read_verdicts(path: Path, reviewer: str | None = None) -> tuple[list[Verdict], int]:
    """The reviewed rows of a queue export or JSONL file, and how many rows had no verdict yet.

    Every problem in the file is reported at once, by row, and nothing is returned then.
    """
    verdicts, blank, problems = [], 0, []
    for n, row in _rows(path):
        raw = str(row.get("verdict") or "").strip()
        if not raw:
            blank += 1
            continue
        verdict = _ALIASES.get(raw.lower())
        qid = str(row.get("queue_id") or row.get("id") or "").strip()
        who = str(row.get("reviewer") or reviewer or "").strip()
        cats = _split(row.get("categories"))
        if verdict is None:
            problems.append(f"row {n}: verdict {raw!r} is not one of {', '.join(VERDICTS)}")
        if not qid:
            problems.append(f"row {n}: queue_id (or id) is missing")
        if not who:
            problems.append(f"row {n}: no reviewer; fill the reviewer column or pass --reviewer")
        if not cats:
            problems.append(f"row {n}: categories is empty; it names what the guard raised (e.g. threat,abuse)")
        if verdict is None or not qid or not who or not cats:
            continue
        turn = row.get("turn")
        text = row.get("text")
        verdicts.append(Verdict(qid, str(row.get("record_id") or qid.split("#")[0]),
                                int(turn) if turn not in (None, "") else None,
                                str(text) if text not in (None, "") else None, cats,
                                _split(row.get("subcategories")), verdict, who, str(row.get("note") or ""), n))
    if problems:
        shown = "; ".join(problems[:10]) + (f"; … and {len(problems) - 10} more" if len(problems) > 10 else "")
        raise InputError(f"{path.name}: nothing imported: {shown}")
    return verdicts, blank


class FeedbackStore:
    """The SQLite file of verdicts with their provenance."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path or default_store())

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(self.path)
        con.row_factory = sqlite3.Row
        con.executescript(_SCHEMA)
        return con

    def import_file(self, path: Path, reviewer: str | None = None) -> ImportResult:
        verdicts, blank = read_verdicts(path, reviewer)
        sha = hashlib.sha256(path.read_bytes()).hexdigest()
        now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        con = self._connect()
        try:
            with con:
                before = con.total_changes
                con.executemany(
                    "INSERT OR IGNORE INTO verdicts (queue_id, record_id, turn, text, categories, subcategories, "
                    "verdict, reviewer, note, source_file, source_sha256, source_row, imported_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [(v.queue_id, v.record_id, v.turn, v.text, json.dumps(list(v.categories)),
                      json.dumps(list(v.subcategories)), v.verdict, v.reviewer, v.note, path.name, sha, v.row, now)
                     for v in verdicts])
                added = con.total_changes - before
        finally:
            con.close()
        return ImportResult(added, len(verdicts) - added, blank, self.path)

    def rows(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            raise InputError(f"{self.path}: no feedback store yet; run 'nlp-guard feedback import FILE' first")
        con = self._connect()
        try:
            out = []
            for r in con.execute("SELECT * FROM verdicts ORDER BY imported_at, id"):
                d = dict(r)
                d["categories"] = json.loads(d["categories"])
                d["subcategories"] = json.loads(d["subcategories"])
                out.append(d)
            return out
        finally:
            con.close()
