"""The kernel's name for each of Tutela's threads: its Python name.

Why: Python names threads for itself only; to the kernel every thread of a server process is called after
the process, so `top -H`, `ps -T`, `/proc/PID/task/*/comm` and profilers cannot tell the event loop from
the index sync, the pipeline worker or a submission thread when one of them spins. Linux keeps 15 bytes
(`prctl(PR_SET_NAME)`); on other systems this does nothing. The main thread keeps the process's name,
which is what `ps` shows for the process.
"""

from __future__ import annotations

import ctypes
import sys
import threading
from collections.abc import Callable

_PR_SET_NAME = 15
_NAME_BYTES = 15


def _prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        function: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return function


_PRCTL = _prctl()


def name_this_thread() -> None:
    """Give the calling thread's kernel thread its Python name (first 15 bytes); not the main thread."""
    thread = threading.current_thread()
    if _PRCTL is None or thread is threading.main_thread():
        return
    _PRCTL(_PR_SET_NAME, thread.name.encode("utf-8", "replace")[:_NAME_BYTES], 0, 0, 0)
