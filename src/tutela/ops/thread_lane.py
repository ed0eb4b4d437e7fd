"""Threads that run blocking calls for coroutines, at a fraction of an executor's cost per call.

Why: on a 2-vCPU KVM guest, one `await loop.run_in_executor(...)` round trip cost ~100 us of CPU and anyio's
`to_thread.run_sync` (Starlette's `run_in_threadpool`) ~120 us, against ~30 us for a thread fed by a
`queue.SimpleQueue` that settles the caller's future with `call_soon_threadsafe` (`bench/thread_hops.py`).
The executor makes a `concurrent.futures.Future`, with a Condition of its own, and chains it to an asyncio
future on every call. An upload lookup makes one such hop per index scan and a waited item one per request,
so at a few hundred requests a second the difference is a few percent of the machine.

Like `run_in_executor` (and unlike anyio), the call does not run in a copy of the caller's context
variables: Tutela has none. A cancelled caller stops waiting; its call runs to the end regardless.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from tutela.ops.thread_names import name_this_thread

T = TypeVar("T")

_Call = tuple[Callable[..., Any], tuple[Any, ...], asyncio.AbstractEventLoop, "asyncio.Future[Any]"]


class ThreadLane:
    """`threads` daemon threads, started on first use, running `await lane.run(fn, *args)` calls in order of
    arrival; `close()` stops them."""

    def __init__(self, threads: int, name: str) -> None:
        if threads < 1:
            raise ValueError(f"a thread lane needs at least 1 thread, got {threads}")
        self.size = threads
        self.name = name
        self._calls: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._closed = False

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)` on one of the lane's threads; its result, or its exception raised here."""
        if not self._threads:
            self._start()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._calls.put((fn, args, loop, future))
        return await future

    def close(self, timeout: float = 5.0) -> None:
        """Stop the threads once the calls already queued have run, waiting up to `timeout` seconds in all
        (daemon threads still busy after that end with the process)."""
        with self._lock:
            self._closed = True
            threads, self._threads = self._threads, []
        for _ in threads:
            self._calls.put(None)
        deadline = time.monotonic() + timeout
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))

    def _start(self) -> None:
        with self._lock:
            if self._closed:
                raise RuntimeError(f"thread lane {self.name} is closed")
            if self._threads:
                return
            self._threads = [
                threading.Thread(target=self._serve, name=f"{self.name}-{i}", daemon=True)
                for i in range(self.size)
            ]
            for thread in self._threads:
                thread.start()

    def _serve(self) -> None:
        name_this_thread()
        while (call := self._calls.get()) is not None:
            fn, args, loop, future = call
            try:
                outcome: tuple[bool, Any] = (True, fn(*args))
            except BaseException as exc:  # handed to the caller, as an executor would
                outcome = (False, exc if not isinstance(exc, StopIteration) else RuntimeError(repr(exc)))
            with contextlib.suppress(RuntimeError):  # the caller's loop is closed: nobody is waiting
                loop.call_soon_threadsafe(_settle, future, outcome)
            del call, fn, args, future, outcome  # drop references while idle


def _settle(future: asyncio.Future[Any], outcome: tuple[bool, Any]) -> None:
    if future.done():  # the caller was cancelled
        return
    ok, value = outcome
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)
