"""Batch scanning of JSONL, CSV and TXT files, one output record per input line.

Fields the scan does not use (``call_id``, ``duration``, gold ``labels`` of a QA
export) are carried unchanged to the record's output line, so results join back;
a field that is a near miss of a known one (``txet``, ``Recipient``) is an error
that names the field meant, never silently ignored.

A bad record never stops a scan: it gets an output line with an ``error`` that
names the line and the field (and a line in the errors file, when one is asked
for), and the scan goes on. A scan run again with ``skip`` (``--resume``) skips
the ids already in its output file. ``scan_parallel`` spreads the work over
processes that each build their Guard once, and keeps the input order.
"""
from __future__ import annotations

import csv
import io
import json
import os
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

from .errors import GuardError, RecordError
from .guard import Guard, Message, validate_recipient, validate_text
from .model import find_model_dir
from .results import Decision

MESSAGE_FIELDS = {"id", "text", "recipient", "channel", "sent_at", "agent_id", "debtor_id", "contact", "call_time"}
TRANSCRIPT_FIELDS = {"id", "turns", "agent_id", "call_time", "sent_at", "channel", "debtor_id"}
PASS_THROUGH = ("agent_id", "channel", "sent_at", "call_time", "debtor_id")
OUTPUT_FIELDS = {"id", "error", "decision", "violations", "pii", "rewrite", "rewrite_note", "scores", "policy_version",
                 "model_version", "escalate"}
CSV_COLUMNS = ("id", "text", "recipient", "channel", "sent_at", "agent_id")
CHUNK = 32  # input lines whose messages share one check_many call
# What the fork server that local workers are forked from imports, once per scanning process:
# ``worker_warmup`` screens one message there, so no worker loads spaCy, the NER, the homophone
# table or the patterns again (2 to 3 s of CPU each). ``__main__`` is the default preload.
WORKER_PRELOAD = ("__main__", "nlp_guard.worker_warmup")


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


def parse_line(text: str, n: int, fmt: str = "jsonl") -> Record | None:
    """One decoded line (no line break) as a Record; None for a blank line.

    Shared by the local engine and the Spark engine so both read a line alike.
    """
    if not text.strip():
        return None
    if fmt == "txt":
        return Record(n, {"id": n, "text": text})
    try:
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            raise RecordError(f"malformed JSON: {exc.msg} at column {exc.colno}", n) from None
        if not isinstance(obj, dict):
            raise RecordError(f"expected a JSON object, got {type(obj).__name__}", n)
    except RecordError as exc:
        return Record(n, None, exc.message)
    return Record(n, obj)


def read_records(path: Path, fmt: str = "auto") -> Iterator[Record]:
    """Records with their 1-based line numbers; unreadable lines come back as errors."""
    fmt = detect_format(path, fmt)
    with path.open("rb") as fh:
        if fmt == "csv":
            yield from _csv_records(fh)
            return
        for n, raw in enumerate(fh, start=1):
            try:
                text = _decode(raw, n).rstrip("\r\n")
            except RecordError as exc:
                yield Record(n, None, exc.message)
                continue
            rec = parse_line(text, n, fmt)
            if rec is not None:
                yield rec


def detect_format(path: Path, fmt: str = "auto") -> str:
    """The input format named by ``fmt``, or guessed from the file's suffix."""
    if fmt != "auto":
        return fmt
    return {".jsonl": "jsonl", ".json": "jsonl", ".csv": "csv", ".txt": "txt"}.get(path.suffix.lower(), "jsonl")


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


def csv_line_record(header: list[str], text: str, n: int) -> Record | None:
    """One CSV data line (no embedded line breaks) under ``header``, as the local reader sees it."""
    if not text.strip():
        return None
    cells = next(csv.reader([text]))
    if len(cells) > len(header):
        return Record(n, None, f"line {n}: more cells than the header has columns")
    return Record(n, {k: v for k, v in zip(header, cells) if v not in (None, "")})


def _distance(a: str, b: str) -> int:
    """Edit distance with adjacent transpositions (``txet`` is one edit from ``text``)."""
    d = [[i + j if i * j == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[-1][-1]


def meant_field(name: str, known: Iterable[str]) -> str | None:
    """The known field ``name`` is a near miss of: a case variant, or at most two edits away
    (one for names of three or four letters; none for ``id``, so ``uid`` passes through)."""
    for k in sorted(known):
        allowed = 2 if len(k) >= 5 else 1 if len(k) >= 3 else 0
        if name != k and (name.lower() == k.lower() or _distance(name.lower(), k.lower()) <= allowed):
            return k
    return None


def _extra_fields(obj: dict[str, Any], allowed: set[str], line: int) -> dict[str, Any]:
    """The record's fields the scan does not use, to carry to the output; a near miss of a known
    field, or a name the output itself uses, is an error naming the field."""
    extra = {k: v for k, v in obj.items() if k not in allowed}
    for k in extra:
        meant = meant_field(k, MESSAGE_FIELDS | TRANSCRIPT_FIELDS)
        if meant:
            raise RecordError(f"{k}: unknown field; did you mean {meant!r}?", line)
        if k in OUTPUT_FIELDS:
            raise RecordError(f"{k}: the output line uses this name for the result; rename the input field", line)
    return extra


def record_id(rec: Record) -> Any:
    """The id the output line carries: the record's own id, else its line number."""
    return rec.data.get("id", rec.line) if rec.data else rec.line


def id_key(value: Any) -> str:
    """A comparable key for an output id (keeps 7 and "7" apart, as JSON does)."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _message(guard: Guard, rec: Record) -> Message:
    """The record's message, checked as ``check`` checks one alone (errors name ``text``, not ``items[i]``)."""
    obj = rec.data or {}
    _extra_fields(obj, MESSAGE_FIELDS, rec.line)  # a near miss of a known field is this record's error
    if "text" not in obj:
        raise RecordError("text: missing (a message needs 'text', a transcript needs 'turns')", rec.line)
    msg = Message(obj["text"], obj.get("recipient") or "debtor")
    validate_text(msg.text, "text", guard.max_chars)
    validate_recipient(msg.recipient)
    return msg


def screen_record(guard: Guard, rec: Record, suggest: bool = False, decision: Decision | None = None) -> dict[str, Any]:
    """The output object for one record, or an error object naming the line. ``decision`` is the
    record's message already screened in a batch (``screen_records``); rewrites only with ``suggest``."""
    base: dict[str, Any] = {"id": record_id(rec)}
    if rec.data is None:
        return {**base, "error": {"line": rec.line, "message": rec.error}}
    obj = rec.data
    try:
        extra = {k: obj[k] for k in PASS_THROUGH if k in obj}
        if "turns" in obj:
            extra.update(_extra_fields(obj, TRANSCRIPT_FIELDS, rec.line))
            if not isinstance(obj["turns"], list):
                raise RecordError("turns: expected a list of {speaker, text}", rec.line)
            return {**base, **extra, **guard.check_transcript(obj["turns"]).to_dict()}
        extra.update(_extra_fields(obj, MESSAGE_FIELDS, rec.line))
        d = decision if decision is not None else guard.check_many([_message(guard, rec)], suggest=suggest)[0]
        return {**base, **extra, **d.to_dict()}
    except GuardError as exc:
        msg = exc.message if isinstance(exc, RecordError) else f"line {rec.line}: {exc.message}"
        return {**base, "error": {"line": rec.line, "code": exc.code, "message": msg}}


def screen_records(guard: Guard, recs: Sequence[Record], suggest: bool = False) -> list[dict[str, Any]]:
    """``screen_record`` for each record, with every valid message among them screened in one
    ``check_many`` call. A record that cannot be screened gets its own error line, exactly as
    alone; should the batch call still fail, each record is screened alone, so one bad record
    never costs the others their results."""
    todo: dict[int, Message] = {}
    for i, rec in enumerate(recs):
        if rec.data is not None and "turns" not in rec.data:
            with suppress(GuardError):
                todo[i] = _message(guard, rec)
    decided: dict[int, Decision] = {}
    if todo:
        with suppress(GuardError):
            decided = dict(zip(todo, guard.check_many(list(todo.values()), suggest=suggest), strict=True))
    return [screen_record(guard, rec, suggest, decided.get(i)) for i, rec in enumerate(recs)]


def blocks(records: Iterable[Record], size: int = CHUNK) -> Iterator[list[Record]]:
    """Consecutive records grouped by block of ``size`` input lines. The block depends on line
    numbers only, so the local engine and Spark batch a record with the same neighbours (an int8
    model's scores shift slightly with its batch) wherever a Spark partition does not cut a block."""
    block: list[Record] = []
    for rec in records:
        if block and (rec.line - 1) // size != (block[0].line - 1) // size:
            yield block
            block = []
        block.append(rec)
    if block:
        yield block


@dataclass
class ScanSummary:
    records: int = 0
    errors: int = 0
    decisions: Counter[str] = field(default_factory=Counter)
    categories: Counter[str] = field(default_factory=Counter)
    skipped: int = 0

    def add(self, out: dict[str, Any]) -> None:
        self.records += 1
        if "error" in out:
            self.errors += 1
            return
        self.decisions[out["decision"]] += 1
        violations = out.get("violations") or [v for t in out.get("turns", []) for v in t["violations"]]
        for v in violations:
            self.categories[v["category"]] += 1


def done_ids(path: Path) -> set[str]:
    """Keys (see ``id_key``) of the records already in an output file, for ``--resume``.

    A last line cut short by an interrupted scan is removed from the file, so the
    record it held is screened again and the file stays valid JSONL.
    """
    if not path.exists():
        return set()
    keys: set[str] = set()
    good = 0
    with path.open("rb+") as fh:
        for raw in fh:
            if not raw.endswith(b"\n"):
                break
            try:
                obj = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError):
                break
            if isinstance(obj, dict) and "id" in obj:
                keys.add(id_key(obj["id"]))
            good += len(raw)
        fh.truncate(good)
    return keys


def error_entry(result: dict[str, Any]) -> dict[str, Any]:
    """The errors-file line for an error result: where, which code, why."""
    err = result["error"]
    return {"line": err["line"], "id": result["id"], "code": err.get("code", "E103"), "reason": err["message"]}


@dataclass(frozen=True, slots=True)
class GuardSpec:
    """How to build a Guard in another process (a scan worker or a Spark executor)."""

    rules_only: bool = False
    policy_path: str | None = None
    model_dir: str | None = None
    threads: int | None = None  # the model's intra-op threads in that process; None = every core

    def build(self) -> Guard:
        from .policy import load_policy

        return Guard.default(load_policy(self.policy_path) if self.policy_path else None,
                             model_dir=self.model_dir, rules_only=self.rules_only, threads=self.threads)

    def resolved(self) -> GuardSpec:
        """This spec with its model directory found here and now: a missing model fails once, in
        this process, with its message, instead of in every worker (a pool would respawn them)."""
        return self if self.rules_only else replace(self, model_dir=str(find_model_dir(self.model_dir)))


_WORKER_GUARD: Guard | None = None


def _init_worker(spec: GuardSpec) -> None:
    global _WORKER_GUARD
    _WORKER_GUARD = spec.build()


def _screen_in_worker(recs: list[Record], suggest: bool) -> list[dict[str, Any]]:
    if _WORKER_GUARD is None:
        raise RuntimeError("scan worker has no Guard: its initialiser did not run")
    return screen_records(_WORKER_GUARD, recs, suggest)


Tick = Callable[[], Any]


def _skipping(records: Iterable[Record], skip: set[str] | None, summary: ScanSummary,
              tick: Tick | None) -> Iterator[Record]:
    for rec in records:
        if skip and id_key(record_id(rec)) in skip:
            summary.skipped += 1
            if tick:
                tick()
            continue
        yield rec


def _write(results: Iterable[dict[str, Any]], out: io.TextIOBase, errors: io.TextIOBase | None,
           summary: ScanSummary, tick: Tick | None) -> ScanSummary:
    for n, result in enumerate(results, start=1):
        if tick:
            tick()
        out.write(json.dumps(result, ensure_ascii=False) + "\n")
        if errors is not None and "error" in result:
            errors.write(json.dumps(error_entry(result), ensure_ascii=False) + "\n")
        summary.add(result)
        if n % 256 == 0:  # an interrupted scan loses at most the lines still buffered
            out.flush()
    out.flush()
    return summary


def scan(guard: Guard, records: Iterable[Record], out: io.TextIOBase, *, errors: io.TextIOBase | None = None,
         skip: set[str] | None = None, tick: Tick | None = None, suggest: bool = False) -> ScanSummary:
    """Screen records in order, one output line each, a block of lines per ``check_many`` call.

    ``errors`` gets one line per bad record (line, id, code, reason); ``skip`` holds
    the ``id_key``s already done (``--resume``); ``tick`` is called once per record;
    ``suggest`` adds verified rewrites (a scan does not need them by default).
    """
    summary = ScanSummary()
    todo = blocks(_skipping(records, skip, summary, tick))
    return _write((r for block in todo for r in screen_records(guard, block, suggest)), out, errors, summary, tick)


def worker_threads(workers: int) -> int:
    """Each local worker's share of the cores, for its model."""
    return max(1, (os.cpu_count() or 1) // workers)


def scan_parallel(spec: GuardSpec, records: Iterable[Record], out: io.TextIOBase, workers: int, *,
                  errors: io.TextIOBase | None = None, skip: set[str] | None = None,
                  tick: Tick | None = None, suggest: bool = False) -> ScanSummary:
    """``scan`` over ``workers`` processes, each building its Guard once and screening a block of
    lines per task; output stays in input order and equals ``scan``'s. Unless ``spec`` says
    otherwise, each worker's model gets its share of the cores, not all of them."""
    import multiprocessing as mp

    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    summary = ScanSummary()
    todo = blocks(_skipping(records, skip, summary, tick))
    ctx = mp.get_context("spawn" if sys.platform == "darwin" else "forkserver")
    if ctx.get_start_method() == "forkserver":
        ctx.set_forkserver_preload(list(WORKER_PRELOAD))
    spec = spec.resolved()
    if spec.threads is None:
        spec = replace(spec, threads=worker_threads(workers))
    with ctx.Pool(workers, initializer=_init_worker, initargs=(spec,)) as pool:
        done = pool.imap(partial(_screen_in_worker, suggest=suggest), todo)
        return _write((r for block in done for r in block), out, errors, summary, tick)
