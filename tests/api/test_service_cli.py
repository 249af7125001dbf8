"""The service's CLI commands: keys create/list/revoke, audit verify, serve --help, polite failure."""
from __future__ import annotations

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from api_helpers import POLITE

from api.main import create_app
from nlp_guard.cli import main

pytestmark = pytest.mark.timeout(120)


def run(*args):
    return CliRunner().invoke(main, list(args))


def test_keys_create_prints_key_last_and_it_works(settings, db_url):
    r = run("keys", "create", "--tenant", "acme", "--scopes", "check", "--scopes", "scan", "--database-url", db_url)
    assert r.exit_code == 0, r.output
    key = r.output.strip().splitlines()[-1]
    assert key.startswith("ngk_") and "check,scan" in r.output
    with TestClient(create_app(settings)) as c:
        h = {"Authorization": f"Bearer {key}"}
        assert c.post("/v1/check", json={"text": POLITE}, headers=h).status_code == 200
        assert c.get("/v1/admin/audit", headers=h).status_code == 403
    listed = run("keys", "list", "--database-url", db_url)
    assert "acme" in listed.output and key not in listed.output
    key_id = key.split("_")[1]
    assert run("keys", "revoke", key_id, "--database-url", db_url).exit_code == 0
    assert "revoked" in run("keys", "list", "--database-url", db_url).output
    assert run("keys", "revoke", key_id, "--database-url", db_url).exit_code != 0


def test_keys_are_stored_hashed(db_url):
    key = run("keys", "create", "--tenant", "acme", "--database-url", db_url).output.strip().splitlines()[-1]
    from pathlib import Path
    raw = Path(db_url.removeprefix("sqlite:///")).read_bytes()
    wal = Path(db_url.removeprefix("sqlite:///") + "-wal")
    raw += wal.read_bytes() if wal.exists() else b""
    assert key.split("_", 2)[2].encode() not in raw


@pytest.mark.parametrize("args,msg", [(["--tenant", "Acme Corp"], "tenant"), (["--tenant", "a", "--scopes", "root"],
                                                                             "unknown scope")])
def test_keys_create_rejects_bad_input(db_url, args, msg):
    r = run("keys", "create", *args, "--database-url", db_url)
    assert r.exit_code == 2 and msg in r.output and "Traceback" not in r.output


def test_audit_verify_empty_log_is_ok(db_url):
    r = run("audit", "verify", "--database-url", db_url)
    assert r.exit_code == 0 and "ok: 0 entries" in r.output


def test_serve_help():
    r = run("serve", "--help")
    assert r.exit_code == 0 and "--host" in r.output and "127.0.0.1" in r.output and "--port" in r.output


def test_missing_api_extra_fails_politely(monkeypatch):
    import subprocess
    import sys
    code = ("import sys; sys.modules['fastapi'] = None\n"
            "import importlib.util as u; real = u.find_spec\n"
            "u.find_spec = lambda n, *a: None if n == 'fastapi' else real(n, *a)\n"
            "from nlp_guard.cli import main; main(['serve'])")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and "pip install 'nlp_guard[api]'" in p.stderr and "Traceback" not in p.stderr


# -- serve and the model ----------------------------------------------------------------------
@pytest.fixture
def uvicorn_runs(monkeypatch):
    """Stand in for uvicorn.run: record the app serve would start, start nothing."""
    import uvicorn

    started = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: started.append(app))
    monkeypatch.delenv("NLP_GUARD_RULES_ONLY", raising=False)
    return started


def test_serve_refuses_to_start_without_a_model(no_model, uvicorn_runs, db_url):
    r = CliRunner().invoke(main, ["serve", "--database-url", db_url])
    assert r.exit_code == 1 and not uvicorn_runs and "Traceback" not in r.output
    assert "[E302] no model found" in r.output and str(no_model) in r.output
    assert "Not starting" in r.output and "--rules-only" in r.output and "NLP_GUARD_RULES_ONLY=true" in r.output


def test_serve_with_a_missing_named_model_directory_refuses(uvicorn_runs, db_url, monkeypatch, tmp_path):
    monkeypatch.setenv("NLP_GUARD_MODEL_DIR", str(tmp_path / "typo"))
    r = CliRunner().invoke(main, ["serve", "--database-url", db_url])
    assert r.exit_code == 1 and not uvicorn_runs and f"{tmp_path / 'typo'}" in r.output and "does not exist" in r.output


@pytest.mark.parametrize("how", ["flag", "environment"])
def test_serve_rules_only_starts_without_a_model_and_says_so(no_model, uvicorn_runs, db_url, monkeypatch, how):
    if how == "environment":
        monkeypatch.setenv("NLP_GUARD_RULES_ONLY", "true")
    r = CliRunner().invoke(main, ["serve", "--database-url", db_url] + (["--rules-only"] if how == "flag" else []))
    assert r.exit_code == 0, r.output
    assert "(database sqlite, rules only, no model)" in r.output
    (app,) = uvicorn_runs
    assert app.state.service.settings.rules_only is True


def test_serve_announces_the_model_it_will_load(uvicorn_runs, db_url, monkeypatch):
    from nlp_guard.model import check_model_dir, find_model_dir

    monkeypatch.delenv("NLP_GUARD_MODEL_DIR", raising=False)
    path = find_model_dir()
    r = CliRunner().invoke(main, ["serve", "--database-url", db_url])
    assert r.exit_code == 0, r.output
    assert f"(database sqlite, model {check_model_dir(path).version} from {path})" in r.output
    (app,) = uvicorn_runs
    assert app.state.service.settings.model_dir == path and app.state.service.settings.rules_only is False
