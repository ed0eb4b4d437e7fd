"""The upload fast path (`tutela.api.hot_items`) answers what `POST /v1/items` answers, and hands everything
but plain multipart uploads to the route with the body intact."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from starlette.types import Message, Receive, Scope, Send

from tutela.api.app import api_routes, create_app
from tutela.api.hot_items import HotItems
from tutela.app import Tutela
from tutela.auth import Role
from tutela.banks import BankCategory
from tutela.demo.images import jpeg_bytes, picture
from tutela.settings import Settings
from tutela.signals.pdq.fast import fast_hash

BOUNDARY = "tutela-test-boundary"
KNOWN = jpeg_bytes(picture(3, (320, 240)))
OTHER = jpeg_bytes(picture(4, (320, 240)))
MAX_BYTES = 200_000


@dataclass(frozen=True)
class Case:
    """A request to POST /v1/items: query, fields, files and who sends it."""

    name: str
    query: str = "?wait=true"
    fields: tuple[tuple[str, str], ...] = (("content_id", "c"), ("jurisdiction", "DE"))
    files: tuple[tuple[str, str, bytes], ...] = (("file", "upload.jpg", OTHER),)
    role: Role | str | None = Role.PLATFORM
    content_type: str = f"multipart/form-data; boundary={BOUNDARY}"
    raw_body: bytes | None = None
    extra: dict[str, str] = field(default_factory=dict)


def body_of(case: Case, content_id: str) -> bytes:
    if case.raw_body is not None:
        return case.raw_body
    parts = []
    for name, value in case.fields:
        value = content_id if name == "content_id" else value
        parts.append(
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        )
    for name, filename, data in case.files:
        head = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
        parts.append(head.encode() + b"Content-Type: image/jpeg\r\n\r\n" + data + b"\r\n")
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


HAPPY = [
    Case("wait, matching", files=(("file", "k.jpg", KNOWN),)),
    Case("wait, not matching"),
    Case("no wait", query=""),
    Case("wait=1 with a timeout", query="?wait=1&timeout=2.5"),
    Case(
        "every field",
        fields=(
            ("content_id", "c"),
            ("account_id", "a-1"),
            ("surface", "profile"),
            ("jurisdiction", "FR"),
            ("age_band", "13_to_15"),
            ("lane", "live"),
        ),
    ),
    Case(
        "admin names the service", role=Role.ADMIN, fields=(("content_id", "c"), ("service", "demo-service"))
    ),
    Case("unknown fields are ignored", fields=(("content_id", "c"), ("colour", "blue"))),
]
"""Answered by the fast path; the route answers the same (ids and times aside)."""

ANSWERED_ERRORS = [
    Case("unsupported media", files=(("file", "x.txt", b"plain text, not an image"),)),
    Case("platform key names another service", fields=(("content_id", "c"), ("service", "other"))),
    Case("admin key without a service", role=Role.ADMIN),
    Case("unknown service", role=Role.ADMIN, fields=(("content_id", "c"), ("service", "nope"))),
    Case("empty file", files=(("file", "e.jpg", b""),)),
]
"""Answered by the fast path with the app's error handlers, as the route answers them."""

FALL_THROUGH = [
    Case("no key", role=None),
    Case("invalid key", role="Bearer tut_nope_nope"),
    Case("role without items:submit", role=Role.AUDITOR),
    Case("JSON body", content_type="application/json", raw_body=b'{"content_id": "c", "signals": []}'),
    Case("fields only", files=()),
    Case("two files", files=(("file", "a.jpg", OTHER), ("file2", "b.jpg", OTHER))),
    Case("file under another name", files=(("photo", "a.jpg", OTHER),)),
    Case("no content id", fields=(("jurisdiction", "DE"),)),
    Case("unknown surface", fields=(("content_id", "c"), ("surface", "billboard"))),
    Case("repeated field", fields=(("content_id", "c"), ("content_id", "d"))),
    Case("wait=maybe", query="?wait=maybe"),
    Case("negative timeout", query="?wait=true&timeout=-1"),
    Case("timeout in exponent form", query="?wait=true&timeout=1e1"),
    Case("unknown query parameter", query="?wait=true&foo=1"),
    Case("repeated query parameter", query="?wait=true&wait=false"),
    Case("charset parameter", content_type=f"multipart/form-data; charset=utf-8; boundary={BOUNDARY}"),
    Case(
        "no closing boundary",
        raw_body=f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="content_id"\r\n\r\nc'.encode(),
    ),
    Case("preamble", raw_body=b"hello\r\n" + body_of(Case("x"), "c")),
    Case("too large", files=(("file", "big.jpg", OTHER + b"\0" * (MAX_BYTES + 70_000)),)),
]
"""Handed to the route untouched (the fast path cannot or must not decide them)."""


@pytest.fixture
def tutela(settings: Settings) -> Iterator[Tutela]:
    app = Tutela.open(settings.model_copy(update={"decoder_processes": 1, "max_media_bytes": MAX_BYTES}))
    app.services.create("demo-service")
    app.services.create("other")
    app.banks.create_bank("demo-csam", BankCategory.CSAM)
    app.banks.add_entry("demo-csam", _pdq(KNOWN), added_by="test")
    try:
        yield app
    finally:
        app.close()


def _pdq(data: bytes) -> Any:
    from tutela.signals.base import Signal

    return Signal("pdq", fast_hash(data)[0].hex())


def _keys(tutela: Tutela) -> dict[Role, str]:
    service = tutela.services.get("demo-service")
    return {
        role: tutela.keys.create(role, service_id=service.id if role is Role.PLATFORM else None).token
        for role in Role
    }


def _headers(case: Case, keys: dict[Role, str]) -> dict[str, str]:
    headers = {"content-type": case.content_type, **case.extra}
    if isinstance(case.role, Role):
        headers["authorization"] = f"Bearer {keys[case.role]}"
    elif case.role is not None:
        headers["authorization"] = case.role
    return headers


VOLATILE = ("id", "created_at", "finished_at", "content_id")


def _stable(value: Any) -> Any:
    """An answer with its per-request ids and times taken out."""
    if isinstance(value, dict):
        return {k: "-" if k in VOLATILE else _stable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


async def _ask(
    client: httpx.AsyncClient, case: Case, content_id: str, keys: dict[Role, str]
) -> tuple[Any, ...]:
    response = await client.post(
        f"/v1/items{case.query}", content=body_of(case, content_id), headers=_headers(case, keys)
    )
    headers = sorted((k, v) for k, v in response.headers.items() if k != "content-length")
    return response.status_code, headers, response.content


def test_fast_path_answers_like_the_route(tutela: Tutela) -> None:
    keys = _keys(tutela)
    hot_app = create_app(tutela, background=False)
    plain_app = create_app(tutela, background=False, hot_items=False)

    async def compare() -> None:
        async with (
            httpx.AsyncClient(transport=httpx.ASGITransport(app=hot_app), base_url="http://t") as hot,
            httpx.AsyncClient(transport=httpx.ASGITransport(app=plain_app), base_url="http://t") as plain,
        ):
            for n, case in enumerate(HAPPY):
                fast = await _ask(hot, case, f"hot-{n}", keys)
                routed = await _ask(plain, case, f"plain-{n}", keys)
                assert fast[:2] == routed[:2], case.name
                assert _stable(json.loads(fast[2])) == _stable(json.loads(routed[2])), case.name
                assert fast[0] in (200, 202), (case.name, fast)
            for n, case in enumerate(ANSWERED_ERRORS + FALL_THROUGH):
                fast = await _ask(hot, case, f"hot-e-{n}", keys)
                routed = await _ask(plain, case, f"pln-e-{n}", keys)
                assert fast[:2] == routed[:2], case.name
                if fast[0] < 400:  # a repeated field: the route takes the last value
                    assert _stable(json.loads(fast[2])) == _stable(json.loads(routed[2])), case.name
                else:
                    assert fast[2] == routed[2], case.name

    tutela.start_background()
    try:
        asyncio.run(compare())
    finally:
        tutela.stop_background()
        hot_app.state.lookups.close()
        plain_app.state.lookups.close()
    blocked = [e for e in _evaluations(tutela) if e.visibility == "block"]
    assert len(blocked) == 2  # the matching upload, once through each app


def _evaluations(tutela: Tutela) -> list[Any]:
    from sqlalchemy import select

    from tutela.pipeline.models import Evaluation

    with tutela.database.read() as session:
        return list(session.scalars(select(Evaluation)))


def test_only_plain_uploads_are_answered_and_the_rest_arrive_intact(tutela: Tutela) -> None:
    """Wrapped around a stand-in app: plain uploads never reach it; everything else reaches it with the body
    as sent."""
    keys = _keys(tutela)
    reached: list[bytes] = []

    async def stand_in(scope: Scope, receive: Receive, send: Send) -> None:
        chunks = []
        while True:
            message: Message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        reached.append(b"".join(chunks))
        await send({"type": "http.response.start", "status": 599, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    app = create_app(tutela, background=False)
    hot = HotItems(stand_in, state=app.state, routes=api_routes(), handlers=app.exception_handlers)

    async def ask_all() -> tuple[list[int], list[int]]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=hot), base_url="http://t") as client:
            answered = [
                (await _ask(client, c, f"s-{n}", keys))[0] for n, c in enumerate(HAPPY + ANSWERED_ERRORS)
            ]
            passed = [(await _ask(client, c, f"f-{n}", keys))[0] for n, c in enumerate(FALL_THROUGH)]
            return answered, passed

    tutela.start_background()
    try:
        answered, passed = asyncio.run(ask_all())
    finally:
        tutela.stop_background()
        app.state.lookups.close()
    assert 599 not in answered
    assert passed == [599] * len(FALL_THROUGH)
    assert reached == [body_of(c, f"f-{n}") for n, c in enumerate(FALL_THROUGH)]
