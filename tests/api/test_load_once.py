"""Expired cache entries under load: concurrent requests share one database read (Service.load_once)."""
from __future__ import annotations

import asyncio

import api.service as service_mod
from api.service import Service


def test_concurrent_misses_read_the_tenant_and_the_key_once(settings, make_key, monkeypatch):
    key = make_key("acme")["Authorization"].removeprefix("Bearer ")
    tenant_reads: list[str] = []
    real_config = service_mod.tenant_config
    monkeypatch.setattr(service_mod, "tenant_config", lambda s, t: tenant_reads.append(t) or real_config(s, t))
    key_reads: list[str] = []
    real_auth = service_mod.keymod.authenticate
    monkeypatch.setattr(service_mod.keymod, "authenticate", lambda s, k: key_reads.append(k) or real_auth(s, k))

    async def run() -> tuple[list, list]:
        svc = Service(settings)
        await svc.start()
        try:
            principals = await asyncio.gather(*(svc.load_once("key", key, svc.authenticate) for _ in range(20)))
            states = await asyncio.gather(*(svc.load_once("tenant", "acme", svc.tenant) for _ in range(20)))
            svc.forget_tenant("acme")  # expired again: the next burst reads once more
            states += await asyncio.gather(*(svc.load_once("tenant", "acme", svc.tenant) for _ in range(20)))
            assert not svc._loading  # nothing left behind
        finally:
            await svc.stop()
        return principals, states

    principals, states = asyncio.run(run())
    assert tenant_reads == ["acme", "acme"] and key_reads == [key]
    assert all(p is not None and p.tenant == "acme" for p in principals)
    assert {s.tenant for s in states} == {"acme"} and all(s is states[0] for s in states[:20])


def test_a_failed_load_reaches_every_waiter_and_is_not_kept(settings):
    calls: list[str] = []

    def boom(key: str) -> None:
        calls.append(key)
        raise RuntimeError("database down")

    async def run() -> list:
        svc = Service(settings)
        results = await asyncio.gather(*(svc.load_once("tenant", "acme", boom) for _ in range(5)),
                                       return_exceptions=True)
        results.append(await asyncio.gather(svc.load_once("tenant", "acme", boom), return_exceptions=True))
        return results

    results = asyncio.run(run())
    assert all(isinstance(r, RuntimeError) for r in results[:5])
    assert isinstance(results[5][0], RuntimeError) and calls == ["acme", "acme"]  # retried, not cached
