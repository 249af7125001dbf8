"""The service with the shipped model: /readyz says which model runs; without one it is not ready."""
from __future__ import annotations

import json

import pytest
from api_helpers import THREAT
from fastapi.testclient import TestClient

from api.main import create_app
from api.settings import Settings
from nlp_guard.model import find_model_dir

pytestmark = pytest.mark.timeout(600)


@pytest.mark.slow
def test_service_runs_the_shipped_model_and_readyz_names_it(db_url, make_key):
    expected = json.loads((find_model_dir() / "config.json").read_text("utf-8"))["version"]
    with TestClient(create_app(Settings(database_url=db_url, rules_only=False, _env_file=None))) as c:
        ready = c.get("/readyz").json()
        assert ready["status"] == "ready" and ready["model_version"] == expected and ready["rules_only"] is False
        r = c.post("/v1/check", json={"text": THREAT}, headers=make_key("acme"))
        assert r.status_code == 200 and r.json()["decision"] == "block"
        assert r.json()["model_version"] == expected


def test_without_a_model_the_service_is_not_ready_and_says_why(db_url, make_key, tmp_path):
    missing = tmp_path / "no-model"
    with TestClient(create_app(Settings(database_url=db_url, model_dir=missing, _env_file=None))) as c:
        ready = c.get("/readyz")
        assert ready.status_code == 503
        body = ready.json()
        assert body["model_version"] is None and body["rules_only"] is False
        assert "E302" in body["status"] and str(missing) in body["status"]
        r = c.post("/v1/check", json={"text": THREAT}, headers=make_key("acme"))
        assert r.status_code == 503 and r.json()["error"]["code"] == "not_ready"
        assert "E302" in r.json()["error"]["message"]
