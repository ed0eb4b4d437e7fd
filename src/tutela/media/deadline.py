"""A wall-clock limit on decoding.

In the main thread of a process (the CLI, each `tutela scan` worker) a SIGALRM timer interrupts a decode
between the chunks Pillow feeds its decoder, raising DecodeTimeout. Elsewhere (threads) the limit is checked
when the decode returns. A hard limit on a decoder stuck inside one C call needs a child process, which the
service's decoder pool provides.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from tutela.errors import DecodeTimeout


def _message(seconds: float) -> str:
    return f"decoding took longer than the limit of {seconds:g} s (setting TUTELA_MAX_DECODE_SECONDS)"


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Raise DecodeTimeout if the body runs longer than `seconds`."""
    if threading.current_thread() is not threading.main_thread():
        start = time.monotonic()
        yield
        if time.monotonic() - start > seconds:
            raise DecodeTimeout(_message(seconds))
        return

    def on_alarm(signum: int, frame: FrameType | None) -> None:
        raise DecodeTimeout(_message(seconds))

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
