"""Tutela's threads carry their Python names in the kernel (Linux), so `top -H` can tell them apart."""

from __future__ import annotations

import asyncio
import sys
import threading
from pathlib import Path

import pytest

from tutela.ops.background import Background
from tutela.ops.thread_lane import ThreadLane
from tutela.ops.thread_names import name_this_thread

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="thread names are Linux's")


def kernel_name(native_id: int | None = None) -> str:
    return Path(f"/proc/self/task/{native_id or threading.get_native_id()}/comm").read_text().strip()


def test_a_thread_takes_its_python_name_cut_to_fifteen_bytes() -> None:
    seen: list[str] = []

    def target() -> None:
        name_this_thread()
        seen.append(kernel_name())

    thread = threading.Thread(target=target, name="tutela-a-rather-long-name")
    thread.start()
    thread.join()
    assert seen == ["tutela-a-rather"]


def test_the_main_thread_keeps_the_process_name() -> None:
    before = kernel_name()
    name_this_thread()
    assert threading.current_thread() is threading.main_thread()
    assert kernel_name() == before


def test_lane_and_background_threads_are_named() -> None:
    lane = ThreadLane(1, "tutela-lane")

    async def ask() -> str:
        return await lane.run(kernel_name)

    try:
        assert asyncio.run(ask()) == "tutela-lane-0"
    finally:
        lane.close()
    background = Background()
    named = threading.Event()
    names: list[str] = []

    def look() -> None:
        names.append(kernel_name())
        named.set()

    background.every(60.0, "probe-loop", look)
    background.start()
    try:
        assert named.wait(10)
    finally:
        background.stop()
    assert names[0] == "tutela-probe-lo"
