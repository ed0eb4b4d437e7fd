"""`tutela worker`: pipeline workers in their own process (cluster deployment), until SIGTERM or Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from types import FrameType
from typing import Annotated

import typer

from tutela.app import Tutela
from tutela.ops.gil import apply_switch_interval
from tutela.pipeline import Lane
from tutela.pipeline.runtime import PipelineRuntime
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
    """Lease jobs, extract, match, evaluate the policy, store verdicts, deliver webhooks; stop on SIGTERM."""
    settings = get_settings()
    apply_switch_interval(settings)
    app = Tutela.open(settings)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    runtime = PipelineRuntime(app, app.policies, decoder_processes=workers, lanes=lane or tuple(Lane))
    app.use_pipeline(runtime)
    try:
        app.start_background(workers=True)
        started = {"event": "worker_started", "pid": os.getpid(), "policy_versions": app.policies.versions()}
        sys.stderr.write(json.dumps(started) + "\n")
        sys.stderr.flush()
        stop.wait()
    finally:
        app.close()
