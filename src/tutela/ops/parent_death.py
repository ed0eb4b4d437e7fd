"""Child processes that end with their parent: decoder children and the server processes of `serve --workers`.

Why: a parent killed with SIGKILL cannot stop its children, and an orphaned server process keeps the port
and its decoder children keep their CPU. On Linux, PR_SET_PDEATHSIG has the kernel send the child SIGKILL
when its parent exits. Two limits of that request shape how it is used here:
- it only covers a parent that dies after the request, so the child checks afterwards that its parent is
  still the process that started it (a parent that died earlier has left it with another parent);
- "parent" is the thread that started the child: a child started from a thread that ends before the
  process does is killed with that thread (uvicorn's supervisor starts its server processes from the
  main thread).
Elsewhere nothing is requested; children there rely on their pipes to the parent closing.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Have this multiprocessing child killed when its parent exits; exit at once if it already has.

    Call it early in the child. Raises RuntimeError in a process that multiprocessing did not start (there
    is then no record of which parent to wait for) and OSError if the kernel refuses the request.
    """
    if sys.platform != "linux":
        return
    parent = multiprocessing.parent_process()
    if parent is None:
        raise RuntimeError("die_with_parent() is for processes started by multiprocessing")
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"prctl(PR_SET_PDEATHSIG) failed: {os.strerror(error)}")
    if os.getppid() != parent.pid:  # the parent died before the request took effect
        os._exit(0)
