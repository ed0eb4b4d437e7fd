"""`tutela worker`: pipeline workers in their own process (cluster deployment), until SIGTERM or Ctrl-C."""

from __future__ import annotations

import json
import signal
import sys
import threading
from types import FrameType
from typing import Annotated

import typer

from tutela.app import Tutela
from tutela.pipeline import DecoderPool, Lane, Worker
from tutela.policy import default_policy, load
from tutela.settings import get_settings


def worker_command(
    workers: Annotated[
        int | None,
        typer.Option("--workers", min=1, help="Decoder processes (default: setting decoder_processes)."),
    ] = None,
    lane: Annotated[
        list[Lane] | None, typer.Option("--lane", help="Only lease jobs of these lanes (repeatable).")
    ] = None,
) -> None:
    """Lease jobs, extract, match, evaluate the policy and store verdicts; stop cleanly on SIGTERM."""
    settings = get_settings()
    app = Tutela.open(settings)
    policy = load(settings.policy_file) if settings.policy_file else default_policy()
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        with DecoderPool.from_settings(settings, size=workers) as pool:
            worker = Worker(app, pool, policy, lanes=lane or tuple(Lane))
            started = {"event": "worker_started", "owner": worker.owner, "policy_version": policy.version}
            sys.stderr.write(json.dumps(started) + "\n")
            sys.stderr.flush()
            worker.run(stop)
    finally:
        app.close()
