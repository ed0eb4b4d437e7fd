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

import asyncio
import contextlib
import logging
import multiprocessing
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
from tutela.ops.thread_names import name_this_thread
from tutela.pipeline.errors import DecoderCrashed, DecoderError, DecoderTimedOut
from tutela.pipeline.handoff import Handoff, HandoffClosed
from tutela.settings import Settings
from tutela.signals.extract import Extraction
from tutela.signals.pdq.signal import PdqMode

logger = logging.getLogger(__name__)

__all__ = ["DecoderConfig", "DecoderHooks", "DecoderPool"]


LOOP_SEND_MAX_BYTES = 1 << 20
"""Largest content `extract_async` writes to a decoder from the event loop. Writing blocks until the content
fits in the pipe (a few hundred kB) or the child has read the rest, which it does at memory speed: ~0.5 ms
per MB that every other request on the loop would wait; larger content is sent from a thread."""


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
        self._idle: Handoff[_Child] = Handoff()
        self._closed = False
        # One thread starts every child and stays until close (an executor's thread never ends when idle).
        self._spawner = ThreadPoolExecutor(
            1, thread_name_prefix="tutela-decoder-spawner", initializer=name_this_thread
        )
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
        return self._extract_with(self._take(), data, types)

    def _extract_with(self, child: _Child, data: bytes, types: Collection[str] | None) -> Extraction:
        try:
            if not child.ready:
                self._await_ready(child)
            self._send(child, data, types)
            reply = child.connection.recv() if child.wait_reply(self._timeouts.call_seconds) else None
        except (EOFError, OSError) as exc:
            self._replace(child)
            raise self._crashed(child, exc) from None
        return self._settle(child, reply)

    async def extract_async(self, data: bytes, types: Collection[str] | None = None) -> Extraction:
        """`extract` for the event loop: a free child is awaited on the loop (`Handoff`), the request written
        at once (an idle child is reading its pipe) and the reply awaited as the pipe becomes readable, so no
        thread is involved. A thread hop each way cost more than the pipe itself (an upload lookup went from
        ~6.2 to ~7.2 ms of CPU when it waited in a thread). Content past `LOOP_SEND_MAX_BYTES`, a child not
        ready yet (a replacement) and the blocking parts (replacing a child) go to the loop's executor."""
        loop = asyncio.get_running_loop()
        if len(data) > LOOP_SEND_MAX_BYTES:
            return await loop.run_in_executor(None, self.extract, data, types)
        child = self._idle.get_nowait()
        if child is None:
            try:
                child = await self._idle.get_async()
            except HandoffClosed:
                raise DecoderCrashed("the decoder pool is closed") from None
        if not child.ready:  # the executor's call returns the child even if this await is cancelled
            return await loop.run_in_executor(None, self._extract_with, child, data, types)
        try:
            self._send(child, data, types)
            readable: asyncio.Future[None] = loop.create_future()

            def wake() -> None:
                if not readable.done():
                    readable.set_result(None)

            descriptor = child.connection.fileno()
            loop.add_reader(descriptor, wake)
            try:
                await asyncio.wait_for(readable, self._timeouts.call_seconds)
                reply = child.connection.recv()
            except TimeoutError:
                reply = None
            except asyncio.CancelledError:  # the reply is still due: collect it before reusing the child
                loop.run_in_executor(None, self._collect, child)
                raise
            finally:
                loop.remove_reader(descriptor)
        except (EOFError, OSError) as exc:
            await loop.run_in_executor(None, self._replace, child)
            raise self._crashed(child, exc) from None
        if reply is not None and reply[0] == "ok":
            return self._settle(child, reply)
        return await loop.run_in_executor(None, self._settle, child, reply)

    def _send(self, child: _Child, data: bytes, types: Collection[str] | None) -> None:
        child.connection.send(None if types is None else tuple(types))
        child.connection.send_bytes(data)

    def _settle(self, child: _Child, reply: tuple[str, Any] | None) -> Extraction:
        """The extraction of a `reply` (None: none within the time limit), the child back to idle; or the
        child replaced and the error raised."""
        if reply is not None and reply[0] == "ok":
            self._idle.put(child)
            result: Extraction = reply[1]
            return result
        self._replace(child)
        if reply is None:
            raise DecoderTimedOut(
                f"extraction took longer than {self._timeouts.call_seconds:g} s "
                "(setting TUTELA_DECODER_TIMEOUT_SECONDS); the decoder process was killed"
            )
        raise DecoderCrashed(f"decoder process failed: {reply[1]}")

    def _collect(self, child: _Child) -> None:
        """Wait for the reply to an abandoned request, then return the child to idle (or replace it)."""
        try:
            reply = child.connection.recv() if child.wait_reply(self._timeouts.call_seconds) else None
            self._settle(child, reply)
        except (EOFError, OSError):
            self._replace(child)
        except DecoderError:
            pass  # replaced; nobody is waiting for this extraction any more

    @staticmethod
    def _crashed(child: _Child, exc: BaseException) -> DecoderCrashed:
        return DecoderCrashed(f"{child.describe()} while extracting ({type(exc).__name__})")

    def close(self) -> None:
        """Stop every child (idle ones exit on their closed pipe; busy ones are killed)."""
        with self._lock:
            self._closed = True
            children = list(self._children)
            self._children.clear()
        self._idle.close()
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
            try:
                child = self._idle.get(timeout=0.5)
            except HandoffClosed:
                raise DecoderCrashed("the decoder pool is closed") from None
            if child is not None:
                return child

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
