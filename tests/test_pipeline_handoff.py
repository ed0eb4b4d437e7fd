"""The handoff of idle decoders: threads and coroutines served in arrival order, nothing lost on cancel."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from tutela.pipeline.handoff import Handoff, HandoffClosed


def wait_for_waiters(handoff: Handoff[str], count: int) -> None:
    deadline = time.monotonic() + 5
    while len(handoff._waiters) < count:
        assert time.monotonic() < deadline, "waiters did not queue up"
        time.sleep(0.001)


def test_an_idle_thing_is_taken_at_once_and_returned_for_the_next() -> None:
    handoff: Handoff[str] = Handoff()
    handoff.put("a")
    assert handoff.get_nowait() == "a"
    assert handoff.get_nowait() is None
    assert handoff.get(timeout=0.01) is None
    handoff.put("a")
    assert handoff.get(timeout=0.01) == "a"


def test_threads_and_tasks_are_served_first_come_first_served() -> None:
    handoff: Handoff[str] = Handoff()
    order: list[str] = []

    def thread_waiter(name: str) -> None:
        thing = handoff.get(timeout=5)
        order.append(f"{name}:{thing}")

    async def run() -> None:
        first = threading.Thread(target=thread_waiter, args=("thread1",))
        first.start()
        await asyncio.to_thread(wait_for_waiters, handoff, 1)
        task = asyncio.ensure_future(handoff.get_async())
        await asyncio.sleep(0)  # the task queues up behind the thread
        second = threading.Thread(target=thread_waiter, args=("thread2",))
        second.start()
        await asyncio.to_thread(wait_for_waiters, handoff, 3)
        assert handoff.get_nowait() is None  # nobody jumps the queue, even with a thing idle
        for thing in ("x", "y", "z"):
            handoff.put(thing)
        order.append(f"task:{await task}")
        await asyncio.to_thread(first.join)
        await asyncio.to_thread(second.join)

    asyncio.run(run())
    assert sorted(order) == ["task:y", "thread1:x", "thread2:z"]


def test_a_thread_that_gives_up_leaves_the_queue() -> None:
    handoff: Handoff[str] = Handoff()
    assert handoff.get(timeout=0.01) is None
    handoff.put("a")
    assert handoff.get_nowait() == "a"  # not handed to the waiter that timed out


def test_a_cancelled_task_passes_on_what_it_was_given() -> None:
    """Cancelled while waiting, or just after a thing was handed to it: the thing is not lost."""
    handoff: Handoff[str] = Handoff()

    async def run() -> None:
        waiting = asyncio.ensure_future(handoff.get_async())
        await asyncio.sleep(0)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        handoff.put("a")
        assert handoff.get_nowait() == "a"

        handed = asyncio.ensure_future(handoff.get_async())
        await asyncio.sleep(0)
        handoff.put("b")  # set on this loop's thread: the task has it, then is cancelled before it runs
        handed.cancel()
        with pytest.raises(asyncio.CancelledError):
            await handed
        assert handoff.get_nowait() == "b"

        late = asyncio.ensure_future(handoff.get_async())
        await asyncio.sleep(0)
        late.cancel()  # cancelled, still queued, when another thread hands it a thing (the loop is held)
        giver = threading.Thread(target=handoff.put, args=("c",))
        giver.start()
        giver.join()
        with pytest.raises(asyncio.CancelledError):
            await late
        await asyncio.sleep(0.01)
        assert handoff.get_nowait() == "c"

    asyncio.run(run())


def test_a_thing_put_from_another_thread_reaches_a_waiting_task() -> None:
    handoff: Handoff[str] = Handoff()

    async def run() -> str:
        task = asyncio.ensure_future(handoff.get_async())
        await asyncio.sleep(0)
        await asyncio.to_thread(handoff.put, "a")
        return await asyncio.wait_for(task, 5)

    assert asyncio.run(run()) == "a"


def test_close_wakes_every_waiter_and_returns_the_idle_things() -> None:
    handoff: Handoff[str] = Handoff()
    errors: list[type[BaseException]] = []

    def thread_waiter() -> None:
        try:
            handoff.get(timeout=5)
        except HandoffClosed as exc:
            errors.append(type(exc))

    async def run() -> None:
        thread = threading.Thread(target=thread_waiter)
        thread.start()
        await asyncio.to_thread(wait_for_waiters, handoff, 1)
        task = asyncio.ensure_future(handoff.get_async())
        await asyncio.sleep(0)
        assert handoff.close() == []
        with pytest.raises(HandoffClosed):
            await task
        await asyncio.to_thread(thread.join)

    asyncio.run(run())
    assert errors == [HandoffClosed]
    with pytest.raises(HandoffClosed):
        handoff.get(timeout=0.01)
    other: Handoff[str] = Handoff()
    other.put("a")
    assert other.close() == ["a"]
