"""Request authentication and the per-route permission check.

Every route depends on `require(permission)`, which reads the bearer key, checks it (prefix lookup + SHA-256,
cached) and checks the role table. The dependency carries its permission as an attribute, so a test can walk
every route and fail on one that declares none. HMA-compatible routes may also be opened to listed networks
without a key (`hma_open_networks`), for HMA set-ups that sit behind a proxy and send no credentials.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import HTTPException, Request
from starlette.datastructures import State

from tutela.auth import Permission, Principal, Role, allows

PUBLIC_ROUTES = frozenset({"/healthz", "/readyz"})
"""Routes open without a key: liveness and readiness probes reveal nothing and must work for orchestrators."""

_OPEN_NETWORK_PRINCIPAL = Principal(key_id=0, key_prefix="open-network", role=Role.PLATFORM, service_id=None)


def bearer_token(authorization: str) -> str | None:
    """The key of an `Authorization: Bearer <key>` header value, else None."""
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def in_open_network(
    networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network], client_host: str | None
) -> bool:
    """Whether `client_host` lies in one of the `hma_open_networks`."""
    if not networks or client_host is None:
        return False
    try:
        address = ipaddress.ip_address(client_host)
    except ValueError:
        return False
    return any(address in network for network in networks)


def authenticate(
    state: State, authorization: str, client_host: str | None, permission: Permission, *, hma_open: bool
) -> Principal | HTTPException:
    """The caller's principal, or the 401/403 to answer; `state` is the app's (`tutela`, `open_networks`).

    Shared by `require` and the pure-ASGI lookup fast path (`tutela.api.hot_lookup`), so both decide alike.
    """
    token = bearer_token(authorization)
    if token is None:
        if hma_open and in_open_network(state.open_networks, client_host):
            return _OPEN_NETWORK_PRINCIPAL
        return HTTPException(
            401, "missing API key: send 'Authorization: Bearer <key>'", headers={"WWW-Authenticate": "Bearer"}
        )
    principal: Principal | None = state.tutela.keys.verify(token)
    if principal is None:
        return HTTPException(401, "invalid or revoked API key", headers={"WWW-Authenticate": "Bearer"})
    if not allows(principal.role, permission):
        return HTTPException(403, f"role {principal.role.value!r} lacks permission {permission.value!r}")
    return principal


def require(permission: Permission, *, hma_open: bool = False) -> Callable[..., Awaitable[Principal]]:
    """A dependency that authenticates the caller and checks `permission` (403 with a reason if denied).

    A coroutine, so FastAPI calls it on the event loop instead of hopping to the thread pool: the key check
    is cached (`key_cache_seconds`), and a miss is one short indexed SQLite read. The dependency carries
    `permission` and `hma_open` as attributes, for the route-coverage test and the lookup fast path.
    """

    async def dependency(request: Request) -> Principal:
        client = request.client
        result = authenticate(
            request.app.state,
            request.headers.get("authorization", ""),
            None if client is None else client.host,
            permission,
            hma_open=hma_open,
        )
        if isinstance(result, HTTPException):
            raise result
        return result

    dependency.permission = permission  # type: ignore[attr-defined]
    dependency.hma_open = hma_open  # type: ignore[attr-defined]
    return dependency


def route_permission(dependant_calls: list[Any]) -> Permission | None:
    """The permission declared by a route's dependencies (for the route-coverage test)."""
    for call in dependant_calls:
        permission = getattr(call, "permission", None)
        if isinstance(permission, Permission):
            return permission
    return None


def check_service(principal: Principal, service_id: int) -> None:
    """Platform keys reach only their own service's items (404, not 403: don't reveal other services)."""
    if principal.role is Role.PLATFORM and principal.service_id not in (None, service_id):
        raise HTTPException(404, "not found")
