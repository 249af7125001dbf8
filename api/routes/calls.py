"""Live calls: ``WS /v1/calls/{call_id}/stream`` (ASR segments in, decisions and alerts out),
the calls in progress for the page, and a supervisor's acknowledgement of an alert.

The stream authenticates with a scan key: ``Authorization: Bearer KEY``, a ``key`` query
parameter, or (for browsers, which cannot set headers on a WebSocket) a first frame
``{"type": "start", "key": ...}``. The call opens on the first frame; a ``start`` frame or
the query parameters give its options (debtor_id, contact, timezone, recipient, dry_run,
last_event). Every frame that cannot be used gets an ``error`` frame naming the field, and
the stream goes on; only a failed authentication or an unusable start closes it.
"""
from __future__ import annotations

import asyncio
import json
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request, WebSocket
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy.orm import Session
from starlette.websockets import WebSocketDisconnect

from nlp_guard.errors import InputError
from nlp_guard.guard import validate_text
from nlp_guard.redaction import redact_original

from ..audit import Chain
from ..batching import Overloaded
from ..deps import ScanKey
from ..errors import ApiError, field_name
from ..keys import Principal
from ..live import CallEnded, CallOptions, LiveCall, LiveHub, SegmentFrame, StartFrame, now_iso
from ..schemas import ERRORS, ErrorResponse, _In, _Out
from ..service import Service

router = APIRouter(prefix="/v1/calls", tags=["calls"])
log = logging.getLogger("api.live")
MAX_FRAME_CHARS = 64 * 1024
FIRST_FRAME_S = 30.0
# close codes: 4401/4403 like HTTP 401/403, 4400 an unusable start, 4409 the call has ended,
# 4000 replaced by a newer connection to the same call, 1013 try again later
_OPTION_FIELDS = ("debtor_id", "contact", "timezone", "recipient", "dry_run", "last_event")


class _Closed(Exception):
    """The stream was closed on purpose after an error frame."""


class _Conn:
    """One WebSocket; sends are serialised (the event pump and the receive loop both send)."""

    def __init__(self, ws: WebSocket) -> None:
        self.ws = ws
        self._lock = asyncio.Lock()

    async def send(self, frame: dict[str, Any]) -> None:
        async with self._lock:
            await self.ws.send_text(json.dumps(frame, ensure_ascii=False))

    async def error(self, code: str, message: str, field: str | None, **extra: Any) -> None:
        await self.send({"type": "error", "code": code, "field": field, "message": message, **extra})

    async def fail(self, close_code: int, code: str, message: str, field: str | None = None) -> None:
        await self.error(code, message, field)
        await self.ws.close(close_code, message[:120])
        raise _Closed


def _bearer(ws: WebSocket) -> str | None:
    auth = ws.headers.get("authorization", "")
    if auth.lower().startswith("bearer ") and auth[7:].strip():
        return auth[7:].strip()
    return ws.query_params.get("key") or None


def _invalid(exc: ValidationError) -> tuple[str, str]:
    """(field, message) of a frame's first validation error."""
    e = exc.errors()[0]
    field = field_name(e.get("loc", ())) if e.get("loc") else "frame"
    msg = str(e.get("msg", "invalid")).removeprefix("Value error, ")
    if e.get("type") == "extra_forbidden":
        msg = "unknown field; remove it or check its spelling"
    elif e.get("type") == "missing":
        msg = "field required"
    return field, f"{field}: {msg}"


def _parse(raw: str | None) -> tuple[dict[str, Any] | None, str, str]:
    """(frame, "", "") or (None, field, message)."""
    if raw is None:
        return None, "frame", "frame: binary frames are not accepted; send JSON text"
    if len(raw) > MAX_FRAME_CHARS:
        return None, "frame", f"frame: {len(raw)} characters; the limit is {MAX_FRAME_CHARS}"
    try:
        obj = json.loads(raw)
    except json.JSONDecodeError as exc:
        return None, "frame", f"frame: not valid JSON ({exc.msg} at position {exc.pos})"
    if not isinstance(obj, dict):
        return None, "frame", "frame: expected a JSON object"
    return obj, "", ""


async def _receive(ws: WebSocket, timeout: float | None = None) -> str | None:
    msg = await asyncio.wait_for(ws.receive(), timeout)
    if msg["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(msg.get("code", 1000))
    return msg.get("text")


async def _authenticate(conn: _Conn, service: Service, key: str) -> Principal:
    hit, principal = service.cached_principal(key)
    if not hit:
        principal = await run_in_threadpool(service.authenticate, key)
    if principal is None:
        await conn.fail(4401, "unauthorized", "unknown or revoked API key")
    assert principal is not None
    if "scan" not in principal.scopes:
        await conn.fail(4403, "forbidden", f"this key lacks the 'scan' scope (it has: {', '.join(sorted(principal.scopes))})")
    return principal


async def _open(conn: _Conn, service: Service, key: str | None) -> tuple[Principal, StartFrame, dict[str, Any] | None]:
    """Authenticate and read the call's options; returns the first frame when it is not a start frame."""
    ws = conn.ws
    query: dict[str, Any] = {k: ws.query_params[k] for k in _OPTION_FIELDS if k in ws.query_params}
    if query.get("dry_run") in ("true", "1", "false", "0"):
        query["dry_run"] = query["dry_run"] in ("true", "1")
    if str(query.get("last_event", "")).isdigit():
        query["last_event"] = int(query["last_event"])
    try:
        options = StartFrame.model_validate(query)
    except ValidationError as exc:
        field, msg = _invalid(exc)
        await conn.fail(4400, "E100", msg, field)
    principal = await _authenticate(conn, service, key) if key else None
    while True:
        try:
            raw = await _receive(ws, FIRST_FRAME_S)
        except TimeoutError:
            await conn.fail(4400, "timeout", f"frame: nothing received within {FIRST_FRAME_S:.0f} s of connecting")
        obj, field, msg = _parse(raw)
        if obj is None:
            if principal is None:
                await conn.fail(4401, "unauthorized", f"missing API key: send 'Authorization: Bearer KEY', ?key=, "
                                                      f"or a first frame {{\"type\": \"start\", \"key\": ...}} ({msg})")
            await conn.error("E100", msg, field)
            continue
        if obj.get("type") != "start":
            if principal is None:
                await conn.fail(4401, "unauthorized", "missing API key: send 'Authorization: Bearer KEY', ?key=, "
                                                      "or a first frame {\"type\": \"start\", \"key\": ...}")
            assert principal is not None
            return principal, options, obj
        try:
            start = StartFrame.model_validate({**options.model_dump(exclude_unset=True), **obj})
        except ValidationError as exc:
            field, msg = _invalid(exc)
            if principal is None and field != "key" and isinstance(obj.get("key"), str):
                principal = await _authenticate(conn, service, obj["key"])
            await conn.error("E100", msg, field)  # the client may send a corrected start frame
            continue
        if principal is None:
            if not start.key:
                await conn.fail(4401, "unauthorized", "missing API key: the start frame needs \"key\" when no "
                                                      "Authorization header or ?key= was sent", "key")
            principal = await _authenticate(conn, service, start.key or "")
        assert principal is not None
        return principal, start, None


@router.websocket("/{call_id}/stream")
async def stream(ws: WebSocket, call_id: str) -> None:
    """ASR segments in; acks, decisions, signals and alerts out (see the module docstring)."""
    await ws.accept()
    conn = _Conn(ws)
    service: Service = ws.app.state.service
    hub: LiveHub = ws.app.state.live
    call: LiveCall | None = None
    pump: asyncio.Task[None] | None = None
    try:
        if not service.ready:
            await conn.fail(1013, "not_ready", f"model not ready: {service.load_error or 'the model is still loading'}")
        if not call_id.strip() or len(call_id) > 128 or any(ord(c) < 32 for c in call_id):
            await conn.fail(4400, "E100", "call_id: 1-128 characters, no control characters", "call_id")
        principal, start, first = await _open(conn, service, _bearer(ws))
        tenant = service.cached_tenant(principal.tenant) or await run_in_threadpool(service.tenant, principal.tenant)
        try:
            call, resumed = await hub.open(tenant, principal.key_id, call_id, CallOptions.of(start))
        except CallEnded:
            await conn.fail(4409, "call_ended", f"call_id: call {call_id!r} has ended; a new call needs a new id",
                            "call_id")
        except Overloaded as exc:
            await conn.fail(1013, "overloaded", f"too many live calls; retry shortly ({exc})")
        assert call is not None
        replaced = hub.attach(call, conn)
        if isinstance(replaced, _Conn):
            await replaced.ws.close(4000, "replaced by a newer connection to this call")
        await conn.send({"type": "ready", "call_id": call_id, "resumed": resumed, "acked_through": call.acked_through,
                         "events": len(call.events), "contact_policy": call.gate,
                         "policy_version": call.guard.policy.version, "model_version": call.guard.model_version})
        pump = asyncio.create_task(_pump(conn, call, start.last_event))
        if first is not None:
            await _handle(conn, service, call, first)
        while call.status not in ("ending", "ended"):
            obj, field, msg = _parse(await _receive(ws))
            if obj is None:
                await conn.error("E100", msg, field)
            else:
                await _handle(conn, service, call, obj)
        await call.finish(call.ended_by or "end")
        await asyncio.wait_for(pump, 10)
        await ws.close(1000, "call ended")
    except (_Closed, WebSocketDisconnect):
        pass
    except Exception:  # never a stack trace to the client
        log.exception("live stream call=%s failed", call_id)
        try:
            await conn.error("internal", "the stream failed; reconnect with the same call_id to resume", None)
            await ws.close(1011)
        except Exception:
            pass
    finally:
        if pump and not pump.done():
            pump.cancel()
        if call is not None:
            hub.detach(call, conn)


async def _pump(conn: _Conn, call: LiveCall, after: int) -> None:
    try:
        async for event in call.follow(after):
            await conn.send(event)
    except Exception:  # the socket went away; events stay in the call for a resume
        pass


async def _handle(conn: _Conn, service: Service, call: LiveCall, obj: dict[str, Any]) -> None:
    kind = obj.get("type", "segment")
    if kind == "end":
        call.finish("end")
        return
    if kind == "ping":
        await conn.send({"type": "pong"})
        return
    if kind == "start":
        await conn.error("E100", "type: 'start' is accepted only as the first frame", "type")
        return
    if kind != "segment":
        await conn.error("E100", f"type: {kind!r} is not one of segment, end, ping", "type")
        return
    seq = obj.get("seq")
    try:
        seg = SegmentFrame.model_validate(obj)
    except ValidationError as exc:
        field, msg = _invalid(exc)
        await conn.error("E100", msg, field, seq=seq)
        return
    st = service.settings
    if not seg.final and not seg.text.strip():
        return  # an empty hypothesis: nothing to look at yet
    try:
        validate_text(seg.text, "text", st.max_message_chars)
    except InputError as exc:
        await conn.error(exc.code, exc.message, "text", seq=seg.seq)
        return
    if not seg.final:
        call.on_partial(seg)
        return
    status = call.offer(seg, st.max_transcript_turns, st.max_transcript_chars)
    if status == "late":
        await conn.error("late", f"seq: {seg.seq} arrived after the call moved past it (skipped as a gap); "
                                 "it was not added", "seq", seq=seg.seq)
    elif status == "full":
        await conn.error("transcript_too_long", f"seq: the call is at its limit of {st.max_transcript_turns} turns "
                                                f"or {st.max_transcript_chars} characters; send end", "seq", seq=seg.seq)
    else:
        await conn.send({"type": "ack", "seq": seg.seq, **({"duplicate": True} if status == "duplicate" else {})})


# -- the page's view and the supervisor's acknowledgement ----------------------------------

class CallSummaryOut(_Out):
    call_id: str
    status: str = Field(description="live | disconnected (waiting for a resume) | ending | ended")
    debtor_id: str | None
    started_at: str
    turns: int
    decision: str = Field(description="the worst agent decision so far")
    alerts: int
    open_alerts: int
    events: int


class CallsResponse(_Out):
    calls: list[CallSummaryOut]


class CallDetailOut(CallSummaryOut):
    recipient: str
    contact_policy: dict[str, Any] | None
    transcript: list[dict[str, Any]] = Field(description="final segments in seq order with their judgement")
    partial: dict[str, Any] | None = Field(description="the latest partial hypothesis not yet final")
    alerts: list[dict[str, Any]]  # type: ignore[assignment]
    result: dict[str, Any] | None = Field(description="the end-of-call JSON (as /v1/transcripts/scan) once ended")
    policy_version: str
    model_version: str | None


class AckRequest(_In):
    note: str | None = Field(default=None, max_length=500, description="what the supervisor did (PII is masked)")


class AckResponse(_Out):
    alert_id: str
    acked: dict[str, Any]


def _hub(request: Request) -> LiveHub:
    return request.app.state.live


def _call(request: Request, principal: Principal, call_id: str) -> LiveCall:
    call = _hub(request).get(principal.tenant, call_id)
    if call is None:
        raise ApiError(404, "not_found", f"call_id: no live or recently ended call {call_id[:128]!r}", "call_id")
    return call


@router.get("", response_model=CallsResponse, responses=ERRORS, summary="Live calls (and those ended in the last 10 min)")
async def list_calls(request: Request, principal: ScanKey) -> Any:
    calls = sorted(_hub(request).list(principal.tenant), key=lambda c: (c.status == "ended", c.started_at), reverse=False)
    return CallsResponse.response({"calls": [c.summary() for c in calls]})


@router.get("/{call_id}", response_model=CallDetailOut, responses=ERRORS, summary="One live call: transcript and alerts")
async def get_call(call_id: str, request: Request, principal: ScanKey) -> Any:
    return CallDetailOut.response(_call(request, principal, call_id).detail())


@router.post("/{call_id}/alerts/{alert_id}/ack", response_model=AckResponse,
             responses={**ERRORS, 409: {"model": ErrorResponse, "description": "already acknowledged"}},
             summary="A supervisor acknowledges an alert (audited)")
async def ack_alert(call_id: str, alert_id: str, request: Request, principal: ScanKey,
                    body: Annotated[AckRequest | None, Body()] = None) -> Any:
    call = _call(request, principal, call_id)
    alert = call.alerts.get(alert_id)
    if alert is None:
        raise ApiError(404, "not_found", f"alert_id: no alert {alert_id[:32]!r} in this call", "alert_id")
    if alert["acked"]:
        raise ApiError(409, "already_acked", f"alert_id: {alert_id} was acknowledged at {alert['acked']['at']}",
                       "alert_id")
    note = redact_original(body.note) if body and body.note else None
    service: Service = request.app.state.service

    def unit(s: Session, chain: Chain) -> int:
        return chain.append(principal.tenant, principal.key_id, "live_ack", {
            "call_id": call_id, "alert_id": alert_id, "alert_kind": alert["kind"], "reason": alert["reason"],
            "seq": alert["seq"], "note": note}).seq

    seq = await service.write(unit)
    if alert["acked"]:  # another supervisor won the race while this one was being written
        raise ApiError(409, "already_acked", f"alert_id: {alert_id} was acknowledged at {alert['acked']['at']}",
                       "alert_id")
    alert["acked"] = {"by": principal.key_id, "at": now_iso(), "note": note, "audit_seq": seq}
    call.emit({"type": "alert_ack", "alert_id": alert_id, **alert["acked"]})
    log.info("live ack tenant=%s key=%s call=%s alert=%s kind=%s seq=%d", principal.tenant, principal.key_id,
             call_id, alert_id, alert["kind"], seq)
    return AckResponse.response({"alert_id": alert_id, "acked": alert["acked"]})
