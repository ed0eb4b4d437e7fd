"""Error statuses through the real ASGI app: what the caller got wrong is a 4xx naming it, and any other
exception, a ValueError included, is a server error (500) for alerting, never passed off as the caller's."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import TypeAdapter

from tutela.api.app import create_app
from tutela.app import Tutela
from tutela.auth import Role
from tutela.banks import BankCategory
from tutela.errors import InvalidInput
from tutela.settings import Settings

MD5 = "d41d8cd98f00b204e9800998ecf8427e"
LONG_LABEL_URL = "http://" + "a" * 64 + ".example/hook"
"""A host no resolver takes (a DNS label is at most 63 characters): refused before any lookup."""


@pytest.fixture
def tutela(settings: Settings) -> Iterator[Tutela]:
    app = Tutela.open(settings)
    app.services.create("demo-service")
    app.banks.create_bank("b", BankCategory.CSAM)
    try:
        yield app
    finally:
        app.close()


@pytest.fixture
def app(tutela: Tutela) -> Iterator[FastAPI]:
    app = create_app(tutela, background=False)
    try:
        yield app
    finally:
        app.state.lookups.close()


def _call(app: FastAPI, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """One request to the app in process; an unhandled error is answered as the server answers it (500)."""

    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.request(method, path, **kwargs)

    return asyncio.run(send())


def _admin(tutela: Tutela) -> dict[str, str]:
    return {"Authorization": f"Bearer {tutela.keys.create(Role.ADMIN).token}"}


@pytest.mark.parametrize(
    ("method", "path", "body", "error", "detail"),
    [
        (
            "POST",
            "/v1/services",
            {"name": "Not A Name"},
            "InvalidInput",
            "service name 'Not A Name': use lower-case letters, digits, - and _ (max 100)",
        ),
        (
            "POST",
            "/v1/services/demo-service/webhooks",
            {"url": LONG_LABEL_URL},
            "TargetRefused",
            f"invalid host '{'a' * 64}.example' in {LONG_LABEL_URL}",
        ),
        (
            "POST",
            "/v1/items",
            {"content_id": "c", "service": "demo-service", "url": LONG_LABEL_URL},
            "TargetRefused",
            f"invalid host '{'a' * 64}.example' in {LONG_LABEL_URL}",
        ),
    ],
)
def test_client_errors_answer_422_with_their_message(
    tutela: Tutela, app: FastAPI, method: str, path: str, body: dict[str, Any], error: str, detail: str
) -> None:
    response = _call(app, method, path, json=body, headers=_admin(tutela))
    assert response.status_code == 422, response.text
    assert response.json()["error"] == error
    assert response.json()["detail"].startswith(detail)


def test_json_python_refuses_to_decode_is_a_reported_import_line(tutela: Tutela, app: FastAPI) -> None:
    lines = ['{"signal_type": "md5", "value": "' + MD5 + '", "quality": ' + "9" * 5000 + "}", "{}"]
    response = _call(
        app,
        "POST",
        "/v1/banks/b/import?format=jsonl",
        files={"file": ("list.jsonl", "\n".join(lines).encode())},
        headers=_admin(tutela),
    )
    assert response.status_code == 200, response.text
    assert response.json()["errors"] == 2
    assert "Exceeds the limit (4300 digits)" in response.json()["first_errors"][0]["message"]


def _value_error() -> None:
    raise ValueError("a bug in Tutela, not the caller's fault")


def _validation_error() -> None:
    TypeAdapter(int).validate_python("not a number")  # pydantic's ValidationError is a ValueError


def _invalid_input() -> None:
    raise InvalidInput("name 'X' must be lower case")


@pytest.mark.parametrize("endpoint", [_value_error, _validation_error])
def test_a_value_error_in_a_route_is_a_server_error(app: FastAPI, endpoint: Any) -> None:
    app.get("/test/failing")(endpoint)
    response = _call(app, "GET", "/test/failing")
    assert response.status_code == 500
    assert response.text == "Internal Server Error"


def test_invalid_input_in_a_route_is_the_callers_error(app: FastAPI) -> None:
    app.get("/test/failing")(_invalid_input)
    response = _call(app, "GET", "/test/failing")
    assert response.status_code == 422
    assert json.loads(response.text) == {"detail": "name 'X' must be lower case", "error": "InvalidInput"}


@pytest.mark.parametrize(
    "body",
    [
        b'{"name": "ok-name", "description": "\\ud800"}',  # stored: the database encoder refuses it
        b'{"name": "\\udc00"}',  # refused by validation, whose answer repeats the input
    ],
    ids=["stored-text", "validated-text"],
)
def test_a_lone_surrogate_in_json_text_is_a_422(tutela: Tutela, app: FastAPI, body: bytes) -> None:
    """JSON may escape half of a surrogate pair, which decodes to text UTF-8 cannot encode."""
    headers = _admin(tutela) | {"Content-Type": "application/json"}
    response = _call(app, "POST", "/v1/services", content=body, headers=headers)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert "surrogate" in detail if isinstance(detail, str) else "\\ud" in response.text.lower()
    assert _call(app, "GET", "/v1/services", headers=_admin(tutela)).status_code == 200
