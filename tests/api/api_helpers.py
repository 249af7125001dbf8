"""Shared constants and helpers for the service tests (a unique module name: every
tests/ folder has its own conftest.py, so tests never import from ``conftest``)."""
from __future__ import annotations

from api.db import make_engine, session_factory
from api.keys import create_key

THREAT = "你再不还钱就等着瞧，我知道你住哪"
POLITE = "您好，您的账单已逾期，请尽快还款。"
PHONE = "13812345678"


def new_key(url: str, tenant: str, scopes: str = "check,scan,admin") -> dict[str, str]:
    engine = make_engine(url)
    try:
        with session_factory(engine)() as s, s.begin():
            key, _ = create_key(s, tenant, scopes)
    finally:
        engine.dispose()
    return {"Authorization": f"Bearer {key}"}
