"""Turn Tutela's errors into one clear line on stderr and exit status 1, never a traceback."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

import typer

from tutela.errors import TutelaError

P = ParamSpec("P")
R = TypeVar("R")


def reports_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Decorate a command so that a TutelaError prints `error: <message>` and exits with status 1."""

    @wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except TutelaError as exc:
            sys.stderr.write(f"error: {exc}\n")
            raise typer.Exit(1) from exc

    return run
