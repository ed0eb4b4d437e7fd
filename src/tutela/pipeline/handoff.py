"""Idle things (decoder processes) handed to waiting callers, threads and coroutines alike, in arrival order.

Why: an upload awaited on the event loop used to wait for a busy decoder in an executor thread. Near
saturation, when every decoder is busy, that was most uploads, and each paid two thread hops: ~0.5 ms of CPU
per upload in-process at 16 concurrent (measured), on a path that costs ~6 ms in all. Here a coroutine waits
on a future of its own loop, and whoever returns a thing hands it straight to the oldest waiter: a future set
on the loop's own thread costs no hop, and a thread waiting in `get` is woken as a `queue.SimpleQueue` wakes
it. One queue for both kinds keeps the request threads of `?wait=true` items and the awaited uploads fair to
each other.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class HandoffClosed(Exception):
    """The handoff was closed while a caller waited."""


class _ThreadWaiter(Generic[T]):
    def __init__(self) -> None:
        self.slot: queue.SimpleQueue[T | None] = queue.SimpleQueue()

    def give(self, thing: T | None) -> bool:
        self.slot.put(thing)
        return True


class _TaskWaiter(Generic[T]):
    def __init__(self, handoff: Handoff[T], loop: asyncio.AbstractEventLoop) -> None:
        self.handoff = handoff
        self.loop = loop
        self.future: asyncio.Future[T] = loop.create_future()

    def give(self, thing: T | None) -> bool:
        """False when this waiter can no longer take it (cancelled, or its loop closed)."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            return self._settle(thing)
        try:
            self.loop.call_soon_threadsafe(self._deliver, thing)
        except RuntimeError:  # the loop is closed
            return False
        return True

    def _settle(self, thing: T | None) -> bool:
        if self.future.done():
            return False
        if thing is None:
            self.future.set_exception(HandoffClosed())
        else:
            self.future.set_result(thing)
        return True

    def _deliver(self, thing: T | None) -> None:
        """On the waiter's loop: a waiter cancelled meanwhile passes the thing on."""
        if not self._settle(thing) and thing is not None:
            self.handoff.put(thing)


class Handoff(Generic[T]):
    """Idle things, and the threads and tasks waiting for one, first come first served."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: deque[T] = deque()
        self._waiters: deque[_ThreadWaiter[T] | _TaskWaiter[T]] = deque()
        self._closed = False

    def put(self, thing: T) -> None:
        """Return `thing`: to the oldest waiter when there is one, else to the idle set."""
        while True:
            with self._lock:
                if not self._waiters:
                    self._idle.append(thing)
                    return
                waiter = self._waiters.popleft()
            if waiter.give(thing):
                return

    def get_nowait(self) -> T | None:
        with self._lock:
            return self._idle.popleft() if self._idle and not self._waiters else None

    def get(self, timeout: float) -> T | None:
        """An idle thing, waiting up to `timeout` seconds; None when none came. Raises HandoffClosed."""
        with self._lock:
            if self._closed:
                raise HandoffClosed()
            if self._idle and not self._waiters:
                return self._idle.popleft()
            waiter: _ThreadWaiter[T] = _ThreadWaiter()
            self._waiters.append(waiter)
        try:
            thing = waiter.slot.get(timeout=timeout)
        except queue.Empty:
            with self._lock:
                waiting = waiter in self._waiters
                if waiting:
                    self._waiters.remove(waiter)
            if waiting:
                return None
            thing = waiter.slot.get()  # a giver took this waiter just now: its thing is on the way
        if thing is None:
            raise HandoffClosed()
        return thing

    async def get_async(self) -> T:
        """An idle thing, awaited on the running loop for as long as it takes. Raises HandoffClosed."""
        with self._lock:
            if self._closed:
                raise HandoffClosed()
            if self._idle and not self._waiters:
                return self._idle.popleft()
            waiter = _TaskWaiter(self, asyncio.get_running_loop())
            self._waiters.append(waiter)
        try:
            return await waiter.future
        except asyncio.CancelledError:
            with self._lock, contextlib.suppress(ValueError):
                self._waiters.remove(waiter)
            future = waiter.future
            if future.done() and not future.cancelled() and future.exception() is None:
                self.put(future.result())  # handed over just as this caller went away
            raise

    def close(self) -> list[T]:
        """Wake every waiter with HandoffClosed; return the idle things for the caller to dispose of."""
        with self._lock:
            self._closed = True
            waiters, self._waiters = list(self._waiters), deque()
            idle, self._idle = list(self._idle), deque()
        for waiter in waiters:
            waiter.give(None)
        return idle
