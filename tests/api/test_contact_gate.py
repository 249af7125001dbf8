"""The contact-policy gate through /v1/check and /v1/contacts: window, caps, interval, stop list."""
from __future__ import annotations

import pytest
from api_helpers import PHONE, POLITE

pytestmark = pytest.mark.timeout(120)


def check(client, auth, **kw):
    body = {"text": POLITE, **kw}
    r = client.post("/v1/check", json=body, headers=auth)
    assert r.status_code == 200, r.text
    return r.json()["contact_policy"]


def rules(gate):
    return [v["rule"] for v in gate["violations"]]


@pytest.mark.parametrize("sent_at,allowed", [
    ("2026-01-05T07:59:00", False), ("2026-01-05T08:00:00", True), ("2026-01-05T20:59:00", True),
    ("2026-01-05T21:00:00", False), ("2026-01-05T23:30:00", False), ("2026-01-05T03:00:00", False),
    ("2026-01-05T02:00:00Z", True),    # 10:00 in Shanghai
    ("2026-01-05T13:30:00Z", False),   # 21:30 in Shanghai
])
def test_time_window_in_debtor_time_zone(client, auth, sent_at, allowed):
    gate = check(client, auth, sent_at=sent_at, dry_run=True)
    assert (gate["decision"] == "allow") is allowed, gate
    if not allowed:
        assert rules(gate) == ["time_window"] and "08:00–21:00" in gate["violations"][0]["message"]
        assert gate["violations"][0]["limit"] == "08:00–21:00"
        assert gate["violations"][0]["observed"].endswith("Asia/Shanghai")


def test_window_uses_the_debtors_own_zone(client, auth):
    # 12:00 UTC is 20:00 in Shanghai (allowed) but 21:00 in Tokyo (blocked)
    assert check(client, auth, sent_at="2026-01-05T12:00:00Z", dry_run=True)["decision"] == "allow"
    gate = check(client, auth, sent_at="2026-01-05T12:00:00Z", timezone="Asia/Tokyo", dry_run=True)
    assert rules(gate) == ["time_window"] and "Asia/Tokyo" in gate["violations"][0]["message"]


def test_tenant_window_from_overlay(client, auth):
    client.put("/v1/admin/policy/overlay", json={"contact": {"window_start": "09:00", "window_end": "18:00"}},
               headers=auth)
    assert check(client, auth, sent_at="2026-01-05T08:30:00", dry_run=True)["decision"] == "block"
    assert check(client, auth, sent_at="2026-01-05T09:30:00", dry_run=True)["decision"] == "allow"


def test_attempts_per_number_cap(client, auth):
    for i in range(6):
        gate = check(client, auth, debtor_id="D1", contact=PHONE, sent_at=f"2026-01-05T1{i}:00:00")
        assert gate["decision"] == "allow" and gate["recorded"], (i, gate)
    gate = check(client, auth, debtor_id="D1", contact="+86 138-1234-5678", sent_at="2026-01-05T17:00:00")
    assert rules(gate) == ["attempts_per_number"] and "limit is 6" in gate["violations"][0]["message"]
    assert (gate["violations"][0]["observed"], gate["violations"][0]["limit"]) == ("6", "6")
    # another number of the same debtor is fine; the next local day resets the count
    assert check(client, auth, debtor_id="D1", contact="13900000000", sent_at="2026-01-05T17:00:00")["decision"] == "allow"
    assert check(client, auth, debtor_id="D1", contact=PHONE, sent_at="2026-01-06T09:00:00")["decision"] == "allow"


def test_connected_calls_cap_counts_recorded_events(client, auth):
    for h in (9, 10, 11):
        r = client.post("/v1/contacts", json={"debtor_id": "D2", "contact": PHONE, "channel": "call",
                                              "outcome": "connected", "at": f"2026-01-05T{h:02d}:00:00"}, headers=auth)
        assert r.status_code == 201 and r.json()["contact"] == "138****5678"
    gate = check(client, auth, debtor_id="D2", channel="call", sent_at="2026-01-05T15:00:00")
    assert rules(gate) == ["connected_calls"] and "3 connected calls" in gate["violations"][0]["message"]
    # an SMS is not a call
    assert check(client, auth, debtor_id="D2", channel="sms", sent_at="2026-01-05T15:00:00")["decision"] == "allow"


def test_min_interval(client, auth):
    client.put("/v1/admin/policy/overlay", json={"contact": {"min_interval_minutes": 60}}, headers=auth)
    assert check(client, auth, debtor_id="D3", sent_at="2026-01-05T10:00:00")["recorded"]
    gate = check(client, auth, debtor_id="D3", sent_at="2026-01-05T10:30:00")
    assert rules(gate) == ["min_interval"] and "30 min ago" in gate["violations"][0]["message"]
    assert check(client, auth, debtor_id="D3", sent_at="2026-01-05T11:01:00")["decision"] == "allow"


@pytest.mark.parametrize("outcome,label", [("stop", "停催"), ("opt_out", "opt-out")])
def test_stop_list(client, auth, outcome, label):
    assert check(client, auth, debtor_id="D4", sent_at="2026-01-05T10:00:00", dry_run=True)["decision"] == "allow"
    assert client.post("/v1/contacts", json={"debtor_id": "D4", "outcome": outcome}, headers=auth).status_code == 201
    gate = check(client, auth, debtor_id="D4", sent_at="2026-01-05T10:00:00")
    assert rules(gate) == ["stop_list"] and label in gate["violations"][0]["message"] and not gate["recorded"]
    listing = client.get("/v1/contacts", params={"debtor_id": "D4"}, headers=auth).json()
    assert listing["stopped"] and listing["stop_reason"] == label


def test_several_rules_reported_together(client, auth):
    client.post("/v1/contacts", json={"debtor_id": "D5", "outcome": "stop"}, headers=auth)
    gate = check(client, auth, debtor_id="D5", sent_at="2026-01-05T23:00:00")
    assert rules(gate) == ["stop_list", "time_window"]


def test_blocked_text_records_no_attempt(client, auth):
    r = client.post("/v1/check", json={"text": "再不还钱就等着瞧", "debtor_id": "D6", "sent_at": "2026-01-05T10:00:00"},
                    headers=auth)
    assert r.json()["decision"] == "block" and r.json()["contact_policy"]["recorded"] is False
    assert client.get("/v1/contacts", params={"debtor_id": "D6"}, headers=auth).json()["events"] == []


def test_batch_items_count_toward_caps_in_order(client, auth):
    items = [{"text": POLITE, "debtor_id": "D7", "contact": PHONE, "sent_at": f"2026-01-05T1{i}:00:00"} for i in range(8)]
    r = client.post("/v1/check/batch", json={"items": items}, headers=auth).json()["items"]
    assert [i["contact_policy"]["decision"] for i in r] == ["allow"] * 6 + ["block"] * 2
