"""Fixtures for the service tests: a real app on a temp SQLite file (rules only
unless a test asks for the model), and API keys made through the keys module."""
from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

_ROOT = Path(__file__).resolve().parents[2]
for _p in (str(_ROOT), str(Path(__file__).parent)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

pytest.importorskip("fastapi", reason="the service tests need the 'api' extra")

from fastapi.testclient import TestClient  # noqa: E402

from api.main import create_app  # noqa: E402
from api_helpers import new_key  # noqa: E402
from api.settings import Settings  # noqa: E402



@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'guard.db'}"


@pytest.fixture
def settings(db_url: str) -> Settings:
    return Settings(database_url=db_url, rules_only=True, _env_file=None)


@pytest.fixture
def make_key(db_url: str) -> Callable[..., dict[str, str]]:
    return lambda tenant="acme", scopes="check,scan,admin": new_key(db_url, tenant, scopes)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def auth(client: TestClient, make_key: Callable[..., dict[str, str]]) -> dict[str, str]:
    return make_key("acme")
