"""`?wait=true` worked on the request's thread: one transaction stores item, verdict, job and outbox event;
anything unusual takes the queue."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from tests.pipeline_support import HOOKS, PUBLIC, Harness, harness, image, pdq_of, pipeline_settings
from tutela.effects.models import OutboxEvent
from tutela.media import MediaLimits
from tutela.pipeline import EvaluationStatus, ItemContext, PipelineRuntime, Surface, inline, spool_for
from tutela.pipeline.context import Lane
from tutela.pipeline.inline import FinishedWrite, write_finished
from tutela.pipeline.models import Job, JobState
from tutela.pipeline.records import signal_to_json
from tutela.pipeline.submit import find_or_create
from tutela.signals.extract import extract

MATCHING = image(200)


@pytest.fixture(scope="module")
def h(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    settings = pipeline_settings(
        Path(tmp_path_factory.mktemp("inline")),
        decoder_processes=1,
        job_max_attempts=1,
        decoder_timeout_seconds=5,
    )
    with harness(settings) as built:
        built.app.banks.add_entry("csam-hashes", pdq_of(MATCHING))
        yield built


@pytest.fixture(scope="module")
def runtime(h: Harness) -> Iterator[PipelineRuntime]:
    with PipelineRuntime(h.app, hooks=HOOKS) as started:
        yield started


def spool_names(h: Harness) -> set[str]:
    directory = spool_for(h.app.settings).directory
    return {path.name for path in directory.iterdir()} if directory.exists() else set()


def job_of(h: Harness, evaluation_id: int) -> Job:
    with h.app.database.read() as session:
        return session.scalars(select(Job).where(Job.evaluation_id == evaluation_id)).one()


def events_of(h: Harness, item_id: int) -> list[OutboxEvent]:
    with h.app.database.read() as session:
        return list(session.scalars(select(OutboxEvent).where(OutboxEvent.item_id == item_id)))


def test_an_allowed_item_is_stored_finished_with_its_job_done_and_no_content_kept(
    runtime: PipelineRuntime, h: Harness
) -> None:
    before = spool_names(h)
    submission, evaluation = runtime.submit_and_wait(
        service_id=h.service_id, content_id="plain", context=PUBLIC, content=image(201), timeout=30
    )
    assert submission.created
    assert evaluation.status == EvaluationStatus.DONE.value
    assert evaluation.verdict is not None
    assert evaluation.verdict["visibility"] == "allow"
    assert evaluation.spool_name is None
    assert spool_names(h) == before
    job = job_of(h, evaluation.id)
    assert (job.state, job.attempts, job.lease_owner) == (JobState.DONE.value, 1, None)
    assert [e.event_type for e in events_of(h, submission.item.id)] == ["item.verdict"]


def test_an_inline_evaluation_stores_the_signals_extract_gives(runtime: PipelineRuntime, h: Harness) -> None:
    """The decoder skips SHA-256 (the submit digest is it): the stored list is still extract's, in order."""
    content = image(206)
    _, evaluation = runtime.submit_and_wait(
        service_id=h.service_id, content_id="signals", context=PUBLIC, content=content, timeout=30
    )
    expected = extract(content, MediaLimits.from_settings(h.app.settings)).signals
    assert evaluation.signals == [signal_to_json(s) for s in expected]
    assert [s["type"] for s in evaluation.signals] == ["pdq", "md5", "sha1", "sha256"]
    assert evaluation.signals[-1]["value"] == hashlib.sha256(content).hexdigest()


def test_a_queued_evaluation_stores_the_same_signals(tmp_path: Path) -> None:
    """The worker's decoder skips SHA-256 too (the evaluation's digest is it)."""
    content = image(207)
    with (
        harness(pipeline_settings(tmp_path, wait_inline=False)) as built,
        PipelineRuntime(built.app) as started,
    ):
        _, evaluation = started.submit_and_wait(
            service_id=built.service_id, content_id="queued", context=PUBLIC, content=content, timeout=30
        )
        expected = extract(content, MediaLimits.from_settings(built.app.settings)).signals
        assert evaluation.signals == [signal_to_json(s) for s in expected]


def test_a_held_item_keeps_its_content_in_the_spool(runtime: PipelineRuntime, h: Harness) -> None:
    _, evaluation = runtime.submit_and_wait(
        service_id=h.service_id, content_id="held", context=PUBLIC, content=MATCHING, timeout=30
    )
    assert evaluation.visibility == "block"
    assert evaluation.spool_name is not None
    assert evaluation.spool_name in spool_names(h)
    assert evaluation.spool_expires_at is not None
    assert spool_for(h.app.settings).read(evaluation.spool_name) == MATCHING


def test_resubmitting_a_digest_returns_the_stored_evaluation(runtime: PipelineRuntime, h: Harness) -> None:
    first, done = runtime.submit_and_wait(
        service_id=h.service_id, content_id="again", context=PUBLIC, content=image(202), timeout=30
    )
    second, same = runtime.submit_and_wait(
        service_id=h.service_id, content_id="again", context=PUBLIC, content=image(202), timeout=30
    )
    assert (first.created, second.created) == (True, False)
    assert same.id == done.id
    assert same.status == EvaluationStatus.DONE.value
    assert len(events_of(h, first.item.id)) == 1


def test_a_decoder_crash_takes_the_queue_and_is_dead_lettered(runtime: PipelineRuntime, h: Harness) -> None:
    submission, evaluation = runtime.submit_and_wait(
        service_id=h.service_id, content_id="poison", context=PUBLIC, content=b"CRASH!x", timeout=30
    )
    assert submission.created
    assert evaluation.status == EvaluationStatus.DEAD.value  # the queue's retry cap (1 attempt here)
    assert job_of(h, evaluation.id).state == JobState.DEAD.value


def test_an_item_the_policy_must_not_scan_is_recorded_as_skipped(
    runtime: PipelineRuntime, h: Harness
) -> None:
    private = ItemContext(Surface.PRIVATE_MESSAGE, jurisdiction="FR", account_id="acct-2")
    _, evaluation = runtime.submit_and_wait(
        service_id=h.service_id, content_id="dm", context=private, content=image(203), timeout=30
    )
    assert evaluation.status == EvaluationStatus.SKIPPED.value
    assert evaluation.skip_reason


def test_with_wait_inline_off_the_queue_works_the_item(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("worked inline although wait_inline is off")

    monkeypatch.setattr("tutela.pipeline.runtime.work_inline", refuse)
    settings = pipeline_settings(tmp_path, wait_inline=False)
    with harness(settings) as built, PipelineRuntime(built.app, hooks=HOOKS) as started:
        submission, evaluation = started.submit_and_wait(
            service_id=built.service_id, content_id="q", context=PUBLIC, content=image(204), timeout=30
        )
        assert evaluation.status == EvaluationStatus.DONE.value
        job = job_of(built, evaluation.id)
        assert job.state == JobState.DONE.value
        assert job.lease_owner is None
        assert submission.created


def test_a_new_digest_of_an_item_is_a_second_evaluation_and_its_event_comes_second(
    runtime: PipelineRuntime, h: Harness
) -> None:
    first, _ = runtime.submit_and_wait(
        service_id=h.service_id, content_id="edited", context=PUBLIC, content=image(205), timeout=30
    )
    moved = ItemContext(Surface.PROFILE, jurisdiction="DE", account_id="acct-3")
    second, evaluation = runtime.submit_and_wait(
        service_id=h.service_id, content_id="edited", context=moved, content=image(206), timeout=30
    )
    assert (first.new_item, second.new_item, second.created) == (True, False, True)
    assert second.item.id == first.item.id
    assert (second.item.surface, second.item.jurisdiction) == ("profile", "DE")
    assert evaluation.input_kind == "content"
    assert [e.item_seq for e in events_of(h, first.item.id)] == [1, 2]


def test_a_bank_switched_off_in_this_process_applies_to_the_next_item_at_once(
    runtime: PipelineRuntime, h: Harness
) -> None:
    h.app.services.set_bank_enabled(h.service_id, "csam-hashes", False)
    try:
        _, evaluation = runtime.submit_and_wait(
            service_id=h.service_id, content_id="switched", context=PUBLIC, content=MATCHING, timeout=30
        )
    finally:
        h.app.services.set_bank_enabled(h.service_id, "csam-hashes", True)
    assert evaluation.matches == []
    assert evaluation.visibility == "allow"
    _, again = runtime.submit_and_wait(
        service_id=h.service_id, content_id="switched-back", context=PUBLIC, content=MATCHING, timeout=30
    )
    assert again.visibility == "block"


def _finished_write(h: Harness, content_id: str, digest: str) -> FinishedWrite:
    columns: dict[str, Any] = {"status": EvaluationStatus.DONE.value, "verdict": {"visibility": "allow"}}
    columns |= {"policy_version": "test", "bank_seq": 0}
    return FinishedWrite(h.service_id, content_id, PUBLIC, digest, None, (), Lane.LIVE, columns, [])


def test_a_batch_of_finished_items_is_one_transaction_and_sees_its_own_rows(h: Harness) -> None:
    same = _finished_write(h, "batch-a", "d" * 64)
    results = write_finished(h.app, [same, same, _finished_write(h, "batch-a", "e" * 64)])
    written = [r for r in results if not isinstance(r, IntegrityError)]
    submissions = [w.submission for w in written]
    assert [(s.created, s.new_item) for s in submissions] == [(True, True), (False, False), (True, False)]
    assert submissions[1].evaluation.id == submissions[0].evaluation.id
    assert [e.item_seq for e in events_of(h, submissions[0].item.id)] == [1, 2]
    assert len({w.sync_mark for w in written}) == 1  # one commit: its writers wait for one sync


def test_a_write_that_fails_in_a_batch_fails_alone(h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    real = find_or_create

    def refuse_one(app: Any, connection: Any, service_id: int, content_id: str, *a: Any, **k: Any) -> Any:
        if content_id == "batch-loser":
            raise IntegrityError("INSERT", {}, Exception("UNIQUE constraint failed"))
        return real(app, connection, service_id, content_id, *a, **k)

    monkeypatch.setattr(inline, "find_or_create", refuse_one)
    writes = [_finished_write(h, name, "f" * 64) for name in ("batch-b", "batch-loser", "batch-c")]
    results = write_finished(h.app, writes)
    assert isinstance(results[1], IntegrityError)
    stored = [r for r in results if not isinstance(r, IntegrityError)]
    assert [s.submission.item.content_id for s in stored] == ["batch-b", "batch-c"]
    assert all(s.submission.created for s in stored)


def test_an_inline_item_is_answered_after_its_commit_was_synced_to_disk(
    runtime: PipelineRuntime, h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = h.app.database.log_sync
    assert log is not None
    order: list[str] = []
    real_wait = log.wait

    def wait(mark: int) -> None:
        real_wait(mark)
        order.append(f"synced after mark {mark}")

    monkeypatch.setattr(log, "wait", wait)
    before = log.syncs
    submission, _ = runtime.submit_and_wait(
        service_id=h.service_id, content_id="synced", context=PUBLIC, content=image(205), timeout=30
    )
    assert submission.created
    assert order  # the answer came back through the wait
    assert log.syncs > before
