"""Live calls against a REAL uvicorn process (`nlp-guard serve`, rules only): the stream's alerts,
error frames, reordering and duplicates, resume, the end-of-call record, auth, the contact gate,
supervisor acknowledgements, and `nlp-guard live replay` through CliRunner."""
from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from api_helpers import new_key
from click.testing import CliRunner
from test_uvicorn import free_port, start_server, stop, wait_ready

websockets = pytest.importorskip("websockets", reason="live calls need the 'live' extra")
from websockets.exceptions import ConnectionClosed  # noqa: E402
from websockets.sync.client import connect  # noqa: E402

from nlp_guard.cli import main  # noqa: E402
from nlp_guard.live import load_call, replay, timeline  # noqa: E402

pytestmark = pytest.mark.timeout(180)
RESUME_S = 2.0
CALL = [{"speaker": "agent", "text": "您好，这里是某某公司，请问是张三先生吗？"},
        {"speaker": "customer", "text": "是我。我失业了，实在还不上，我不想活了"},
        {"speaker": "agent", "text": "你再不还钱就等着瞧，我知道你住哪"},
        {"speaker": "customer", "text": "我要投诉你们"}]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    db_url = f"sqlite:///{tmp_path_factory.mktemp('live') / 'guard.db'}"
    keys = {"all": new_key(db_url, "acme", "check,scan,admin"), "check": new_key(db_url, "acme", "check"),
            "other": new_key(db_url, "globex", "scan")}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = start_server(db_url, port, env={"NLP_GUARD_LIVE_RESUME_S": str(RESUME_S), "NLP_GUARD_LIVE_REORDER_MS": "300"})
    try:
        wait_ready(base, proc)
        yield {"base": base, "ws": f"ws://127.0.0.1:{port}", "keys": keys,
               "key": keys["all"]["Authorization"].removeprefix("Bearer ")}
    finally:
        stop(proc)


def call_id(tag: str) -> str:
    return f"{tag}-{time.monotonic_ns()}"


def open_stream(server: dict[str, Any], cid: str, query: str = "", **kw: Any) -> Any:
    kw.setdefault("additional_headers", server["keys"]["all"])
    return connect(f"{server['ws']}/v1/calls/{cid}/stream{query}", open_timeout=10, **kw)


def recv(ws: Any, timeout: float = 10) -> dict[str, Any]:
    return json.loads(ws.recv(timeout=timeout))


def until(ws: Any, pred: Callable[[dict[str, Any]], bool], timeout: float = 15) -> list[dict[str, Any]]:
    """Frames received up to and including the first that matches ``pred``."""
    out: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while True:
        out.append(recv(ws, max(0.1, deadline - time.monotonic())))
        if pred(out[-1]):
            return out


def seg(seq: int, speaker: str, text: str, final: bool = True, **extra: Any) -> str:
    return json.dumps({"seq": seq, "speaker": speaker, "text": text, "final": final, **extra}, ensure_ascii=False)


def audit(server: dict[str, Any]) -> list[dict[str, Any]]:
    return httpx.get(server["base"] + "/v1/admin/audit?limit=1000", headers=server["keys"]["all"],
                     timeout=10).json()["entries"]


def local_tz(hour: int) -> str:
    """A fixed-offset zone in which it is now ``hour`` o'clock (give or take the minutes)."""
    offset = (hour - datetime.now(UTC).hour + 12) % 24 - 12
    return f"Etc/GMT{'-' if offset >= 0 else '+'}{abs(offset)}"


# -- the stream ---------------------------------------------------------------------------

def test_replayed_call_raises_block_and_escalate_and_records_the_scan_json(server, tmp_path):
    cid = call_id("replay")
    path = tmp_path / "call.json"
    path.write_text(json.dumps({"id": cid, "turns": CALL}, ensure_ascii=False), "utf-8")
    utts = load_call(path)[1]
    res = asyncio.run(replay(server["ws"], utts, cid, key=server["key"], speed=0))
    alerts = [(a["kind"], a["seq"], a["reason"]) for a in res.alerts]
    assert ("escalate", 2, ["distress"]) in alerts
    assert ("block", 3, ["threat.doorstep", "threat.veiled"]) in alerts
    assert ("escalate", 4, ["complaint"]) in alerts
    assert all(k != "block" or s == 3 for k, s, _ in alerts)
    block = next(a for a in res.alerts if a["kind"] == "block")
    text = CALL[2]["text"]
    assert sorted(e["text"] for v in block["violations"] for e in v["evidence"]) == ["知道你住哪", "等着瞧"]
    assert all(text[e["start"]:e["end"]] == e["text"] for v in block["violations"] for e in v["evidence"])
    assert all(v["citations"] for v in block["violations"])
    decisions = [e for e in res.events if e["type"] == "decision"]
    assert [(d["seq"], d["decision"]) for d in decisions] == [(1, "allow"), (3, "block")]
    # the end of the call: the same JSON as POST /v1/transcripts/scan, and ONE audited record
    scan = httpx.post(server["base"] + "/v1/transcripts/scan", json={"turns": CALL}, headers=server["keys"]["all"],
                      timeout=30).json()
    assert res.result is not None
    assert {k: v for k, v in res.result.items() if k != "audit_seq"} == {k: v for k, v in scan.items() if k != "audit_seq"}
    records = [e for e in audit(server) if e["kind"] == "scan" and e["record"]["meta"].get("call_id") == cid]
    assert len(records) == 1 and records[0]["seq"] == res.result["audit_seq"]
    meta = records[0]["record"]["meta"]
    assert meta["endpoint"] == "live" and meta["ended_by"] == "end" and meta["turns"] == 4
    assert {a["kind"] for a in meta["alerts"]} >= {"block", "escalate"}


@pytest.mark.parametrize("frame, field, code", [
    ("not json", "frame", "E100"),
    ("[1, 2]", "frame", "E100"),
    (json.dumps({"seq": 1, "text": "您好", "final": True}), "speaker", "E100"),
    (json.dumps({"seq": "1", "speaker": "agent", "text": "您好", "final": True}), "seq", "E100"),
    (json.dumps({"seq": -1, "speaker": "agent", "text": "您好", "final": True}), "seq", "E100"),
    (json.dumps({"seq": 1, "speaker": "boss", "text": "您好", "final": True}), "speaker", "E100"),
    (json.dumps({"seq": 1, "speaker": "agent", "text": "您好", "final": "yes"}), "final", "E100"),
    (json.dumps({"seq": 1, "speaker": "agent", "text": "   ", "final": True}), "text", "E101"),
    (json.dumps({"seq": 1, "speaker": "agent", "text": "催" * 5001, "final": True}), "text", "E102"),
    (json.dumps({"seq": 1, "speaker": "agent", "text": "您好\x00", "final": True}), "text", "E100"),
    (json.dumps({"type": "shout"}), "type", "E100"),
    (json.dumps({"type": "start", "debtor_id": "D1"}), "type", "E100"),
])
def test_bad_frames_get_an_error_naming_the_field_and_the_stream_goes_on(server, frame, field, code):
    with open_stream(server, call_id("bad")) as ws:
        ws.send(seg(1, "agent", "您好，这里是某某公司。"))
        until(ws, lambda m: m["type"] == "decision")
        ws.send(frame)
        err = recv(ws)
        assert err["type"] == "error" and err["field"] == field and err["code"] == code, err
        ws.send(seg(2, "agent", "你再不还钱就等着瞧"))
        got = until(ws, lambda m: m["type"] == "decision")
        assert {"type": "ack", "seq": 2} in got and got[-1]["decision"] == "block"


def test_binary_frame_and_extra_fields(server):
    with open_stream(server, call_id("bin")) as ws:
        ws.send(b"\x00\x01")   # a bad first frame: the call is not opened yet
        err = recv(ws)
        assert err["field"] == "frame" and "binary" in err["message"]
        ws.send(seg(1, "agent", "你再不还钱就等着瞧", confidence=0.93, lang="zh"))   # extra ASR fields are fine
        assert until(ws, lambda m: m["type"] == "decision")[-1]["decision"] == "block"


def test_out_of_order_segments_are_judged_in_order_and_duplicates_ignored(server):
    with open_stream(server, call_id("order")) as ws:
        ws.send(seg(2, "customer", "我不想活了"))
        ws.send(seg(1, "agent", "您好，请问是张三先生吗？"))
        ws.send(seg(2, "customer", "我不想活了"))            # duplicate
        ws.send(seg(3, "agent", "你再不还钱就等着瞧"))
        got = until(ws, lambda m: m["type"] == "decision" and m["seq"] == 3)
        assert [m["seq"] for m in got if m["type"] in ("decision", "signals")] == [1, 2, 3]
        assert [m["index"] for m in got if m["type"] in ("decision", "signals")] == [0, 1, 2]
        assert {"type": "ack", "seq": 2, "duplicate": True} in got
        # a missing seq is waited for (300 ms here), then skipped as a gap; when it comes late it is refused
        ws.send(seg(5, "agent", "您好，请于本月底前还款。"))
        got = until(ws, lambda m: m["type"] == "decision")
        gap = next(m for m in got if m["type"] == "gap")
        assert gap["missing"] == [4, 4] and got[-1]["seq"] == 5 and got[-1]["index"] == 3
        ws.send(seg(4, "agent", "你再不还钱就等着瞧"))
        err = until(ws, lambda m: m["type"] == "error")[-1]
        assert err["code"] == "late" and err["field"] == "seq" and err["seq"] == 4
        ws.send(json.dumps({"type": "end"}))
        end = until(ws, lambda m: m["type"] == "call_end")[-1]
    assert [t["speaker"] for t in end["result"]["turns"]] == ["agent", "customer", "agent", "agent"]
    assert end["result"]["turns"][2]["decision"] == "block"


def test_partials_warn_early_but_never_block(server):
    with open_stream(server, call_id("partial")) as ws:
        ws.send(seg(1, "agent", "你再不还钱就等", final=False))
        ws.send(seg(1, "agent", "你再不还钱就等着瞧", final=False))
        got = until(ws, lambda m: m["type"] == "alert")
        assert [(m["kind"], m["partial"], m["reason"], m["text"]) for m in got if m["type"] == "alert"] == [
            ("warning", True, ["threat.veiled"], "你再不还钱就等着瞧")]
        ws.send(seg(1, "agent", "你再不还钱就等着瞧，", final=False))   # the same words again: no second warning
        # the final the recogniser settled on is compliant: no block (the warning stays as history)
        ws.send(seg(1, "agent", "你再不还款，我们就等您回电协商"))
        got = until(ws, lambda m: m["type"] == "decision")   # events are ordered: any alert would come first
        assert got[-1]["decision"] == "allow" and not any(m["type"] == "alert" for m in got)


@pytest.mark.parametrize("text, verdict", [
    ("你再不還錢就等著瞧，我知道你住哪", "block"),          # traditional characters
    ("你再不还钱就等着 瞧，我知道你 住哪", "block"),         # spaces inside the words
    ("你再不还钱就等着qiao，我知道你住哪", "block"),        # pinyin for a character
    ("您好，请于本月底前还款，如有困难可以协商。", "allow"),
    ("请勿相信“等着瞧”之类的威胁，我们不会上门。", "allow"),   # quoted and warned against
])
def test_final_agent_segments_dressed_up_and_honest(server, text, verdict):
    with open_stream(server, call_id("dressed")) as ws:
        ws.send(seg(1, "agent", text))
        got = until(ws, lambda m: m["type"] == "decision")
        assert got[-1]["decision"] == verdict, got[-1]
        ws.send(json.dumps({"type": "end"}))
        after = until(ws, lambda m: m["type"] == "call_end")
    blocks = [m for m in after if m.get("kind") == "block"]
    assert len(blocks) == (verdict == "block") and all("threat.doorstep" in b["reason"] for b in blocks)


def test_resume_with_the_same_call_id_loses_nothing_acknowledged(server):
    cid = call_id("resume")
    with open_stream(server, cid) as ws:
        ws.send(seg(1, "agent", "您好，这里是某某公司。"))
        assert recv(ws)["type"] == "ready"
        ws.send(seg(2, "customer", "我不想活了"))
        got = until(ws, lambda m: m.get("kind") == "escalate")
        last_event = max(m["event"] for m in got if "event" in m)
        assert {"type": "ack", "seq": 2} in got
        ws.send(seg(3, "agent", "你再不还钱就等着瞧"))   # sent, maybe judged after the drop
        until(ws, lambda m: m["type"] == "ack" and m["seq"] == 3)
    listed = {c["call_id"]: c for c in httpx.get(server["base"] + "/v1/calls", headers=server["keys"]["all"],
                                                 timeout=10).json()["calls"]}
    assert listed[cid]["status"] == "disconnected"
    with open_stream(server, cid) as ws:
        ws.send(json.dumps({"type": "start", "last_event": last_event}))
        ready = recv(ws)
        assert ready["type"] == "ready" and ready["resumed"] is True and ready["acked_through"] == 3
        missed = until(ws, lambda m: m.get("kind") == "block")   # the events after last_event, replayed
        assert all(m["event"] > last_event for m in missed if "event" in m)
        ws.send(seg(3, "agent", "你再不还钱就等着瞧"))   # a client unsure of its ack sends again: ignored
        assert until(ws, lambda m: m["type"] == "ack")[-1] == {"type": "ack", "seq": 3, "duplicate": True}
        ws.send(seg(4, "agent", "请于本月底前还款。"))
        ws.send(json.dumps({"type": "end"}))
        end = until(ws, lambda m: m["type"] == "call_end")[-1]
    assert [t["decision"] for t in end["result"]["turns"]] == ["allow", "allow", "block", "allow"]
    # a call that has ended cannot be resumed: a new call needs a new id
    with open_stream(server, cid) as ws:
        ws.send(json.dumps({"type": "start"}))
        err = recv(ws)
        assert err["code"] == "call_ended" and err["field"] == "call_id"
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
        assert closed.value.rcvd.code == 4409


def test_a_call_not_resumed_in_time_is_ended_and_recorded(server):
    cid = call_id("dropped")
    with open_stream(server, cid) as ws:
        ws.send(seg(1, "agent", "你再不还钱就等着瞧"))
        until(ws, lambda m: m["type"] == "decision")
    deadline = time.monotonic() + RESUME_S + 10
    while time.monotonic() < deadline:
        detail = httpx.get(f"{server['base']}/v1/calls/{cid}", headers=server["keys"]["all"], timeout=10).json()
        if detail["status"] == "ended":
            break
        time.sleep(0.3)
    assert detail["status"] == "ended" and detail["result"]["decision"] == "block"
    rec = [e for e in audit(server) if e["kind"] == "scan" and e["record"]["meta"].get("call_id") == cid]
    assert len(rec) == 1 and rec[0]["record"]["meta"]["ended_by"] == "disconnected"
    assert rec[0]["seq"] == detail["result"]["audit_seq"]


# -- auth ---------------------------------------------------------------------------------

def _refused(ws: Any) -> tuple[dict[str, Any], int]:
    err = recv(ws)
    with pytest.raises(ConnectionClosed) as closed:
        ws.recv(timeout=5)
    return err, closed.value.rcvd.code


@pytest.mark.parametrize("how, code, close", [
    ("none", "unauthorized", 4401),
    ("wrong", "unauthorized", 4401),
    ("check_scope", "forbidden", 4403),
    ("start_without_key", "unauthorized", 4401),
])
def test_stream_refuses_missing_wrong_or_unscoped_keys(server, how, code, close):
    headers = {"none": {}, "wrong": {"Authorization": "Bearer ngk_000000000000_wrongwrongwrongwrongwrong"},
               "check_scope": server["keys"]["check"], "start_without_key": {}}[how]
    with open_stream(server, call_id("auth"), additional_headers=headers) as ws:
        if how in ("none", "start_without_key"):   # a key in the header is refused at once, before any frame
            ws.send(json.dumps({"type": "start"}) if how == "start_without_key" else seg(1, "agent", "你再不还钱就等着瞧"))
        err, got = _refused(ws)
    assert err["type"] == "error" and err["code"] == code and got == close


@pytest.mark.parametrize("how", ["query", "first_frame"])
def test_browser_keys_by_query_or_first_frame(server, how):
    query = f"?key={server['key']}" if how == "query" else ""
    with open_stream(server, call_id("browser"), query, additional_headers={}) as ws:
        if how == "first_frame":
            ws.send(json.dumps({"type": "start", "key": server["key"]}))
        ws.send(seg(1, "agent", "你再不还钱就等着瞧"))
        got = until(ws, lambda m: m["type"] == "decision")
    assert got[0]["type"] == "ready" and got[-1]["decision"] == "block"


def test_calls_are_per_tenant(server):
    cid = call_id("tenant")
    with open_stream(server, cid) as ws:
        ws.send(seg(1, "agent", "您好。"))
        until(ws, lambda m: m["type"] == "decision")
        other = server["keys"]["other"]
        assert cid not in [c["call_id"] for c in httpx.get(server["base"] + "/v1/calls", headers=other, timeout=10).json()["calls"]]
        r = httpx.get(f"{server['base']}/v1/calls/{cid}", headers=other, timeout=10)
        assert r.status_code == 404 and r.json()["error"]["field"] == "call_id"
        assert httpx.get(server["base"] + "/v1/calls", timeout=10).status_code == 401
        assert httpx.get(server["base"] + "/v1/calls", headers=server["keys"]["check"], timeout=10).status_code == 403


# -- the contact gate and acknowledgements ---------------------------------------------------

def test_contact_gate_alerts_outside_the_window_and_on_the_stop_list(server):
    with open_stream(server, call_id("night"), f"?debtor_id=D-night&timezone={quote(local_tz(3))}") as ws:
        ws.send(seg(1, "agent", "您好。"))
        ready = recv(ws)
        assert ready["contact_policy"]["decision"] == "block"
        alert = until(ws, lambda m: m.get("kind") == "contact_gate")[-1]
    assert alert["reason"] == ["time_window"] and alert["contact_policy"]["violations"][0]["limit"] == "08:00–21:00"

    day = local_tz(12)
    with open_stream(server, call_id("day")) as ws:   # allowed, and recorded as a connected call
        ws.send(json.dumps({"type": "start", "debtor_id": "D-day", "timezone": day}))
        ready = recv(ws)
        assert ready["contact_policy"]["decision"] == "allow" and ready["contact_policy"]["recorded"] is True
    events = httpx.get(server["base"] + "/v1/contacts?debtor_id=D-day", headers=server["keys"]["all"], timeout=10).json()
    assert [(e["outcome"], e["channel"], e["source"]) for e in events["events"]] == [("connected", "call", "live")]

    assert httpx.post(server["base"] + "/v1/contacts", json={"debtor_id": "D-stop", "outcome": "stop"},
                      headers=server["keys"]["all"], timeout=10).status_code == 201
    with open_stream(server, call_id("stopped")) as ws:
        ws.send(json.dumps({"type": "start", "debtor_id": "D-stop", "timezone": day}))
        alert = until(ws, lambda m: m.get("kind") == "contact_gate")[-1]
    assert alert["reason"] == ["stop_list"]


def test_bad_start_options_are_named(server):
    with open_stream(server, call_id("opts")) as ws:
        ws.send(json.dumps({"type": "start", "timezone": "Mars/Olympus"}))
        err = recv(ws)
        assert err["field"] == "timezone" and "IANA" in err["message"]
        ws.send(json.dumps({"type": "start", "debtor": "D1"}))
        assert recv(ws)["field"] == "debtor"
        ws.send(json.dumps({"type": "start", "recipient": "emergency_contact"}))   # corrected: the call opens
        assert recv(ws)["type"] == "ready"
        ws.send(seg(1, "agent", "您好，您是张伟的紧急联系人，他在我司的借款已逾期45天，请您督促他还款。"))
        d = until(ws, lambda m: m["type"] == "decision")[-1]
    assert d["decision"] == "block" and d["violations"][0]["subcategory"] == "privacy.third_party_disclosure"
    with open_stream(server, call_id("opts"), "?timezone=Nowhere") as ws:
        err, code = _refused(ws)
    assert err["field"] == "timezone" and code == 4400


def test_supervisor_acknowledges_an_alert_once_and_it_is_audited(server):
    cid = call_id("ack")
    with open_stream(server, cid) as ws:
        ws.send(seg(1, "agent", "你再不还钱就等着瞧"))
        alert = until(ws, lambda m: m.get("kind") == "block")[-1]
        url = f"{server['base']}/v1/calls/{cid}/alerts/{alert['alert_id']}/ack"
        r = httpx.post(url, json={"note": "已介入，客户电话13812345678"}, headers=server["keys"]["all"], timeout=10)
        assert r.status_code == 200, r.text
        acked = r.json()["acked"]
        assert "13812345678" not in acked["note"] and acked["by"]
        frame = until(ws, lambda m: m["type"] == "alert_ack")[-1]
        assert frame["alert_id"] == alert["alert_id"] and frame["audit_seq"] == acked["audit_seq"]
        again = httpx.post(url, json={}, headers=server["keys"]["all"], timeout=10)
        assert again.status_code == 409 and again.json()["error"]["field"] == "alert_id"
        missing = httpx.post(url.replace(alert["alert_id"], "a999"), json={}, headers=server["keys"]["all"], timeout=10)
        assert missing.status_code == 404 and missing.json()["error"]["field"] == "alert_id"
        detail = httpx.get(f"{server['base']}/v1/calls/{cid}", headers=server["keys"]["all"], timeout=10).json()
        assert detail["alerts"][0]["acked"]["audit_seq"] == acked["audit_seq"] and detail["open_alerts"] == 0
        assert [t["text"] for t in detail["transcript"]] == ["你再不还钱就等着瞧"]
    entry = next(e for e in audit(server) if e["seq"] == acked["audit_seq"])
    assert entry["kind"] == "live_ack" and entry["record"]["call_id"] == cid and entry["record"]["alert_kind"] == "block"
    assert "13812345678" not in json.dumps(entry, ensure_ascii=False)


# -- the replay tool ---------------------------------------------------------------------------

def test_timeline_sends_partials_then_the_final_in_time_order(tmp_path):
    path = tmp_path / "segs.jsonl"
    path.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in [
        {"seq": 1, "speaker": "agent", "text": "您好，请问是张三吗", "final": False},
        {"seq": 1, "speaker": "agent", "text": "您好，请问是张三先生吗", "final": True, "start_ms": 0, "end_ms": 2000},
        {"speaker": "customer", "text": "是我"}]), "utf-8")
    name, utts = load_call(path)
    assert name == "segs" and [(u.seq, u.text, u.start_ms, u.end_ms) for u in utts] == [
        (1, "您好，请问是张三先生吗", 0, 2000), (2, "是我", 2400, 2840)]
    frames = list(timeline(utts))
    times = [t for t, _ in frames]
    assert times == sorted(times)
    first = [f for _, f in frames if f["seq"] == 1]
    assert [f["final"] for f in first] == [False, False, False, True]
    assert all(first[-1]["text"].startswith(f["text"]) for f in first)


def test_cli_replay_prints_alerts_as_they_come(server, tmp_path):
    path = tmp_path / "call.jsonl"
    path.write_text(json.dumps({"id": "cli-call", "turns": CALL}, ensure_ascii=False) + "\n", "utf-8")
    r = CliRunner().invoke(main, ["live", "replay", str(path), "--url", server["ws"], "--key", server["key"],
                                  "--speed", "max", "--call-id", call_id("cli")])
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert lines[0].startswith("call cli-") and "rules only" in lines[0]
    assert any("BLOCK" in ln and "seq 3" in ln and "等着瞧" in ln and "《刑法》" in ln for ln in lines)
    assert any("ESCALATE" in ln and "seq 2" in ln and "distress「不想活」" in ln for ln in lines)
    assert lines[-1].startswith("end: BLOCK, escalate yes, 4 turns")


def test_cli_replay_errors_are_one_line(server, tmp_path):
    runner = CliRunner()
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"speaker": "agent", "text": "您好"}\n{oops\n', "utf-8")
    r = runner.invoke(main, ["live", "replay", str(bad), "--url", server["ws"], "--key", server["key"]])
    assert r.exit_code == 1 and "line 2: not valid JSON" in r.output and "Traceback" not in r.output
    good = tmp_path / "good.jsonl"
    good.write_text('{"speaker": "agent", "text": "您好"}\n', "utf-8")
    r = runner.invoke(main, ["live", "replay", str(good), "--url", server["ws"], "--key", "ngk_000000000000_nopenopenopenopenope",
                             "--speed", "max"], env={"NLP_GUARD_API_KEY": ""})
    assert r.exit_code == 1 and "4401" in r.output and "unknown or revoked API key" in r.output
    r = runner.invoke(main, ["live", "replay", str(good), "--url", server["base"], "--key", server["key"]])
    assert r.exit_code == 1 and "ws://" in r.output
