"""Small readers the pure-ASGI fast paths share, each reading a request as FastAPI would, and the body
reader and replay that let a fast path hand a request it has read to the FastAPI app after all."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from urllib.parse import parse_qsl

from fastapi.routing import APIRoute
from starlette.datastructures import State
from starlette.types import Message, Receive, Scope

from tutela.api.auth import authenticate
from tutela.auth import Permission, Principal

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


def query_params(scope: Scope, allowed: Collection[str]) -> dict[str, str] | None:
    """The query parameters, when each is given once and all are `allowed`; None: the route decides."""
    pairs = parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
    params = dict(pairs)
    if len(params) != len(pairs) or not params.keys() <= set(allowed):
        return None
    return params


def scope_principal(
    state: State, scope: Scope, permission: Permission, *, hma_open: bool
) -> Principal | None:
    """The caller, when its key (or, for `hma_open`, its network) grants `permission`, as the route's
    `require` decides (`auth.authenticate`); None: the route answers the 401 or 403."""
    client = scope.get("client")
    principal = authenticate(
        state,
        header(scope, b"authorization"),
        None if client is None else client[0],
        permission,
        hma_open=hma_open,
    )
    return principal if isinstance(principal, Principal) else None


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


class Replay:
    """A `receive` that hands the messages already read to the app behind, then reads on."""

    def __init__(self, messages: list[Message], receive: Receive) -> None:
        self._messages = messages
        self._receive = receive

    async def __call__(self) -> Message:
        if self._messages:
            return self._messages.pop(0)
        return await self._receive()


async def read_body(receive: Receive, messages: list[Message]) -> bytes | None:
    """The whole request body, keeping every message in `messages` (for `Replay`); None if the client went
    away."""
    chunks = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)
