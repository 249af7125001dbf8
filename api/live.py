"""Live call screening: the server-side state of the calls in progress.

A :class:`LiveCall` holds one call's accepted final segments (in ``seq`` order),
the events it produced (decisions, customer signals, alerts, skipped gaps,
supervisor acknowledgements, the end) and its contact-gate verdict. It lives in
the process's :class:`LiveHub`, keyed by tenant and call id, not in a
connection: a client that drops and reconnects with the same call id within
``live_resume_s`` finds every segment it was acknowledged, and the events it
missed (from the ``last_event`` it names). A call not resumed in time is ended
and recorded as if the client had sent ``end``; so is every call still open
when the service shuts down. The state is in memory only: a crash loses the
calls in progress, whose one durable record is written at their end.

Order: a final segment is accepted into a small reorder buffer; segments are
judged strictly in ``seq`` order, one call at a time, and a missing ``seq`` is
skipped (a ``gap`` event) after ``live_reorder_ms`` or when
:data:`REORDER_WINDOW` later segments are waiting behind it.
"""
from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt
from sqlalchemy.orm import Session

from nlp_guard.guard import Guard
from nlp_guard.results import TurnResult

from .audit import Chain
from .batching import MicroBatcher, Overloaded
from .contact_gate import contact_hash, evaluate, record_event
from .routes.transcripts import scan_and_record
from .schemas import Contact, Ident, Recipient, TimeZone
from .service import Service, TenantState

log = logging.getLogger("api.live")

HISTORY_TURNS = 6        # turns of context an agent segment is judged with: bounded cost per segment
REORDER_WINDOW = 16      # final segments held behind a missing seq before it is skipped
ENDED_KEEP_S = 600.0     # an ended call stays listed (with its result) this long


def judge_turn(guard: Guard, history: Sequence[dict[str, Any]], turn: dict[str, Any]) -> TurnResult:
    """One final segment judged with the call so far, as ``check_transcript`` would judge it
    within the whole call (the context window never reaches further back than
    ``HISTORY_TURNS``). Customer turns yield signals, which need neither context nor the model."""
    context = list(history[-HISTORY_TURNS:]) if turn["speaker"] == "agent" else []
    return guard.check_turn(context, turn)


# -- frames in ------------------------------------------------------------------------------

class SegmentFrame(BaseModel):
    """An ASR segment. Partial hypotheses repeat their utterance's ``seq``; extra fields are kept out."""

    model_config = ConfigDict(extra="ignore")
    type: Literal["segment"] = "segment"
    seq: StrictInt = Field(ge=0, le=2**31, description="the utterance's number, from 1 (or 0), one per final segment")
    speaker: Literal["agent", "customer"]
    text: str
    final: StrictBool
    start_ms: StrictInt | None = Field(default=None, ge=0)
    end_ms: StrictInt | None = Field(default=None, ge=0)


class StartFrame(BaseModel):
    """The call's options: as query parameters, or as a first frame (which may carry the key)."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["start"] = "start"
    key: str | None = Field(default=None, max_length=200, description="the API key, for browsers")
    debtor_id: Ident | None = None
    contact: Contact | None = None
    timezone: TimeZone | None = None
    recipient: Recipient = Field(default="debtor", description="who the agent is talking to")
    dry_run: StrictBool = Field(default=False, description="do not record the call as a connected contact")
    last_event: StrictInt = Field(default=0, ge=0, description="on resume: the last event received")


@dataclass(frozen=True)
class CallOptions:
    debtor_id: str | None
    contact: str | None
    timezone: str | None
    recipient: str
    dry_run: bool

    @classmethod
    def of(cls, f: StartFrame) -> CallOptions:
        return cls(f.debtor_id, f.contact, f.timezone, f.recipient, f.dry_run)


class CallEnded(Exception):
    """The call id belongs to a call that has ended; a new call needs a new id."""


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# -- one call -------------------------------------------------------------------------------

class LiveCall:
    def __init__(self, hub: LiveHub, tenant: TenantState, key_id: str, call_id: str, opts: CallOptions) -> None:
        self.hub, self.tenant, self.key_id, self.call_id, self.opts = hub, tenant, key_id, call_id, opts
        self.guard = tenant.guard
        self.rules_guard = hub.rules_guard(tenant.guard)
        self.started_at = now_iso()
        self.status: Literal["live", "disconnected", "ending", "ended"] = "live"
        self.ended_by: str | None = None
        self.turns: list[dict[str, Any]] = []   # the record's turns: speaker, text, recipient
        self.rows: list[dict[str, Any]] = []    # per turn: seq, timing and its judgement (for the page)
        self.events: list[dict[str, Any]] = []
        self.alerts: dict[str, dict[str, Any]] = {}
        self.partial: dict[str, Any] | None = None
        self.gate: dict[str, Any] | None = None
        self.result: dict[str, Any] | None = None
        self.conn: object | None = None
        self._accepted: set[int] = set()
        self._buffer: dict[int, SegmentFrame] = {}
        self._next: int | None = None
        self._chars = 0
        self._warned: dict[int, set[str]] = {}
        self._queue: asyncio.Queue[SegmentFrame | None] = asyncio.Queue()
        self._wake = asyncio.Event()
        self._gap_timer: asyncio.TimerHandle | None = None
        self._expiry: asyncio.TimerHandle | None = None
        self._finishing: asyncio.Task[dict[str, Any] | None] | None = None
        self._worker = asyncio.create_task(self._work(), name=f"live-{call_id}")

    # -- events ----------------------------------------------------------------------------
    def emit(self, event: dict[str, Any]) -> dict[str, Any]:
        event = {"event": len(self.events) + 1, **event}
        self.events.append(event)
        wake, self._wake = self._wake, asyncio.Event()
        wake.set()
        return event

    async def follow(self, after: int) -> AsyncIterator[dict[str, Any]]:
        """Every event after number ``after``, then each new one, until the call has ended."""
        cursor = min(after, len(self.events))
        while True:
            wake = self._wake
            while cursor < len(self.events):
                cursor += 1
                yield self.events[cursor - 1]
            if self.status == "ended":
                return
            await wake.wait()

    def alert(self, kind: str, reason: list[str], seq: int | None = None, index: int | None = None,
              **details: Any) -> None:
        alert_id = f"a{len(self.alerts) + 1}"
        body = {"alert_id": alert_id, "kind": kind, "reason": reason, "seq": seq, "index": index, "at": now_iso(),
                **details, "acked": None}
        self.alerts[alert_id] = body
        self.emit({"type": "alert", **body})

    # -- segments in ------------------------------------------------------------------------
    @property
    def acked_through(self) -> int | None:
        """The highest seq up to which every segment was accepted (skipped gaps count as done)."""
        return None if self._next is None else self._next - 1

    def offer(self, seg: SegmentFrame, max_turns: int, max_chars: int) -> Literal["accepted", "duplicate", "late", "full"]:
        """Take a final segment into the reorder buffer."""
        if seg.seq in self._accepted:
            return "duplicate"
        if self._next is None:
            self._next = min(seg.seq, 1)  # numbering from 0 or 1; a first seq of 2 waits for 1
        if seg.seq < self._next:
            return "late"
        if len(self._accepted) >= max_turns or self._chars + len(seg.text) > max_chars:
            return "full"
        self._accepted.add(seg.seq)
        self._chars += len(seg.text)
        self._buffer[seg.seq] = seg
        self._release()
        return "accepted"

    def _release(self) -> None:
        assert self._next is not None
        while self._next in self._buffer:
            self._queue.put_nowait(self._buffer.pop(self._next))
            self._next += 1
        if self._gap_timer:
            self._gap_timer.cancel()
            self._gap_timer = None
        if len(self._buffer) >= REORDER_WINDOW:
            self._skip_gap()
        elif self._buffer:
            self._gap_timer = asyncio.get_running_loop().call_later(
                self.hub.service.settings.live_reorder_ms / 1000, self._skip_gap)

    def _skip_gap(self) -> None:
        if not self._buffer or self._next is None:
            return
        first = min(self._buffer)
        self.emit({"type": "gap", "missing": [self._next, first - 1]})
        self._next = first
        self._release()

    def on_partial(self, seg: SegmentFrame) -> None:
        """Rules only, cheap: an early warning for words a final segment would be judged on; never a block."""
        if seg.seq in self._accepted or (self._next is not None and seg.seq < self._next):
            return  # its final is already in
        self.partial = {"seq": seg.seq, "speaker": seg.speaker, "text": seg.text}
        if seg.speaker != "agent":
            return
        d = self.rules_guard.check(seg.text, self.opts.recipient, suggest=False)
        warned = self._warned.setdefault(seg.seq, set())
        fresh = [v.to_dict() for v in d.violations if v.subcategory not in warned]
        if fresh:
            warned.update(v["subcategory"] for v in fresh)
            self.alert("warning", sorted({v["subcategory"] for v in fresh}), seg.seq, partial=True,
                       text=seg.text, violations=fresh)

    # -- judging ----------------------------------------------------------------------------
    async def _work(self) -> None:
        while (seg := await self._queue.get()) is not None:
            turn = {"speaker": seg.speaker, "text": seg.text,
                    "recipient": self.opts.recipient if seg.speaker == "agent" else "debtor"}
            try:
                r = await self.hub.judges.submit((self.guard, list(self.turns), turn))
            except Exception as exc:  # the segment stays in the transcript; the end-of-call scan judges it
                log.error("live judge failed call=%s seq=%d: %s", self.call_id, seg.seq, type(exc).__name__)
                self.emit({"type": "error", "code": "judge_failed", "field": None, "seq": seg.seq,
                           "message": "this segment could not be judged now; the end-of-call record includes it"})
                r = None
            index = len(self.turns)
            self.turns.append(turn)
            d = r.to_dict() if r else None
            if d:
                d["index"] = index
            self.rows.append({"seq": seg.seq, "start_ms": seg.start_ms, "end_ms": seg.end_ms, "result": d})
            if self.partial and self.partial["seq"] == seg.seq:
                self.partial = None
            if d:
                self._publish(seg.seq, d)

    def _publish(self, seq: int, d: dict[str, Any]) -> None:
        idx = d["index"]
        if d["speaker"] == "agent":
            self.emit({"type": "decision", "seq": seq, **d})
            subs = sorted({v["subcategory"] for v in d["violations"]})
            if d["decision"] == "block":
                self.alert("block", subs, seq, idx, violations=d["violations"])
            elif d["decision"] == "flag" and not set(subs) <= self._warned.get(seq, set()):
                self.alert("warning", subs, seq, idx, partial=False, violations=d["violations"])
            return
        self.emit({"type": "signals", "seq": seq, **d})
        why = sorted({s["code"] for s in d["signals"] if s["escalate"] or s["code"] == "complaint"})
        if why:
            self.alert("escalate", why, seq, idx, signals=[s for s in d["signals"] if s["code"] in why])

    # -- end ----------------------------------------------------------------------------------
    def finish(self, ended_by: str) -> asyncio.Task[dict[str, Any] | None]:
        """End the call once (later callers share the same task): judge what is buffered, then
        write the one audited transcript record and emit ``call_end`` with the scan's JSON."""
        if self._finishing is None:
            self.status = "ending"
            self.ended_by = ended_by
            self._finishing = asyncio.create_task(self._finish(ended_by), name=f"live-end-{self.call_id}")
        return self._finishing

    async def _finish(self, ended_by: str) -> dict[str, Any] | None:
        for h in (self._gap_timer, self._expiry):
            if h:
                h.cancel()
        while self._buffer:
            self._skip_gap()
        self._queue.put_nowait(None)
        await self._worker
        result = None
        if self.turns:
            meta = {"endpoint": "live", "call_id": self.call_id, "debtor_id": self.opts.debtor_id,
                    "turns": len(self.turns), "ended_by": ended_by, "started_at": self.started_at,
                    "alerts": [{k: a[k] for k in ("alert_id", "kind", "reason", "seq", "acked")}
                               for a in self.alerts.values()],
                    "contact_policy": self.gate}
            try:
                result = await scan_and_record(self.hub.service, self.tenant, self.guard, self.key_id,
                                               self.turns, meta)
            except Exception as exc:
                log.error("live call %s: the end-of-call record failed: %s", self.call_id, type(exc).__name__)
                self.emit({"type": "error", "code": "record_failed", "field": None,
                           "message": "the end-of-call record could not be written; the transcript was not recorded"})
        self.result = result
        self.status = "ended"
        self.emit({"type": "call_end", "ended_by": ended_by, "result": result,
                   **({} if self.turns else {"message": "no final segments: nothing to record"})})
        self.hub.ended(self)
        return result

    # -- views ---------------------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        decisions = [r["result"]["decision"] for r in self.rows if r["result"] and r["result"]["speaker"] == "agent"]
        rank = {"allow": 0, "flag": 1, "block": 2}
        return {"call_id": self.call_id, "status": self.status, "debtor_id": self.opts.debtor_id,
                "started_at": self.started_at, "turns": len(self.turns),
                "decision": max(decisions, key=rank.__getitem__, default="allow"),
                "alerts": len(self.alerts), "open_alerts": sum(1 for a in self.alerts.values() if not a["acked"]),
                "events": len(self.events)}

    def detail(self) -> dict[str, Any]:
        return {**self.summary(), "recipient": self.opts.recipient, "contact_policy": self.gate,
                "transcript": [{"index": i, **t, **r} for i, (t, r) in enumerate(zip(self.turns, self.rows, strict=True))],
                "partial": self.partial, "alerts": list(self.alerts.values()), "result": self.result,
                "policy_version": self.guard.policy.version, "model_version": self.guard.model_version}


# -- the hub ---------------------------------------------------------------------------------

class LiveHub:
    """The process's live calls, and the one worker thread that judges their segments."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.calls: dict[tuple[str, str], LiveCall] = {}
        st = service.settings
        self.judges: MicroBatcher[tuple[Guard, list[dict[str, Any]], dict[str, Any]], TurnResult] = MicroBatcher(
            self._judge_batch, name="live", max_size=st.batch_max_size, max_wait=st.batch_max_wait_ms / 1000,
            max_queue=st.batch_queue_size, on_batch=lambda n: service.metrics.batch_size.labels("live").observe(n))
        self._rules: weakref.WeakKeyDictionary[Guard, Guard] = weakref.WeakKeyDictionary()
        self._tasks: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        await self.judges.start()

    async def stop(self) -> None:
        """End and record every call still open (the writer is still running)."""
        open_calls = [c for c in self.calls.values() if c.status != "ended"]
        if open_calls:
            await asyncio.wait([c.finish("shutdown") for c in open_calls], timeout=30)
        await self.judges.stop()

    @staticmethod
    def _judge_batch(items: list[tuple[Guard, list[dict[str, Any]], dict[str, Any]]]) -> list[TurnResult | BaseException]:
        out: list[TurnResult | BaseException] = []
        for guard, history, turn in items:
            try:
                out.append(judge_turn(guard, history, turn))
            except Exception as exc:
                out.append(exc)
        return out

    def rules_guard(self, guard: Guard) -> Guard:
        """The same pack without the classifier, for partial segments (built once per pack)."""
        g = self._rules.get(guard)
        if g is None:
            g = self._rules[guard] = Guard(guard.policy, None, guard.max_chars)
        return g

    def get(self, tenant: str, call_id: str) -> LiveCall | None:
        return self.calls.get((tenant, call_id))

    def list(self, tenant: str) -> list[LiveCall]:
        return [c for (t, _), c in self.calls.items() if t == tenant]

    async def open(self, tenant: TenantState, key_id: str, call_id: str, opts: CallOptions) -> tuple[LiveCall, bool]:
        """The call to attach to, and whether it was resumed. A new call runs the contact gate."""
        call = self.calls.get((tenant.tenant, call_id))
        if call is not None:
            if call.status in ("ending", "ended"):
                raise CallEnded(call_id)
            return call, True
        if sum(1 for c in self.calls.values() if c.status != "ended") >= self.service.settings.live_max_calls:
            raise Overloaded(f"live: {self.service.settings.live_max_calls} calls already open")
        call = self.calls[(tenant.tenant, call_id)] = LiveCall(self, tenant, key_id, call_id, opts)
        if opts.debtor_id or opts.contact:
            await self._gate(call)
        log.info("live call opened tenant=%s key=%s call=%s gate=%s", tenant.tenant, key_id, call_id,
                 call.gate["decision"] if call.gate else "-")
        return call, False

    async def _gate(self, call: LiveCall) -> None:
        """The contact gate for a call starting now; an allowed call is recorded as connected."""
        t, o, salt = call.tenant, call.opts, self.service.settings.pii_hash_salt

        def unit(s: Session, chain: Chain) -> dict[str, Any]:
            verdict, when = evaluate(s, t.tenant, t.pack.contact, channel="call", sent_at=None, debtor_id=o.debtor_id,
                                     contact=o.contact, tz_name=o.timezone, salt=salt)
            if verdict.decision == "allow" and o.debtor_id and not o.dry_run:
                ev = record_event(s, t.tenant, debtor_id=o.debtor_id, contact=o.contact, channel="call",
                                  outcome="connected", at=when, source="live", salt=salt)
                s.flush()
                verdict.recorded = True
                chain.append(t.tenant, call.key_id, "contact", {
                    "event_id": ev.id, "debtor_id": o.debtor_id, "channel": "call", "outcome": "connected",
                    "at": when.isoformat() + "Z", "call_id": call.call_id,
                    "contact_sha256": contact_hash(t.tenant, o.contact, salt) if o.contact else None})
            return verdict.to_dict()

        call.gate = await self.service.write(unit)
        if call.gate["decision"] == "block":
            for v in call.gate["violations"]:
                self.service.metrics.contact_blocks.labels(v["rule"]).inc()
            call.alert("contact_gate", [v["rule"] for v in call.gate["violations"]], contact_policy=call.gate)

    def attach(self, call: LiveCall, conn: object) -> object | None:
        """Make ``conn`` the call's stream; returns the connection it replaces, if any."""
        old, call.conn = call.conn, conn
        if call._expiry:
            call._expiry.cancel()
            call._expiry = None
        if call.status == "disconnected":
            call.status = "live"
        return old if old is not conn else None

    def detach(self, call: LiveCall, conn: object) -> None:
        """The stream dropped: wait ``live_resume_s`` for a resume, then end the call."""
        if call.conn is not conn:
            return
        call.conn = None
        if call.status != "live":
            return
        call.status = "disconnected"
        call._expiry = asyncio.get_running_loop().call_later(self.service.settings.live_resume_s, self._expire, call)

    def _expire(self, call: LiveCall) -> None:
        if call.conn is None and call.status == "disconnected":
            task = call.finish("disconnected")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def ended(self, call: LiveCall) -> None:
        asyncio.get_running_loop().call_later(ENDED_KEEP_S, self._forget, call)

    def _forget(self, call: LiveCall) -> None:
        if self.calls.get((call.tenant.tenant, call.call_id)) is call:
            del self.calls[(call.tenant.tenant, call.call_id)]
