"""Micro-batching: concurrent requests share one call into a worker thread.

A :class:`MicroBatcher` owns a bounded queue and one worker thread. Its
collector task takes every queued item (up to ``max_size``); under load it
waits at most ``max_wait`` seconds for more, and when the last batch held a
single item it does not wait at all, so a lone request pays no batching delay.
The batch function runs in the worker thread, so the event loop never blocks.
A full queue raises :class:`Overloaded` at once (the API answers 429).
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")
log = logging.getLogger("api.batching")


class Overloaded(Exception):
    """The queue is full; the caller should retry later."""


class MicroBatcher(Generic[T, R]):
    def __init__(self, fn: Callable[[list[T]], Sequence[R | BaseException]], *, name: str, max_size: int = 32,
                 max_wait: float = 0.002, max_queue: int = 1024,
                 on_batch: Callable[[int], Any] | None = None) -> None:
        self.fn, self.name = fn, name
        self.max_size, self.max_wait, self.max_queue = max_size, max_wait, max_queue
        self.on_batch = on_batch
        self._queue: asyncio.Queue[tuple[T, asyncio.Future[R]]] | None = None
        self._task: asyncio.Task[None] | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._last_size = 0

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    @property
    def depth(self) -> int:
        return self._queue.qsize() if self._queue else 0

    async def start(self) -> None:
        self._queue = asyncio.Queue(maxsize=self.max_queue)
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"batch-{self.name}")
        self._task = asyncio.create_task(self._run(), name=f"batcher-{self.name}")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        if self._queue:
            while not self._queue.empty():
                _, fut = self._queue.get_nowait()
                if not fut.done():
                    fut.set_exception(Overloaded(f"{self.name}: shutting down"))
        if self._executor:
            self._executor.shutdown(wait=True)

    async def submit(self, item: T) -> R:
        if self._queue is None or not self.running:
            raise Overloaded(f"{self.name}: not running")
        fut: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        try:
            self._queue.put_nowait((item, fut))
        except asyncio.QueueFull:
            raise Overloaded(f"{self.name}: {self.max_queue} requests already queued") from None
        return await fut

    async def _collect(self) -> list[tuple[T, asyncio.Future[R]]]:
        assert self._queue is not None
        loop = asyncio.get_running_loop()
        batch = [await self._queue.get()]
        deadline = loop.time() + self.max_wait
        while len(batch) < self.max_size:
            try:
                batch.append(self._queue.get_nowait())
                continue
            except asyncio.QueueEmpty:
                pass
            remaining = deadline - loop.time()
            if remaining <= 0 or (len(batch) == 1 and self._last_size <= 1):
                break
            try:
                batch.append(await asyncio.wait_for(self._queue.get(), remaining))
            except TimeoutError:
                break
        return batch

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = await self._collect()
            live = [(item, fut) for item, fut in batch if not fut.done()]
            self._last_size = len(batch)
            if not live:
                continue
            if self.on_batch:
                self.on_batch(len(live))
            try:
                results: Sequence[R | BaseException] = await loop.run_in_executor(
                    self._executor, self.fn, [item for item, _ in live])
                if len(results) != len(live):
                    raise RuntimeError(f"{self.name}: batch function returned {len(results)} results for {len(live)} items")
            except asyncio.CancelledError:
                for _, fut in live:
                    if not fut.done():
                        fut.set_exception(Overloaded(f"{self.name}: shutting down"))
                raise
            except Exception as exc:  # the whole batch failed: every caller gets the error
                log.exception("%s: batch of %d failed", self.name, len(live))
                results = [exc] * len(live)
            for (_, fut), res in zip(live, results, strict=True):
                if fut.done():
                    continue
                if isinstance(res, BaseException):
                    fut.set_exception(res)
                else:
                    fut.set_result(res)
