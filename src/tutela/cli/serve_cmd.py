"""`tutela serve`: the HTTP API, with workers and webhook delivery in the same process by default."""

from __future__ import annotations

from typing import Annotated

import typer
import uvicorn

from tutela.api.app import create_app
from tutela.app import Tutela
from tutela.settings import get_settings


def serve_command(
    host: Annotated[str | None, typer.Option(help="Listen address (default: setting serve_host).")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port (default: setting serve_port).")] = None,
    background: Annotated[
        bool, typer.Option("--background/--no-background", help="Run workers in this process.")
    ] = True,
) -> None:
    """Serve the REST API (OpenAPI at /openapi.json, docs at /docs)."""
    settings = get_settings()
    app = create_app(Tutela.open(settings), background=background)
    uvicorn.run(app, host=host or settings.serve_host, port=port or settings.serve_port, log_level="info")
