"""`tutela serve --workers 2` as a real process tree: a SIGKILLed parent takes every descendant with it, and
/metrics reports the requests of both server processes, whichever one answers the scrape."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

HOST = "127.0.0.1"
STARTED = b"Application startup complete."
START_WAIT_SECONDS = 300.0
"""Generous: under load uvicorn may replace a server process that is slow to import before it serves."""
END_WAIT_SECONDS = 30.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (state first), or None if there is no process."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()


def _descendants(root: int) -> dict[int, str]:
    """Every live descendant of `root`, with its start time (to tell a reused pid apart)."""
    parents: dict[int, int] = {}
    starts: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        fields = _stat(int(entry.name)) if entry.name.isdigit() else None
        if fields is not None:
            parents[int(entry.name)], starts[int(entry.name)] = int(fields[1]), fields[19]
    found: dict[int, str] = {}
    todo = [root]
    while todo:
        current = todo.pop()
        children = [pid for pid, parent in parents.items() if parent == current]
        found |= {pid: starts[pid] for pid in children}
        todo += children
    return found


def _running(pid: int, start: str) -> bool:
    """The same process is still there and not a zombie waiting for a reaper."""
    fields = _stat(pid)
    return fields is not None and fields[19] == start and fields[0] != "Z"


def _wait_until_serving(server: subprocess.Popen[bytes], log: Path, port: int) -> None:
    deadline = time.monotonic() + START_WAIT_SECONDS
    while log.read_bytes().count(STARTED) < 2:
        if server.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"tutela serve did not start two server processes:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)
    assert httpx.get(f"http://{HOST}:{port}/readyz", timeout=10).status_code == 200


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="parent-death signals are Linux only")
def _isolated_env(tmp_path: Path) -> dict[str, str]:
    """A data directory and a temporary directory of the test's own: `serve --workers` makes its metrics
    directory under TMPDIR, which must not be the machine's /tmp shared with other runs."""
    (tmp_path / "tmp").mkdir()
    env = {
        "TUTELA_DATA_DIR": str(tmp_path / "var"),
        "TUTELA_DECODER_PROCESSES": "1",
        "TMPDIR": str(tmp_path / "tmp"),
    }
    return {**os.environ, **env}


def test_sigkilled_serve_leaves_no_process_behind(tmp_path: Path) -> None:
    port, log = _free_port(), tmp_path / "serve.log"
    env = _isolated_env(tmp_path)
    command = [str(Path(sys.executable).parent / "tutela"), "serve", "--host", HOST, "--port", str(port)]
    with log.open("wb") as out:
        server = subprocess.Popen([*command, "--workers", "2"], env=env, stdout=out, stderr=subprocess.STDOUT)
    tree: dict[int, str] = {}
    try:
        _wait_until_serving(server, log, port)
        tree = _descendants(server.pid)
        assert len(tree) >= 2, f"expected two server processes and their children, found {tree}"
        server.send_signal(signal.SIGKILL)
        server.wait(10)
        deadline = time.monotonic() + END_WAIT_SECONDS
        while any(_running(pid, start) for pid, start in tree.items()) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [pid for pid, start in tree.items() if _running(pid, start)] == []
    finally:
        server.kill()
        server.wait(10)
        for pid, start in tree.items():
            if _running(pid, start):
                os.kill(pid, signal.SIGKILL)


class Scrape:
    """One scrape of /metrics over a new connection: request totals, and requests answered per process."""

    def __init__(self, port: int, key: str) -> None:
        headers = {"Authorization": f"Bearer {key}"}
        response = httpx.get(f"http://{HOST}:{port}/metrics", headers=headers, timeout=30)
        response.raise_for_status()
        self.by_route: Counter[str] = Counter()
        self.by_process: dict[str, float] = {}
        for family in text_string_to_metric_families(response.text):
            for sample in family.samples:
                if sample.name == "tutela_http_requests_total":
                    self.by_route[sample.labels["route"]] += int(sample.value)
                elif sample.name == "tutela_process_http_requests_total":
                    self.by_process[sample.labels["pid"]] = sample.value


def _healthz(port: int) -> None:
    httpx.get(f"http://{HOST}:{port}/healthz", timeout=30).raise_for_status()  # a new connection each


@pytest.mark.slow
def test_metrics_report_every_server_process(tmp_path: Path) -> None:
    port, log, sent = _free_port(), tmp_path / "serve.log", 400
    env = _isolated_env(tmp_path)
    tutela = str(Path(sys.executable).parent / "tutela")
    created = subprocess.run(
        [tutela, "key", "create", "--role", "auditor"], env=env, capture_output=True, check=True
    )
    key = json.loads(created.stdout.splitlines()[-1])["key"]
    with log.open("wb") as out:
        command = [tutela, "serve", "--host", HOST, "--port", str(port), "--workers", "2"]
        server = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_until_serving(server, log, port)
        assert len(list((tmp_path / "tmp").glob("tutela-metrics-*"))) == 1  # the run's, in its own TMPDIR
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda _: _healthz(port), range(sent)))
        answered: Counter[str] = Counter()  # which process answered each scrape: the one counting one more
        previous = Scrape(port, key)
        for _ in range(40):
            scrape = Scrape(port, key)
            assert scrape.by_route["/healthz"] == sent
            assert sum(scrape.by_process.values()) == scrape.by_route.total()
            grown = [pid for pid, n in scrape.by_process.items() if n != previous.by_process.get(pid, 0)]
            assert len(grown) == 1
            answered[grown[0]] += 1
            previous = scrape
            if len(answered) == 2 and answered.total() >= 6:
                break
        assert len(answered) == 2, f"every scrape was answered by one process: {answered}"
        assert len(previous.by_process) == 2
        assert all(n > 0 for n in previous.by_process.values())
    finally:
        server.terminate()
        server.wait(60)
    assert list((tmp_path / "tmp").glob("tutela-metrics-*")) == []  # removed when serve ends
