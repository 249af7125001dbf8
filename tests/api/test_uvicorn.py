"""A real uvicorn process (`nlp-guard serve`) on a free loopback port, started and stopped here."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from api_helpers import POLITE, THREAT, new_key

pytestmark = pytest.mark.timeout(180)
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(db_url: str, port: int, rules_only: bool = True, env: dict[str, str] | None = None) -> subprocess.Popen:
    env = {**os.environ, "NLP_GUARD_DATABASE_URL": db_url, "NLP_GUARD_RULES_ONLY": str(rules_only).lower(),
           "NLP_GUARD_LOG_LEVEL": "warning", **(env or {})}
    return subprocess.Popen([str(Path(sys.executable).parent / "nlp-guard"), "serve", "--host", "127.0.0.1", "--port", str(port)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_ready(base: str, proc: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited: {proc.stdout.read() if proc.stdout else ''}")
        try:
            if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("server did not become ready")


def stop(proc: subprocess.Popen) -> int:
    proc.send_signal(signal.SIGINT)
    try:
        return proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait(5)


def test_real_server_round_trip_and_restart(db_url):
    auth = new_key(db_url, "acme")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = start_server(db_url, port)
    try:
        wait_ready(base, proc)
        assert httpx.get(base + "/healthz").json() == {"status": "ok"}
        r = httpx.post(base + "/v1/check", json={"text": THREAT, "debtor_id": "D1"}, headers=auth, timeout=10)
        assert r.status_code == 200 and r.json()["decision"] == "block"
        seq = r.json()["audit_seq"]
        assert httpx.post(base + "/v1/check", json={"text": POLITE}, timeout=10).status_code == 401
        assert httpx.post(base + "/v1/check", content=b"\xff", headers={**auth, "content-type": "application/json"},
                          timeout=10).status_code == 400
        assert "nlp_guard_http_requests_total" in httpx.get(base + "/metrics").text
    finally:
        rc = stop(proc)
    assert rc == 0
    # a restarted server sees the acknowledged record
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = start_server(db_url, port)
    try:
        wait_ready(base, proc)
        seqs = [e["seq"] for e in httpx.get(base + "/v1/admin/audit", headers=auth, timeout=10).json()["entries"]]
        assert seq in seqs
    finally:
        stop(proc)
