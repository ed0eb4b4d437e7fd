"""Helpers shared by the pipeline tests: an application with one service and one CSAM bank, test images."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select

from tutela.app import Tutela
from tutela.banks.models import BankCategory
from tutela.effects.models import OutboxEvent
from tutela.media import MediaLimits
from tutela.pipeline import DecoderHooks, ItemContext, Surface
from tutela.pipeline.models import Evaluation, Item, Job
from tutela.settings import Settings
from tutela.signals import Signal
from tutela.signals.extract import extract
from tutela.testing.imagegen import encode, photo_like

HOOKS = DecoderHooks(crash_marker=b"CRASH!", hang_marker=b"HANG!")
PUBLIC = ItemContext(Surface.PUBLIC_POST, jurisdiction="DE", account_id="acct-1")


@dataclass
class Harness:
    app: Tutela
    service_id: int

    def count(self, model: type[Item] | type[Evaluation] | type[Job] | type[OutboxEvent]) -> int:
        with self.app.database.read() as session:
            return int(session.scalar(select(func.count()).select_from(model)) or 0)


def pipeline_settings(data_dir: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "data_dir": data_dir,
        "decoder_processes": 1,
        "job_retry_backoff_seconds": 0.0,
        "worker_poll_seconds": 0.02,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@contextmanager
def harness(settings: Settings) -> Iterator[Harness]:
    app = Tutela.open(settings)
    try:
        service = app.services.create("platform")
        app.banks.create_bank("csam-hashes", BankCategory.CSAM)
        yield Harness(app, service.id)
    finally:
        app.close()


def image(seed: int, size: int = 96) -> bytes:
    """A benign generated photo-like PNG, different for every seed."""
    return encode(photo_like(seed, (size, size)), "PNG")


def pdq_of(data: bytes) -> Signal:
    extraction = extract(data, MediaLimits.from_settings(Settings()))
    signal = extraction.signal("pdq")
    assert signal is not None, extraction.error
    return signal


@contextmanager
def worker_process(settings: Settings, *, decoders: int = 2) -> Iterator[subprocess.Popen[bytes]]:
    """A `tutela worker` in its own process group; killed (with its decoder children) on exit."""
    env = {
        **os.environ,
        "TUTELA_DATA_DIR": str(settings.data_dir),
        "TUTELA_JOB_LEASE_SECONDS": str(settings.job_lease_seconds),
        "TUTELA_WORKER_POLL_SECONDS": "0.02",
        "TUTELA_ALLOW_PRIVATE_NETWORK_TARGETS": "true",
        "TUTELA_WEBHOOK_LEASE_SECONDS": "8",
        "TUTELA_WEBHOOK_TIMEOUT_SECONDS": "5",
        "TUTELA_WEBHOOK_BACKOFF_BASE_SECONDS": "0.1",
        "TUTELA_WEBHOOK_POLL_SECONDS": "0.05",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "tutela.cli", "worker", "--workers", str(decoders)],
        env=env,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(30)
