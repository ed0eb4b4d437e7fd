"""Deny by default: every route declares a permission, and every route x role answers as the table says."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.routing import APIRoute

from tests.api_support import ApiHarness, harness, route_methods
from tutela.api.app import api_routes
from tutela.api.auth import PUBLIC_ROUTES, route_permission
from tutela.app import Tutela
from tutela.auth import ROLE_PERMISSIONS, Permission, Role, allows
from tutela.settings import Settings


def _routes(tutela: Tutela) -> list[tuple[APIRoute, Permission | None]]:
    routes = [
        (route, route_permission([d.call for d in route.dependant.dependencies])) for route in api_routes()
    ]
    assert len(routes) > 20, "the route walk found too few routes: did FastAPI change how routers nest?"
    return routes


@pytest.fixture
def api(settings: Settings) -> Iterator[ApiHarness]:
    with harness(settings) as h:
        yield h


def test_every_route_declares_a_permission(api: ApiHarness) -> None:
    missing = [
        route.path
        for route, permission in _routes(api.tutela)
        if permission is None and route.path not in PUBLIC_ROUTES
    ]
    assert missing == [], f"routes without a permission: {missing}"


def test_role_table_is_total_and_admin_has_everything() -> None:
    assert set(ROLE_PERMISSIONS) == set(Role)
    assert ROLE_PERMISSIONS[Role.ADMIN] == frozenset(Permission)
    assert Permission.POLICIES_WRITE not in ROLE_PERMISSIONS[Role.AUDITOR]
    assert all(p.value.count(":") == 1 for p in Permission)


def test_every_route_for_every_role(api: ApiHarness) -> None:
    """A role without the permission gets 403 before any validation; a role with it never gets 401/403."""
    failures = []
    for route, permission in _routes(api.tutela):
        if permission is None:
            continue
        path = re.sub(r"\{[^}]+\}", "1", route.path)
        for method in route_methods(route):
            for role in Role:
                response = api.client.request(method, path, headers=api.headers(role), json={"x": 1})
                allowed = allows(role, permission)
                if allowed and response.status_code in (401, 403):
                    failures.append(f"{method} {route.path} {role}: {response.status_code} {response.text}")
                if not allowed and response.status_code != 403:
                    failures.append(f"{method} {route.path} {role}: expected 403, got {response.status_code}")
            anonymous = api.client.request(method, path)
            if anonymous.status_code != 401:
                failures.append(f"{method} {route.path} without key: {anonymous.status_code}")
    assert failures == []
