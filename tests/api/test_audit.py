"""The hash-chained audit log: tamper detection (edit, delete, reorder), CLI verify, restart persistence."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from api_helpers import POLITE, THREAT
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from api.audit import verify
from api.db import make_engine, session_factory
from api.main import create_app
from nlp_guard.cli import main

pytestmark = pytest.mark.timeout(120)


def fill(client, auth, n=5):
    for i in range(n):
        client.post("/v1/check", json={"text": THREAT if i % 2 else POLITE}, headers=auth)


def cli_verify(url):
    return CliRunner().invoke(main, ["audit", "verify", "--database-url", url])


def sql(url, *stmts):
    eng = create_engine(url)
    with eng.begin() as c:
        for s in stmts:
            c.execute(text(s))
    eng.dispose()


def test_intact_chain_verifies(client, auth, db_url):
    fill(client, auth)
    r = cli_verify(db_url)
    assert r.exit_code == 0 and "ok: 5 entries" in r.output
    with session_factory(make_engine(db_url))() as s:
        assert verify(s).ok


def test_edit_is_detected(client, auth, db_url):
    fill(client, auth)
    eng = create_engine(db_url)
    with eng.begin() as c:
        rec = json.loads(c.execute(text("SELECT record FROM audit_log WHERE seq=3")).scalar())
        rec["decision"]["decision"] = "allow"
        c.execute(text("UPDATE audit_log SET record=:r WHERE seq=3"), {"r": json.dumps(rec, sort_keys=True)})
    r = cli_verify(db_url)
    assert r.exit_code == 1 and "entry 3" in r.output and "edited" in r.output


def test_edit_with_recomputed_hash_is_detected_at_next_entry(client, auth, db_url):
    fill(client, auth)
    from api.audit import canonical, entry_hash
    eng = create_engine(db_url)
    with eng.begin() as c:
        prev, rec = c.execute(text("SELECT prev_hash, record FROM audit_log WHERE seq=2")).one()
        data = json.loads(rec)
        data["redacted_text"] = "被改过"
        rec = canonical(data)
        c.execute(text("UPDATE audit_log SET record=:r, hash=:h WHERE seq=2"), {"r": rec, "h": entry_hash(prev, rec)})
    r = cli_verify(db_url)
    assert r.exit_code == 1 and "entry 3" in r.output


TAMPERING = [  # (what an attacker runs, the entry verify must name, words its reason must hold)
    (["UPDATE audit_log SET tenant='beta' WHERE seq=4"], 4, ""),
    (["DELETE FROM audit_log WHERE seq=3"], 3, "deleted"),
    (["DELETE FROM audit_log WHERE seq=5"], 5, ""),  # the newest: only the head row still knows it existed
    (["UPDATE audit_log SET seq=-2 WHERE seq=2", "UPDATE audit_log SET seq=2 WHERE seq=3",
      "UPDATE audit_log SET seq=3 WHERE seq=-2"], 2, "reordered"),
]


@pytest.mark.parametrize(("stmts", "entry", "reason"), TAMPERING, ids=["column-edit", "delete", "delete-newest", "reorder"])
def test_sql_tampering_is_detected(client, auth, db_url, stmts, entry, reason):
    fill(client, auth)
    sql(db_url, *stmts)
    r = cli_verify(db_url)
    assert r.exit_code == 1 and f"entry {entry}" in r.output and reason in r.output


def test_restart_keeps_every_acknowledged_record(settings, make_key, db_url):
    with TestClient(create_app(settings)) as c:
        auth = make_key("acme")
        seqs = [c.post("/v1/check", json={"text": POLITE, "debtor_id": "D1", "sent_at": "2026-01-05T10:00:00"},
                       headers=auth).json()["audit_seq"] for _ in range(3)]
        c.put("/v1/admin/policy/overlay", json={"contact": {"window_start": "09:00"}}, headers=auth)
    with TestClient(create_app(settings)) as c:  # a new app on the same file
        entries = c.get("/v1/admin/audit", headers=auth).json()["entries"]
        assert [e["seq"] for e in entries][:3] == seqs and len(entries) == 4
        assert c.get("/v1/policy", headers=auth).json()["contact"]["window_start"] == "09:00"
        assert len(c.get("/v1/contacts", params={"debtor_id": "D1"}, headers=auth).json()["events"]) == 3
        assert c.post("/v1/check", json={"text": POLITE}, headers=auth).json()["audit_seq"] == 5
    assert cli_verify(db_url).exit_code == 0


def test_sqlite_is_in_wal_mode(client, db_url):
    eng = create_engine(db_url)
    with eng.connect() as c:
        assert c.execute(text("PRAGMA journal_mode")).scalar() == "wal"


def test_a_failing_unit_undoes_only_its_own_writes(client, db_url):
    """A storage batch is one transaction; a unit that fails loses its contact event and its
    audit entry, the units around it commit, and the chain stays unbroken."""
    from api.contact_gate import record_event
    from api.db import ContactEvent, utcnow
    from sqlalchemy import select

    service = client.app.state.service

    def unit(debtor: str, fail: bool = False):
        def run(s, chain):
            record_event(s, "acme", debtor_id=debtor, contact=None, channel="sms", outcome="attempt", at=utcnow(),
                         source="check")
            seq = chain.append("acme", "k", "check", {"debtor": debtor}).seq
            if fail:
                raise ValueError(f"unit for {debtor} failed")
            return seq
        return run

    out = service._write_batch([unit("D1"), unit("D2", fail=True), unit("D3")])
    assert out[0] == 1 and isinstance(out[1], ValueError) and out[2] == 2
    with session_factory(make_engine(db_url))() as s:
        assert sorted(s.scalars(select(ContactEvent.debtor_id))) == ["D1", "D3"]
        assert verify(s).ok and verify(s).entries == 2
    assert [service._write_batch([unit(f"E{i}")])[0] for i in range(2)] == [3, 4]

    def bad_row(s, chain):  # fails only when its row is written (NOT NULL), not when the unit runs
        s.add(ContactEvent(tenant="acme", debtor_id="F2", channel=None, outcome="attempt", at=utcnow(), source="x"))
        return chain.append("acme", "k", "check", {"debtor": "F2"}).seq
    out = service._write_batch([unit("F1"), bad_row, unit("F3")])
    assert out[0] == 5 and type(out[1]).__name__ == "IntegrityError" and out[2] == 6
    with session_factory(make_engine(db_url))() as s:
        assert "F2" not in set(s.scalars(select(ContactEvent.debtor_id)))
        assert verify(s).ok and verify(s).entries == 6


def test_concurrent_checks_share_commits_and_every_acknowledged_one_is_on_disk(client, auth, db_url):
    from concurrent.futures import ThreadPoolExecutor

    def post(i: int) -> int:
        r = client.post("/v1/check", json={"text": (THREAT if i % 3 else POLITE) + str(i), "debtor_id": f"D{i % 5}",
                                           "sent_at": "2026-01-05T10:00:00"}, headers=auth)
        assert r.status_code == 200, r.text
        return r.json()["audit_seq"]
    with ThreadPoolExecutor(16) as pool:
        seqs = list(pool.map(post, range(48)))
    assert sorted(seqs) == list(range(1, 49))
    eng = create_engine(db_url)  # another connection, as a restarted process would read the file
    with eng.connect() as c:
        rows = dict(c.execute(text("SELECT seq, record FROM audit_log")).all())
    eng.dispose()
    assert sorted(rows) == sorted(seqs)
    assert {json.loads(r)["meta"]["debtor_id"] for r in rows.values()} == {f"D{i}" for i in range(5)}
    assert cli_verify(db_url).exit_code == 0
