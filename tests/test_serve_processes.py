"""`tutela serve --workers 2`: server processes on one port (SO_REUSEPORT), stopped with the supervisor."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tutela.cli.serve_processes import listening_socket, serve_processes


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_until(condition: object, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.1)
    return False


def start_server(tmp_path: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "TUTELA_DATA_DIR": str(tmp_path), "TUTELA_DECODER_PROCESSES": "1"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tutela.cli",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "2",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def ready() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    assert wait_until(ready, 120), "server not ready"
    return process


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_two_processes_answer_on_one_port_and_stop_with_sigterm(tmp_path: Path) -> None:
    port = free_port()
    server = start_server(tmp_path, port)
    try:
        serving = [pid for pid in children(server.pid) if alive(pid)]
        assert len(serving) >= 2
        for _ in range(20):  # a new connection each time: the kernel spreads them over both sockets
            assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
        server.send_signal(signal.SIGTERM)
        assert server.wait(60) == 0
        assert wait_until(lambda: not any(alive(pid) for pid in serving), 30)
    finally:
        if server.poll() is None:
            server.kill()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal is Linux's")
def test_server_processes_do_not_outlive_a_killed_supervisor(tmp_path: Path) -> None:
    port = free_port()
    server = start_server(tmp_path, port)
    serving = [pid for pid in children(server.pid) if alive(pid)]
    server.kill()
    server.wait(30)
    assert wait_until(lambda: not any(alive(pid) for pid in serving), 60)


def test_a_fixed_port_is_required_and_a_taken_address_fails_at_once() -> None:
    with pytest.raises(ValueError, match="fixed port"):
        serve_processes(2, "127.0.0.1", 0, access_log=False)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        with pytest.raises(OSError, match="in use"):
            listening_socket("127.0.0.1", taken.getsockname()[1])
