"""End to end in one process: submit -> decoder pool -> matches -> policy -> verdict + outbox event."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.pipeline_support import HOOKS, PUBLIC, Harness, harness, image, pdq_of, pipeline_settings
from tutela.effects.models import OutboxEvent
from tutela.pipeline import Evaluation, EvaluationStatus, ItemContext, PipelineRuntime, Surface, spool_for
from tutela.pipeline.models import Job

MATCHING = image(100)


@pytest.fixture(scope="module")
def h(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    settings = pipeline_settings(
        Path(tmp_path_factory.mktemp("worker")),
        decoder_processes=2,
        job_max_attempts=2,
        decoder_timeout_seconds=5,
    )
    with harness(settings) as built:
        built.app.banks.add_entry("csam-hashes", pdq_of(MATCHING))
        built.app.services.create("other")
        yield built


@pytest.fixture(scope="module")
def runtime(h: Harness) -> Iterator[PipelineRuntime]:
    with PipelineRuntime(h.app, hooks=HOOKS) as started:
        yield started


def run(runtime: PipelineRuntime, h: Harness, content_id: str, **kwargs: object) -> Evaluation:
    kwargs.setdefault("context", PUBLIC)
    accepted = runtime.submit(service_id=h.service_id, content_id=content_id, **kwargs)  # type: ignore[arg-type]
    finished = runtime.wait_for(accepted.evaluation.id, timeout=60)
    assert finished is not None, f"{content_id} did not finish"
    return finished


def events_of(h: Harness, item_id: int) -> list[OutboxEvent]:
    with h.app.database.read() as session:
        return list(
            session.scalars(
                select(OutboxEvent).where(OutboxEvent.item_id == item_id).order_by(OutboxEvent.id)
            )
        )


def spool_exists(h: Harness, name: str) -> bool:
    return (spool_for(h.app.settings).directory / name).exists()


def test_a_csam_bank_match_is_blocked_held_and_announced(runtime: PipelineRuntime, h: Harness) -> None:
    accepted = runtime.submit(service_id=h.service_id, content_id="bad", context=PUBLIC, content=MATCHING)
    spool_name = accepted.evaluation.spool_name
    assert spool_name is not None
    done = runtime.wait_for(accepted.evaluation.id, timeout=60)
    assert done is not None
    assert done.status == EvaluationStatus.DONE
    assert done.visibility == "block"
    assert done.verdict is not None
    assert done.verdict["holds"] == ["csam"]
    assert done.rules_fired == ["csam-near-exact"]
    assert done.automated is True
    assert done.matches is not None
    assert [(m["bank"], m["category"], m["distance"]) for m in done.matches] == [("csam-hashes", "csam", 0)]
    assert done.hasher_variant == "pdq-fast/1"
    assert done.bank_seq == h.app.banks.current_seq()
    assert {s["type"] for s in done.signals or []} == {"pdq", "md5", "sha1", "sha256"}
    assert done.spool_name == spool_name  # held for review: content kept until retention ends
    assert done.spool_expires_at is not None
    assert spool_exists(h, spool_name)
    (event,) = events_of(h, done.item_id)
    payload = json.loads(event.payload)
    assert event.event_type == "item.verdict"
    assert event.item_seq == 1
    assert payload["evaluation_id"] == done.id
    assert payload["content_id"] == "bad"
    assert payload["verdict"]["visibility"] == "block"
    assert payload["matches"] == [
        {"bank": "csam-hashes", "category": "csam", "signal_type": "pdq", "distance": 0}
    ]
    assert payload["policy_version"] == runtime.policies.default.version


def test_a_non_matching_image_is_allowed_and_its_content_deleted(
    runtime: PipelineRuntime, h: Harness
) -> None:
    accepted = runtime.submit(service_id=h.service_id, content_id="fine", context=PUBLIC, content=image(101))
    done = runtime.wait_for(accepted.evaluation.id, timeout=60)
    assert done is not None
    assert done.status == EvaluationStatus.DONE
    assert done.visibility == "allow"
    assert done.matches == []
    assert done.spool_name is None
    assert accepted.evaluation.spool_name is not None
    deadline = time.monotonic() + 10  # the worker deletes the content right after the verdict commits
    while spool_exists(h, accepted.evaluation.spool_name) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not spool_exists(h, accepted.evaluation.spool_name)
    assert [e.event_type for e in events_of(h, done.item_id)] == ["item.verdict"]


def test_precomputed_signals_are_matched_without_content(runtime: PipelineRuntime, h: Harness) -> None:
    done = run(runtime, h, "hash-only", signals=[pdq_of(MATCHING)])
    assert done.visibility == "block"
    assert done.hasher_variant == "pdq-fast/1"


def test_a_bank_switched_off_for_the_service_does_not_match(runtime: PipelineRuntime, h: Harness) -> None:
    other = h.app.services.get("other")
    h.app.services.set_bank_enabled(other.id, "csam-hashes", False)
    accepted = runtime.submit(service_id=other.id, content_id="bad", context=PUBLIC, content=MATCHING)
    done = runtime.wait_for(accepted.evaluation.id, timeout=60)
    assert done is not None
    assert done.visibility == "allow"
    assert done.matches == []


def test_eu_private_messages_are_skipped_and_the_content_deleted(
    runtime: PipelineRuntime, h: Harness
) -> None:
    private = ItemContext(Surface.PRIVATE_MESSAGE, jurisdiction="FR")
    done = run(runtime, h, "dm", context=private, content=MATCHING)
    assert done.status == EvaluationStatus.SKIPPED
    assert done.verdict is None
    assert "2021/1232" in (done.skip_reason or "")
    assert done.spool_name is None
    assert [e.event_type for e in events_of(h, done.item_id)] == ["item.skipped"]


def test_undecodable_content_still_matches_digests_and_gets_a_verdict(
    runtime: PipelineRuntime, h: Harness
) -> None:
    done = run(runtime, h, "text", content=b"just some text")
    assert done.status == EvaluationStatus.DONE
    assert done.extraction_error is not None
    assert done.visibility == "allow"


def test_a_poison_item_is_dead_lettered_without_blocking_others(runtime: PipelineRuntime, h: Harness) -> None:
    poison = runtime.submit(service_id=h.service_id, content_id="poison", context=PUBLIC, content=b"CRASH!x")
    others = [
        runtime.submit(service_id=h.service_id, content_id=f"ok{n}", context=PUBLIC, content=image(200 + n))
        for n in range(4)
    ]
    dead = runtime.wait_for(poison.evaluation.id, timeout=60)
    assert dead is not None
    assert dead.status == EvaluationStatus.DEAD
    assert dead.attempts == 2
    assert "exited with 70" in (dead.error or "")
    for accepted in others:
        finished = runtime.wait_for(accepted.evaluation.id, timeout=60)
        assert finished is not None
        assert finished.status == EvaluationStatus.DONE
    with h.app.database.read() as session:
        job = session.scalars(select(Job).where(Job.evaluation_id == poison.evaluation.id)).one()
    assert job.state == "dead"
    assert [e.event_type for e in events_of(h, dead.item_id)] == ["item.failed"]


def test_each_service_runs_its_own_policy(tmp_path: Path) -> None:
    """A service with its own policy file gets that policy's verdict and version; others get the default."""
    strict = tmp_path / "strict.yaml"
    strict.write_text(
        "version: 1\nrules:\n  - id: label-all\n    when: {always: true}\n    then: [{label: kids}]\n"
    )
    settings = pipeline_settings(tmp_path / "data", service_policy_files={"kids": strict})
    with harness(settings) as h:
        kids = h.app.services.create("kids")
        with h.app.pipeline as runtime:
            done = {}
            for service_id, name in ((h.service_id, "default"), (kids.id, "kids")):
                accepted = runtime.submit(
                    service_id=service_id, content_id=f"c-{name}", context=PUBLIC, content=image(5, 64)
                )
                done[name] = runtime.wait_for(accepted.evaluation.id, 120)
        assert done["kids"] is not None
        assert done["default"] is not None
        assert done["kids"].visibility == "label"
        assert done["default"].visibility == "allow"
        assert done["kids"].policy_version == h.app.policies.for_service("kids").version
        assert done["default"].policy_version == h.app.policies.default.version
