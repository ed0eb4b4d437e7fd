"""One BLAS thread per process: every Tutela process calls `pin_blas_threads()` once at start-up.

PDQ's DCT is a few small matrix products per image. With OpenBLAS's default of one thread per core, the
extra threads busy-wait after every product: one 1024x768 JPEG cost 15-60 ms of CPU instead of 3-4 ms, and
the spinning starves the event loop and the other processes (measured, docs/performance.md). Tutela's
parallelism is processes (decoder children, scan workers, `serve --workers`) and the index's own threads,
so BLAS gets one thread everywhere.
"""

from __future__ import annotations

import threading

from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]  # no stubs or py.typed

_lock = threading.Lock()
_pinned = False


def pin_blas_threads() -> None:
    """Limit the BLAS and OpenMP pools loaded in this process to one thread (once; later calls are free)."""
    global _pinned
    with _lock:
        if _pinned:
            return
        import numpy  # noqa: F401  (loads the BLAS library, so that there is a pool to limit)

        threadpool_limits(1)
        _pinned = True
