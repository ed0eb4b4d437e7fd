"""Small readers the pure-ASGI fast paths share, each reading a request as FastAPI would."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi.routing import APIRoute
from starlette.types import Scope

from tutela.auth import Permission

_TRUE = frozenset({"1", "on", "t", "true", "y", "yes"})
_FALSE = frozenset({"0", "off", "f", "false", "n", "no"})
"""The strings pydantic reads as a bool (any ASCII case); any other value falls through to its 422."""


def query_flag(value: str | None) -> bool | None:
    """An optional boolean query parameter as FastAPI reads it; None when it would not validate."""
    if value is None:
        return False
    lowered = value.lower() if value.isascii() else ""
    return True if lowered in _TRUE else False if lowered in _FALSE else None


def header(scope: Scope, name: bytes) -> str:
    """The first header called `name` (lower case), as Starlette's `Headers.get` reads it, or ""."""
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return ""


def guarded_route(routes: Sequence[APIRoute], path: str, method: str) -> tuple[APIRoute, Permission, bool]:
    """The `method path` route, the permission its `require` dependency declares and whether it is open
    to `hma_open_networks`; RuntimeError when there is none (a fast path must not guess)."""
    for route in routes:
        if route.path == path and method in (route.methods or ()):
            for dependency in route.dependant.dependencies:
                permission = getattr(dependency.call, "permission", None)
                if isinstance(permission, Permission):
                    return route, permission, bool(getattr(dependency.call, "hma_open", False))
    raise RuntimeError(f"no {method} {path} route with a permission among the routes given")
