"""The body of one decoder process: limits, warm-up, then one extraction per request until the pipe closes.

It lives in `tutela.media`, not in the pipeline package, so that a new decoder process imports only what
decoding needs (not SQLAlchemy, the policy engine or the API), which keeps replacing a crashed one cheap.
"""

from __future__ import annotations

import io
import os
import resource
import signal
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection

from tutela.media import MediaLimits
from tutela.ops.blas import pin_blas_threads
from tutela.ops.parent_death import die_with_parent
from tutela.signals.extract import extract
from tutela.signals.pdq.signal import PdqMode

READY = ("ready",)


def prepare_child_environment() -> None:
    """Call before starting hashing processes: one BLAS thread each, since the processes are the parallelism.

    Children inherit the environment at start, before they import numpy; with OpenBLAS's default of one
    thread per core, several hashing processes on a small machine fight over the cores and the small matrix
    products of PDQ fast mode slow down 10-50 times under load (measured).
    """
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, "1")


_HANG_SECONDS = 3600.0


@dataclass(frozen=True, slots=True)
class DecoderHooks:
    """Test-only misbehaviour: content starting with `crash_marker` exits the child, `hang_marker` hangs."""

    crash_marker: bytes | None = None
    hang_marker: bytes | None = None


@dataclass(frozen=True, slots=True)
class DecoderConfig:
    """Everything a decoder process needs, sent once when it starts."""

    limits: MediaLimits
    pdq_mode: PdqMode
    dihedral: bool
    memory_mb: int
    hooks: DecoderHooks | None = None


def child_main(connection: Connection, config: DecoderConfig) -> None:
    """Serve extraction requests (the signal types wanted, or None for all, then the content); exit when
    the parent closes the pipe or dies."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    die_with_parent()
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    pin_blas_threads()  # the environment already asks for one thread; this holds if it was overridden
    extract(_warm_up_image(), config.limits, pdq_mode=config.pdq_mode, dihedral=config.dihedral)
    limit = config.memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    connection.send(READY)
    while True:
        try:
            types: tuple[str, ...] | None = connection.recv()
            data = connection.recv_bytes()
        except (EOFError, OSError):
            return
        _test_hooks(config.hooks, data)
        try:
            result = extract(
                data, config.limits, pdq_mode=config.pdq_mode, dihedral=config.dihedral, types=types
            )
        except MemoryError:
            connection.send(
                ("error", f"out of memory (limit {config.memory_mb} MiB, TUTELA_DECODER_MEMORY_MB)")
            )
            return
        except Exception as exc:  # a bug or a decoder failure: report it, then let the parent replace us
            connection.send(("error", f"{type(exc).__name__}: {exc}"))
            return
        connection.send(("ok", result))


def _warm_up_image() -> bytes:
    """A small noise PNG: compiles the hash kernels before the memory limit and the first real item."""
    from PIL import Image

    out = io.BytesIO()
    Image.effect_noise((64, 64), 64).convert("RGB").save(out, "PNG")
    return out.getvalue()


def _test_hooks(hooks: DecoderHooks | None, data: bytes) -> None:
    if hooks is None:
        return
    if hooks.crash_marker is not None and data.startswith(hooks.crash_marker):
        os._exit(70)
    if hooks.hang_marker is not None and data.startswith(hooks.hang_marker):
        time.sleep(_HANG_SECONDS)
