"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

from tutela.api.auth import require
from tutela.api.deps import get_tutela
from tutela.app import Tutela
from tutela.auth import Permission, Principal

router = APIRouter(tags=["operations"])
App = Annotated[Tutela, Depends(get_tutela)]


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up (no dependencies checked: a restart would not fix them)."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(app: App) -> JSONResponse:
    """Ready to serve: the database answers and the match index has applied every committed bank change."""
    problems: list[str] = []
    try:
        with app.database.read() as session:
            session.execute(text("SELECT 1"))
        committed = app.banks.current_seq()
        if app.matcher.seq < committed:
            problems.append(f"match index at change {app.matcher.seq}, database at {committed}")
    except Exception as exc:  # readiness reports any failure instead of raising it
        problems.append(f"database unreachable: {exc}")
    if problems:
        return JSONResponse({"status": "not ready", "problems": problems}, status_code=503)
    return JSONResponse({"status": "ready", "bank_change_seq": app.matcher.seq})


@router.get("/metrics")
def metrics(app: App, _: Annotated[Principal, Depends(require(Permission.METRICS_READ))]) -> Response:
    """Prometheus text format; with `serve --workers N`, of every server process (`tutela.ops.metrics`)."""
    return Response(app.metrics.render(app), media_type=CONTENT_TYPE_LATEST)
