"""ThreadLane: blocking calls on its own threads for coroutines, results and errors handed back."""

from __future__ import annotations

import asyncio
import threading

import pytest

from tutela.ops.thread_lane import ThreadLane


def test_results_and_errors_come_back_from_the_lanes_threads() -> None:
    lane = ThreadLane(2, "test-lane")

    def where(x: int) -> tuple[int, str]:
        return x * 2, threading.current_thread().name

    def fails() -> None:
        raise ValueError("bad input")

    def stops() -> None:
        raise StopIteration

    async def run() -> None:
        doubled, name = await lane.run(where, 21)
        assert doubled == 42
        assert name.startswith("test-lane-")
        with pytest.raises(ValueError, match="bad input"):
            await lane.run(fails)
        with pytest.raises(RuntimeError, match="StopIteration"):  # a future cannot carry StopIteration
            await lane.run(stops)

    try:
        asyncio.run(run())
    finally:
        lane.close()


def test_threads_run_calls_at_once() -> None:
    """Two blocking calls that need each other finish: each lane thread takes one."""
    lane = ThreadLane(2, "test-lane")
    barrier = threading.Barrier(2, timeout=5)

    async def run() -> list[int]:
        return list(await asyncio.gather(lane.run(barrier.wait), lane.run(barrier.wait)))

    try:
        assert sorted(asyncio.run(run())) == [0, 1]
    finally:
        lane.close()


def test_a_cancelled_caller_leaves_its_call_to_finish_and_the_lane_serving() -> None:
    lane = ThreadLane(1, "test-lane")
    release = threading.Event()
    finished = threading.Event()

    def slow() -> str:
        release.wait(5)
        finished.set()
        return "late"

    async def run() -> str:
        task = asyncio.ensure_future(lane.run(slow))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        release.set()
        return await lane.run(str, "next")

    try:
        assert asyncio.run(run()) == "next"
        assert finished.is_set()
    finally:
        lane.close()


def test_a_result_for_a_closed_loop_is_dropped() -> None:
    lane = ThreadLane(1, "test-lane")
    release = threading.Event()

    async def abandon() -> None:
        pending = asyncio.ensure_future(lane.run(release.wait, 5))
        await asyncio.sleep(0.01)
        assert not pending.done()

    try:
        asyncio.run(abandon())  # its loop closes with the call still running
        release.set()
        # its thread survived handing a result to a closed loop
        assert asyncio.run(asyncio.wait_for(lane.run(str, "still serving"), 5)) == "still serving"
    finally:
        lane.close()


def test_closed_lanes_refuse_calls_and_stop_their_threads() -> None:
    lane = ThreadLane(2, "test-closed-lane")
    assert asyncio.run(lane.run(int, "7")) == 7
    threads = [t for t in threading.enumerate() if t.name.startswith("test-closed-lane-")]
    assert len(threads) == 2
    lane.close()
    assert not any(t.is_alive() for t in threads)
    with pytest.raises(RuntimeError, match="closed"):
        asyncio.run(lane.run(int, "7"))
    with pytest.raises(ValueError, match="at least 1"):
        ThreadLane(0, "none")


def test_close_does_not_wait_past_its_timeout_for_busy_threads() -> None:
    lane = ThreadLane(2, "test-busy-lane")
    release = threading.Event()

    async def start_two() -> None:
        busy = [asyncio.ensure_future(lane.run(release.wait, 10)) for _ in range(2)]
        await asyncio.sleep(0.05)
        assert not any(task.done() for task in busy)

    asyncio.run(start_two())
    threads = [t for t in threading.enumerate() if t.name.startswith("test-busy-lane-")]
    lane.close(timeout=0.05)
    assert all(t.is_alive() for t in threads)  # returned with both still in their calls
    release.set()
    for thread in threads:
        thread.join(5)
    assert not any(t.is_alive() for t in threads)
