"""The upload fast path (`tutela.api.hot_upload`) answers `POST /m/lookup` exactly as the FastAPI route does,
and leaves everything but the happy path of a one-file upload to it, with the body it read replayed."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from tests.api_support import ApiHarness, harness, plain_client, request_counts
from tutela.api.app import api_routes, create_app
from tutela.api.hot_upload import HotUpload
from tutela.auth import Role
from tutela.banks import BankCategory
from tutela.demo.images import jpeg_bytes, picture
from tutela.media import MediaLimits
from tutela.settings import Settings
from tutela.signals.base import Signal
from tutela.signals.extract import extract

LIMIT = 100_000  # max_media_bytes of these tests
JPEG = jpeg_bytes(picture(9, (320, 240)))  # its PDQ and MD5 in ONE, a PDQ one bit away in TWO
OTHER_JPEG = jpeg_bytes(picture(10, (320, 240)))
B = "tutela-test-boundary"
FORM = f"multipart/form-data; boundary={B}"
FILE = 'Content-Disposition: form-data; name="photo"; filename="p.jpg"\r\nContent-Type: image/jpeg'
END = f"--{B}--\r\n".encode()
Auth = Role | str | None  # a role's key, a raw Authorization header, or none


def _part(headers: str, data: bytes) -> bytes:
    return f"--{B}\r\n{headers}\r\n\r\n".encode() + data + b"\r\n"


def _one_file(data: bytes) -> bytes:
    return _part(FILE, data) + END


@dataclass(frozen=True)
class Case:
    body: bytes
    query: str = ""
    auth: Auth = Role.ADMIN
    content_type: str = FORM
    chunked: bool = False  # sent without a length


HAPPY = {
    "stored photo": Case(_one_file(JPEG)),
    "platform key": Case(_one_file(JPEG), auth=Role.PLATFORM),
    "curator key": Case(_one_file(JPEG), auth=Role.BANK_CURATOR),
    "other photo": Case(_one_file(OTHER_JPEG)),
    "banks=ONE": Case(_one_file(JPEG), "banks=ONE"),
    "banks=TWO, ONE,": Case(_one_file(JPEG), "banks=TWO,%20ONE,"),
    "banks empty": Case(_one_file(JPEG), "banks="),
    "banks unknown": Case(_one_file(JPEG), "banks=NONE"),
    "seed and bypass_coinflip": Case(_one_file(JPEG), "seed=7&bypass_coinflip=true"),
    "bypass_coinflip=NO": Case(_one_file(JPEG), "bypass_coinflip=NO"),
    "quoted boundary": Case(_one_file(JPEG), content_type=f'multipart/form-data; boundary="{B}"'),
    "lower-case header, no final CRLF": Case(
        _part('content-disposition: form-data; name="f"; filename=x', JPEG) + END[:-2]
    ),
    "boundary-like bytes in the data": Case(_one_file(JPEG + f"\r\n--{B[:-1]}\r\n".encode() + JPEG)),
    "not an image": Case(_one_file(b"plain text")),  # the route answers its MD5's matches
    "empty file": Case(_one_file(b"")),
    "file at the limit": Case(_one_file(b"x" * LIMIT)),
}
FALL_THROUGH = {
    "no key": Case(_one_file(JPEG), auth=None),
    "invalid key": Case(_one_file(JPEG), auth="Bearer tut_nope_nope"),
    "basic auth": Case(_one_file(JPEG), auth="Basic YWRtaW46YWRtaW4="),
    "under-privileged key": Case(_one_file(JPEG), auth=Role.MODERATOR),
    "octet-stream": Case(JPEG, content_type="application/octet-stream"),
    "multipart/mixed": Case(_one_file(JPEG), content_type=f"multipart/mixed; boundary={B}"),
    "no boundary": Case(_one_file(JPEG), content_type="multipart/form-data"),
    "chunked": Case(_one_file(JPEG), chunked=True),
    "two files": Case(_part(FILE, JPEG) + _one_file(JPEG)),
    "file and field": Case(_part('Content-Disposition: form-data; name="x"', b"1") + _one_file(JPEG)),
    "no filename": Case(_part('Content-Disposition: form-data; name="photo"', JPEG) + END),
    "preamble": Case(b"hello\r\n" + _one_file(JPEG)),
    "epilogue": Case(_one_file(JPEG) + b"trailing words"),
    "LF line ends": Case(_one_file(JPEG).replace(b"\r\n", b"\n")),
    "no closing boundary": Case(_part(FILE, JPEG)),
    "file past the limit": Case(_one_file(b"x" * (LIMIT + 1))),  # read, then left to the route's 413
    "body past the limit": Case(_one_file(b"x" * (LIMIT + 70_000))),  # left to the route unread
    "types=pdq": Case(_one_file(JPEG), "types=pdq"),
    "types=pdq, not an image": Case(_one_file(b"plain text"), "types=pdq"),
    "types unknown": Case(_one_file(JPEG), "types=nope"),
    "unknown parameter": Case(_one_file(JPEG), "foo=1"),
    "banks repeated": Case(_one_file(JPEG), "banks=ONE&banks=TWO"),
    "bypass_coinflip=maybe": Case(_one_file(JPEG), "bypass_coinflip=maybe"),
    "bypass_coinflip empty": Case(_one_file(JPEG), "bypass_coinflip="),
}


@pytest.fixture
def limited(settings: Settings) -> Settings:
    return settings.model_copy(update={"max_media_bytes": LIMIT})


@pytest.fixture
def api(limited: Settings) -> Iterator[ApiHarness]:
    with harness(limited) as h:
        _fill_banks(h)
        yield h


def _fill_banks(api: ApiHarness) -> None:
    found = extract(JPEG, MediaLimits.from_settings(api.tutela.settings), types=["pdq", "md5"])
    pdq, md5 = found.signal("pdq"), found.signal("md5")
    assert pdq is not None
    assert md5 is not None
    near = f"{int(pdq.value[0], 16) ^ 1:x}{pdq.value[1:]}"
    banks = api.tutela.banks
    banks.create_bank("ONE", BankCategory.OTHER)
    banks.create_bank("TWO", BankCategory.OTHER)
    banks.add_entry("ONE", pdq, added_by="test")
    banks.add_entry("TWO", Signal("pdq", near), added_by="test")
    banks.add_entry("ONE", md5, added_by="test")
    api.tutela.matcher.sync()


def _headers(api: ApiHarness, case: Case) -> dict[str, str]:
    headers = {"Content-Type": case.content_type}
    if isinstance(case.auth, Role):  # a Role is a str too
        headers.update(api.headers(case.auth))
    elif case.auth is not None:
        headers["Authorization"] = case.auth
    return headers


def _post(client: httpx.Client, api: ApiHarness, case: Case) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Status, headers (but the date) and body of `case` posted to /m/lookup."""
    url = f"/m/lookup?{case.query}" if case.query else "/m/lookup"
    content = iter([case.body]) if case.chunked else case.body
    response = client.post(url, content=content, headers=_headers(api, case))
    raw = [(k.lower(), v) for k, v in response.headers.raw if k.lower() != b"date"]
    return response.status_code, raw, response.content


# Starlette answers a form without its closing boundary with a 400 but leaves its spooled file unclosed.
@pytest.mark.filterwarnings(
    "ignore:Exception ignored in.*SpooledTemporaryFile:pytest.PytestUnraisableExceptionWarning"
)
def test_fast_path_answers_uploads_like_the_route(api: ApiHarness) -> None:
    with plain_client(api) as plain:
        for name, case in {**HAPPY, **FALL_THROUGH}.items():
            assert _post(api.client, api, case) == _post(plain, api, case), name
        gc.collect()  # that spooled file, while its warning is ignored
    found = _post(api.client, api, HAPPY["stored photo"])
    assert found[0] == 200
    assert b'"ONE":[{"bank_content_id":1,"distance":"0"}]' in found[2]
    assert b'"TWO":[{"bank_content_id":2,"distance":"1"}]' in found[2]
    assert _post(api.client, api, FALL_THROUGH["under-privileged key"])[0] == 403
    assert _post(api.client, api, FALL_THROUGH["file past the limit"])[0] == 413
    assert _post(api.client, api, FALL_THROUGH["body past the limit"])[0] == 413


def test_fast_path_answers_open_networks_like_the_route(limited: Settings) -> None:
    open_settings = limited.model_copy(update={"hma_open_networks": ["127.0.0.0/8"]})
    with harness(open_settings) as api, plain_client(api) as plain:
        _fill_banks(api)
        for auth in (None, "Bearer tut_nope_nope", Role.MODERATOR, Role.PLATFORM):
            case = Case(_one_file(JPEG), auth=auth)
            assert _post(api.client, api, case) == _post(plain, api, case), auth
        assert _post(api.client, api, Case(_one_file(JPEG), auth=None))[0] == 200


def test_only_the_happy_path_is_answered_by_the_fast_path(api: ApiHarness) -> None:
    """Wrapped around a stand-in app: happy uploads never reach it; everything else reaches it with the
    request's whole body, whether the fast path read it or not."""
    reached: list[bytes] = []

    async def stand_in(scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        reached.append(body)
        await send({"type": "http.response.start", "status": 599, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    app = create_app(api.tutela, background=False)
    hot = HotUpload(stand_in, state=app.state, routes=api_routes())

    async def chunks(body: bytes) -> AsyncIterator[bytes]:
        yield body

    async def ask(client: httpx.AsyncClient, case: Case) -> int:
        url = f"/m/lookup?{case.query}" if case.query else "/m/lookup"
        content = chunks(case.body) if case.chunked else case.body
        return (await client.post(url, content=content, headers=_headers(api, case))).status_code

    async def ask_all() -> tuple[list[int], list[int], int]:
        transport = httpx.ASGITransport(app=hot)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            happy = [await ask(client, case) for case in HAPPY.values()]
            other = [await ask(client, case) for case in FALL_THROUGH.values()]
            get = (await client.get("/m/lookup", headers=api.headers())).status_code
            return happy, other, get

    try:
        happy, other, get = asyncio.run(ask_all())
    finally:
        app.state.lookups.close()
    assert happy == [200] * len(HAPPY)
    assert other == [599] * len(FALL_THROUGH)
    assert get == 599
    assert reached == [case.body for case in FALL_THROUGH.values()] + [b""]


def test_metrics_count_fast_path_uploads(api: ApiHarness) -> None:
    for _ in range(3):
        _post(api.client, api, HAPPY["stored photo"])
    _post(api.client, api, FALL_THROUGH["two files"])  # the route's 400
    counts = request_counts(api)
    assert counts['route="/m/lookup",status="200"'] == 3
    assert counts['route="/m/lookup",status="400"'] == 1
