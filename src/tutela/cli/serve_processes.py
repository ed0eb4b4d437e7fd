"""`tutela serve --workers N`: N server processes, each accepting on its own SO_REUSEPORT socket.

uvicorn's own multi-process mode has every process accept from one inherited socket; under keep-alive load
whichever process wakes first takes most connections, and the busiest process, bound by its GIL, caps the
whole server while another idles (seen at 800 lookups/s: 63 % and 20 % of a core). With one socket per process
and SO_REUSEPORT, the kernel spreads new connections over the processes by their address hash. This
supervisor starts the processes, restarts one that dies, and stops them all on SIGINT or SIGTERM.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import signal
import socket
import threading
from multiprocessing.process import BaseProcess
from types import FrameType

import uvicorn

log = logging.getLogger(__name__)

FACTORY = "tutela.api.app:create_app_from_env"
"""What each process imports and calls to build its app."""

_PR_SET_PDEATHSIG = 1

STOP_SECONDS = 30.0
"""How long a process may take to finish its requests after SIGTERM before it is killed."""


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to (host, port) with SO_REUSEPORT, so that every server process can have one."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except BaseException:
        sock.close()
        raise
    return sock


def serve_one(host: str, port: int, access_log: bool) -> None:
    """One server process: its own socket and app (index, pipeline worker, deliverer)."""
    _stop_with_parent()
    sock = listening_socket(host, port)
    config = uvicorn.Config(FACTORY, factory=True, log_level="info", access_log=access_log)
    uvicorn.Server(config).run(sockets=[sock])


def _stop_with_parent() -> None:
    """Ask Linux for SIGTERM when the supervisor dies, even by SIGKILL, so no server process is orphaned."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: the supervisor's own shutdown still stops them
        pass


def serve_processes(count: int, host: str, port: int, *, access_log: bool) -> None:
    """Run `count` server processes until SIGINT or SIGTERM; a process that dies is started again."""
    if port == 0:
        raise ValueError("several server processes need a fixed port (each binds it with SO_REUSEPORT)")
    listening_socket(host, port).close()  # fail here, once, if the address is taken or not ours
    context = multiprocessing.get_context("spawn")
    stop = threading.Event()

    def start() -> BaseProcess:
        process = context.Process(target=serve_one, args=(host, port, access_log), name="tutela-serve")
        process.start()
        return process

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    processes = [start() for _ in range(count)]
    log.info("started %d server processes on %s:%d", count, host, port)
    try:
        while not stop.wait(0.5):
            for index, process in enumerate(processes):
                if not process.is_alive():
                    log.error(
                        "server process %s exited with %s; starting another", process.pid, process.exitcode
                    )
                    processes[index] = start()
    finally:
        for process in processes:
            process.terminate()  # SIGTERM: uvicorn finishes its requests and runs the app's shutdown
        for process in processes:
            process.join(STOP_SECONDS)
            if process.is_alive():
                process.kill()
                process.join()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
