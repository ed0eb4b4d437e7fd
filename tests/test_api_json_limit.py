"""Bodies other than multipart uploads are read within `max_json_body_bytes` (`tutela.api.body_limit`).

FastAPI reads a JSON body before it checks the key, so the cap is what stops a stranger making the server
buffer an unbounded body. A body within it is answered as before, sent whole or chunked. One past it gets 413
naming the setting: a declared length before any of the body is read, with or without a key (the routes
here read their body before their key check, so the 413 comes first; nothing was read to earn it); a
chunked body at the limit, the JSON branch of `POST /v1/items` included. The 413 is labelled with its
route in the request metrics. A multipart upload past the JSON limit but within `max_media_bytes` is not
touched by it on the upload routes, which bound their own (`own_upload_limit`); labelled multipart, a body
to any other route is capped like JSON. The largest legitimate JSON bodies are a few kilobytes, far within
the 1 MiB default. A JSON body that does not decode is a 400 (HMA) or 422 (/v1), never a 500.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import httpx
import numpy as np
import pytest
from PIL import Image

from tests.api_support import ApiHarness, declare_only, harness, request_counts, route_methods
from tutela.api.app import api_routes
from tutela.api.body_limit import has_own_upload_limit
from tutela.auth import Role
from tutela.banks import BankCategory
from tutela.settings import Settings
from tutela.signals.registry import SIGNAL_TYPES

LIMIT = 1024 * 1024  # max_json_body_bytes of these tests (the default)
SETTING = "TUTELA_MAX_JSON_BODY_BYTES"
SIGNAL = "/c/bank/SIGNALS/signal"  # HMA: a `Body()` dict
BANKS = "/v1/banks"  # /v1: a pydantic model (BankIn)
ITEMS = "/v1/items"  # reads its JSON body itself, after the key check


@pytest.fixture
def api(settings: Settings) -> Iterator[ApiHarness]:
    assert settings.max_json_body_bytes == LIMIT
    with harness(settings.model_copy(update={"max_json_body_bytes": LIMIT})) as api:
        api.tutela.banks.create_bank("SIGNALS", BankCategory.OTHER)
        yield api


def _bank(description: str) -> dict[str, object]:
    return {"name": "big-list", "category": BankCategory.OTHER.value, "description": description}


def _chunks(body: bytes) -> Iterator[bytes]:
    """`body` in 64 KiB pieces: httpx sends an iterator chunked, without a Content-Length."""
    return iter([body[i : i + 65536] for i in range(0, len(body), 65536)])


def _post_json(
    api: ApiHarness, path: str, payload: object, *, chunked: bool, role: Role = Role.ADMIN
) -> httpx.Response:
    body = json.dumps(payload).encode()
    content = _chunks(body) if chunked else body
    headers = {**api.headers(role), "Content-Type": "application/json"}
    return api.client.post(path, content=content, headers=headers)


@pytest.mark.parametrize("chunked", [False, True])
def test_bodies_within_the_limit_are_answered(api: ApiHarness, chunked: bool) -> None:
    added = _post_json(api, SIGNAL, {"pdq": "ab" * 32}, chunked=chunked)
    assert added.status_code == 200, added.text
    created = _post_json(api, BANKS, _bank("d" * (LIMIT // 2)), chunked=chunked)
    assert created.status_code == 201, created.text


@pytest.mark.parametrize("path", [SIGNAL, BANKS])
@pytest.mark.parametrize("role", [None, Role.ADMIN])
def test_declared_length_past_the_limit_is_refused_before_reading(
    api: ApiHarness, path: str, role: Role | None
) -> None:
    status, body = declare_only(api, path, 10 * 1024**3, role)
    assert status == "HTTP/1.1 413 Request Entity Too Large"
    assert json.loads(body) == {
        "detail": f"request size in bytes {10 * 1024**3:,} exceeds the limit of {LIMIT:,} (setting {SETTING})"
    }


def test_declared_length_just_past_the_limit_is_refused(api: ApiHarness) -> None:
    status, body = declare_only(api, BANKS, LIMIT + 1, Role.ADMIN)
    assert (status, SETTING in body) == ("HTTP/1.1 413 Request Entity Too Large", True)


@pytest.mark.parametrize(
    ("path", "payload", "role"),
    [
        (SIGNAL, {"pdq": "ab" * 32, "padding": "p" * 2 * LIMIT}, Role.ADMIN),
        (BANKS, _bank("d" * 2 * LIMIT), Role.ADMIN),
        (ITEMS, {"content_id": "c" * 2 * LIMIT}, Role.PLATFORM),
    ],
)
def test_chunked_body_past_the_limit_is_cut_off(
    api: ApiHarness, path: str, payload: object, role: Role
) -> None:
    refused = _post_json(api, path, payload, chunked=True, role=role)
    assert refused.status_code == 413, refused.text
    detail = refused.json()["detail"]
    assert detail.startswith("request size in bytes (so far) ")
    assert detail.endswith(f"(setting {SETTING})")
    assert api.tutela.banks.count("SIGNALS") == 0


def test_a_413_is_labelled_with_its_route(api: ApiHarness) -> None:
    _post_json(api, SIGNAL, {"padding": "p" * 2 * LIMIT}, chunked=True)
    declare_only(api, BANKS, 2 * LIMIT, None)
    counts = request_counts(api)
    assert counts['route="/c/bank/{name}/signal",status="413"'] == 1
    assert counts['route="/v1/banks",status="413"'] == 1


def _noise_png(width: int, height: int) -> bytes:
    """A PNG of random pixels: it does not compress, so its size is about width x height x 3."""
    pixels = np.random.default_rng(7).integers(0, 256, size=(height, width, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "PNG")
    return out.getvalue()


def _multipart(field: str, data: bytes, fields: dict[str, str]) -> tuple[bytes, str]:
    """A multipart body of text `fields` and one file part, and its Content-Type."""
    boundary = "json-limit-test"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="p.png"\r\n'
        "Content-Type: image/png\r\n\r\n".encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


UPLOADS = [
    ("/h/hash?types=pdq", "photo", {}, Role.ADMIN, 200),
    ("/m/lookup", "photo", {}, Role.ADMIN, 200),
    ("/c/bank/SIGNALS/content?types=pdq", "photo", {}, Role.ADMIN, 200),
    ("/v1/items", "file", {"content_id": "big-photo", "jurisdiction": "DE"}, Role.PLATFORM, 202),
]


@pytest.mark.parametrize("chunked", [False, True])
@pytest.mark.parametrize(("path", "field", "fields", "role", "status"), UPLOADS)
def test_multipart_upload_past_the_json_limit_is_not_touched(
    api: ApiHarness, chunked: bool, path: str, field: str, fields: dict[str, str], role: Role, status: int
) -> None:
    """Declared, the uploads to /m/lookup and /v1/items are answered by their fast paths; chunked, by
    their routes, through the limit's receive."""
    image = _noise_png(800, 650)
    assert LIMIT < len(image) < api.tutela.settings.max_media_bytes
    body, content_type = _multipart(field, image, fields)
    headers = {**api.headers(role), "Content-Type": content_type}
    answered = api.client.post(path, content=_chunks(body) if chunked else body, headers=headers)
    assert answered.status_code == status, answered.text


@pytest.mark.parametrize("path", [SIGNAL, BANKS])
def test_multipart_label_does_not_lift_the_limit_of_other_routes(api: ApiHarness, path: str) -> None:
    """FastAPI reads a JSON route's body whatever its content type: labelled multipart, it is capped too."""
    body, content_type = _multipart("photo", b"p" * 3 * LIMIT, {})
    headers = {**api.headers(), "Content-Type": content_type}
    refused = api.client.post(path, content=_chunks(body), headers=headers)
    assert refused.status_code == 413, refused.text
    assert refused.json()["detail"].endswith(f"(setting {SETTING})")
    status, _ = declare_only(api, path, 10 * 1024**3, Role.ADMIN, content_type=content_type)
    assert status == "HTTP/1.1 413 Request Entity Too Large"


def test_the_routes_that_bound_their_own_uploads_are_the_upload_routes() -> None:
    marked = {
        (method, route.path)
        for route in api_routes()
        if has_own_upload_limit(route.endpoint)
        for method in route_methods(route)
    }
    assert marked == {
        ("POST", "/h/hash"),
        ("POST", "/m/lookup"),
        ("POST", "/c/bank/{name}/content"),
        ("POST", "/v1/items"),
        ("POST", "/v1/banks/{name}/import"),
    }


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"metadata": ', "the body is not valid JSON"),
        (b"\xff\xfe", "the body is not valid JSON"),
        (b"[" * 100_000, "the body is not valid JSON"),
        (b"", "the body is not valid JSON"),
        (b'["metadata"]', "the body must be a JSON object"),
        (b'"metadata"', "the body must be a JSON object"),
    ],
)
def test_bank_content_by_url_with_a_bad_json_body_is_a_400(
    api: ApiHarness, body: bytes, message: str
) -> None:
    """Refused before the URL is fetched (nothing listens on port 9)."""
    headers = {**api.headers(), "Content-Type": "application/json"}
    path = "/c/bank/SIGNALS/content?url=http://127.0.0.1:9/p.jpg"
    refused = api.client.post(path, content=body, headers=headers)
    assert refused.status_code == 400, refused.text
    assert refused.json()["detail"].startswith(message)


@pytest.mark.parametrize("body", [b"\xff\xfe", b"[" * 100_000])
def test_item_json_that_does_not_decode_is_a_422(api: ApiHarness, body: bytes) -> None:
    headers = {**api.headers(Role.PLATFORM), "Content-Type": "application/json"}
    refused = api.client.post(ITEMS, content=body, headers=headers)
    assert refused.status_code == 422, refused.text
    assert refused.json()["detail"].startswith("body is not JSON")


def test_largest_legitimate_json_bodies_fit_with_room(api: ApiHarness) -> None:
    """An item with precomputed signals of every type, a bank entry and a webhook, every field at its
    longest (unbounded text fields at a generous 4 KiB), are each under 1% of the default limit."""
    item = {
        "content_id": "c" * 255,
        "account_id": "a" * 255,
        "surface": "public_post",
        "jurisdiction": "DE",
        "age_band": "13_to_15",
        "lane": "live",
        "signals": [
            {"type": name, "value": kind.examples()[0], "quality": 100} for name, kind in SIGNAL_TYPES.items()
        ],
    }
    entry = {
        "signal_type": "pdq",
        "value": "f" * 512,
        "quality": 100,
        "source_id": "s" * 255,
        "note": "n" * 2000,
    }
    webhook = {
        "url": "https://platform.example/" + "u" * 2000,
        "secret": "k" * 256,
        "description": "d" * 4096,
    }
    for body in (item, entry, webhook, _bank("d" * 4096)):
        assert len(json.dumps(body)) < LIMIT // 100
    submitted = _post_json(api, ITEMS, item, chunked=True, role=Role.PLATFORM)
    assert submitted.status_code == 202, submitted.text
