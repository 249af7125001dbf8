"""The live-call client: replay a transcript file into ``WS /v1/calls/{id}/stream`` as timed ASR
segments (partial hypotheses, then the final) and collect what comes back.

It is the ``nlp-guard live replay`` command, the test client and the load of
``bench/bench_live.py``. It needs only the ``websockets`` package (the ``live``
extra), never the service package. A dropped connection is resumed with the
same call id: un-acknowledged finals are sent again and the events missed are
asked for from the last one received.
"""
from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import InputError

CHAR_MS = 220        # speaking time per character when a segment has no timing (about 4.5 characters a second)
PAUSE_MS = 400       # between turns without timing
PARTIALS = 3         # partial hypotheses per utterance before its final
SPEEDS = {"1": 1.0, "10": 10.0, "max": 0.0}
_SPEAKERS = {"agent": "agent", "customer": "customer", "坐席": "agent", "客户": "customer"}


@dataclass(frozen=True, slots=True)
class Utterance:
    seq: int
    speaker: str
    text: str
    start_ms: int
    end_ms: int


def _utterance_fields(obj: Any, where: str) -> tuple[str, str, int | None, int | None]:
    if not isinstance(obj, dict):
        raise InputError(f"{where}: expected an object with speaker and text")
    speaker = _SPEAKERS.get(str(obj.get("speaker", "")).strip().lower())
    if speaker is None:
        raise InputError(f"{where}.speaker: {obj.get('speaker')!r} is not agent or customer")
    text = obj.get("text")
    if not isinstance(text, str) or not text.strip():
        raise InputError(f"{where}.text: expected non-empty text")
    times = []
    for k in ("start_ms", "end_ms"):
        v = obj.get(k)
        if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 0):
            raise InputError(f"{where}.{k}: expected a whole number of milliseconds")
        times.append(v)
    return speaker, text, times[0], times[1]


def load_call(path: Path) -> tuple[str, list[Utterance]]:
    """(call name, utterances) from a transcript file: one record ``{"id", "turns": [...]}``
    (the scan file's transcript shape, or a JSON document), or one segment or turn per line.
    Partial segments in the file (``"final": false``) are dropped: the replay makes its own."""
    raw = path.read_text("utf-8").lstrip("\ufeff")
    try:
        whole = json.loads(raw)
        records = [whole]
    except json.JSONDecodeError:
        records = []
        for n, line in enumerate(raw.splitlines(), 1):
            if line.strip():
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise InputError(f"line {n}: not valid JSON ({exc.msg})") from None
    if not records:
        raise InputError(f"{path}: no transcript in the file")
    if isinstance(records[0], dict) and "turns" in records[0]:
        if len(records) > 1:
            raise InputError(f"{path}: {len(records)} transcript records; replay one call per file")
        rec = records[0]
        if not isinstance(rec["turns"], list) or not rec["turns"]:
            raise InputError("turns: expected a non-empty list")
        name, items, label = str(rec.get("id") or path.stem), rec["turns"], "turns"
    else:
        name, label = path.stem, "line"
        items = [r for r in records if not (isinstance(r, dict) and r.get("final") is False)]
    out: list[Utterance] = []
    clock = 0
    for i, item in enumerate(items):
        where = f"turns[{i}]" if label == "turns" else f"line {i + 1}"
        speaker, text, start, end = _utterance_fields(item, where)
        start = clock + PAUSE_MS if start is None else start
        end = start + CHAR_MS * len(text) if end is None or end <= start else end
        out.append(Utterance(len(out) + 1, speaker, text, start, end))
        clock = end
    return name, out


def timeline(utterances: list[Utterance]) -> Iterator[tuple[int, dict[str, Any]]]:
    """(milliseconds from the start of the call, frame): each utterance's partial hypotheses
    spread over its speaking time, then the final at its end, in time order."""
    frames: list[tuple[int, int, dict[str, Any]]] = []
    for u in utterances:
        n = len(u.text)
        for k in range(1, PARTIALS + 1):
            cut = n * k // (PARTIALS + 1)
            if cut:
                at = u.start_ms + (u.end_ms - u.start_ms) * k // (PARTIALS + 1)
                frames.append((at, u.seq, {"seq": u.seq, "speaker": u.speaker, "text": u.text[:cut], "final": False}))
        frames.append((u.end_ms, u.seq, {"seq": u.seq, "speaker": u.speaker, "text": u.text, "final": True,
                                         "start_ms": u.start_ms, "end_ms": u.end_ms}))
    frames.sort(key=lambda f: (f[0], f[1], f[2]["final"]))
    for at, _, frame in frames:
        yield at, frame


@dataclass
class ReplayResult:
    call_id: str
    events: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    result: dict[str, Any] | None = None
    reconnects: int = 0
    decision_ms: dict[int, float] = field(default_factory=dict)  # seq -> final sent .. its decision/signals received
    alert_ms: list[tuple[str, float]] = field(default_factory=list)  # (kind, final sent .. alert received)

    @property
    def alerts(self) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("type") == "alert"]


class ReplayError(Exception):
    """The stream refused the call (an error frame before closing) or could not be reached."""


async def replay(url: str, utterances: list[Utterance], call_id: str, *, key: str | None = None, speed: float = 1.0,
                 options: dict[str, Any] | None = None, on_frame: Callable[[dict[str, Any]], None] | None = None,
                 retries: int = 3, end_timeout: float = 120.0) -> ReplayResult:
    """Stream ``utterances`` to ``{url}/v1/calls/{call_id}/stream`` at ``speed`` times real time
    (0: as fast as possible), then ``end``; returns the events, errors and the end-of-call JSON."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

    base = url.rstrip("/")
    if not base.startswith(("ws://", "wss://")):
        raise ReplayError(f"--url must start with ws:// or wss://, got {url!r}")
    endpoint = f"{base}/v1/calls/{call_id}/stream"
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    frames = list(timeline(utterances))
    res = ReplayResult(call_id)
    sent_at: dict[int, float] = {}
    unacked: dict[int, dict[str, Any]] = {}
    cursor = {"frame": 0, "event": 0}
    t0 = time.perf_counter()
    done = asyncio.Event()

    async def receive(ws: Any) -> None:
        async for raw in ws:
            msg = json.loads(raw)
            now = time.perf_counter()
            kind = msg.get("type")
            if "event" in msg:
                cursor["event"] = max(cursor["event"], msg["event"])
                res.events.append(msg)
            if kind == "ack":
                unacked.pop(msg["seq"], None)
            elif kind == "error":
                res.errors.append(msg)
            elif kind in ("decision", "signals") and msg["seq"] in sent_at:
                res.decision_ms.setdefault(msg["seq"], (now - sent_at[msg["seq"]]) * 1000)
            elif kind == "alert" and msg.get("seq") in sent_at:
                res.alert_ms.append((msg["kind"], (now - sent_at[msg["seq"]]) * 1000))
            elif kind == "call_end":
                res.result = msg["result"]
                done.set()
            if on_frame:
                on_frame(msg)

    async def send(ws: Any) -> None:
        for seq in sorted(unacked):   # after a resume: what the server never acknowledged
            await ws.send(json.dumps(unacked[seq], ensure_ascii=False))
        while cursor["frame"] < len(frames):
            at, frame = frames[cursor["frame"]]
            if speed:
                delay = t0 + at / 1000 / speed - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            if frame["final"]:
                unacked[frame["seq"]] = frame
                sent_at.setdefault(frame["seq"], time.perf_counter())
            await ws.send(json.dumps(frame, ensure_ascii=False))
            cursor["frame"] += 1
        await ws.send(json.dumps({"type": "end"}))
        try:
            await asyncio.wait_for(done.wait(), end_timeout)
        except TimeoutError:
            raise ReplayError(f"no end-of-call answer within {end_timeout:.0f} s of sending end") from None

    attempt = 0
    while True:
        try:
            async with connect(endpoint, additional_headers=headers, open_timeout=10, max_size=None) as ws:
                start = {"type": "start", **(options or {}), "last_event": cursor["event"]}
                await ws.send(json.dumps(start, ensure_ascii=False))
                receiver = asyncio.create_task(receive(ws))
                sender = asyncio.create_task(send(ws))
                finished, pending = await asyncio.wait({receiver, sender}, return_when=asyncio.FIRST_COMPLETED)
                for task in pending:
                    task.cancel()
                if sender in finished:
                    sender.result()
                    return res
                receiver.result()     # the server closed the stream normally
                if done.is_set():
                    return res
                raise ReplayError("the server closed the stream before the end of the call")
        except ConnectionClosed as exc:
            if done.is_set():
                return res
            code = exc.rcvd.code if exc.rcvd else None
            if code is not None and code >= 4000:  # refused: a resume would be refused too
                why = res.errors[-1]["message"] if res.errors else (exc.rcvd.reason if exc.rcvd else "")
                raise ReplayError(f"the server closed the stream ({code}): {why}") from None
            attempt += 1
            if attempt > retries:
                raise ReplayError(f"lost the stream to {endpoint} after {retries} retries: {exc}") from None
            res.reconnects += 1
            await asyncio.sleep(min(2.0, 0.2 * attempt))
        except (OSError, TimeoutError) as exc:
            raise ReplayError(f"cannot reach {endpoint}: {exc or type(exc).__name__}") from None
        except (InvalidHandshake, InvalidURI) as exc:
            raise ReplayError(f"cannot open {endpoint}: {exc}") from None
