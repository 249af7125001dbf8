"""Batch scanning of JSONL, CSV and TXT files, one output record per input line.

A bad record never stops a scan: it gets an output line with an ``error`` that
names the line and the field, and the scan goes on.
"""
from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import GuardError, RecordError
from .guard import Guard, Message

MESSAGE_FIELDS = {"id", "text", "recipient", "channel", "sent_at", "agent_id", "debtor_id", "contact", "call_time"}
TRANSCRIPT_FIELDS = {"id", "turns", "agent_id", "call_time", "sent_at", "channel", "debtor_id"}
PASS_THROUGH = ("agent_id", "channel", "sent_at", "call_time", "debtor_id")
CSV_COLUMNS = ("id", "text", "recipient", "channel", "sent_at", "agent_id")


@dataclass(frozen=True, slots=True)
class Record:
    line: int
    data: dict[str, Any] | None
    error: str | None = None


def _decode(raw: bytes, line: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RecordError(f"not valid UTF-8 (byte {exc.start})", line) from None


def read_records(path: Path, fmt: str = "auto") -> Iterator[Record]:
    """Records with their 1-based line numbers; unreadable lines come back as errors."""
    if fmt == "auto":
        fmt = {".jsonl": "jsonl", ".json": "jsonl", ".csv": "csv", ".txt": "txt"}.get(path.suffix.lower(), "jsonl")
    with path.open("rb") as fh:
        if fmt == "csv":
            yield from _csv_records(fh)
            return
        for n, raw in enumerate(fh, start=1):
            try:
                text = _decode(raw, n).rstrip("\r\n")
                if not text.strip():
                    continue
                if fmt == "txt":
                    yield Record(n, {"id": n, "text": text})
                    continue
                try:
                    obj = json.loads(text)
                except json.JSONDecodeError as exc:
                    raise RecordError(f"malformed JSON: {exc.msg} at column {exc.colno}", n) from None
                if not isinstance(obj, dict):
                    raise RecordError(f"expected a JSON object, got {type(obj).__name__}", n)
                yield Record(n, obj)
            except RecordError as exc:
                yield Record(n, None, exc.message)


def _csv_records(fh: io.BufferedReader) -> Iterator[Record]:
    lines = []
    for n, raw in enumerate(fh, start=1):
        try:
            lines.append((n, _decode(raw, n)))
        except RecordError as exc:
            yield Record(n, None, exc.message)
    reader = csv.DictReader(io.StringIO("".join(t for _, t in lines)))
    numbers = iter(n for n, _ in lines[1:])
    for row in reader:
        n = next(numbers, 0)
        if None in row:
            yield Record(n, None, f"line {n}: more cells than the header has columns")
            continue
        yield Record(n, {k: v for k, v in row.items() if v not in (None, "")})


def _check_fields(obj: dict[str, Any], allowed: set[str], line: int) -> None:
    unknown = sorted(set(obj) - allowed)
    if unknown:
        raise RecordError(f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}", line)


def screen_record(guard: Guard, rec: Record) -> dict[str, Any]:
    """The output object for one record, or an error object naming the line."""
    base: dict[str, Any] = {"id": rec.data.get("id", rec.line) if rec.data else rec.line}
    if rec.data is None:
        return {**base, "error": {"line": rec.line, "message": rec.error}}
    obj = rec.data
    try:
        extra = {k: obj[k] for k in PASS_THROUGH if k in obj}
        if "turns" in obj:
            _check_fields(obj, TRANSCRIPT_FIELDS, rec.line)
            if not isinstance(obj["turns"], list):
                raise RecordError("turns: expected a list of {speaker, text}", rec.line)
            return {**base, **extra, **guard.check_transcript(obj["turns"]).to_dict()}
        _check_fields(obj, MESSAGE_FIELDS, rec.line)
        if "text" not in obj:
            raise RecordError("text: missing (a message needs 'text', a transcript needs 'turns')", rec.line)
        d = guard.check_many([Message(obj["text"], obj.get("recipient") or "debtor")])[0]
        return {**base, **extra, **d.to_dict()}
    except GuardError as exc:
        msg = exc.message if isinstance(exc, RecordError) else f"line {rec.line}: {exc.message}"
        return {**base, "error": {"line": rec.line, "code": exc.code, "message": msg}}


@dataclass
class ScanSummary:
    records: int = 0
    errors: int = 0
    decisions: Counter[str] = field(default_factory=Counter)
    categories: Counter[str] = field(default_factory=Counter)

    def add(self, out: dict[str, Any]) -> None:
        self.records += 1
        if "error" in out:
            self.errors += 1
            return
        self.decisions[out["decision"]] += 1
        violations = out.get("violations") or [v for t in out.get("turns", []) for v in t["violations"]]
        for v in violations:
            self.categories[v["category"]] += 1


def scan(guard: Guard, records: Iterable[Record], out: io.TextIOBase) -> ScanSummary:
    summary = ScanSummary()
    for rec in records:
        result = screen_record(guard, rec)
        out.write(json.dumps(result, ensure_ascii=False) + "\n")
        summary.add(result)
    return summary
