"""Periodic in-process loops (index sync, workers, deliverers) on daemon threads with a clean stop.

A loop that raises is logged and run again at its next tick: one bad iteration must not silently stop the
index from following the bank change log.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from tutela.ops.thread_names import name_this_thread

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Loop:
    name: str
    interval: float
    run: Callable[[], object]


class Background:
    """A set of named loops started and stopped together."""

    def __init__(self) -> None:
        self._loops: list[_Loop] = []
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._on_stop: list[Callable[[], object]] = []
        self._wakeups: list[threading.Event] = []

    @property
    def stop_event(self) -> threading.Event:
        return self._stop

    def every(self, seconds: float, name: str, run: Callable[[], object]) -> None:
        """Run `run` every `seconds` once started (registering the same name twice keeps the first)."""
        if any(loop.name == name for loop in self._loops):
            return
        self._loops.append(_Loop(name, seconds, run))

    def thread(
        self, name: str, target: Callable[[threading.Event], None], *, wakeup: threading.Event | None = None
    ) -> None:
        """Run `target(stop_event)` on its own thread once started; it must return when the event is set.
        A target that sleeps on its own `wakeup` event rather than the stop event passes it: stop sets it."""
        self._loops.append(_Loop(name, 0.0, lambda: target(self._stop)))
        if wakeup is not None:
            self._wakeups.append(wakeup)

    def on_stop(self, cleanup: Callable[[], object]) -> None:
        """Run `cleanup` after the loops have stopped (closing clients they used)."""
        self._on_stop.append(cleanup)

    def start(self) -> None:
        if self._threads:
            return
        self._stop.clear()
        for loop in self._loops:
            thread = threading.Thread(target=self._run, args=(loop,), name=f"tutela-{loop.name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        for wakeup in self._wakeups:
            wakeup.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()
        for cleanup in self._on_stop:
            cleanup()
        self._on_stop.clear()

    def _run(self, loop: _Loop) -> None:
        name_this_thread()
        if loop.interval <= 0:
            loop.run()
            return
        while not self._stop.is_set():
            try:
                loop.run()
            except Exception:
                logger.exception("background loop %s failed; retrying at its next tick", loop.name)
            self._stop.wait(loop.interval)
