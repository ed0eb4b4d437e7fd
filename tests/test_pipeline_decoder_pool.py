"""The decoder pool: long-lived children; a crashed or hung one is replaced and the pool keeps serving."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Collection, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.pipeline_support import HOOKS, image, pdq_of
from tutela.pipeline import DecoderCrashed, DecoderPool, DecoderTimedOut, decoder_pool
from tutela.settings import Settings
from tutela.signals.extract import Extraction


@pytest.fixture(scope="module")
def pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DecoderPool]:
    settings = Settings(data_dir=Path(tmp_path_factory.mktemp("pool")), decoder_timeout_seconds=2.0)
    with DecoderPool.from_settings(settings, size=2, hooks=HOOKS) as built:
        yield built


def test_extracts_the_same_signals_as_in_process(pool: DecoderPool) -> None:
    data = image(1)
    extraction = pool.extract(data)
    assert extraction.signal("pdq") == pdq_of(data)
    assert {s.type for s in extraction.signals} == {"pdq", "md5", "sha1", "sha256"}


def test_undecodable_content_is_an_extraction_error_not_a_crash(pool: DecoderPool) -> None:
    extraction = pool.extract(b"not an image")
    assert extraction.pdq is None
    assert extraction.error_type == "UnsupportedMedia"
    assert extraction.signal("sha256") is not None


def test_children_are_reused(pool: DecoderPool) -> None:
    before = pool.replaced
    for seed in range(6):
        pool.extract(image(seed, 48))
    assert pool.replaced == before


def test_a_crashing_child_is_replaced(pool: DecoderPool) -> None:
    before = pool.replaced
    with pytest.raises(DecoderCrashed, match="exited with 70"):
        pool.extract(b"CRASH!" + image(2))
    assert pool.replaced == before + 1
    assert pool.extract(image(3)).pdq is not None


def test_a_hung_child_is_killed_and_replaced_while_the_other_keeps_serving(pool: DecoderPool) -> None:
    before = pool.replaced
    with ThreadPoolExecutor(1) as threads:
        hung = threads.submit(pool.extract, b"HANG!")
        served = [pool.extract(image(seed, 48)).pdq is not None for seed in range(5)]
        with pytest.raises(DecoderTimedOut, match="TUTELA_DECODER_TIMEOUT_SECONDS"):
            hung.result()
    assert all(served)
    assert pool.replaced == before + 1
    assert pool.extract(image(4)).pdq is not None


def test_a_child_replaced_from_a_thread_outlives_that_thread(tmp_path: Path) -> None:
    """PR_SET_PDEATHSIG fires when the *thread* that started a child ends: request threads come and go."""
    settings = Settings(data_dir=tmp_path, decoder_timeout_seconds=5.0)
    with DecoderPool.from_settings(settings, size=1, hooks=HOOKS) as single:

        def crash_then_use_the_replacement() -> None:
            with pytest.raises(DecoderCrashed):
                single.extract(b"CRASH!")
            assert single.extract(image(4)).pdq is not None  # the replacement is up (death signal armed)

        thread = threading.Thread(target=crash_then_use_the_replacement)
        thread.start()
        thread.join()
        assert single.replaced == 1
        assert single.extract(image(5)).pdq is not None  # same child, after its starting thread ended
        assert single.replaced == 1


def test_awaited_extractions_match_and_outnumber_the_children(
    pool: DecoderPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More concurrent awaits than children: the extra ones wait on the loop for a free child, not in an
    executor thread (`extract`); all get their signals."""
    data = [image(seed, 48) for seed in range(6)]

    async def run() -> list[Extraction]:
        return await asyncio.gather(*(pool.extract_async(d, ("pdq", "md5")) for d in data))

    def no_thread(data: bytes, types: Collection[str] | None = None) -> Extraction:
        raise AssertionError("an awaited extraction went to a thread")

    monkeypatch.setattr(pool, "extract", no_thread)
    before = pool.replaced
    for extraction, content in zip(asyncio.run(run()), data, strict=True):
        assert extraction.signal("pdq") == pdq_of(content)
        assert {s.type for s in extraction.signals} == {"pdq", "md5"}
    assert pool.replaced == before


def test_awaited_crash_and_hang_replace_the_child(pool: DecoderPool) -> None:
    before = pool.replaced
    with pytest.raises(DecoderCrashed, match="exited with 70"):
        asyncio.run(pool.extract_async(b"CRASH!" + image(2)))
    with pytest.raises(DecoderTimedOut, match="TUTELA_DECODER_TIMEOUT_SECONDS"):
        asyncio.run(pool.extract_async(b"HANG!"))
    assert pool.replaced == before + 2
    assert asyncio.run(pool.extract_async(image(5))).pdq is not None


def test_a_cancelled_await_returns_its_child_once_the_reply_is_in(pool: DecoderPool) -> None:
    """A request abandoned mid-extraction (a client gone) neither kills its child nor hands it out with a
    reply still due: the reply is collected in a thread, then the child serves again."""

    async def abandon() -> None:
        task = asyncio.ensure_future(pool.extract_async(image(6, 1600)))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    before = pool.replaced
    asyncio.run(abandon())
    for seed in range(2 * pool.size):  # every child, the abandoned one included, answers its own request
        content = image(seed + 10, 48)
        assert pool.extract(content).signal("pdq") == pdq_of(content)
    assert pool.replaced == before


def test_large_content_is_sent_from_a_thread(pool: DecoderPool, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past LOOP_SEND_MAX_BYTES the write would hold up the event loop: `extract` runs in the executor."""
    calls = []
    blocking = pool.extract

    def counted(data: bytes, types: Collection[str] | None = None) -> Extraction:
        calls.append(len(data))
        return blocking(data, types)

    content = image(7, 64)
    monkeypatch.setattr(decoder_pool, "LOOP_SEND_MAX_BYTES", len(content) - 1)
    monkeypatch.setattr(pool, "extract", counted)
    assert asyncio.run(pool.extract_async(content)).signal("pdq") == pdq_of(content)
    assert calls == [len(content)]
    monkeypatch.setattr(decoder_pool, "LOOP_SEND_MAX_BYTES", len(content))
    assert asyncio.run(pool.extract_async(content)).signal("pdq") == pdq_of(content)
    assert calls == [len(content)]  # written from the loop this time
