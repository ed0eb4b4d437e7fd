"""Accepting items: idempotency, one transaction, the encrypted spool, the queue limit."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.pipeline_support import PUBLIC, Harness, harness, image, pdq_of, pipeline_settings
from tutela.errors import InvalidSignal, MediaTooLarge
from tutela.pipeline import (
    EvaluationStatus,
    InvalidSubmission,
    ItemContext,
    Job,
    Lane,
    QueueFull,
    SpoolError,
    Surface,
    spool_for,
    submit,
)
from tutela.pipeline.models import Evaluation, Item
from tutela.pipeline.queue import JobQueue
from tutela.signals import Signal


@pytest.fixture
def h(tmp_path: Path) -> Iterator[Harness]:
    with harness(pipeline_settings(tmp_path / "var", queue_max_pending=5)) as built:
        yield built


def spool_files(h: Harness) -> list[str]:
    return sorted(os.listdir(h.app.settings.data_dir / "spool"))


def test_same_digest_returns_the_same_evaluation(h: Harness) -> None:
    first = submit(h.app, service_id=h.service_id, content_id="post-1", context=PUBLIC, content=image(1))
    again = submit(h.app, service_id=h.service_id, content_id="post-1", context=PUBLIC, content=image(1))
    assert first.created
    assert not again.created
    assert again.evaluation.id == first.evaluation.id
    assert first.evaluation.status == EvaluationStatus.QUEUED
    assert (h.count(Item), h.count(Evaluation), h.count(Job)) == (1, 1, 1)
    assert len(spool_files(h)) == 1


def test_new_digest_is_a_new_evaluation_of_the_same_item(h: Harness) -> None:
    first = submit(h.app, service_id=h.service_id, content_id="post-1", context=PUBLIC, content=image(1))
    edited = ItemContext(Surface.COMMENT, jurisdiction="FR")
    second = submit(h.app, service_id=h.service_id, content_id="post-1", context=edited, content=image(2))
    assert second.created
    assert second.item.id == first.item.id
    assert second.evaluation.id != first.evaluation.id
    assert second.item.surface == "comment"
    assert second.item.jurisdiction == "FR"
    assert (h.count(Item), h.count(Evaluation), h.count(Job)) == (1, 2, 2)


def test_signals_only_submission_is_idempotent_on_the_canonical_list(h: Harness) -> None:
    pdq = pdq_of(image(3))
    md5 = Signal("md5", "D41D8CD98F00B204E9800998ECF8427E")
    first = submit(h.app, service_id=h.service_id, content_id="p", context=PUBLIC, signals=[pdq, md5])
    again = submit(h.app, service_id=h.service_id, content_id="p", context=PUBLIC, signals=[md5, pdq, md5])
    assert not again.created
    assert again.evaluation.id == first.evaluation.id
    assert first.evaluation.spool_name is None
    assert first.evaluation.input_kind == "signals"
    assert spool_files(h) == []


def test_concurrent_duplicate_submits_make_one_evaluation(h: Harness) -> None:
    data = image(4)
    results: list[int] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def one() -> None:
        try:
            barrier.wait()
            accepted = submit(h.app, service_id=h.service_id, content_id="dup", context=PUBLIC, content=data)
            results.append(accepted.evaluation.id)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(set(results)) == 1
    assert len(results) == 8
    assert (h.count(Item), h.count(Evaluation), h.count(Job)) == (1, 1, 1)
    assert len(spool_files(h)) == 1


def test_a_failure_mid_submit_leaves_nothing(h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail_job_insert(*_: object, **__: object) -> int:
        raise RuntimeError("disk on fire")

    # the item and evaluation rows are written by then: the job insert is the transaction's last statement
    monkeypatch.setattr(JobQueue, "add", staticmethod(fail_job_insert))
    with pytest.raises(RuntimeError, match="disk on fire"):
        submit(h.app, service_id=h.service_id, content_id="x", context=PUBLIC, content=image(5))
    assert (h.count(Item), h.count(Evaluation), h.count(Job)) == (0, 0, 0)
    assert spool_files(h) == []


def test_an_unknown_service_leaves_nothing(h: Harness) -> None:
    with pytest.raises(Exception, match="FOREIGN KEY"):
        submit(h.app, service_id=9999, content_id="x", context=PUBLIC, content=image(5))
    assert (h.count(Item), h.count(Evaluation)) == (0, 0)
    assert spool_files(h) == []


def test_queue_full_refuses_with_retry_after_but_resubmits_still_answer(h: Harness) -> None:
    for n in range(5):
        submit(h.app, service_id=h.service_id, content_id=f"c{n}", context=PUBLIC, content=image(10 + n))
    with pytest.raises(QueueFull) as refused:
        submit(h.app, service_id=h.service_id, content_id="c5", context=PUBLIC, content=image(15))
    assert refused.value.retry_after_seconds == h.app.settings.queue_retry_after_seconds
    assert "TUTELA_QUEUE_MAX_PENDING" in str(refused.value)
    again = submit(h.app, service_id=h.service_id, content_id="c0", context=PUBLIC, content=image(10))
    assert not again.created
    assert len(spool_files(h)) == 5


def test_spooled_content_is_encrypted_and_authenticated(h: Harness) -> None:
    data = image(6)
    accepted = submit(h.app, service_id=h.service_id, content_id="e", context=PUBLIC, content=data)
    name = accepted.evaluation.spool_name
    assert name is not None
    path = h.app.settings.data_dir / "spool" / name
    sealed = path.read_bytes()
    assert data[:64] not in sealed
    assert len(sealed) == len(data) + 4 + 12 + 16
    assert oct((h.app.settings.data_dir / "spool.key").stat().st_mode & 0o777) == "0o600"
    spool = spool_for(h.app.settings)
    assert spool.read(name) == data
    path.write_bytes(sealed[:-1] + bytes([sealed[-1] ^ 1]))
    with pytest.raises(SpoolError, match="fails authentication"):
        spool.read(name)


@pytest.mark.parametrize(
    ("content", "signals", "error"),
    [
        (None, None, InvalidSubmission),
        (b"x", [Signal("md5", "0" * 32)], InvalidSubmission),
        (None, [], InvalidSubmission),
        (None, [Signal("pdq", "zz")], InvalidSignal),
    ],
)
def test_malformed_submissions_are_refused(
    h: Harness, content: bytes | None, signals: list[Signal] | None, error: type[Exception]
) -> None:
    with pytest.raises(error):
        submit(
            h.app, service_id=h.service_id, content_id="m", context=PUBLIC, content=content, signals=signals
        )
    assert h.count(Item) == 0


def test_oversized_content_is_refused_before_spooling(tmp_path: Path) -> None:
    with harness(pipeline_settings(tmp_path, max_media_bytes=1000)) as h:
        with pytest.raises(MediaTooLarge, match="TUTELA_MAX_MEDIA_BYTES"):
            submit(h.app, service_id=h.service_id, content_id="big", context=PUBLIC, content=b"\0" * 1001)
        assert not (tmp_path / "spool").exists() or spool_files(h) == []


def test_bad_context_is_refused() -> None:
    with pytest.raises(InvalidSubmission, match="alpha-2"):
        ItemContext(Surface.PUBLIC_POST, jurisdiction="Germany")
    with pytest.raises(InvalidSubmission, match="unknown surface"):
        ItemContext("billboard")  # type: ignore[arg-type]


def test_lane_is_recorded_with_its_priority(h: Harness) -> None:
    accepted = submit(
        h.app, service_id=h.service_id, content_id="b", context=PUBLIC, content=image(7), lane=Lane.BACKFILL
    )
    with h.app.database.read() as session:
        job = session.query(Job).filter_by(evaluation_id=accepted.evaluation.id).one()
    assert (job.lane, job.priority) == ("backfill", Lane.BACKFILL.priority)
