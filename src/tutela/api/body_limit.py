"""Every request body except a multipart upload is read no further than `max_json_body_bytes`.

FastAPI reads a route's whole body (a pydantic model, `Body()`, `request.json()`) into memory before it
resolves the route's key check, so without a cap anyone who can reach the port could make the server buffer
as much as they send, and be told 401 only afterwards. This pure-ASGI middleware wraps `receive`: a declared
`Content-Length` past the limit is refused with 413 the first time the app asks for the body, before a byte
of it is read; a body without one (chunked) is cut off with 413 at the message that crosses the limit. The
413 is an `HTTPException` raised from `receive`, so the app's handler answers it as `{"detail": ...}` and the
router has already put the route in the scope for `RequestMetrics` to label it.

Multipart uploads (`multipart/form-data`, exactly as the routes test it) pass through untouched: they are
bounded by `max_media_bytes` and `max_import_bytes` as they are parsed (`tutela.api.upload_form`). A body
whose declared length is within the limit also passes through untouched, since the HTTP server delivers no
more than the declared length, so a request costs two header checks and no wrapper. Installed inside the
pure-ASGI fast paths (`create_app`), which answer only multipart uploads and lookups by hash.
"""

from __future__ import annotations

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tutela.errors import MediaTooLarge

SETTING = "max_json_body_bytes"
_MULTIPART = b"multipart/form-data"


class BodyLimit:
    """ASGI middleware capping every request body but a multipart upload at `limit` bytes."""

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
        if kind.startswith(_MULTIPART) or (declared is not None and declared <= self.limit):
            await self.app(scope, receive, send)
            return
        await self.app(scope, LimitedReceive(receive, self.limit, declared), send)


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
