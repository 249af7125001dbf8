"""The micro-batcher: concurrent submissions share a call, the queue is bounded, errors stay per item."""
from __future__ import annotations

import asyncio
import threading
import time

import pytest

from api.batching import MicroBatcher, Overloaded

pytestmark = pytest.mark.timeout(60)


def test_concurrent_requests_share_batches_off_the_event_loop():
    calls: list[int] = []
    loop_thread = threading.get_ident()

    def fn(items):
        assert threading.get_ident() != loop_thread
        calls.append(len(items))
        time.sleep(0.02)
        return [i * 2 for i in items]

    async def main():
        b = MicroBatcher(fn, name="t", max_size=16, max_wait=0.005, max_queue=100)
        await b.start()
        try:
            first = await b.submit(1)  # alone: no waiting
            results = await asyncio.gather(*(b.submit(i) for i in range(40)))
        finally:
            await b.stop()
        return first, results

    first, results = asyncio.run(main())
    assert first == 2 and results == [i * 2 for i in range(40)]
    assert max(calls) > 1 and max(calls) <= 16 and sum(calls) == 41


def test_bounded_queue_raises_overloaded():
    gate = threading.Event()

    def fn(items):
        gate.wait(5)
        return items

    async def main():
        b = MicroBatcher(fn, name="t", max_size=1, max_wait=0, max_queue=2)
        await b.start()
        tasks = []
        for i in range(3):  # one in the worker, then two fill the queue
            tasks.append(asyncio.create_task(b.submit(i)))
            await asyncio.sleep(0.02)
        with pytest.raises(Overloaded):
            await b.submit(99)
        gate.set()
        out = await asyncio.gather(*tasks)
        await b.stop()
        return out

    assert asyncio.run(main()) == [0, 1, 2]


def test_errors_are_per_item():
    def fn(items):
        return [ValueError(f"bad {i}") if i == 2 else i for i in items]

    async def main():
        b = MicroBatcher(fn, name="t", max_size=8, max_wait=0.01, max_queue=10)
        await b.start()
        out = await asyncio.gather(*(b.submit(i) for i in range(4)), return_exceptions=True)
        await b.stop()
        return out

    out = asyncio.run(main())
    assert out[:2] == [0, 1] and isinstance(out[2], ValueError) and out[3] == 3


def _spy_check_many(monkeypatch, guard) -> list[list[bool]]:
    """Records the per-message ``suggest`` flags of every ``check_many`` call on ``guard``."""
    calls: list[list[bool]] = []
    real = guard.check_many

    def spy(messages, suggest=True):
        calls.append([suggest] * len(messages) if isinstance(suggest, bool) else list(suggest))
        return real(messages, suggest=suggest)
    monkeypatch.setattr(guard, "check_many", spy)
    return calls


def test_service_batches_concurrent_checks(client, auth, monkeypatch):
    """Concurrent /v1/check calls through the app land in shared guard batches: one check_many
    call per batch, with drafts that ask for a rewrite and outreach that does not mixed in it."""
    from concurrent.futures import ThreadPoolExecutor
    from api_helpers import POLITE, THREAT
    calls = _spy_check_many(monkeypatch, client.app.state.service.guard)

    def post(i: int) -> dict:
        r = client.post("/v1/check", json={"text": (THREAT if i % 2 else POLITE) + str(i), "suggest": i % 4 == 1},
                        headers=auth)
        assert r.status_code == 200, r.text
        return r.json()
    with ThreadPoolExecutor(16) as pool:
        bodies = list(pool.map(post, range(64)))
    assert [b["rewrite"] is not None for b in bodies] == [i % 4 == 1 for i in range(64)]
    assert sum(map(len, calls)) == 64 and max(map(len, calls)) > 1
    assert sorted(f for c in calls for f in c) == sorted(i % 4 == 1 for i in range(64))
    text = client.get("/metrics").text
    assert 'nlp_guard_batch_size_count{batcher="guard"}' in text


def test_service_batch_is_one_guard_call_and_isolates_a_bad_item(client, monkeypatch):
    from api_helpers import POLITE, THREAT
    from nlp_guard.guard import Message
    service = client.app.state.service
    guard = service.guard
    calls = _spy_check_many(monkeypatch, guard)
    items = [(guard, Message(THREAT), False), (guard, Message(THREAT), True), (guard, Message(POLITE), True)]
    out = service._check_batch(items)
    assert calls == [[False, True, True]]
    assert [d.decision for d in out] == ["block", "block", "allow"]
    assert out[0].rewrite is None and out[1].rewrite and out[2].rewrite is None
    calls.clear()
    out = service._check_batch([items[0], (guard, Message(""), False), items[1]])
    assert len(calls) == 4  # the batch failed on the empty text, then each item alone
    assert out[0].decision == out[2].decision == "block" and out[2].rewrite
    assert "text is empty" in str(out[1])
