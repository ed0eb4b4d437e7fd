"""`tutela serve`: the HTTP API, with workers and webhook delivery in the same process by default."""

from __future__ import annotations

import os
from typing import Annotated

import typer
import uvicorn

from tutela.api.app import create_app
from tutela.app import Tutela
from tutela.ops.gil import apply_switch_interval
from tutela.settings import get_settings

FACTORY = "tutela.api.app:create_app_from_env"
"""What each process of `--workers N` imports and calls to build its app."""


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
    uvicorn.run(
        FACTORY,
        factory=True,
        workers=count,
        host=address,
        port=listen_port,
        log_level="info",
        access_log=settings.access_log,
    )
