"""The tamper-evident audit log.

Each entry's hash is ``sha256(prev_hash + canonical_json(record))``; the
record carries its own ``seq``, so an edited, deleted or reordered row breaks
the chain at a row :func:`verify` can name. The head row keeps the last seq and
hash, so deleting the newest entries is caught too.

A record holds the text's SHA-256, the text with PII masked
(from the PII spans the decision already holds), the decision with PII spans
masked, the model and policy versions, tenant and key id. The raw text is
added only when the tenant's ``store_raw_text`` setting is on.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from nlp_guard.pii import mask_value
from nlp_guard.redaction import redact_spans

from .db import GENESIS_HASH, AuditEntry, AuditHead, utcnow


def canonical(record: dict[str, Any]) -> str:
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_hash(prev_hash: str, record_json: str) -> str:
    return hashlib.sha256((prev_hash + record_json).encode("utf-8")).hexdigest()


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def scrub_decision(decision: dict[str, Any], redacted: str) -> dict[str, Any]:
    """A decision dict whose quoted spans come from the redacted text (mask style keeps offsets)."""
    out = dict(decision)
    out["pii"] = [{**p, "text": mask_value(p["type"], p["text"])} for p in decision.get("pii", [])]
    out["violations"] = [{**v, "evidence": [{**e, "text": redacted[e["start"]:e["end"]]} for e in v["evidence"]]}
                         for v in decision.get("violations", [])]
    if decision.get("rewrite"):
        out["rewrite"] = _mask_known(decision["rewrite"], decision.get("pii", []))
    return out


def _mask_known(text: str, pii: list[dict[str, Any]]) -> str:
    """``text`` with each of the decision's PII values masked wherever it occurs. A rewrite is
    built from the message's own clauses, so its PII are the message's: no second recognizer pass."""
    for p in sorted(pii, key=lambda p: len(p["text"]), reverse=True):
        text = text.replace(p["text"], mask_value(p["type"], p["text"]))
    return text


def message_record(text: str, decision: dict[str, Any], meta: dict[str, Any], store_raw: bool) -> dict[str, Any]:
    redacted = redact_spans(text, decision.get("pii", []))
    rec: dict[str, Any] = {
        "text_sha256": text_sha256(text),
        "redacted_text": redacted,
        "decision": scrub_decision(decision, redacted),
        "policy_version": decision.get("policy_version"),
        "model_version": decision.get("model_version"),
        "meta": meta,
    }
    if store_raw:
        rec["text"] = text
    return rec


def transcript_record(turns: list[dict[str, Any]], result: dict[str, Any], meta: dict[str, Any],
                      store_raw: bool) -> dict[str, Any]:
    redacted = [redact_spans(t["text"], r.get("pii", [])) for t, r in zip(turns, result["turns"], strict=True)]
    scrubbed_turns = []
    for t, r in zip(result["turns"], redacted, strict=True):
        t = scrub_decision(t, r)
        t["signals"] = [{**s, "evidence": [{**e, "text": r[e["start"]:e["end"]]} for e in s["evidence"]]}
                        for s in t.get("signals", [])]
        # words of a violation completed across turns quote the earlier turns: scrub them from those turns' text
        t["violations"] = [{**v, "context_evidence": [{**e, "text": redacted[e["turn"]][e["start"]:e["end"]]}
                                                      for e in v["context_evidence"]]} if "context_evidence" in v else v
                           for v in t["violations"]]
        scrubbed_turns.append(t)
    rec: dict[str, Any] = {
        "text_sha256": text_sha256(canonical({"turns": [[t["speaker"], t["text"]] for t in turns]})),
        "redacted_turns": [{"speaker": t["speaker"], "text": r} for t, r in zip(turns, redacted, strict=True)],
        "decision": {**result, "turns": scrubbed_turns},
        "policy_version": result.get("policy_version"),
        "model_version": result.get("model_version"),
        "meta": meta,
    }
    if store_raw:
        rec["turns"] = [{"speaker": t["speaker"], "text": t["text"]} for t in turns]
    return rec


@dataclass(frozen=True, slots=True)
class Appended:
    """An entry appended in the open transaction: written with the others when the chain closes."""

    seq: int
    hash: str


_ENTRIES = AuditEntry.__table__
_HEAD = AuditHead.__table__  # the head row is read and written as a Core table: the ORM's bulk-update
# path cost about a fifth of the storage thread's time per request (py-spy, /v1/check at concurrency 1)
# The statements are built once: building them per transaction was about a third of its SQL time.
_LOCK_HEAD = (update(_HEAD).where(_HEAD.c.id == 1).values(writes=_HEAD.c.writes + 1)
              .returning(_HEAD.c.seq, _HEAD.c.hash))
_MOVE_HEAD = update(_HEAD).where(_HEAD.c.id == 1).values(seq=bindparam("new_seq"), hash=bindparam("new_hash"))
_INSERT_ENTRIES = insert(_ENTRIES)


class Chain:
    """Appends within one transaction; opening it takes the head row's lock. Entries are
    hashed and numbered as they are appended, and inserted in one statement when the chain
    closes (before the transaction commits): a batch of requests costs one insert, not one
    ORM flush per entry."""

    def __init__(self, s: Session) -> None:
        self.s = s
        # A write first: SQLite takes its write lock now (no read-then-upgrade race between
        # processes) and PostgreSQL locks the head row until commit.
        row = s.connection().execute(_LOCK_HEAD).first()
        if row is None:
            raise RuntimeError("audit head row is missing; the database was not initialised by nlp_guard")
        self.seq, self.hash = row.seq, row.hash
        self._rows: list[dict[str, Any]] = []
        self._mark: tuple[int, str, int] | None = None

    def append(self, tenant: str, key_id: str, kind: str, record: dict[str, Any],
               when: datetime | None = None) -> Appended:
        when = when or utcnow()
        seq = self.seq + 1
        full = {"seq": seq, "ts": when.isoformat(timespec="microseconds") + "Z", "tenant": tenant,
                "key_id": key_id, "kind": kind, **record}
        body = canonical(full)
        h = entry_hash(self.hash, body)
        self._rows.append({"seq": seq, "created_at": when, "tenant": tenant, "key_id": key_id, "kind": kind,
                           "record": body, "prev_hash": self.hash, "hash": h})
        self.seq, self.hash = seq, h
        return Appended(seq, h)

    def mark(self) -> None:
        self._mark = (self.seq, self.hash, len(self._rows))

    def rollback_to_mark(self) -> None:
        """Forget the entries appended since :meth:`mark` (their unit's savepoint was rolled back)."""
        if self._mark:
            self.seq, self.hash, n = self._mark
            del self._rows[n:]

    def close(self) -> None:
        """Insert the appended entries and move the head, inside the caller's transaction."""
        self.s.flush()
        conn = self.s.connection()
        if self._rows:
            conn.execute(_INSERT_ENTRIES, self._rows)
            self._rows = []
        conn.execute(_MOVE_HEAD, {"new_seq": self.seq, "new_hash": self.hash})


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    entries: int
    head_hash: str
    bad_seq: int | None = None
    reason: str = ""


def _rows(s: Session, batch: int = 1000) -> Iterator[AuditEntry]:
    last = -1
    while True:
        rows = list(s.scalars(select(AuditEntry).where(AuditEntry.seq > last).order_by(AuditEntry.seq).limit(batch)))
        if not rows:
            return
        yield from rows
        last = rows[-1].seq
        s.expunge_all()


def verify(s: Session) -> VerifyResult:
    """Walk the chain; the first bad entry and why, or ok."""
    prev, expected, n = GENESIS_HASH, 1, 0
    for row in _rows(s):
        n += 1
        def bad(reason: str, seq: int = row.seq) -> VerifyResult:
            return VerifyResult(False, n, prev, seq, reason)
        if row.seq != expected:
            return bad(f"entry {expected} is missing (found {row.seq} next): deleted?", expected)
        try:
            rec = json.loads(row.record)
        except json.JSONDecodeError:
            return bad("record is not valid JSON: edited?")
        if rec.get("seq") != row.seq:
            return bad(f"record says seq {rec.get('seq')} but sits at seq {row.seq}: reordered?")
        if row.prev_hash != prev:
            return bad("prev_hash does not match the previous entry's hash: edited, deleted or reordered?")
        if entry_hash(prev, row.record) != row.hash:
            return bad("hash does not match the record: edited?")
        if (rec.get("tenant"), rec.get("key_id"), rec.get("kind")) != (row.tenant, row.key_id, row.kind):
            return bad("tenant, key_id or kind column differs from the hashed record: edited?")
        prev, expected = row.hash, expected + 1
    head = s.get(AuditHead, 1)
    if head is None:
        return VerifyResult(False, n, prev, None, "audit head row is missing")
    if head.seq != expected - 1 or head.hash != prev:
        return VerifyResult(False, n, prev, expected if head.seq >= expected else head.seq,
                            f"head says the last entry is {head.seq} but the log ends at {expected - 1}: "
                            "newest entries deleted?" if head.seq != expected - 1 else "head hash differs from the last entry")
    return VerifyResult(True, n, prev)
