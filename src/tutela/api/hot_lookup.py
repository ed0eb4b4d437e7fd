"""A pure-ASGI fast path for lookups by hash: `GET /m/lookup?signal=..&signal_type=..`, `GET /m/raw_lookup`.

These are the hottest requests an HMA client sends, and their own work (a cached key check, a batched index
scan) is a small part of what FastAPI's routing, dependency solving and parameter validation cost per request.
This middleware answers only their happy path, with the same pieces the routes use: the key check and
permission of the route's own `require` dependency (`auth.authenticate`), the signal type's `validate`, the
shared `LookupBatcher` (`hma_matching.match_hash`) and the routes' answer builders, serialised by pydantic as
FastAPI serialises them, so the body and headers are byte-identical. Anything else passes through untouched to
the FastAPI app, whose routes stay the documented API and answer every error: another method or path, a query
parameter the fast path does not take (`url`, `types`, unknown ones), a repeated or empty one, an unknown
signal type, an invalid hash or flag, a missing, invalid or under-privileged key. It sets `scope["route"]` to
the FastAPI route, so `RequestMetrics` labels its requests as the router would.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from fastapi.routing import APIRoute
from pydantic_core import to_json
from starlette.datastructures import State
from starlette.types import ASGIApp, Receive, Scope, Send

from tutela.api.asgi_parts import guarded_route, query_flag, query_params, scope_principal
from tutela.api.routes.hma_matching import by_bank, match_hash, raw_matches
from tutela.auth import Permission
from tutela.errors import InvalidSignal
from tutela.matcher import Match
from tutela.signals.registry import SIGNAL_TYPES

_JSON_HEADERS = (b"content-type", b"application/json")


def _lookup_answer(matches: list[Match], params: dict[str, str]) -> object:
    return by_bank(matches)


def _raw_answer(matches: list[Match], params: dict[str, str]) -> object:
    return raw_matches(matches, include_distance=bool(query_flag(params.get("include_distance"))))


Answer = Callable[[list[Match], dict[str, str]], object]


@dataclass(frozen=True, slots=True)
class _Endpoint:
    route: APIRoute
    permission: Permission
    hma_open: bool
    params: frozenset[str]
    flags: tuple[str, ...]
    answer: Answer


def _endpoint(
    routes: Sequence[APIRoute], path: str, params: set[str], flags: tuple[str, ...], answer: Answer
) -> _Endpoint:
    """The fast path of the `GET path` route, with the permission its `require` dependency declares."""
    route, permission, hma_open = guarded_route(routes, path, "GET")
    return _Endpoint(route, permission, hma_open, frozenset(params), flags, answer)


class HotLookup:
    """ASGI middleware answering the happy path of lookups by hash; see the module docstring."""

    def __init__(self, app: ASGIApp, state: State, routes: Sequence[APIRoute]) -> None:
        """`state` is the FastAPI app's (`tutela`, `lookups`, `open_networks`); `routes` its API routes."""
        self.app = app
        self.state = state
        common = {"signal", "signal_type", "banks"}
        self.endpoints = {
            "/m/lookup": _endpoint(
                routes,
                "/m/lookup",
                common | {"seed", "bypass_coinflip"},
                ("bypass_coinflip",),
                _lookup_answer,
            ),
            "/m/raw_lookup": _endpoint(
                routes, "/m/raw_lookup", common | {"include_distance"}, ("include_distance",), _raw_answer
            ),
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = None
        if scope["type"] == "http" and scope["method"] == "GET" and not scope.get("root_path"):
            endpoint = self.endpoints.get(scope["path"])
        body = None if endpoint is None else await self._answer(scope, endpoint)
        if endpoint is None or body is None:
            await self.app(scope, receive, send)
            return
        scope["route"] = endpoint.route
        headers = [(b"content-length", str(len(body)).encode()), _JSON_HEADERS]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _answer(self, scope: Scope, endpoint: _Endpoint) -> bytes | None:
        """The JSON body of the route's 200 answer, or None when the FastAPI app must answer instead."""
        params = query_params(scope, endpoint.params)
        if params is None:
            return None
        signal, type_name = params.get("signal"), params.get("signal_type")
        kind = SIGNAL_TYPES.get(type_name) if type_name else None
        if not signal or kind is None or any(query_flag(params.get(f)) is None for f in endpoint.flags):
            return None
        try:
            canonical = kind.validate(signal)
        except InvalidSignal:
            return None
        if scope_principal(self.state, scope, endpoint.permission, hma_open=endpoint.hma_open) is None:
            return None
        matches = await match_hash(
            self.state.lookups, self.state.tutela, kind.name, canonical, params.get("banks")
        )
        return to_json(endpoint.answer(matches, params))
