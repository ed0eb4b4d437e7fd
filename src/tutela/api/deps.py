"""FastAPI dependencies shared by routers."""

from __future__ import annotations

from fastapi import Request

from tutela.app import Tutela


async def get_tutela(request: Request) -> Tutela:
    """The application object the app was built with (a coroutine: no thread-pool hop per request)."""
    tutela: Tutela = request.app.state.tutela
    return tutela
