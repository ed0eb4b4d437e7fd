"""HTTP API under open-loop load: the highest rate each request kind sustains, and its latency at half of it.

Run: .venv/bin/python bench/http.py [--quick] [--sizes 100000,1000000] [--kinds a,b,c] [--workers N]
     [--access-log] [--fixed RATE]

For each bank size it makes a temporary data directory, imports a bank of N random PDQ hashes through the
bank import path, creates keys with `tutela key create`, starts `tutela serve [--workers N]` on 127.0.0.1 as a
subprocess (access log as shipped, off, unless --access-log),
and drives it from a separate load-generator process. Request kinds:
  a  GET /m/lookup?signal=<pdq>&signal_type=pdq   (half the queries are bank hashes with 0-8 bits flipped)
  b  POST /m/lookup, one 1024x768 JPEG (~150 KB) as multipart (hash, then match)
  c  POST /v1/items?wait=true with the same JPEGs (submit, worker, verdict); "not available" on 404
Every upload carries a unique trailer after the JPEG end marker, so no two requests share a digest.

Open loop: request i is due at start + i/rate and is sent then whether or not earlier ones have answered
(up to --max-connections in flight; a request finding none free is dropped). Latency runs from the due
time, so a slow server or a starved generator shows up as latency instead of hiding (no coordinated
omission). The rate grows by --factor per step until a step fails (any error, drop or timeout, or p99 over
--sustain-ms), then --refine bisection steps narrow it; the highest passing rate is "sustained". A longer
run at half that rate gives p50/p99. Server and generator share the machine's cores; the CPU seconds each
used per step are reported so the bottleneck is visible. All traffic goes to 127.0.0.1, bounded in count
and time.

--fixed RATE replaces the search: one run at RATE for --hold-seconds per kind and size (after a warm-up at a
quarter of it), with the server's CPU per request split by thread (`/proc`, the kernel's thread names, which
Tutela sets to its Python ones): each server process's event loop, its named threads, and its child
(decoder) processes. Alternating such runs of two trees (PYTHONPATH) is how a change's cost is compared.
"""

# ruff: noqa: E402
from __future__ import annotations

import os
import sys

# This file shares its name with the standard library's `http`; keep its directory off the import path.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

import argparse
import asyncio
import collections
import gc
import json
import multiprocessing
import re
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Coroutine
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from tutela.app import Tutela
from tutela.banks import BankCategory, BankFileFormat, import_entries, read_records
from tutela.demo.images import jpeg_bytes, picture
from tutela.settings import Settings

HOST = "127.0.0.1"
BANK = "BENCH"
VENV_BIN = Path(sys.executable).parent
BOUNDARY = "tutela-bench-boundary"
KINDS = {
    "a": "GET /m/lookup by PDQ hash",
    "b": "POST /m/lookup, 1024x768 JPEG upload",
    "c": "POST /v1/items?wait=true, 1024x768 JPEG",
}
START_RATE = {"a": 250.0, "b": 25.0, "c": 20.0}
TARGET = {("a", 100_000): 2000.0, ("a", 1_000_000): 1000.0, "b": 250.0, "c": 150.0}
TARGET_P99_MS = 50.0
HMA = {"a": "~160/s at 100k, p99 <= 50 ms", "b": "~28/s, p99 <= 200 ms", "c": "n/a"}


@dataclass
class Step:
    kind: str
    rate: float
    sent: int = 0
    ok: int = 0
    non_2xx: int = 0
    failures: dict[str, int] = field(default_factory=dict)
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    achieved: float = 0.0
    max_send_lag_ms: float = 0.0
    gen_cpu_s: float = 0.0
    server_cpu_s: float = 0.0
    other_cpu_s: float = 0.0
    seconds: float = 0.0

    @property
    def server_ms_per_request(self) -> float:
        return self.server_cpu_s * 1000 / max(self.ok, 1)

    def passed(self, bound_ms: float) -> bool:
        return self.ok == self.sent and not self.failures and self.p99_ms <= bound_ms


# -- load generator (its own process) --------------------------------------------------------------------


class Conn:
    """One keep-alive HTTP/1.1 connection speaking just enough of the protocol for these requests."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer, self.reusable = reader, writer, True

    @classmethod
    async def open(cls, port: int) -> Conn:
        reader, writer = await asyncio.open_connection(HOST, port)
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(reader, writer)

    async def request(self, data: bytes) -> int:
        self.writer.write(data)
        await self.writer.drain()
        head = (await self.reader.readuntil(b"\r\n\r\n")).lower()
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line.startswith(b"content-length:"):
                length = int(line[15:])
            elif line.startswith(b"connection:") and b"close" in line:
                self.reusable = False
        if length:
            await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        self.writer.close()


def _request(method: str, path: str, token: str, body: bytes = b"", content_type: str = "") -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: Bearer {token}\r\n"
    if method == "POST":
        head += f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


def _multipart(fields: dict[str, str], file_field: str, data: bytes) -> bytes:
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    parts.append(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{file_field}"; filename="p.jpg"\r\n'
        "Content-Type: image/jpeg\r\n\r\n".encode()
    )
    return b"".join([*parts, data, f"\r\n--{BOUNDARY}--\r\n".encode()])


def bench_jpegs(count: int) -> list[bytes]:
    """Distinct benign 1024x768 photo-like JPEGs of about 150 KB."""
    return [jpeg_bytes(picture(1000 + i), quality=90) for i in range(count)]


def _payloads(kind: str, setup: dict[str, Any], jpegs: list[bytes]) -> Callable[[int], bytes]:
    if kind == "a":
        queries = [
            _request("GET", f"/m/lookup?signal={q}&signal_type=pdq", setup["admin_key"])
            for q in setup["queries"]
        ]
        return lambda i: queries[i % len(queries)]
    tag = f"{time.time_ns()}"

    def upload(i: int) -> bytes:
        data = jpegs[i % len(jpegs)] + f"{tag}-{i}".encode()  # after the JPEG end marker: a new digest
        if kind == "b":
            body = _multipart({}, "photo", data)
            return _request(
                "POST", "/m/lookup", setup["admin_key"], body, f"multipart/form-data; boundary={BOUNDARY}"
            )
        body = _multipart({"content_id": f"bench-{tag}-{i}"}, "file", data)
        ctype = f"multipart/form-data; boundary={BOUNDARY}"
        return _request("POST", "/v1/items?wait=true", setup["platform_key"], body, ctype)

    return upload


async def run_step(
    make: Callable[[int], bytes], port: int, rate: float, seconds: float, setup: dict[str, Any]
) -> Step:
    loop = asyncio.get_running_loop()
    idle: list[Conn] = []  # newest first, as a client's keep-alive pool reuses its warmest connection
    opened = 0
    latencies: list[float] = []
    statuses: collections.Counter[int] = collections.Counter()
    failures: collections.Counter[str] = collections.Counter()
    done_at = [0.0]

    async def one(i: int, due: float) -> None:
        nonlocal opened
        reused = bool(idle)
        if idle:
            conn = idle.pop()
        elif opened < setup["max_connections"]:
            opened += 1
            try:
                conn = await Conn.open(port)
            except OSError:
                opened -= 1
                failures["connect"] += 1
                return
        else:
            failures["dropped (no free connection)"] += 1
            return
        try:
            try:
                status = await asyncio.wait_for(conn.request(make(i)), setup["timeout"])
            except asyncio.IncompleteReadError as exc:
                if not reused or exc.partial:
                    raise
                # The server closed this idle keep-alive connection (its keep-alive timeout) before our
                # request reached it: retry once on a new connection, as HTTP clients do. The latency,
                # counted from the due time, includes the retry.
                conn.close()
                conn = await Conn.open(port)
                status = await asyncio.wait_for(conn.request(make(i)), setup["timeout"])
        except (
            TimeoutError,
            OSError,
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
            ValueError,
        ) as exc:
            failures[type(exc).__name__] += 1
            conn.close()
            opened -= 1
            return
        done_at[0] = loop.time()
        latencies.append(done_at[0] - due)
        statuses[status] += 1
        if conn.reusable:
            idle.append(conn)
        else:
            conn.close()
            opened -= 1

    n = max(1, round(rate * seconds))
    cpu0 = time.process_time()
    start = loop.time() + 0.05
    lag = 0.0
    tasks = []
    for i in range(n):
        due = start + i / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        lag = max(lag, loop.time() - due)
        tasks.append(loop.create_task(one(i, due)))
    await asyncio.gather(*tasks)
    for conn in idle:
        conn.close()
    ms = np.array(latencies) * 1000 if latencies else np.zeros(1)
    ok = sum(c for s, c in statuses.items() if 200 <= s < 300)
    return Step(
        kind="",
        rate=rate,
        sent=n,
        ok=ok,
        non_2xx=sum(statuses.values()) - ok,
        failures=dict(failures) | {f"HTTP {s}": c for s, c in statuses.items() if not 200 <= s < 300},
        p50_ms=float(np.percentile(ms, 50)),
        p99_ms=float(np.percentile(ms, 99)),
        max_ms=float(ms.max()),
        achieved=ok / max(done_at[0] - start, 1e-9),
        max_send_lag_ms=lag * 1000,
        gen_cpu_s=time.process_time() - cpu0,
    )


def _event_loop_runner() -> Callable[[Coroutine[Any, Any, Step]], Step]:
    """uvloop when installed (uvicorn[standard] brings it; the server runs on it too): the generator shares
    the server's 2 cores, and every millisecond it spends is one the server does not get."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run
    return uvloop.run


def loadgen_main(pipe: Connection, setup: dict[str, Any]) -> None:
    """Serve step requests from the parent until it sends None."""
    run_loop = _event_loop_runner()
    jpegs = bench_jpegs(16)
    pipe.send(sum(len(j) for j in jpegs) / len(jpegs))
    while (order := pipe.recv()) is not None:
        make = _payloads(order["kind"], setup, jpegs)
        # No collections during a step: a full one over the step's thousands of tasks paused this loop
        # for ~100 ms, which counted as server latency (requests go out late; latency runs from the due
        # time). The garbage is collected between steps.
        gc.disable()
        try:
            step = run_loop(run_step(make, setup["port"], order["rate"], order["seconds"], setup))
        finally:
            gc.enable()
            gc.collect()
        pipe.send(asdict(step))


# -- orchestration ---------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def _proc_stats() -> tuple[dict[int, int], dict[int, float]]:
    """Parent pid and CPU seconds (user + system) of every live process, from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
        cpu[int(entry.name)] = (int(fields[11]) + int(fields[12])) / ticks
    return parents, cpu


def _subtree(parents: dict[int, int], pid: int) -> list[int]:
    """`pid` and its descendants, from one `_proc_stats()` reading."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo += [child for child, parent in parents.items() if parent == current]
    return found


def _tree_pids(pid: int) -> list[int]:
    parents, _ = _proc_stats()
    return _subtree(parents, pid)


def _tree_cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) of `pid` and its live descendants."""
    parents, cpu = _proc_stats()
    return sum(cpu.get(current, 0.0) for current in _subtree(parents, pid))


def _thread_cpu_seconds(root: int, workers: int) -> dict[str, float]:
    """CPU seconds of the server tree by thread group: "event loop" (each server process's main thread),
    the kernel names of its other threads (a trailing counter dropped), and "child processes" (decoders)."""
    parents, cpu = _proc_stats()
    servers = [pid for pid, parent in parents.items() if parent == root] if workers > 1 else [root]
    ticks = os.sysconf("SC_CLK_TCK")
    groups: collections.defaultdict[str, float] = collections.defaultdict(float)
    for server in servers:
        try:
            tasks = list(Path(f"/proc/{server}/task").iterdir())
        except OSError:
            continue
        for task in tasks:
            try:
                fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
                name = (task / "comm").read_text().strip()
            except OSError:
                continue
            group = "event loop" if task.name == str(server) else re.sub(r"[-_]?[0-9]+$", "", name)
            groups[group] += (int(fields[11]) + int(fields[12])) / ticks
        for child in _subtree(parents, server)[1:]:
            groups["child processes"] += cpu.get(child, 0.0)
    groups["supervisor"] += cpu.get(root, 0.0) if workers > 1 else 0.0
    return dict(groups)


def _busy_cpu_seconds() -> float:
    """CPU seconds all cores have spent busy since boot (/proc/stat), to see what else ran during a step."""
    ticks = os.sysconf("SC_CLK_TCK")
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(
        int, Path("/proc/stat").read_text().split()[1:9]
    )
    return (user + nice + system + irq + softirq + steal) / ticks


def build_bank(data_dir: Path, size: int, seed: int) -> list[str]:
    """Import `size` random PDQ hashes into bank BENCH; returns 1,000 query hashes (half near bank rows)."""
    app = Tutela.open(Settings(data_dir=data_dir), load_indexes=False)
    app.banks.create_bank(BANK, BankCategory.OTHER, exportable=True)
    rng = np.random.default_rng(seed)
    hashes = rng.integers(0, 256, (size, 32), dtype=np.uint8)
    lines = (row.tobytes().hex() for row in hashes)
    report = import_entries(app.banks, BANK, read_records(BankFileFormat.PLAIN, lines, "pdq"))
    app.close()
    if report.added != size:
        raise SystemExit(f"bank import added {report.added} of {size} hashes ({report.error_count} errors)")
    near = hashes[rng.integers(0, size, 500)].copy()
    for row in near:
        for bit in rng.choice(256, int(rng.integers(0, 9)), replace=False):
            row[bit // 8] ^= 1 << (bit % 8)
    far = rng.integers(0, 256, (500, 32), dtype=np.uint8)
    queries = [row.tobytes().hex() for row in np.concatenate([near, far])]
    rng.shuffle(queries)
    return queries


def _cli(env: dict[str, str], *args: str) -> dict[str, Any]:
    out = subprocess.run(
        [str(VENV_BIN / "tutela"), *args], env=env, check=True, capture_output=True, text=True
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


class Server:
    """`tutela serve` on loopback, as a subprocess (the process tree when --workers > 1)."""

    def __init__(self, data_dir: Path, access_log: bool, workers: int) -> None:
        self.env = {
            **os.environ,
            "TUTELA_DATA_DIR": str(data_dir),
            "TUTELA_ACCESS_LOG": "true" if access_log else "false",
        }
        self.port = _free_port()
        self.workers = workers
        self.log = open(data_dir / "serve.log", "wb")  # noqa: SIM115 (closed in stop)
        cmd = [str(VENV_BIN / "tutela"), "serve", "--host", HOST, "--port", str(self.port)]
        cmd += ["--workers", str(workers)]
        self.proc = subprocess.Popen(cmd, env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 600
        while True:
            if self.proc.poll() is not None:
                raise SystemExit(f"server exited with {self.proc.returncode}; see {data_dir / 'serve.log'}")
            try:
                if httpx.get(f"http://{HOST}:{self.port}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("server not ready after 600 s")
            time.sleep(0.2)

    def rss_mb(self) -> float:
        """Resident memory of the server process tree (server processes and decoder children)."""
        total = 0.0
        for pid in _tree_pids(self.proc.pid):
            try:
                lines = Path(f"/proc/{pid}/status").read_text().splitlines()
            except OSError:
                continue
            total += sum(int(line.split()[1]) / 1024 for line in lines if line.startswith("VmRSS:"))
        return total

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


class Runner:
    def __init__(self, server: Server, pipe: Connection, args: argparse.Namespace) -> None:
        self.server, self.pipe, self.args = server, pipe, args

    def step(self, kind: str, rate: float, seconds: float) -> Step:
        busy0, cpu0, t0 = _busy_cpu_seconds(), _tree_cpu_seconds(self.server.proc.pid), time.monotonic()
        self.pipe.send({"kind": kind, "rate": rate, "seconds": seconds})
        step = Step(**self.pipe.recv())
        step.kind, step.seconds = kind, time.monotonic() - t0
        step.server_cpu_s = _tree_cpu_seconds(self.server.proc.pid) - cpu0
        step.other_cpu_s = max(0.0, _busy_cpu_seconds() - busy0 - step.server_cpu_s - step.gen_cpu_s)
        verdict = "ok" if step.passed(self.args.sustain_ms) else "FAIL"
        print(
            f"  {kind} {rate:8.1f}/s  sent {step.sent:6d}  p50 {step.p50_ms:7.1f} ms  "
            f"p99 {step.p99_ms:8.1f} ms  "
            f"cpu: server {step.server_cpu_s / step.seconds:4.0%} ({step.server_ms_per_request:.2f} ms/req) "
            f"gen {step.gen_cpu_s / step.seconds:4.0%} others {step.other_cpu_s / step.seconds:4.0%}  "
            f"{verdict} {step.failures or ''}",
            file=sys.stderr,
            flush=True,
        )
        time.sleep(self.args.pause)
        return step

    def fixed(self, kind: str, rate: float) -> Step:
        """One run at `rate` after a warm-up; prints the server's CPU per request by thread group."""
        self.step(kind, rate / 4, 3.0)
        root, workers = self.server.proc.pid, self.server.workers
        before = _thread_cpu_seconds(root, workers)
        step = self.step(kind, rate, self.args.hold_seconds)
        after = _thread_cpu_seconds(root, workers)
        served = max(step.ok, 1)
        spent = {group: after[group] - before.get(group, 0.0) for group in after}
        for group, seconds in sorted(spent.items(), key=lambda item: -item[1]):
            if seconds > 0:
                print(f"      {group:24s} {seconds * 1000 / served:7.3f} ms/request", file=sys.stderr)
        return step

    def sustained(self, kind: str) -> tuple[Step | None, list[Step]]:
        """Raise the rate until a step fails, bisect, and return the highest passing step."""
        a = self.args
        steps: list[Step] = []
        good: Step | None = None
        bad: Step | None = None
        rate = START_RATE[kind]
        self.step(kind, rate / 2, min(a.step_seconds, 1.0))  # warm-up, not counted
        for _ in range(a.max_steps):
            step = self.step(kind, rate, a.step_seconds)
            steps.append(step)
            if not step.passed(a.sustain_ms):
                bad = step
                break
            good = step
            rate *= a.factor
        while good is None and len(steps) < a.max_steps and rate > START_RATE[kind] / 16:
            rate /= 2  # even the starting rate fails: step down instead
            step = self.step(kind, rate, a.step_seconds)
            steps.append(step)
            good, bad = (step, bad) if step.passed(a.sustain_ms) else (None, step)
        if good is None:
            return None, steps
        for _ in range(a.refine if bad is not None else 0):
            assert bad is not None
            rate = (good.rate * bad.rate) ** 0.5
            step = self.step(kind, rate, a.step_seconds)
            steps.append(step)
            good, bad = (step, bad) if step.passed(a.sustain_ms) else (good, step)
        return good, steps


def probe(port: int, kind: str, setup: dict[str, Any], jpeg: bytes) -> str | None:
    """None when one request of `kind` succeeds; otherwise why the kind is not available."""
    url = f"http://{HOST}:{port}"
    with httpx.Client(base_url=url, timeout=60) as client:
        if kind == "a":
            answer = client.get(
                "/m/lookup",
                params={"signal": setup["queries"][0], "signal_type": "pdq"},
                headers={"Authorization": f"Bearer {setup['admin_key']}"},
            )
        elif kind == "b":
            answer = client.post(
                "/m/lookup",
                files={"photo": ("p.jpg", jpeg)},
                headers={"Authorization": f"Bearer {setup['admin_key']}"},
            )
        else:
            answer = client.post(
                "/v1/items?wait=true",
                data={"content_id": f"probe-{time.time_ns()}"},
                files={"file": ("p.jpg", jpeg)},
                headers={"Authorization": f"Bearer {setup['platform_key']}"},
            )
    if answer.status_code == 404 and "not found" in answer.text.lower():
        return "not available (404: the route is not served)"
    if not answer.is_success:
        return f"not available (HTTP {answer.status_code}: {answer.text[:200]})"
    return None


def run_size(size: int, args: argparse.Namespace) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="tutela-bench-http-") as tmp:
        data_dir = Path(tmp)
        t0 = time.monotonic()
        queries = build_bank(data_dir, size, args.seed)
        print(f"bank of {size:,} hashes imported in {time.monotonic() - t0:.1f} s", file=sys.stderr)
        env = {**os.environ, "TUTELA_DATA_DIR": str(data_dir)}
        _cli(env, "service", "create", "bench")
        setup: dict[str, Any] = {
            "admin_key": _cli(env, "key", "create", "--role", "admin")["key"],
            "platform_key": _cli(env, "key", "create", "--role", "platform", "--service", "bench")["key"],
            "queries": queries,
            "max_connections": args.max_connections,
            "timeout": args.timeout,
        }
        t0 = time.monotonic()
        server = Server(data_dir, args.access_log, args.workers)
        print(f"server ready in {time.monotonic() - t0:.1f} s, RSS {server.rss_mb():.0f} MB", file=sys.stderr)
        setup["port"] = server.port
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        generator = ctx.Process(target=loadgen_main, args=(child, setup), daemon=True)
        generator.start()
        jpeg_kb = parent.recv() / 1024
        try:
            runner = Runner(server, parent, args)
            for kind in args.kinds:
                row: dict[str, Any] = {"kind": kind, "size": size, "jpeg_kb": jpeg_kb}
                row["unavailable"] = probe(server.port, kind, setup, bench_jpegs(1)[0])
                if row["unavailable"] is None and args.fixed is not None:
                    row["fixed"] = asdict(runner.fixed(kind, args.fixed))
                elif row["unavailable"] is None:
                    good, steps = runner.sustained(kind)
                    row["steps"] = [asdict(s) for s in steps]
                    row["sustained"] = None if good is None else asdict(good)
                    if good is not None:
                        row["half"] = asdict(runner.step(kind, good.rate / 2, args.hold_seconds))
                row["rss_mb"] = server.rss_mb()
                results.append(row)
        finally:
            parent.send(None)
            generator.join(30)
            server.stop()
    return results


def _summary(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| kind | bank | sustained | at half rate: p50 / p99 | server CPU / request | other load | target "
        "| holds | HMA |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        kind, size = row["kind"], row["size"]
        target = TARGET.get((kind, size), TARGET.get(kind))
        target_text = "-" if target is None else f">= {target:,.0f}/s, p99 < {TARGET_P99_MS:.0f} ms"
        name = f"{kind} {KINDS[kind]}"
        if row["unavailable"]:
            lines.append(
                f"| {name} | {size:,} | {row['unavailable']} | | | | {target_text} | - | {HMA[kind]} |"
            )
            continue
        steps = row["steps"]
        others = sum(s["other_cpu_s"] for s in steps) / max(sum(s["seconds"] for s in steps), 1e-9)
        good, half = row.get("sustained"), row.get("half")
        if good is None or half is None:
            lines.append(
                f"| {name} | {size:,} | below {min(s['rate'] for s in steps):.1f}/s | | | {others:.1f} cores "
                f"| {target_text} | no | {HMA[kind]} |"
            )
            continue
        holds = target is not None and good["rate"] >= target and half["p99_ms"] < TARGET_P99_MS
        cpu_ms = half["server_cpu_s"] * 1000 / max(half["ok"], 1)
        lines.append(
            f"| {name} | {size:,} | {good['rate']:,.0f}/s | {half['rate']:,.0f}/s: "
            f"{half['p50_ms']:.1f} / {half['p99_ms']:.1f} ms | {cpu_ms:.2f} ms | {others:.1f} cores "
            f"| {target_text} | {'yes' if holds else 'no'} | {HMA[kind]} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="Smoke run: 10k bank, short steps (~1 min).")
    parser.add_argument("--sizes", default="100000,1000000", help="Bank sizes, comma-separated.")
    parser.add_argument("--kinds", default="a,b,c", help="Request kinds to run (a, b, c).")
    parser.add_argument("--step-seconds", type=float, default=4.0)
    parser.add_argument("--hold-seconds", type=float, default=8.0, help="Length of the half-rate run.")
    parser.add_argument("--factor", type=float, default=1.5, help="Rate multiplier per step.")
    parser.add_argument("--max-steps", type=int, default=10)
    parser.add_argument("--refine", type=int, default=2, help="Bisection steps after the first failure.")
    parser.add_argument("--sustain-ms", type=float, default=100.0, help="p99 bound of a sustained step.")
    parser.add_argument("--pause", type=float, default=1.0, help="Idle seconds between steps.")
    parser.add_argument("--max-connections", type=int, default=256)
    parser.add_argument("--timeout", type=float, default=10.0, help="Per-request timeout, seconds.")
    parser.add_argument(
        "--access-log", action=argparse.BooleanOptionalAction, default=False, help="One log line per request."
    )
    parser.add_argument("--workers", type=int, default=1, help="`tutela serve --workers N`.")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, help="Also write every step as JSON here.")
    parser.add_argument(
        "--fixed", type=float, metavar="RATE", help="One run at RATE per kind, CPU split by thread."
    )
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.step_seconds, args.hold_seconds, args.max_steps, args.refine = (
            "10000",
            1.5,
            2.0,
            4,
            0,
        )
    args.kinds = [k for k in args.kinds.split(",") if k]
    unknown = set(args.kinds) - set(KINDS)
    if unknown:
        parser.error(f"unknown kinds {sorted(unknown)}; choose from a, b, c")
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = [row for size in sizes for row in run_size(size, args)]
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    print(
        f"\n{os.cpu_count()} CPUs shared by server and load generator; server: "
        f"tutela serve --workers {args.workers}{', access log on' if args.access_log else ''}"
    )
    if args.fixed is None:
        print(_summary(rows))


if __name__ == "__main__":
    main()
