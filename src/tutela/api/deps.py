"""FastAPI dependencies shared by routers."""

from __future__ import annotations

from fastapi import Request

from tutela.app import Tutela


def get_tutela(request: Request) -> Tutela:
    """The application object the app was built with."""
    tutela: Tutela = request.app.state.tutela
    return tutela
