"""The lookup fast path (`tutela.api.hot_lookup`) answers exactly what the FastAPI routes answer, and leaves
everything but the happy path of a lookup by hash to them."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from tests.api_support import ApiHarness, harness, plain_client, request_counts
from tutela.api.app import api_routes, create_app
from tutela.api.hot_lookup import HotLookup
from tutela.auth import Role
from tutela.banks import BankCategory
from tutela.settings import Settings
from tutela.signals.base import Signal

STORED = "ab" * 32  # in ONE
STORED_NEAR = "ab" * 31 + "aa"  # in TWO, one bit from STORED
NEAR = "ab" * 31 + "a8"  # 2 bits from STORED, 1 from STORED_NEAR: matches in both banks
FAR = "0" * 64
MD5 = f"{7:032x}"
Auth = Role | str | None  # a role's key, a raw Authorization header, or none

HAPPY: list[tuple[str, Auth]] = [
    (f"/m/lookup?signal={NEAR}&signal_type=pdq", Role.ADMIN),
    (f"/m/lookup?signal={NEAR.upper()}&signal_type=pdq", Role.PLATFORM),
    (f"/m/lookup?signal=%20{NEAR}%20&signal_type=pdq", Role.BANK_CURATOR),
    (f"/m/lookup?signal={FAR}&signal_type=pdq", Role.ADMIN),
    (f"/m/lookup?signal_type=pdq&signal={NEAR}&banks=ONE", Role.ADMIN),
    (f"/m/lookup?signal={NEAR}&signal_type=pdq&banks=TWO,%20ONE,", Role.ADMIN),
    (f"/m/lookup?signal={NEAR}&signal_type=pdq&banks=", Role.ADMIN),
    (f"/m/lookup?signal={NEAR}&signal_type=pdq&banks=NONE", Role.ADMIN),
    (f"/m/lookup?signal={NEAR}&signal_type=pdq&seed=7&bypass_coinflip=true", Role.ADMIN),
    (f"/m/lookup?signal={NEAR}&signal_type=pdq&bypass_coinflip=NO", Role.ADMIN),
    (f"/m/lookup?signal={MD5}&signal_type=md5", Role.ADMIN),
    (f"/m/lookup?signal={MD5.upper()}&signal_type=md5&banks=TWO", Role.ADMIN),
    (f"/m/raw_lookup?signal={NEAR}&signal_type=pdq", Role.ADMIN),
    (f"/m/raw_lookup?signal={NEAR}&signal_type=pdq&include_distance=true", Role.ADMIN),
    (f"/m/raw_lookup?signal={NEAR}&signal_type=pdq&include_distance=0", Role.ADMIN),
    (f"/m/raw_lookup?signal={NEAR}&signal_type=pdq&include_distance=Yes&banks=TWO", Role.ADMIN),
    (f"/m/raw_lookup?signal={MD5}&signal_type=md5&include_distance=1", Role.PLATFORM),
]
FALL_THROUGH: list[tuple[str, Auth]] = [
    (f"/m/lookup?signal={NEAR}&signal_type=pdq", None),
    (f"/m/lookup?signal={NEAR}&signal_type=pdq", "Bearer tut_nope_nope"),
    (f"/m/lookup?signal={NEAR}&signal_type=pdq", "Basic YWRtaW46YWRtaW4="),
    (f"/m/lookup?signal={NEAR}&signal_type=pdq", Role.MODERATOR),
    (f"/m/raw_lookup?signal={NEAR}&signal_type=pdq", Role.AUDITOR),
    ("/m/lookup?signal=xyz&signal_type=pdq", Role.ADMIN),
    ("/m/lookup?signal=&signal_type=pdq", Role.ADMIN),
    (f"/m/lookup?signal={NEAR}", Role.ADMIN),
    (f"/m/lookup?signal={NEAR}&signal_type=", Role.ADMIN),
    (f"/m/lookup?signal={NEAR}&signal_type=vpdq", Role.ADMIN),
    (f"/m/lookup?signal={NEAR}&signal_type=pdq&bypass_coinflip=maybe", Role.ADMIN),
    (f"/m/lookup?signal={NEAR}&signal_type=pdq&types=pdq", Role.ADMIN),
    (f"/m/lookup?signal={NEAR}&signal_type=pdq&foo=1", Role.ADMIN),
    (f"/m/lookup?signal={NEAR}&signal={FAR}&signal_type=pdq", Role.ADMIN),
    (f"/m/lookup?url={quote('http://127.0.0.1:9/x.jpg')}&signal_type=pdq", Role.ADMIN),
    ("/m/lookup", Role.ADMIN),
    (f"/m/lookup/?signal={NEAR}&signal_type=pdq", Role.ADMIN),
    ("/m/raw_lookup?signal_type=pdq", Role.ADMIN),
    (f"/m/raw_lookup?signal={NEAR}&signal_type=pdq&include_distance=2", Role.ADMIN),
    (f"/m/raw_lookup?signal={NEAR}&signal_type=pdq&seed=1", Role.ADMIN),
]


def _headers(api: ApiHarness, auth: Auth) -> dict[str, str]:
    if auth is None:
        return {}
    return api.headers(auth) if isinstance(auth, Role) else {"Authorization": auth}  # a Role is a str too


def _fill_banks(api: ApiHarness) -> None:
    banks = api.tutela.banks
    banks.create_bank("ONE", BankCategory.OTHER)
    banks.create_bank("TWO", BankCategory.OTHER)
    banks.add_entry("ONE", Signal("pdq", STORED), added_by="test")
    banks.add_entry("TWO", Signal("pdq", STORED_NEAR), added_by="test")
    banks.add_entry("ONE", Signal("md5", MD5), added_by="test")
    api.tutela.matcher.sync()


@pytest.fixture
def api(settings: Settings) -> Iterator[ApiHarness]:
    with harness(settings) as h:
        _fill_banks(h)
        yield h


def _answer(client: httpx.Client, method: str, url: str, headers: dict[str, str]) -> tuple[object, ...]:
    """Status, headers (but the date) and body, with the server's own address taken out."""
    response = client.request(method, url, headers=headers)
    base = str(client.base_url).rstrip("/").encode()
    raw = [(k.lower(), v.replace(base, b"")) for k, v in response.headers.raw if k.lower() != b"date"]
    return response.status_code, raw, response.content.replace(base, b"")


def test_fast_path_answers_like_the_routes(api: ApiHarness) -> None:
    with plain_client(api) as plain:
        for method in ("GET", "HEAD"):
            for url, auth in HAPPY + FALL_THROUGH:
                hot = _answer(api.client, method, url, _headers(api, auth))
                assert hot == _answer(plain, method, url, _headers(api, auth)), (method, url, auth)
    found = api.client.get(f"/m/lookup?signal={NEAR}&signal_type=pdq", headers=api.headers())
    assert found.json() == {
        "TWO": [{"bank_content_id": 2, "distance": "1"}],
        "ONE": [{"bank_content_id": 1, "distance": "2"}],
    }


def test_fast_path_answers_open_networks_like_the_routes(settings: Settings) -> None:
    open_settings = settings.model_copy(update={"hma_open_networks": ["127.0.0.0/8"]})
    with harness(open_settings) as api, plain_client(api) as plain:
        _fill_banks(api)
        for auth in (None, "Bearer tut_nope_nope", Role.MODERATOR, Role.PLATFORM):
            url = f"/m/lookup?signal={NEAR}&signal_type=pdq"
            hot = _answer(api.client, "GET", url, _headers(api, auth))
            assert hot == _answer(plain, "GET", url, _headers(api, auth)), auth
        assert api.client.get(f"/m/raw_lookup?signal={NEAR}&signal_type=pdq").json() == {"matches": [2, 1]}


def test_only_the_happy_path_is_answered_by_the_fast_path(api: ApiHarness) -> None:
    """Wrapped around a stand-in app: happy lookups never reach it, everything else reaches it untouched."""
    reached: list[tuple[str, bytes]] = []

    async def stand_in(scope: Scope, receive: Receive, send: Send) -> None:
        reached.append((scope["path"], scope["query_string"]))
        await send({"type": "http.response.start", "status": 599, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    app = create_app(api.tutela, background=False)
    hot = HotLookup(stand_in, state=app.state, routes=api_routes())

    async def ask_all() -> tuple[list[int], list[int]]:
        transport = httpx.ASGITransport(app=hot)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            happy = [(await client.get(u, headers=_headers(api, a))).status_code for u, a in HAPPY]
            other = [(await client.get(u, headers=_headers(api, a))).status_code for u, a in FALL_THROUGH]
            other.append((await client.head(HAPPY[0][0], headers=api.headers())).status_code)
            return happy, other

    try:
        happy, other = asyncio.run(ask_all())
    finally:
        app.state.lookups.close()
    assert happy == [200] * len(HAPPY)
    assert other == [599] * (len(FALL_THROUGH) + 1)
    assert [path for path, _ in reached] == [url.partition("?")[0] for url, _ in FALL_THROUGH] + ["/m/lookup"]


def test_metrics_count_fast_path_requests(api: ApiHarness) -> None:
    for _ in range(3):
        api.client.get(f"/m/lookup?signal={NEAR}&signal_type=pdq", headers=api.headers())
    api.client.get(f"/m/raw_lookup?signal={NEAR}&signal_type=pdq", headers=api.headers())
    api.client.get("/m/lookup?signal=xyz&signal_type=pdq", headers=api.headers())  # the route's 422
    counts = request_counts(api)
    assert counts['route="/m/lookup",status="200"'] == 3
    assert counts['route="/m/raw_lookup",status="200"'] == 1
    assert counts['route="/m/lookup",status="422"'] == 1
