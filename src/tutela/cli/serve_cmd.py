"""`tutela serve`: the HTTP API, with workers and webhook delivery in the same process by default."""

from __future__ import annotations

import os
from typing import Annotated

import typer
import uvicorn
from fastapi import FastAPI

from tutela.api.app import create_app, create_app_from_env
from tutela.app import Tutela
from tutela.ops.gil import apply_switch_interval
from tutela.ops.multiprocess_metrics import shared_directory
from tutela.ops.parent_death import die_with_parent
from tutela.settings import get_settings

FACTORY = "tutela.cli.serve_cmd:create_worker_app"
"""What each process of `--workers N` imports and calls to build its app."""


def create_worker_app() -> FastAPI:
    """The app of one process of `--workers N`; the process ends with `tutela serve`, even a SIGKILLed one.

    Without this, killing the parent with SIGKILL left the server processes holding the port (and their
    decoder children, which end with them, running). Importing it here costs nothing extra when the
    `tutela` script started the server: a spawned process re-runs that script, which imports the CLI.
    """
    die_with_parent()
    return create_app_from_env()


def serve_command(
    host: Annotated[str | None, typer.Option(help="Listen address (default: setting serve_host).")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port (default: setting serve_port).")] = None,
    workers: Annotated[
        int | None,
        typer.Option("--workers", min=1, help="Server processes (default: setting serve_workers)."),
    ] = None,
    background: Annotated[
        bool,
        typer.Option(
            "--background/--no-background",
            help="Run pipeline workers and webhook delivery in the server processes (setting run_workers).",
        ),
    ] = True,
) -> None:
    """Serve the REST API (OpenAPI at /openapi.json, docs at /docs)."""
    settings = get_settings()
    if not background:
        settings = settings.model_copy(update={"run_workers": False})
        os.environ["TUTELA_RUN_WORKERS"] = "false"  # the processes of --workers read the environment
    count = workers or settings.serve_workers
    address, listen_port = host or settings.serve_host, port or settings.serve_port
    if count == 1:
        apply_switch_interval(settings)
        app = create_app(Tutela.open(settings))
        uvicorn.run(app, host=address, port=listen_port, log_level="info", access_log=settings.access_log)
        return
    Tutela.open(settings, load_indexes=False).close()  # migrate once, before the processes start
    os.environ["TUTELA_SERVE_WORKERS"] = str(count)  # each process sizes its index threads from it
    with shared_directory():  # /metrics then reports every process, whichever answers the scrape
        uvicorn.run(
            FACTORY,
            factory=True,
            workers=count,
            host=address,
            port=listen_port,
            log_level="info",
            access_log=settings.access_log,
            timeout_worker_healthcheck=settings.serve_worker_healthcheck_seconds,
        )
