"""PostgreSQL: the same service against a real server.

Runs when NLP_GUARD_TEST_PG_URL names a database this test may wipe (.ci/run starts a
throwaway cluster on 127.0.0.1 and sets it); skipped otherwise."""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import pytest
from click.testing import CliRunner
from api_helpers import PHONE, POLITE, THREAT, new_key

PG_URL = os.environ.get("NLP_GUARD_TEST_PG_URL")
pytestmark = [pytest.mark.timeout(180),
              pytest.mark.skipif(not PG_URL, reason="NLP_GUARD_TEST_PG_URL is not set (no PostgreSQL server; "
                                                    ".ci/run starts one)")]


@pytest.fixture
def pg_url():
    from sqlalchemy import create_engine

    from api.db import Base
    from api.settings import Settings
    url = Settings(database_url=PG_URL, _env_file=None).database_url
    eng = create_engine(url)
    Base.metadata.drop_all(eng)
    eng.dispose()
    return url


@pytest.fixture
def pg_client(pg_url):
    from fastapi.testclient import TestClient

    from api.main import create_app
    from api.settings import Settings
    with TestClient(create_app(Settings(database_url=pg_url, rules_only=True, _env_file=None))) as c:
        yield c


def test_pg_check_gate_audit_and_tamper(pg_client, pg_url):
    from sqlalchemy import create_engine, text

    from nlp_guard.cli import main
    auth = new_key(pg_url, "acme")
    for i in range(6):
        r = pg_client.post("/v1/check", json={"text": POLITE, "debtor_id": "D1", "contact": PHONE,
                                              "sent_at": f"2026-01-05T1{i}:00:00"}, headers=auth)
        assert r.status_code == 200 and r.json()["contact_policy"]["recorded"]
    r = pg_client.post("/v1/check", json={"text": POLITE, "debtor_id": "D1", "contact": PHONE,
                                          "sent_at": "2026-01-05T17:00:00"}, headers=auth)
    assert [v["rule"] for v in r.json()["contact_policy"]["violations"]] == ["attempts_per_number"]
    assert pg_client.post("/v1/check", json={"text": THREAT}, headers=auth).json()["decision"] == "block"
    ok = CliRunner().invoke(main, ["audit", "verify", "--database-url", pg_url])
    assert ok.exit_code == 0 and "ok: 8 entries" in ok.output
    eng = create_engine(pg_url)
    with eng.begin() as c:
        c.execute(text("DELETE FROM audit_log WHERE seq = 4"))
    eng.dispose()
    bad = CliRunner().invoke(main, ["audit", "verify", "--database-url", pg_url])
    assert bad.exit_code == 1 and "entry 4" in bad.output


def test_pg_two_instances_share_one_chain(pg_url):
    """Two app instances on one database: concurrent writes keep one intact chain and the caps."""
    from fastapi.testclient import TestClient

    from api.audit import verify
    from api.db import make_engine, session_factory
    from api.main import create_app
    from api.settings import Settings
    auth = new_key(pg_url, "acme")
    st = Settings(database_url=pg_url, rules_only=True, _env_file=None)
    with TestClient(create_app(st)) as a, TestClient(create_app(st)) as b:
        def call(i):
            c = a if i % 2 else b
            return c.post("/v1/check", json={"text": POLITE, "debtor_id": "D2", "contact": PHONE,
                                             "sent_at": "2026-01-05T10:00:00"}, headers=auth).json()
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(call, range(20)))
    allowed = sum(r["contact_policy"]["decision"] == "allow" for r in results)
    assert allowed == 6, allowed  # the per-number cap holds across instances
    with session_factory(make_engine(pg_url))() as s:
        v = verify(s)
    assert v.ok and v.entries == 20, v


def test_pg_restart_persistence(pg_url):
    from fastapi.testclient import TestClient

    from api.main import create_app
    from api.settings import Settings
    auth = new_key(pg_url, "acme")
    st = Settings(database_url=pg_url, rules_only=True, _env_file=None)
    with TestClient(create_app(st)) as c:
        seq = c.post("/v1/check", json={"text": POLITE}, headers=auth).json()["audit_seq"]
    with TestClient(create_app(st)) as c:
        assert seq in [e["seq"] for e in c.get("/v1/admin/audit", headers=auth).json()["entries"]]
