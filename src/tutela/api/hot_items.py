"""A pure-ASGI fast path for item uploads: `POST /v1/items` with a plain multipart/form-data body.

Every upload a platform submits comes this way, and FastAPI's routing, dependency solving, query validation
and Starlette's form parser cost ~1 ms of CPU per request on the event loop, next to the ~10 ms of the
item's own work. This middleware takes the happy path of the route with the route's own pieces: the key
check and permission of its `require` dependency (`auth.authenticate`), the `ItemIn` model, the plain-form
parser (`simple_form`, which refuses anything unusual) and `items.accept`, which the route calls too, so the
answer is the route's. What it cannot decide before the work falls through to FastAPI untouched, with the
body it read replayed: another method, path or content type, a query parameter it does not take, an invalid
`wait` or `timeout`, a missing, invalid or under-privileged key, a body too large or not plain, fields that
do not validate. Errors raised by the work itself (the queue is full, the service is unknown) are answered
by the app's own exception handlers, as FastAPI would. It sets `scope["route"]` so `RequestMetrics`
labels its requests as the router would.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from fastapi.routing import APIRoute
from pydantic import ValidationError
from starlette.datastructures import State
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tutela.api.asgi_parts import (
    Replay,
    guarded_route,
    header,
    query_flag,
    query_params,
    read_body,
    scope_principal,
)
from tutela.api.routes.items import MAX_FORM_FIELDS, MULTIPART_OVERHEAD, ItemIn, accept
from tutela.api.simple_form import form_boundary, parse_simple_form
from tutela.auth import Principal

PATH = "/v1/items"
_QUERY = frozenset({"wait", "timeout"})
_DECIMAL = re.compile(r"[0-9]{1,9}(\.[0-9]{1,9})?")


class HotItems:
    """ASGI middleware answering plain multipart uploads to `POST /v1/items`; see the module docstring."""

    def __init__(
        self,
        app: ASGIApp,
        state: State,
        routes: Sequence[APIRoute],
        handlers: Mapping[Any, Callable[..., Any]],
    ) -> None:
        """`state` is the FastAPI app's (`tutela`, `open_networks`); `handlers` its exception handlers."""
        self.app = app
        self.state = state
        self.handlers = handlers
        self.route, self.permission, self.hma_open = guarded_route(routes, PATH, "POST")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        accepted = None
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == PATH:
            accepted = self._admit(scope)
        if accepted is None:
            await self.app(scope, receive, send)
            return
        principal, boundary, wait, timeout = accepted
        messages: list[Message] = []
        body = await read_body(receive, messages)
        parsed = None if body is None else self._parse(body, boundary)
        if parsed is None:
            await self.app(scope, Replay(messages, receive), send)
            return
        item, content = parsed
        scope["route"] = self.route
        try:
            state = self.state
            response: Response = await accept(
                state.tutela, state.submissions, principal, item, content, wait=wait, timeout=timeout
            )
        except Exception as exc:
            handler = self._handler(exc)
            if handler is None:
                raise
            answered = handler(Request(scope), exc)
            response = await answered if inspect.isawaitable(answered) else answered
        await response(scope, receive, send)

    def _parse(self, body: bytes, boundary: bytes) -> tuple[ItemIn, bytes] | None:
        """The fields and the one file of a plain form, within the size limit; None: the route decides."""
        form = parse_simple_form(body, boundary, max_fields=MAX_FORM_FIELDS, max_files=1)
        upload = None if form is None else form.files.get("file")
        if form is None or upload is None or len(upload[1]) > self.state.tutela.settings.max_media_bytes:
            return None
        try:
            return ItemIn.model_validate(form.fields), upload[1]
        except ValidationError:
            return None

    def _admit(self, scope: Scope) -> tuple[Principal, bytes, bool, float | None] | None:
        """What the headers and query decide: the caller, the form boundary, `wait` and `timeout`."""
        if scope.get("root_path"):
            return None
        params = query_params(scope, _QUERY)
        if params is None:
            return None
        wait = query_flag(params.get("wait"))
        valid, timeout = _timeout(params.get("timeout"))
        if wait is None or not valid:
            return None
        boundary = form_boundary(header(scope, b"content-type"))
        length = header(scope, b"content-length")
        limit = self.state.tutela.settings.max_media_bytes + MULTIPART_OVERHEAD
        if boundary is None or not length.isdigit() or int(length) > limit:
            return None
        principal = scope_principal(self.state, scope, self.permission, hma_open=self.hma_open)
        return None if principal is None else (principal, boundary, wait, timeout)

    def _handler(self, exc: Exception) -> Callable[..., Any] | None:
        """The app's handler for `exc`, looked up by class as Starlette does."""
        for kind in type(exc).__mro__:
            if kind in self.handlers:
                return self.handlers[kind]
        return None


def _timeout(value: str | None) -> tuple[bool, float | None]:
    """(valid, seconds): the `timeout` query parameter as the route validates it (absent, or a float > 0).

    Only plain decimals are taken: pydantic reads more forms (" 5", "1e3"), which FastAPI answers."""
    if value is None:
        return True, None
    seconds = float(value) if _DECIMAL.fullmatch(value) else 0.0
    return seconds > 0, seconds
