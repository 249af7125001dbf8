"""The service with whatever Guard.default() gives (the shipped model when installed, else rules only)."""
from __future__ import annotations

import pytest
from api_helpers import THREAT
from fastapi.testclient import TestClient

from api.main import create_app
from api.settings import Settings
from nlp_guard.guard import DEFAULT_MODEL_DIR, Guard

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def test_service_uses_guard_default(db_url, make_key):
    expected = Guard.default().model_version
    with TestClient(create_app(Settings(database_url=db_url, rules_only=False, _env_file=None))) as c:
        ready = c.get("/readyz").json()
        assert ready["model_version"] == expected
        assert ready["rules_only"] is (expected is None)
        if DEFAULT_MODEL_DIR.exists():
            assert expected is not None
        r = c.post("/v1/check", json={"text": THREAT}, headers=make_key("acme"))
        assert r.status_code == 200 and r.json()["decision"] == "block"
        assert r.json()["model_version"] == expected
