"""A pure-ASGI fast path for HMA's upload lookup: `POST /m/lookup` with one multipart file.

HMA clients look up every photo they see this way. Hashing the photo costs ~3.6 ms of CPU in a decoder
process, and FastAPI's routing, dependency solving, parameter validation, `Request` and its anyio thread hop
added ~0.6-1 ms per upload on the event loop, which at ~8 ms per upload was the part a faster decoder cannot
win back. This middleware answers only the happy path, with the route's own pieces: the key check and
permission of its `require` dependency (`auth.authenticate`), the one-file cut of `hma_common`
(`lean_boundary`, `cut_single_file`), `extract_requested` (a decoder process, awaited without a thread),
the shared `LookupBatcher` and the route's answer builder (`hma_matching.match_extracted`), serialised by
pydantic as FastAPI serialises it, so the body and headers are byte-identical. Whatever the headers and query
settle (another method, path or content type, a query parameter it does not take (`types`, unknown, repeated),
an invalid flag, a declared length past the limit, a missing, invalid or under-privileged key) falls through
before the body is read; a body that is not exactly one file part, or whose file is past `max_media_bytes`,
falls through after, with the messages read so far replayed to the FastAPI app, whose route then answers as it
always does. Content that cannot be hashed (a decoder crash or hang) gets the route's 422 from here, not a
second decode there. It sets `scope["route"]`, so `RequestMetrics` labels its requests as the router would.
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import HTTPException
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic_core import to_json
from starlette.datastructures import State
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
from tutela.api.routes.hma_common import (
    cut_single_file,
    extract_requested,
    lean_boundary,
    unindexed_defaults,
)
from tutela.api.routes.hma_matching import match_extracted

PATH = "/m/lookup"
_QUERY = frozenset({"banks", "seed", "bypass_coinflip"})
_JSON_HEADERS = (b"content-type", b"application/json")


class HotUpload:
    """ASGI middleware answering one-file uploads to `POST /m/lookup`; see the module docstring."""

    def __init__(self, app: ASGIApp, state: State, routes: Sequence[APIRoute]) -> None:
        """`state` is the FastAPI app's (`tutela`, `lookups`, `open_networks`); `routes` its API routes."""
        self.app = app
        self.state = state
        self.route, self.permission, self.hma_open = guarded_route(routes, PATH, "POST")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        admitted = None
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == PATH:
            admitted = self._admit(scope)
        if admitted is None:
            await self.app(scope, receive, send)
            return
        boundary, banks = admitted
        messages: list[Message] = []
        body = await read_body(receive, messages)
        try:
            answer = None if body is None else await self._answer(body, boundary, banks)
        except HTTPException as exc:  # the route's own answer to content no decoder could hash
            scope["route"] = self.route
            await JSONResponse({"detail": exc.detail}, exc.status_code, exc.headers)(scope, receive, send)
            return
        if answer is None:
            await self.app(scope, Replay(messages, receive), send)
            return
        scope["route"] = self.route
        headers = [(b"content-length", str(len(answer)).encode()), _JSON_HEADERS]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": answer})

    def _admit(self, scope: Scope) -> tuple[bytes, str | None] | None:
        """What the headers and query decide: the multipart boundary and `banks`; None: FastAPI answers."""
        if scope.get("root_path"):
            return None
        params = query_params(scope, _QUERY)
        if params is None:
            return None
        if query_flag(params.get("bypass_coinflip")) is None:
            return None
        limit = self.state.tutela.settings.max_media_bytes
        boundary = lean_boundary(header(scope, b"content-type"), header(scope, b"content-length"), limit)
        if boundary is None:
            return None
        principal = scope_principal(self.state, scope, self.permission, hma_open=self.hma_open)
        return None if principal is None else (boundary, params.get("banks"))

    async def _answer(self, body: bytes, boundary: bytes, banks: str | None) -> bytes | None:
        """The JSON body of the route's 200 answer, or None when the FastAPI app must answer instead;
        raises the route's HTTPException when the content cannot be hashed."""
        tutela = self.state.tutela
        data = cut_single_file(body, boundary)
        if data is None or len(data) > tutela.settings.max_media_bytes:
            return None
        # Its HTTPException (content the decoder crashed or hung on) is answered as the route would: going
        # through to the route would decode it a second time.
        skip = unindexed_defaults(tutela, None)
        extraction, signals = await extract_requested(tutela, data, None, skip)
        return to_json(await match_extracted(self.state.lookups, extraction, signals, banks, skip))
