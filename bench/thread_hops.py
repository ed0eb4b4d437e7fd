"""What one hop from the event loop to a thread and back costs: executor, anyio and Tutela's ThreadLane.

The API hands blocking work to threads: an upload lookup's index scan (`LookupBatcher`) and a waited item's
submission (`items.accept`). This script awaits a trivial call N times through each mechanism, one at a
time, on asyncio's loop and on uvloop (the server's), and prints the CPU microseconds per round trip (all
threads of the process) and each one's ratio to ThreadLane's.

Run: .venv/bin/python bench/thread_hops.py [--calls 5000]
"""

from __future__ import annotations

import os
import sys

# This directory holds `http.py`, which shadows the standard library's `http`; keep it off the import path.
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]

import argparse  # noqa: E402
import asyncio  # noqa: E402
import time  # noqa: E402
from collections.abc import Awaitable, Callable, Coroutine  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from typing import Any  # noqa: E402

import anyio.to_thread  # noqa: E402
import uvloop  # noqa: E402

from tutela.ops.thread_lane import ThreadLane  # noqa: E402


async def _per_call(hop: Callable[[], Awaitable[Any]], calls: int) -> tuple[float, float]:
    """(CPU us, wall us) per awaited hop."""
    for _ in range(200):  # threads started, caches warm
        await hop()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for _ in range(calls):
        await hop()
    return (time.process_time() - cpu0) / calls * 1e6, (time.perf_counter() - wall0) / calls * 1e6


async def _measure(calls: int) -> dict[str, tuple[float, float]]:
    loop = asyncio.get_running_loop()
    executor = ThreadPoolExecutor(1)
    lane = ThreadLane(1, "bench-lane")
    hops: dict[str, Callable[[], Awaitable[Any]]] = {
        "ThreadLane.run": lambda: lane.run(int, 1),
        "loop.run_in_executor (1 thread)": lambda: loop.run_in_executor(executor, int, 1),
        "anyio.to_thread.run_sync": lambda: anyio.to_thread.run_sync(int, 1),
    }
    try:
        return {name: await _per_call(hop, calls) for name, hop in hops.items()}
    finally:
        lane.close()
        executor.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=5000)
    args = parser.parse_args()
    runners: dict[str, Callable[[Coroutine[Any, Any, dict[str, tuple[float, float]]]], Any]] = {
        "uvloop": uvloop.run,
        "asyncio": asyncio.run,
    }
    print(f"{os.cpu_count()} CPUs; {args.calls} awaited round trips of int(1) each, one at a time")
    print("| loop | hop | CPU us / call | wall us / call | CPU vs ThreadLane |")
    print("|---|---|---|---|---|")
    for loop_name, run in runners.items():
        results = run(_measure(args.calls))
        base = results["ThreadLane.run"][0]
        for name, (cpu, wall) in results.items():
            print(f"| {loop_name} | {name} | {cpu:.1f} | {wall:.1f} | {cpu / base:.1f}x |")


if __name__ == "__main__":
    main()
