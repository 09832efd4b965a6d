"""A keyed work queue: every watch event asks for its run's reconcile, bursts coalesce.

The operator reacts to runs, Jobs, pods and Phases through watches. Each event only adds the
run's key here; a few workers take keys and reconcile them one at a time per key, so a run is
never reconciled twice at once, and ten events that arrive while a pass runs lead to one more
pass, not ten. ``add_after`` schedules a single later pass (a retry after an error, a TTL
expiry, a deferred status write): nothing runs periodically, and a finished run costs nothing.

A key added with ``first=True`` (a new run, waiting for its runner Job) goes ahead of the keys
already waiting: in a burst of new runs, the Jobs they wait for are not held up behind passes
over runs that already have theirs (whose status writes can wait a moment).

This is controller-runtime's work queue in a few lines of asyncio; the queue lives on kopf's
event loop, the reconcile function runs in a thread (it calls the blocking Kubernetes client).
"""

import asyncio
import itertools
import logging
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

logger = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)

Process = Callable[[K], Awaitable[float | None]]
"""Reconcile one key; return seconds after which to look again (None: only on events)."""

RETRY_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0)


class WorkQueue(Generic[K]):
    """Keys to process, each by at most one worker at a time, bursts coalesced."""

    def __init__(self, process: Process[K], *, workers: int = 4) -> None:
        """Process keys with ``process`` on ``workers`` concurrent workers."""
        self._process = process
        self._workers = workers
        self._queue: asyncio.PriorityQueue[tuple[int, int, K]] | None = None
        self._order = itertools.count()
        self._queued: set[K] = set()
        self._active: set[K] = set()
        self._dirty: set[K] = set()
        self._timers: dict[K, asyncio.TimerHandle] = {}
        self._failures: dict[K, int] = {}
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def started(self) -> bool:
        """Whether the workers run."""
        return bool(self._tasks)

    def start(self) -> None:
        """Start the workers on the running loop (tasks inherit the caller's context)."""
        if self._tasks:
            return
        self._queue = asyncio.PriorityQueue()
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._work(), name=f"autopack-reconcile-{n}")
            for n in range(self._workers)
        ]

    async def stop(self) -> None:
        """Cancel the workers and every scheduled pass."""
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except asyncio.CancelledError:
                continue
        self._tasks = []

    def add(self, key: K, *, first: bool = False) -> None:
        """Ask for a pass over ``key`` soon (call on the loop); ``first``: before the others."""
        if key in self._active:
            self._dirty.add(key)
            return
        if key in self._queued or self._queue is None:
            return
        self._queued.add(key)
        self._queue.put_nowait((0 if first else 1, next(self._order), key))

    def add_after(self, key: K, seconds: float) -> None:
        """Ask for a pass over ``key`` in ``seconds`` (the earliest request wins)."""
        loop = asyncio.get_running_loop()
        due = loop.time() + max(0.0, seconds)
        existing = self._timers.get(key)
        if existing is not None:
            if existing.when() <= due:
                return
            existing.cancel()
        self._timers[key] = loop.call_at(due, self._fire, key)

    def forget(self, key: K) -> None:
        """Drop what is scheduled for ``key`` (its object is gone)."""
        handle = self._timers.pop(key, None)
        if handle is not None:
            handle.cancel()
        self._failures.pop(key, None)

    def _fire(self, key: K) -> None:
        self._timers.pop(key, None)
        self.add(key)

    async def _work(self) -> None:
        queue = self._queue
        if queue is None:
            return
        while True:
            _, _, key = await queue.get()
            self._queued.discard(key)
            self._active.add(key)
            again: float | None
            try:
                again = await self._process(key)
                self._failures.pop(key, None)
            except asyncio.CancelledError:
                raise
            except Exception:
                failures = self._failures.get(key, 0)
                self._failures[key] = failures + 1
                again = RETRY_DELAYS[min(failures, len(RETRY_DELAYS) - 1)]
                logger.exception("reconciling %s failed; retrying in %.0f s", key, again)
            finally:
                self._active.discard(key)
            if key in self._dirty:
                self._dirty.discard(key)
                self.add(key)
            elif again is not None:
                self.add_after(key, again)
