"""Every endpoint through the real app: payloads, auth, scopes, tenant isolation, limits, errors."""
from __future__ import annotations

import json
import logging

import pytest
from api_helpers import PHONE, POLITE, THREAT

pytestmark = pytest.mark.timeout(120)


def test_check_returns_decision_and_contact_policy(client, auth):
    r = client.post("/v1/check", json={"text": THREAT + "，电话" + PHONE, "debtor_id": "D1", "contact": PHONE,
                                       "sent_at": "2026-01-05T10:00:00", "suggest": True}, headers=auth)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["decision"] == "block"
    assert {v["subcategory"] for v in body["violations"]} >= {"threat.doorstep", "threat.veiled"}
    ev = body["violations"][0]["evidence"][0]
    assert (THREAT + "，电话" + PHONE)[ev["start"]:ev["end"]] == ev["text"]
    assert body["pii"][0]["type"] == "phone"
    assert body["rewrite"] and body["policy_version"] and "model_version" in body
    gate = body["contact_policy"]
    assert gate["decision"] == "allow" and gate["timezone"] == "Asia/Shanghai" and gate["recorded"] is False
    assert body["audit_seq"] == 1
    assert r.headers["x-request-id"]


def test_rewrites_only_when_asked(client, auth):
    """Outreach calls and batches get no rewrite unless they ask; a rewrite that is shown passes the check."""
    plain = client.post("/v1/check", json={"text": THREAT, "dry_run": True}, headers=auth).json()
    asked = client.post("/v1/check", json={"text": THREAT, "dry_run": True, "suggest": True}, headers=auth).json()
    assert plain["decision"] == asked["decision"] == "block"
    assert plain["rewrite"] is None and plain["violations"] == asked["violations"]
    assert asked["rewrite"] and "等着瞧" not in asked["rewrite"]
    again = client.post("/v1/check", json={"text": asked["rewrite"], "dry_run": True}, headers=auth).json()
    assert again["decision"] == "allow"
    items = client.post("/v1/check/batch", json={"items": [{"text": THREAT, "dry_run": True},
                                                           {"text": THREAT, "dry_run": True, "suggest": True},
                                                           {"text": POLITE, "dry_run": True, "suggest": True}]},
                        headers=auth).json()["items"]
    assert [i["rewrite"] is None for i in items] == [True, False, True]
    assert items[1]["rewrite"] == asked["rewrite"]
    bad = client.post("/v1/check", json={"text": THREAT, "suggest": "yes"}, headers=auth)
    assert bad.status_code == 422 and "suggest" in bad.text


def test_allowed_check_records_a_contact_attempt(client, auth):
    r = client.post("/v1/check", json={"text": POLITE, "debtor_id": "D2", "contact": PHONE,
                                       "sent_at": "2026-01-05T10:00:00"}, headers=auth)
    assert r.json()["decision"] == "allow" and r.json()["contact_policy"]["recorded"] is True
    r = client.post("/v1/check", json={"text": POLITE, "debtor_id": "D2", "dry_run": True,
                                       "sent_at": "2026-01-05T10:00:00"}, headers=auth)
    assert r.json()["contact_policy"]["recorded"] is False
    events = client.get("/v1/contacts", params={"debtor_id": "D2"}, headers=auth).json()["events"]
    assert len(events) == 1 and events[0]["source"] == "check" and events[0]["contact"] == "138****5678"


def test_recipient_rule_from_core(client, auth):
    r = client.post("/v1/check", json={"text": "请转告他，他在某某平台的借款已逾期", "recipient": "third_party"},
                    headers=auth)
    assert r.status_code == 200
    assert any(v["subcategory"] == "privacy.third_party_disclosure" for v in r.json()["violations"])


def test_batch_in_order(client, auth):
    items = [{"text": POLITE}, {"text": THREAT}, {"text": POLITE, "recipient": "guarantor"}]
    r = client.post("/v1/check/batch", json={"items": items}, headers=auth)
    assert r.status_code == 200, r.text
    assert [i["decision"] for i in r.json()["items"]] == ["allow", "block", "allow"]
    assert len({i["audit_seq"] for i in r.json()["items"]}) == 3


def test_transcript_scan(client, auth):
    turns = [{"speaker": "agent", "text": "你不还钱我就去你单位闹"}, {"speaker": "customer", "text": "我要去银保监会投诉你们"},
             {"speaker": "agent", "text": POLITE}]
    r = client.post("/v1/transcripts/scan", json={"turns": turns, "call_id": "C1"}, headers=auth)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["decision"] == "block" and len(body["turns"]) == 3
    assert body["turns"][1]["speaker"] == "customer" and body["turns"][1]["decision"] == "allow"
    assert isinstance(body["escalate"], bool) and body["audit_seq"] >= 1


def test_transcript_scan_reports_a_threat_split_across_turns(client, auth):
    turns = [{"speaker": "agent", "text": "你女儿在二年级三班吧"}, {"speaker": "customer", "text": "你想干什么"},
             {"speaker": "agent", "text": "放学路上注意点"}]
    r = client.post("/v1/transcripts/scan", json={"turns": turns}, headers=auth)
    assert r.status_code == 200, r.text
    body = r.json()
    assert [t["decision"] for t in body["turns"]] == ["allow", "allow", "block"]
    (v,) = body["turns"][2]["violations"]
    assert v["evidence"] == [{"start": 0, "end": 2, "text": "放学"}]
    assert v["context_evidence"] == [{"start": 1, "end": 10, "text": "女儿在二年级三班吧", "turn": 0}]
    # a violation within one turn keeps the shape existing consumers know
    r = client.post("/v1/transcripts/scan", json={"turns": [{"speaker": "agent", "text": "你个老赖"}]}, headers=auth)
    assert "context_evidence" not in r.json()["turns"][0]["violations"][0]


@pytest.mark.parametrize("ids", [{"call_id": "C9"}, {"id": "C9"}, {"id": "C9", "call_id": "C9"}])
def test_transcript_accepts_id_as_scan_files_name_it(client, auth, ids):
    turns = [{"speaker": "agent", "text": POLITE}]
    r = client.post("/v1/transcripts/scan", json={"turns": turns, **ids}, headers=auth)
    assert r.status_code == 200, r.text


def test_transcript_id_and_call_id_must_agree(client, auth):
    turns = [{"speaker": "agent", "text": POLITE}]
    r = client.post("/v1/transcripts/scan", json={"turns": turns, "id": "C1", "call_id": "C2"}, headers=auth)
    assert r.status_code == 422 and "differ" in r.json()["error"]["message"], r.text


def test_policy_and_overlay_per_tenant(client, make_key):
    a, b = make_key("acme"), make_key("beta")
    base = client.get("/v1/policy", headers=a).json()
    assert base["tenant"] == "acme" and base["overlay"] is None and base["contact"]["window_start"] == "08:00"
    overlay = {"version": "7", "contact": {"window_start": "09:00", "window_end": "20:00"},
               "add_rules": [{"id": "acme.nickname", "subcategory": "abuse.insult", "score": 0.9, "phrases": ["赖皮鬼"]}]}
    r = client.put("/v1/admin/policy/overlay", json=overlay, headers=a)
    assert r.status_code == 200, r.text
    assert r.json()["policy_version"].endswith("+acme.7")
    pa = client.get("/v1/policy", headers=a).json()
    assert pa["contact"]["window_start"] == "09:00" and pa["version"].endswith("+acme.7")
    assert client.get("/v1/admin/policy/overlay", headers=a).json()["overlay"]["version"] == "7"
    # the other tenant still has the base pack
    pb = client.get("/v1/policy", headers=b).json()
    assert pb["version"] == base["version"] and pb["overlay"] is None
    assert client.post("/v1/check", json={"text": "你这个赖皮鬼"}, headers=a).json()["decision"] == "block"
    assert client.post("/v1/check", json={"text": "你这个赖皮鬼"}, headers=b).json()["decision"] == "allow"
    # full pack on request
    assert client.get("/v1/policy", params={"full": "true"}, headers=a).json()["pack"]["rules"]
    # back to base
    assert client.delete("/v1/admin/policy/overlay", headers=a).json()["overlay"] is None
    assert client.get("/v1/policy", headers=a).json()["version"] == base["version"]


def test_bad_overlay_is_422_with_reason(client, auth):
    r = client.put("/v1/admin/policy/overlay", json={"disable_rules": ["no.such.rule"]}, headers=auth)
    assert r.status_code == 422 and "no.such.rule" in r.json()["error"]["message"]
    r = client.put("/v1/admin/policy/overlay", json={"thresholds": {"threat": 3}}, headers=auth)
    assert r.status_code == 422 and "thresholds" in r.json()["error"]["message"]
    r = client.put("/v1/admin/policy/overlay", json={"tenant": "other"}, headers=auth)
    assert r.status_code == 403


def test_health_ready_metrics(client, auth):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["rules_only"] is True and ready.json()["database"] == "ok"
    client.post("/v1/check", json={"text": THREAT}, headers=auth)
    text = client.get("/metrics").text
    assert 'nlp_guard_http_requests_total{method="POST",route="/v1/check",status="200"}' in text
    assert 'nlp_guard_decisions_total{decision="block",endpoint="check"}' in text
    assert 'nlp_guard_violations_total{category="threat"}' in text
    assert "nlp_guard_http_request_duration_seconds_bucket" in text
    assert "nlp_guard_batch_size_bucket" in text


def test_openapi_docs(client):
    spec = client.get("/openapi.json").json()
    for path in ("/v1/check", "/v1/check/batch", "/v1/transcripts/scan", "/v1/policy", "/v1/contacts",
                 "/v1/admin/policy/overlay", "/v1/admin/audit", "/healthz", "/readyz", "/metrics"):
        assert path in spec["paths"]
    assert client.get("/docs").status_code == 200


# -- auth, scopes, tenants -------------------------------------------------------------

@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"},
                                     {"Authorization": "Bearer ngk_000000000000_" + "x" * 43}])
def test_missing_or_unknown_key_is_401(client, headers):
    r = client.post("/v1/check", json={"text": POLITE}, headers=headers)
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert client.get("/v1/policy", headers=headers).status_code == 401


def test_scopes_are_enforced(client, make_key):
    check_only, scan_only = make_key("acme", "check"), make_key("acme", "scan")
    turns = {"turns": [{"speaker": "agent", "text": POLITE}]}
    assert client.post("/v1/check", json={"text": POLITE}, headers=check_only).status_code == 200
    assert client.post("/v1/transcripts/scan", json=turns, headers=check_only).status_code == 403
    assert client.post("/v1/check", json={"text": POLITE}, headers=scan_only).status_code == 403
    assert client.post("/v1/check/batch", json={"items": [{"text": POLITE}]}, headers=scan_only).status_code == 403
    assert client.post("/v1/transcripts/scan", json=turns, headers=scan_only).status_code == 200
    for method, path in [("get", "/v1/admin/audit"), ("get", "/v1/admin/policy/overlay"), ("get", "/v1/admin/settings")]:
        r = getattr(client, method)(path, headers=check_only)
        assert r.status_code == 403 and "admin" in r.json()["error"]["message"]


def test_tenant_isolation_of_contacts_and_audit(client, make_key):
    a, b = make_key("acme"), make_key("beta")
    client.post("/v1/contacts", json={"debtor_id": "D9", "contact": PHONE, "outcome": "connected"}, headers=a)
    client.post("/v1/check", json={"text": THREAT}, headers=a)
    assert client.get("/v1/contacts", params={"debtor_id": "D9"}, headers=b).json()["events"] == []
    assert len(client.get("/v1/contacts", params={"debtor_id": "D9"}, headers=a).json()["events"]) == 1
    assert client.get("/v1/admin/audit", headers=b).json()["entries"] == []
    assert {e["record"]["tenant"] for e in client.get("/v1/admin/audit", headers=a).json()["entries"]} == {"acme"}
    # a stop on acme's D9 does not stop beta's D9
    client.post("/v1/contacts", json={"debtor_id": "D9", "outcome": "stop"}, headers=a)
    body = {"text": POLITE, "debtor_id": "D9", "sent_at": "2026-01-05T10:00:00"}
    assert client.post("/v1/check", json=body, headers=a).json()["contact_policy"]["decision"] == "block"
    assert client.post("/v1/check", json=body, headers=b).json()["contact_policy"]["decision"] == "allow"


def test_admin_keys_create_and_revoke(client, auth, make_key):
    r = client.post("/v1/admin/keys", json={"scopes": ["check"]}, headers=auth)
    assert r.status_code == 201
    new = {"Authorization": f"Bearer {r.json()['key']}"}
    assert client.post("/v1/check", json={"text": POLITE}, headers=new).status_code == 200
    other = make_key("beta")
    assert client.delete(f"/v1/admin/keys/{r.json()['key_id']}", headers=other).status_code == 404
    assert client.delete(f"/v1/admin/keys/{r.json()['key_id']}", headers=auth).status_code == 204
    assert client.post("/v1/check", json={"text": POLITE}, headers=new).status_code == 401


# -- bad input and limits -------------------------------------------------------------

@pytest.mark.parametrize("body,field", [
    ({}, "text"), ({"text": 5}, "text"), ({"text": POLITE, "recipient": "boss"}, "recipient"),
    ({"text": POLITE, "channel": "pigeon"}, "channel"), ({"text": POLITE, "recipent": "debtor"}, "recipent"),
    ({"Text": POLITE}, "Text"), ({"text": POLITE, "debtorid": "D1"}, "debtorid"),
    ({"text": "   "}, "text"), ({"text": "a\x00b"}, "text"), ({"text": "\ud800x"}, "text"),
    ({"text": POLITE, "timezone": "Mars/Olympus"}, "timezone"), ({"text": POLITE, "sent_at": "yesterday"}, "sent_at"),
    ({"text": POLITE, "sent_at": "0001-01-01T00:00:00"}, "sent_at"), ({"text": POLITE, "debtor_id": ""}, "debtor_id"),
])
def test_schema_errors_are_422_naming_the_field(client, auth, body, field):
    r = client.post("/v1/check", content=json.dumps(body), headers={**auth, "content-type": "application/json"})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == field and field in r.json()["error"]["message"]


def test_fields_the_api_does_not_use_come_back_as_sent(client, auth):
    """A caller's own fields pass through (a near miss of a known one is the 422 above); the
    audit log keeps their names, not their values, which may be raw PII."""
    extra = {"campaign_id": "C-7", "debtor_name": "李秀英", "meta": {"phone": PHONE, "n": [1, 2]}}
    r = client.post("/v1/check", json={"text": POLITE, "dry_run": True, **extra}, headers=auth)
    assert r.status_code == 200, r.text
    assert r.json()["extra"] == extra and r.json()["decision"] == "allow"
    rec = client.get("/v1/admin/audit", headers=auth).json()["entries"][-1]["record"]
    assert rec["meta"]["extra_fields"] == sorted(extra)
    assert PHONE not in json.dumps(rec, ensure_ascii=False) and "李秀英" not in json.dumps(rec, ensure_ascii=False)
    assert "extra" not in client.post("/v1/check", json={"text": POLITE, "dry_run": True}, headers=auth).json()
    batch = client.post("/v1/check/batch", json={"batch_id": "B1", "items": [{"text": POLITE, "dry_run": True, "row": 7},
                                                                         {"text": POLITE, "dry_run": True}]},
                        headers=auth).json()
    assert batch["extra"] == {"batch_id": "B1"}
    assert [i.get("extra") for i in batch["items"]] == [{"row": 7}, None]
    turns = [{"speaker": "agent", "text": POLITE, "start_ms": 0}, {"speaker": "customer", "text": "好的", "start_ms": 2100}]
    scan = client.post("/v1/transcripts/scan", json={"turns": turns, "agent_id": "A9"}, headers=auth).json()
    assert scan["extra"] == {"agent_id": "A9"}
    assert [t["extra"] for t in scan["turns"]] == [{"start_ms": 0}, {"start_ms": 2100}]
    rec = client.get("/v1/admin/audit", headers=auth).json()["entries"][-1]["record"]
    assert rec["redacted_turns"] == [{"speaker": "agent", "text": POLITE}, {"speaker": "customer", "text": "好的"}]


def test_a_dialers_contact_event_keeps_its_own_fields(client, auth):
    r = client.post("/v1/contacts", json={"debtor_id": "D9", "outcome": "no_answer", "call_uuid": "u-1",
                                          "ring_s": 31}, headers=auth)
    assert r.status_code == 201, r.text
    assert r.json()["extra"] == {"call_uuid": "u-1", "ring_s": 31} and r.json()["outcome"] == "no_answer"
    assert "extra" not in client.post("/v1/contacts", json={"debtor_id": "D9", "outcome": "attempt"},
                                      headers=auth).json()
    rec = client.get("/v1/admin/audit", headers=auth).json()["entries"][-2]["record"]
    assert rec["extra_fields"] == ["call_uuid", "ring_s"] and "u-1" not in json.dumps(rec)
    bad = client.post("/v1/contacts", json={"debtor_id": "D9", "outcom": "attempt"}, headers=auth)
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "outcom"
    assert "did you mean 'outcome'" in bad.json()["error"]["message"]


@pytest.mark.parametrize("body,field", [
    ({"items": [{"text": POLITE, "recipent": "debtor"}]}, "items[0].recipent"),
    ({"item": [{"text": POLITE}]}, "item"),
])
def test_batch_near_misses_name_the_field(client, auth, body, field):
    r = client.post("/v1/check/batch", json=body, headers=auth)
    assert r.status_code == 422 and r.json()["error"]["field"] == field, r.text
    assert "did you mean" in r.json()["error"]["message"]


def test_batch_item_errors_name_the_item(client, auth):
    r = client.post("/v1/check/batch", json={"items": [{"text": POLITE}, {"text": ""}]}, headers=auth)
    assert r.status_code == 422 and r.json()["error"]["field"] == "items[1].text"
    r = client.post("/v1/check/batch", json={"items": [{"text": POLITE}, {"txt": "x"}]}, headers=auth)
    assert r.status_code == 422 and r.json()["error"]["field"].startswith("items[1]")
    r = client.post("/v1/transcripts/scan", json={"turns": [{"speaker": "bot", "text": "x"}]}, headers=auth)
    assert r.status_code == 422 and r.json()["error"]["field"] == "turns[0].speaker"


def test_size_limits_are_413(client, auth):
    r = client.post("/v1/check", json={"text": "好" * 5001}, headers=auth)
    assert r.status_code == 413 and r.json()["error"]["field"] == "text"
    assert client.post("/v1/check", json={"text": "好" * 5000}, headers=auth).status_code == 200
    r = client.post("/v1/check/batch", json={"items": [{"text": POLITE}] * 257}, headers=auth)
    assert r.status_code == 413 and r.json()["error"]["field"] == "items"
    assert client.post("/v1/check/batch", json={"items": [{"text": POLITE}] * 256}, headers=auth).status_code == 200
    r = client.post("/v1/check/batch", json={"items": [{"text": POLITE}, {"text": "好" * 5001}]}, headers=auth)
    assert r.status_code == 413 and r.json()["error"]["field"] == "items[1].text"
    turns = [{"speaker": "customer", "text": "好" * 5000}] * 41
    r = client.post("/v1/transcripts/scan", json={"turns": turns}, headers=auth)
    assert r.status_code == 413 and "200000" in r.json()["error"]["message"]
    r = client.post("/v1/transcripts/scan", json={"turns": [{"speaker": "agent", "text": "好" * 5001}]}, headers=auth)
    assert r.status_code == 413 and r.json()["error"]["field"] == "turns[0].text"


def test_raw_body_limit_is_413(client, auth):
    big = json.dumps({"text": "x" * (3 * 1024 * 1024)})
    r = client.post("/v1/check", content=big, headers={**auth, "content-type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "body_too_large"


@pytest.mark.parametrize("ctype", ["text/plain", "application/x-www-form-urlencoded", "",
                                   "application/json; charset=latin-1"])
def test_wrong_content_type_is_415(client, auth, ctype):
    headers = {**auth, "content-type": ctype} if ctype else auth
    r = client.post("/v1/check", content=json.dumps({"text": POLITE}).encode(), headers=headers)
    assert r.status_code == 415, r.text


@pytest.mark.parametrize("raw", [b'{"text": "\xff\xfe"}', "{\"text\": \"催收\"}".encode("gbk"),
                                 "{\"text\": \"x\"}".encode("utf-16")])
def test_non_utf8_is_400(client, auth, raw):
    r = client.post("/v1/check", content=raw, headers={**auth, "content-type": "application/json"})
    assert r.status_code == 400 and "UTF-8" in r.json()["error"]["message"]


@pytest.mark.parametrize("raw", [b"", b"{", b"[]", b"null", b'"x"', b'{"text": "x"' + b"}" * 3, b"[" * 5000])
def test_malformed_json_is_4xx_never_500(client, auth, raw):
    r = client.post("/v1/check", content=raw, headers={**auth, "content-type": "application/json"})
    assert 400 <= r.status_code < 500, (raw, r.status_code, r.text)
    assert "Traceback" not in r.text


def test_unknown_route_and_method(client, auth):
    assert client.get("/v1/nothing", headers=auth).status_code == 404
    assert client.get("/v1/check", headers=auth).status_code == 405


def test_logs_hold_no_raw_pii(client, auth, caplog):
    caplog.set_level(logging.DEBUG)
    id_card = "110101199003074514"
    client.post("/v1/check", json={"text": f"张三，身份证{id_card}，电话{PHONE}，再不还钱就等着瞧", "contact": PHONE,
                                   "debtor_id": "D1"}, headers=auth)
    client.post("/v1/check", json={"text": "x\x00" + PHONE}, headers=auth)
    assert caplog.records
    assert PHONE not in caplog.text and id_card not in caplog.text


def test_audit_record_is_redacted_unless_tenant_asks(client, auth):
    text = f"电话{PHONE}，再不还钱就等着瞧"
    client.post("/v1/check", json={"text": text, "contact": PHONE, "suggest": True}, headers=auth)
    rec = client.get("/v1/admin/audit", headers=auth).json()["entries"][-1]["record"]
    assert PHONE not in json.dumps(rec, ensure_ascii=False)
    assert rec["redacted_text"] == "电话138****5678，再不还钱就等着瞧" and "text" not in rec
    assert rec["decision"]["rewrite"].startswith("电话138****5678，")  # the rewrite keeps the clause, masked
    assert len(rec["text_sha256"]) == 64 and rec["key_id"] and rec["policy_version"]
    assert client.put("/v1/admin/settings", json={"store_raw_text": True}, headers=auth).json()["store_raw_text"]
    client.post("/v1/check", json={"text": text}, headers=auth)
    rec = client.get("/v1/admin/audit", headers=auth).json()["entries"][-1]["record"]
    assert rec["text"] == text
