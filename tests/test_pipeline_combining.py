"""Concurrent callers share batch runs (inline scans and commits): each its answer, errors to their batch."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tutela.pipeline.combining import Combiner


class Gated:
    """A batch run that answers each query with [query]; the first scan waits at the gate until released."""

    def __init__(self, fail_on: object = None) -> None:
        self.batches: list[list[Any]] = []
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.fail_on = fail_on

    def __call__(self, queries: list[Any]) -> list[list[Any]]:
        self.batches.append(list(queries))
        if len(self.batches) == 1:
            self.entered.set()
            assert self.gate.wait(10)
        if self.fail_on in queries:
            raise ValueError("scan failed")
        return [[query] for query in queries]


def test_callers_arriving_during_a_scan_share_the_next_one() -> None:
    matcher = Gated()
    shared = Combiner(matcher, max_batch=4)
    with ThreadPoolExecutor(8) as pool:
        first = pool.submit(shared.submit, "q0")
        assert matcher.entered.wait(10)
        rest = [pool.submit(shared.submit, f"q{n}") for n in range(1, 7)]
        while len(shared._queued) < 6:  # all six queued behind the running scan
            threading.Event().wait(0.001)
        matcher.gate.set()
        assert first.result(10) == ["q0"]
        assert [f.result(10) for f in rest] == [[f"q{n}"] for n in range(1, 7)]
    assert matcher.batches[0] == ["q0"]
    assert sorted(len(b) for b in matcher.batches[1:]) == [2, 4]  # max_batch, then the rest
    assert sorted(q for b in matcher.batches for q in b) == sorted(f"q{n}" for n in range(7))


def test_a_failed_scan_fails_only_its_own_callers() -> None:
    matcher = Gated(fail_on="bad")
    shared = Combiner(matcher, max_batch=2)
    with ThreadPoolExecutor(4) as pool:
        first = pool.submit(shared.submit, "q0")
        assert matcher.entered.wait(10)
        bad = pool.submit(shared.submit, "bad")
        while len(shared._queued) < 1:
            threading.Event().wait(0.001)
        mate = pool.submit(shared.submit, "q1")
        while len(shared._queued) < 2:
            threading.Event().wait(0.001)
        later = pool.submit(shared.submit, "q2")
        while len(shared._queued) < 3:
            threading.Event().wait(0.001)
        matcher.gate.set()
        assert first.result(10) == ["q0"]
        with pytest.raises(ValueError, match="scan failed"):
            bad.result(10)
        with pytest.raises(ValueError, match="scan failed"):
            mate.result(10)  # shared the failing batch
        assert later.result(10) == ["q2"]
    assert not shared._running


def test_many_threads_all_get_their_own_answer() -> None:
    def echo(queries: list[Any]) -> list[list[Any]]:
        return [[query] for query in queries]

    shared = Combiner(echo, max_batch=3)
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(shared.submit, range(2000)))
    assert answers == [[n] for n in range(2000)]
    assert not shared._running
    assert not shared._queued
