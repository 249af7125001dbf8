"""The running service: database, guard (model), per-tenant policy, the two
micro-batchers (guard and storage) and metrics. Built and started in the
lifespan; route dependencies reach it through ``request.app.state.service``.

Storage writes go through one writer batcher: each batch is one transaction
(group commit). It locks the audit head first, then runs the units in order
and inserts their audit entries in one statement: the contact gate's reads,
the contact event and the audit entry of one request are atomic (a unit that
fails sends the batch round again with a savepoint per unit, so only its own
writes are undone), and requests are serialised, so caps cannot be raced past.
A response is sent only after its transaction committed.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from nlp_guard.errors import InputError
from nlp_guard.guard import Guard, Message, validate_recipient, validate_text
from nlp_guard.normalize import preload
from nlp_guard.policy import PolicyPack, apply_overlay, default_policy, load_overlay
from nlp_guard.results import Decision

from . import keys as keymod
from .audit import Chain
from .batching import MicroBatcher
from .db import make_engine, ping, session_factory, tenant_config
from .metrics import Metrics
from .settings import Settings

log = logging.getLogger("api")
Unit = Callable[[Session, Chain], Any]
_AUTH_TTL = 5.0
_TENANT_TTL = 2.0


@dataclass(frozen=True)
class TenantState:
    tenant: str
    guard: Guard
    pack: PolicyPack
    overlay: dict[str, Any] | None
    store_raw_text: bool
    revision: int


class Service:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.metrics = Metrics()
        self.engine: Any = None
        self.sessions: Any = None
        self.guard: Guard | None = None
        self.load_error: str | None = None
        self.guards = MicroBatcher(self._check_batch, name="guard", max_size=settings.batch_max_size,
                                   max_wait=settings.batch_max_wait_ms / 1000, max_queue=settings.batch_queue_size,
                                   on_batch=lambda n: self.metrics.batch_size.labels("guard").observe(n))
        self.writer = MicroBatcher(self._write_batch, name="storage", max_size=256, max_wait=0.0005,
                                   max_queue=settings.batch_queue_size,
                                   on_batch=lambda n: self.metrics.batch_size.labels("storage").observe(n))
        self.transcripts = asyncio.Semaphore(settings.transcript_workers)
        self._auth_cache: dict[str, tuple[float, keymod.Principal | None]] = {}
        self._tenant_cache: dict[str, tuple[float, TenantState]] = {}
        self._guard_cache: dict[tuple[str, int], Guard] = {}
        self._loading: dict[tuple[str, str], asyncio.Future[Any]] = {}

    # -- lifecycle ------------------------------------------------------------------
    @property
    def ready(self) -> bool:
        return self.guard is not None and self.guards.running and self.writer.running

    def open_database(self) -> None:
        if self.engine is None:
            self.engine = make_engine(self.settings.database_url, self.settings.sqlite_synchronous)
            self.sessions = session_factory(self.engine)

    def load_guard(self) -> Guard:
        s = self.settings
        guard = Guard.default(model_dir=s.model_dir, rules_only=s.rules_only, threads=s.model_threads)
        guard.max_chars = s.max_message_chars
        guard.check("您好，请于本月底前还款。", suggest=False)  # warm jieba and the model
        preload()  # and the pinyin lexicon
        return guard

    async def start(self) -> None:
        await asyncio.to_thread(self.open_database)
        await self.guards.start()
        await self.writer.start()
        try:
            t0 = time.perf_counter()
            self.guard = await asyncio.to_thread(self.load_guard)
            log.info("guard ready in %.1fs: policy %s, model %s", time.perf_counter() - t0,
                     self.guard.policy.version, self.guard.model_version or "none (rules only)")
            self.metrics.model_ready.set(1)
        except Exception as exc:  # readyz reports it; screening endpoints answer 503
            self.load_error = f"{type(exc).__name__}: {exc}"
            log.error("guard failed to load: %s", self.load_error)

    async def stop(self) -> None:
        await self.guards.stop()
        await self.writer.stop()
        if self.engine is not None:
            self.engine.dispose()

    def db_ok(self) -> bool:
        try:
            ping(self.engine)
            return True
        except Exception:
            return False

    # -- auth and tenants (cached briefly; reads run in a worker thread) -------------
    def cached_principal(self, key: str) -> tuple[bool, keymod.Principal | None]:
        """(hit, principal) from the short-lived cache, without touching the database."""
        hit = self._auth_cache.get(keymod.hash_key(key))
        if hit and hit[0] > time.monotonic():
            return True, hit[1]
        return False, None

    def cached_tenant(self, tenant: str) -> TenantState | None:
        hit = self._tenant_cache.get(tenant)
        return hit[1] if hit and hit[0] > time.monotonic() else None

    def authenticate(self, key: str) -> keymod.Principal | None:
        now = time.monotonic()
        cache_key = keymod.hash_key(key)
        hit = self._auth_cache.get(cache_key)
        if hit and hit[0] > now:
            return hit[1]
        with self.sessions() as s:
            p = keymod.authenticate(s, key)
        if len(self._auth_cache) > 10_000:
            self._auth_cache.clear()
        self._auth_cache[cache_key] = (now + _AUTH_TTL, p)
        return p

    async def load_once(self, kind: str, key: str, load: Callable[[str], Any]) -> Any:
        """``load(key)`` in a worker thread, shared by every caller that asks while it runs: when a
        cache entry expires under load, concurrent requests make one database read, not one each
        (at concurrency 32 every expiry sent a burst of reads through the thread pool and past the
        connection pool's size)."""
        fut = self._loading.get((kind, key))
        if fut is None:
            fut = self._loading[(kind, key)] = asyncio.ensure_future(asyncio.to_thread(load, key))
            fut.add_done_callback(lambda _: self._loading.pop((kind, key), None))
        return await asyncio.shield(fut)  # one caller giving up does not cancel the others' read

    def forget_keys(self) -> None:
        self._auth_cache.clear()

    def tenant(self, tenant: str) -> TenantState:
        now = time.monotonic()
        hit = self._tenant_cache.get(tenant)
        if hit and hit[0] > now:
            return hit[1]
        if self.guard is None:
            raise RuntimeError("guard not loaded")
        with self.sessions() as s:
            row = tenant_config(s, tenant)
        overlay = json.loads(row.overlay) if row and row.overlay else None
        rev = row.revision if row else 0
        guard = self._guard_cache.get((tenant, rev))
        if guard is None:
            guard = self.guard_for(overlay)
            self._guard_cache = {k: v for k, v in self._guard_cache.items() if k[0] != tenant}
            self._guard_cache[(tenant, rev)] = guard
        state = TenantState(tenant, guard, guard.policy, overlay, bool(row and row.store_raw_text), rev)
        self._tenant_cache[tenant] = (now + _TENANT_TTL, state)
        return state

    def guard_for(self, overlay: dict[str, Any] | None) -> Guard:
        """The base guard, or one under the base pack plus ``overlay`` (PolicyError if it does not apply)."""
        assert self.guard is not None
        if not overlay:
            return self.guard
        pack = apply_overlay(default_policy(), load_overlay(overlay))
        return self.guard.with_policy(pack)

    def forget_tenant(self, tenant: str) -> None:
        self._tenant_cache.pop(tenant, None)

    # -- screening -----------------------------------------------------------------
    def validate(self, text: str, recipient: str, field: str) -> None:
        validate_text(text, field, self.settings.max_message_chars)
        validate_recipient(recipient, field.rsplit(".", 1)[0] + ".recipient" if "." in field else "recipient")

    async def check(self, guard: Guard, text: str, recipient: str, suggest: bool) -> Decision:
        return await self.guards.submit((guard, Message(text, recipient), suggest))

    def _check_batch(self, items: list[tuple[Guard, Message, bool]]) -> list[Decision | BaseException]:
        """One ``check_many`` per tenant guard for the whole batch (rewrites only where asked);
        if it fails, each item is screened alone so one bad item cannot fail the others."""
        results: list[Decision | BaseException | None] = [None] * len(items)
        groups: dict[int, list[int]] = {}
        for i, (g, _, _) in enumerate(items):
            groups.setdefault(id(g), []).append(i)
        for idx in groups.values():
            guard = items[idx[0]][0]
            try:
                decisions = guard.check_many([items[i][1] for i in idx], suggest=[items[i][2] for i in idx])
                for i, d in zip(idx, decisions, strict=True):
                    results[i] = d
            except Exception:  # isolate the bad item; the others still get answers
                for i in idx:
                    try:
                        results[i] = guard.check_many([items[i][1]], suggest=items[i][2])[0]
                    except Exception as exc:
                        results[i] = exc if isinstance(exc, InputError) else RuntimeError(f"screening failed: {exc!r}")
        return results  # type: ignore[return-value]

    # -- storage -----------------------------------------------------------------------
    async def write(self, unit: Unit) -> Any:
        return await self.writer.submit(unit)

    def _write_batch(self, units: list[Unit]) -> Sequence[Any]:
        for attempt in range(5):
            try:
                try:
                    return self._commit(units, isolate=False)
                except OperationalError:
                    raise
                except Exception:  # a unit (or its writes, at flush) failed; rolled back: again, with savepoints
                    return self._commit(units, isolate=True)
            except OperationalError:
                if attempt == 4:
                    raise
                log.warning("storage busy; retrying batch of %d (attempt %d)", len(units), attempt + 1)
                time.sleep(0.05 * (attempt + 1))
        raise AssertionError("unreachable")

    def _commit(self, units: list[Unit], isolate: bool) -> list[Any]:
        """Every unit in one transaction (group commit), which commits before any caller is answered.
        Without ``isolate`` the units run back to back and a failure rolls everything back; with it
        each unit runs under a savepoint, so a failing unit's writes and audit entries are undone and
        it gets its exception while the others commit."""
        results: list[Any] = []
        with self.sessions() as s, s.begin():
            chain = Chain(s)
            for unit in units:
                if not isolate:
                    results.append(unit(s, chain))
                    continue
                chain.mark()
                sp = s.begin_nested()
                try:
                    r = unit(s, chain)
                    s.flush()
                    sp.commit()
                    results.append(r)
                except OperationalError:
                    raise
                except Exception as exc:
                    sp.rollback()
                    chain.rollback_to_mark()
                    results.append(exc)
            chain.close()
        return results

