"""Long-lived decoder processes: hostile media is decoded in children with memory and time limits.

Each child is started once (spawn, never fork: the parent runs threads), imports the hashers, warms them up,
sets RLIMIT_AS to `decoder_memory_mb` and then serves one request at a time over a pipe. A child that dies
(a crash in a C decoder, the kernel killing it for memory) or exceeds `decoder_timeout_seconds` is killed and
replaced, and the call raises DecoderCrashed or DecoderTimedOut so the job counts an attempt. Nothing forks
per item. Children die with their parent (PR_SET_PDEATHSIG on Linux; a closed pipe elsewhere). The kernel
takes "parent" to be the thread that started the child, so every child is started from the pool's own
spawner thread, which lives as long as the pool: a replacement started from a request thread was killed
when that thread ended (anyio ends idle worker threads after 10 s).

`DecoderHooks` exist for tests only: content starting with a marker makes the child exit or hang.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import queue
import select
import threading
from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from tutela.media import MediaLimits
from tutela.media.decoder_child import (
    READY,
    DecoderConfig,
    DecoderHooks,
    child_main,
    prepare_child_environment,
)
from tutela.pipeline.errors import DecoderCrashed, DecoderTimedOut
from tutela.settings import Settings
from tutela.signals.extract import Extraction
from tutela.signals.pdq.signal import PdqMode

logger = logging.getLogger(__name__)

__all__ = ["DecoderConfig", "DecoderHooks", "DecoderPool"]


@dataclass(frozen=True, slots=True)
class PoolTimeouts:
    call_seconds: float
    start_seconds: float


class _Child:
    def __init__(self, process: BaseProcess, connection: Connection) -> None:
        self.process = process
        self.connection = connection
        self.ready = False
        # One poll object per child: `Connection.poll` builds a new selector per call, which cost ~0.1 ms of
        # CPU per extraction (measured); Linux and macOS have poll(2).
        self._poller = select.poll()
        self._poller.register(connection.fileno(), select.POLLIN)

    def wait_reply(self, seconds: float) -> bool:
        """True when the child's reply (or its end of file) is readable within `seconds`."""
        return bool(self._poller.poll(max(0.0, seconds) * 1000.0))

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            self.connection.close()
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5)

    def describe(self) -> str:
        code = self.process.exitcode
        return f"decoder process {self.process.pid} " + (
            "is alive" if code is None else f"exited with {code}"
        )


class DecoderPool:
    """`size` decoder children serving `extract` calls from any number of threads."""

    def __init__(self, size: int, config: DecoderConfig, timeouts: PoolTimeouts) -> None:
        if size < 1:
            raise ValueError(f"a decoder pool needs at least 1 process, got {size}")
        self.size = size
        self._config = config
        self._timeouts = timeouts
        self._context = multiprocessing.get_context("spawn")
        self._lock = threading.Lock()
        self._children: set[_Child] = set()
        self._idle: queue.SimpleQueue[_Child] = queue.SimpleQueue()
        self._closed = False
        # One thread starts every child and stays until close (an executor's thread never ends when idle).
        self._spawner = ThreadPoolExecutor(1, thread_name_prefix="tutela-decoder-spawner")
        self.replaced = 0
        """How many children were killed and replaced (crash, hang); for metrics and tests."""
        for _ in range(size):
            self._idle.put(self._spawn())

    @classmethod
    def from_settings(
        cls, settings: Settings, *, size: int | None = None, hooks: DecoderHooks | None = None
    ) -> DecoderPool:
        """A pool configured from settings; `hooks` only in tests."""
        config = DecoderConfig(
            limits=MediaLimits.from_settings(settings),
            pdq_mode=PdqMode.FAST,
            dihedral=settings.pipeline_dihedral,
            memory_mb=settings.decoder_memory_mb,
            hooks=hooks,
        )
        timeouts = PoolTimeouts(settings.decoder_timeout_seconds, settings.decoder_start_timeout_seconds)
        return cls(size or settings.decoder_processes, config, timeouts)

    def extract(self, data: bytes, types: Collection[str] | None = None) -> Extraction:
        """Signals of `data` from a child, only those of `types` when given (see `extract`);
        DecoderCrashed or DecoderTimedOut when the child fails."""
        child = self._take()
        try:
            if not child.ready:
                self._await_ready(child)
            child.connection.send(None if types is None else tuple(types))
            child.connection.send_bytes(data)
            if not child.wait_reply(self._timeouts.call_seconds):
                self._replace(child)
                raise DecoderTimedOut(
                    f"extraction took longer than {self._timeouts.call_seconds:g} s "
                    "(setting TUTELA_DECODER_TIMEOUT_SECONDS); the decoder process was killed"
                )
            reply: tuple[str, Any] = child.connection.recv()
        except (EOFError, OSError) as exc:
            self._replace(child)
            raise DecoderCrashed(f"{child.describe()} while extracting ({type(exc).__name__})") from None
        if reply[0] != "ok":
            self._replace(child)
            raise DecoderCrashed(f"decoder process failed: {reply[1]}")
        self._idle.put(child)
        result: Extraction = reply[1]
        return result

    def close(self) -> None:
        """Stop every child (idle ones exit on their closed pipe; busy ones are killed)."""
        with self._lock:
            self._closed = True
            children = list(self._children)
            self._children.clear()
        for child in children:
            with contextlib.suppress(OSError):
                child.connection.close()
        for child in children:
            if child.ready:  # a child still starting up would not see its closed pipe until it has warmed up
                child.process.join(2)
            child.kill()
        self._spawner.shutdown()

    def __enter__(self) -> DecoderPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _spawn(self) -> _Child:
        return self._spawner.submit(self._start_child).result()

    def _start_child(self) -> _Child:
        prepare_child_environment()
        parent_end, child_end = self._context.Pipe(duplex=True)
        process = self._context.Process(
            target=child_main, args=(child_end, self._config), name="tutela-decoder", daemon=True
        )
        process.start()
        child_end.close()
        child = _Child(process, parent_end)
        with self._lock:
            if self._closed:
                child.kill()
                raise DecoderCrashed("the decoder pool is closed")
            self._children.add(child)
        return child

    def _take(self) -> _Child:
        while True:
            if self._closed:
                raise DecoderCrashed("the decoder pool is closed")
            with contextlib.suppress(queue.Empty):
                return self._idle.get(timeout=0.5)

    def _await_ready(self, child: _Child) -> None:
        if not child.connection.poll(self._timeouts.start_seconds):
            self._replace(child)
            raise DecoderCrashed(
                f"decoder process did not start within {self._timeouts.start_seconds:g} s "
                "(setting TUTELA_DECODER_START_TIMEOUT_SECONDS)"
            )
        message = child.connection.recv()
        if message != READY:
            self._replace(child)
            raise DecoderCrashed(f"decoder process sent {message!r} instead of its ready message")
        child.ready = True

    def _replace(self, child: _Child) -> None:
        child.kill()
        with self._lock:
            self._children.discard(child)
            if self._closed:
                return
            self.replaced += 1
        logger.warning("replacing %s", child.describe())
        self._idle.put(self._spawn())
