"""The collector pause restores the collector's state after the last of overlapping blocks."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tutela.app import Tutela
from tutela.banks.models import BankCategory
from tutela.matcher import Matcher
from tutela.ops.collector import collector_paused
from tutela.settings import Settings
from tutela.signals import Signal


@pytest.fixture(autouse=True)
def collector_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


def test_the_block_runs_without_the_collector_and_restores_it() -> None:
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    with collector_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()  # it was off before: it stays off


def test_overlapping_blocks_share_one_pause() -> None:
    inside, leave = threading.Event(), threading.Event()

    def other() -> None:
        with collector_paused():
            inside.set()
            leave.wait(10)

    thread = threading.Thread(target=other)
    with collector_paused():
        thread.start()
        assert inside.wait(10)
    assert not gc.isenabled()  # the other thread's block is still open
    leave.set()
    thread.join(10)
    assert gc.isenabled()
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("an error inside still restores the collector")
    assert gc.isenabled()


def test_an_index_load_runs_with_the_collector_paused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = Tutela.open(Settings(data_dir=tmp_path))
    try:
        app.banks.create_bank("b", BankCategory.CSAM)
        app.banks.add_entry("b", Signal("md5", "0" * 32))
        seen: list[bool] = []
        real = Matcher._load_entries_after

        def watched(matcher: Matcher, *args: object) -> None:
            seen.append(gc.isenabled())
            real(matcher, *args)  # type: ignore[arg-type]

        monkeypatch.setattr(Matcher, "_load_entries_after", watched)
        fresh = Matcher(app.database, low_quality_threshold=None, min_quality=0)
        fresh.load()
        assert seen == [False]
        assert gc.isenabled()
        assert len(fresh.exact) == 1
    finally:
        app.close()
