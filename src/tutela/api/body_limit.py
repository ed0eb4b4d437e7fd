"""Every request body but an upload to a route bounding its own is read no further than `max_json_body_bytes`.

FastAPI reads a route's whole body (a pydantic model, `Body()`, `request.json()`) into memory before it
resolves the route's key check, so without a cap anyone who can reach the port could make the server buffer
as much as they send, and be told 401 only afterwards. This pure-ASGI middleware wraps `receive`: a declared
`Content-Length` past the limit is refused with 413 the first time the app asks for the body, before a byte
of it is read; a body without one (chunked) is cut off with 413 at the message that crosses the limit. The
413 is an `HTTPException` raised from `receive`, so the app's handler answers it as `{"detail": ...}` and the
router has already put the route in the scope for `RequestMetrics` to label it.

A multipart upload (`multipart/form-data`, exactly as the routes test it) is left alone only by a route
marked `own_upload_limit`, one that reads its upload itself within `max_media_bytes` or `max_import_bytes`
(`tutela.api.upload_form`). FastAPI reads a JSON route's body whatever its content type, so any other route
gets a multipart body capped like JSON. Which route it is, the router has put in the scope (`endpoint`) by
the time the body is first read, so that is when the mark is looked up. A body whose declared length is
within the limit passes through untouched, since the HTTP server delivers no more than the declared
length, so a request costs two header checks and no wrapper. Installed inside the pure-ASGI fast paths
(`create_app`), which answer only multipart uploads and lookups by hash.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tutela.errors import MediaTooLarge

SETTING = "max_json_body_bytes"
_MULTIPART = b"multipart/form-data"
_OWN_LIMIT = "tutela_own_upload_limit"
Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


def own_upload_limit(endpoint: Endpoint) -> Endpoint:
    """Mark a route endpoint that reads its multipart upload itself within a limit of its own (through
    `tutela.api.upload_form.bounded_form`): its multipart bodies are not capped at `max_json_body_bytes`."""
    setattr(endpoint, _OWN_LIMIT, True)
    return endpoint


def has_own_upload_limit(endpoint: object) -> bool:
    """Whether `endpoint` is marked `own_upload_limit`."""
    return getattr(endpoint, _OWN_LIMIT, False) is True


class BodyLimit:
    """ASGI middleware capping every request body at `limit` bytes but a multipart upload to a route
    marked `own_upload_limit`."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        """`limit` is the `max_json_body_bytes` setting."""
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        kind = b""
        length = b""
        for name, value in scope["headers"]:
            if name == b"content-type" and not kind:
                kind = value
            elif name == b"content-length" and not length:
                length = value
        # Past 18 digits it cannot be a real length (and int() refuses 4,300): counted as undeclared.
        declared = int(length) if length.isdigit() and len(length) <= 18 else None
        if declared is not None and declared <= self.limit:
            await self.app(scope, receive, send)
            return
        limited = LimitedReceive(receive, self.limit, declared)
        if kind.startswith(_MULTIPART):
            await self.app(scope, UploadReceive(scope, receive, limited), send)
            return
        await self.app(scope, limited, send)


class UploadReceive:
    """The `receive` of a multipart body: left alone for a route marked `own_upload_limit`, else `limited`.
    The route is looked up at the first read, when the router has resolved it."""

    def __init__(self, scope: Scope, receive: Receive, limited: Receive) -> None:
        self._scope = scope
        self._receive = receive
        self._limited = limited
        self._chosen: Receive | None = None

    async def __call__(self) -> Message:
        if self._chosen is None:
            own = has_own_upload_limit(self._scope.get("endpoint"))
            self._chosen = self._receive if own else self._limited
        return await self._chosen()


class LimitedReceive:
    """A `receive` that raises 413 once the body is past `limit`: at once for a `declared` length past it,
    else at the message that crosses it; after that it reads nothing more."""

    def __init__(self, receive: Receive, limit: int, declared: int | None) -> None:
        self._receive = receive
        self._limit = limit
        self._received = 0 if declared is None else declared
        self._what = "request size in bytes" if declared is not None else "request size in bytes (so far)"

    async def __call__(self) -> Message:
        if self._received > self._limit:
            raise self._too_large()
        message = await self._receive()
        if message["type"] == "http.request":
            self._received += len(message.get("body", b""))
            if self._received > self._limit:
                raise self._too_large()
        return message

    def _too_large(self) -> HTTPException:
        # MediaTooLarge words it, so this 413 reads like the upload limits' ones; it is raised as an
        # HTTPException because FastAPI turns any other error while reading a body into a 400.
        return HTTPException(413, str(MediaTooLarge(self._what, self._received, self._limit, SETTING)))
