"""HMA-compatible routes on the real server: HMA's response shapes, bank mapping, open networks."""

from __future__ import annotations

import re
import threading
from collections.abc import Collection, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.api_support import ApiHarness, harness
from tutela.demo.images import jpeg_bytes, picture
from tutela.settings import Settings
from tutela.signals.extract import Extraction

JPEG = jpeg_bytes(picture(7, (320, 240)))
OTHER_JPEG = jpeg_bytes(picture(8, (320, 240)))
HEX64 = re.compile(r"[0-9a-f]{64}")
HEX32 = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def media_url() -> Iterator[str]:
    """A loopback server answering /photo.jpg with JPEG, standing in for a platform's media host."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(JPEG)))
            self.end_headers()
            self.wfile.write(JPEG)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/photo.jpg"
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def api(settings: Settings) -> Iterator[ApiHarness]:
    with harness(settings.model_copy(update={"allow_private_network_targets": True})) as h:
        yield h


def _bank_with_photo(api: ApiHarness, name: str = "KNOWN") -> int:
    c, h = api.client, api.headers()
    assert c.post("/c/banks", json={"name": name}, headers=h).status_code == 201
    added = c.post(f"/c/bank/{name}/content", files={"photo": ("p.jpg", JPEG)}, headers=h)
    assert added.status_code == 200, added.text
    content_id: int = added.json()["id"]
    return content_id


def _assert_matches(by_bank: object, bank: str, content_id: int) -> None:
    assert isinstance(by_bank, dict)
    assert list(by_bank) == [bank]
    [match] = by_bank[bank]
    assert match == {"bank_content_id": content_id, "distance": "0"}


def test_hash_upload(api: ApiHarness) -> None:
    hashes = api.client.post("/h/hash", files={"photo": ("p.jpg", JPEG)}, headers=api.headers()).json()
    assert set(hashes) == {"pdq", "md5"}
    assert HEX64.fullmatch(hashes["pdq"])
    assert HEX32.fullmatch(hashes["md5"])
    only = api.client.post("/h/hash?types=sha256", files={"photo": ("p.jpg", JPEG)}, headers=api.headers())
    assert set(only.json()) == {"sha256"}


def test_hash_url(api: ApiHarness, media_url: str) -> None:
    by_url = api.client.get("/h/hash", params={"url": media_url}, headers=api.headers())
    assert by_url.status_code == 200, by_url.text
    uploaded = api.client.post("/h/hash", files={"photo": ("p.jpg", JPEG)}, headers=api.headers())
    assert by_url.json() == uploaded.json()


def test_hash_refuses_non_media(api: ApiHarness) -> None:
    answer = api.client.post(
        "/h/hash?types=pdq", files={"photo": ("x", b"not an image")}, headers=api.headers()
    )
    assert answer.status_code == 422
    assert "pdq" in answer.json()["detail"]


def test_lookup_by_hash(api: ApiHarness) -> None:
    content_id = _bank_with_photo(api)
    pdq = api.client.post("/h/hash", files={"photo": ("p.jpg", JPEG)}, headers=api.headers()).json()["pdq"]
    found = api.client.get("/m/lookup", params={"signal": pdq, "signal_type": "pdq"}, headers=api.headers())
    _assert_matches(found.json(), "KNOWN", content_id)
    miss = api.client.get(
        "/m/lookup", params={"signal": "0" * 64, "signal_type": "pdq"}, headers=api.headers()
    )
    assert miss.json() == {}
    assert api.client.get("/m/lookup", headers=api.headers()).status_code == 400


def test_lookup_by_exact_digest_and_bank(api: ApiHarness) -> None:
    """A bare digest goes to the exact index; `banks` keeps only the named banks."""
    content_id = _bank_with_photo(api)  # the PDQ entry; the MD5 entry is the next one
    md5 = api.client.post("/h/hash?types=md5", files={"photo": ("p.jpg", JPEG)}, headers=api.headers()).json()
    params = {"signal": md5["md5"].upper(), "signal_type": "md5"}
    found = api.client.get("/m/lookup", params=params, headers=api.headers())
    _assert_matches(found.json(), "KNOWN", content_id + 1)
    elsewhere = api.client.get("/m/lookup", params={**params, "banks": "OTHER"}, headers=api.headers())
    assert elsewhere.json() == {}
    bad = api.client.get("/m/lookup", params={"signal": "xyz", "signal_type": "md5"}, headers=api.headers())
    assert bad.status_code in (400, 422)


def test_lookup_upload(api: ApiHarness) -> None:
    content_id = _bank_with_photo(api)
    found = api.client.post("/m/lookup", files={"photo": ("p.jpg", JPEG)}, headers=api.headers()).json()
    assert set(found) == {"pdq", "md5"}
    _assert_matches(found["pdq"], "KNOWN", content_id)
    other = api.client.post("/m/lookup", files={"photo": ("o.jpg", OTHER_JPEG)}, headers=api.headers())
    assert other.json() == {"pdq": {}, "md5": {}}


def test_an_upload_lookup_computes_md5_only_while_a_bank_holds_one(
    api: ApiHarness, media_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without `types`, MD5 is not computed while no bank holds an MD5 entry: the answer is the same."""
    c, h = api.client, api.headers()
    assert c.post("/c/banks", json={"name": "PDQ_ONLY"}, headers=h).status_code == 201
    pdq = c.post("/h/hash?types=pdq", files={"photo": ("p.jpg", JPEG)}, headers=h).json()["pdq"]
    content_id = c.post("/c/bank/PDQ_ONLY/signal", json={"pdq": pdq}, headers=h).json()["id"]
    pool = api.tutela.pipeline.decoders()
    asked: list[list[str] | None] = []
    extract_async = pool.extract_async

    async def recorded(data: bytes, types: Collection[str] | None = None) -> Extraction:
        asked.append(None if types is None else list(types))
        return await extract_async(data, types)

    monkeypatch.setattr(pool, "extract_async", recorded)
    upload = {"photo": ("p.jpg", JPEG)}
    found = c.post("/m/lookup", files=upload, headers=h).json()  # the pure-ASGI fast path
    assert list(found) == ["pdq", "md5"]
    _assert_matches(found["pdq"], "PDQ_ONLY", content_id)
    assert found["md5"] == {}
    by_url = c.get("/m/lookup", params={"url": media_url}, headers=h).json()  # the FastAPI route
    assert by_url == found
    undecodable = c.post("/m/lookup", files={"photo": ("x", b"not an image")}, headers=h)
    assert undecodable.status_code == 200
    assert undecodable.json() == {"md5": {}}  # as when MD5 was computed: PDQ failed, MD5 matched nothing
    named = c.post("/m/lookup?types=pdq,md5", files=upload, headers=h).json()
    assert named == found
    assert asked == [["pdq"], ["pdq"], ["pdq"], ["pdq", "md5"]]

    md5 = c.post("/h/hash?types=md5", files=upload, headers=h).json()["md5"]
    md5_id = c.post("/c/bank/PDQ_ONLY/signal", json={"md5": md5}, headers=h).json()["id"]
    asked.clear()
    found = c.post("/m/lookup", files=upload, headers=h).json()
    _assert_matches(found["md5"], "PDQ_ONLY", md5_id)
    assert asked == [["pdq", "md5"]]


def test_lookup_url(api: ApiHarness, media_url: str) -> None:
    content_id = _bank_with_photo(api)
    found = api.client.get("/m/lookup", params={"url": media_url}, headers=api.headers()).json()
    _assert_matches(found["pdq"], "KNOWN", content_id)
    one = api.client.get("/m/lookup", params={"url": media_url, "signal_type": "pdq"}, headers=api.headers())
    _assert_matches(one.json(), "KNOWN", content_id)


def test_raw_lookup(api: ApiHarness) -> None:
    c, h = api.client, api.headers()
    c.post("/c/banks", json={"name": "RAW"}, headers=h)
    content_id = c.post("/c/bank/RAW/signal", json={"pdq": "ab" * 32}, headers=h).json()["id"]
    near = "ab" * 31 + "aa"
    raw = c.get("/m/raw_lookup", params={"signal": near, "signal_type": "pdq"}, headers=h)
    assert raw.json() == {"matches": [content_id]}
    params = {"signal": near, "signal_type": "pdq", "include_distance": "true"}
    with_distance = c.get("/m/raw_lookup", params=params, headers=h)
    assert with_distance.json() == {"matches": [{"bank_content_id": content_id, "distance": "1"}]}
    other_bank = c.get("/m/raw_lookup", params={**params, "banks": "NONE"}, headers=h)
    assert other_bank.json() == {"matches": []}


def test_compare(api: ApiHarness) -> None:
    body = {"pdq": ["ab" * 32, "ab" * 31 + "aa"], "md5": ["0" * 32, "f" * 32]}
    result = api.client.post("/m/compare", json=body, headers=api.headers())
    assert result.json() == {"pdq": [True, {"distance": 1}], "md5": [False, {"distance": 1}]}
    bad = api.client.post("/m/compare", json={"pdq": ["ab" * 32]}, headers=api.headers())
    assert bad.status_code == 400


def test_index_status(api: ApiHarness) -> None:
    _bank_with_photo(api)
    status = api.client.get("/m/index/status", headers=api.headers()).json()
    assert {"pdq", "md5"} <= set(status)
    assert status["pdq"]["present"] is True
    assert isinstance(status["pdq"]["built_to"], int)
    assert status["pdq"]["size"] == 1
    one = api.client.get("/m/index/status?signal_type=md5", headers=api.headers()).json()
    assert list(one) == ["md5"]


def test_status(api: ApiHarness) -> None:
    answer = api.client.get("/status", headers=api.headers())
    assert answer.status_code == 200
    assert answer.text == "I-AM-ALIVE"


def test_bank_curation(api: ApiHarness) -> None:
    c, h = api.client, api.headers()
    created = c.post("/c/banks", json={"name": "MY_BANK", "enabled": False}, headers=h)
    assert created.status_code == 201
    assert created.json() == {"name": "MY_BANK", "matching_enabled_ratio": 0.0}
    assert c.post("/c/banks", json={"name": "MY_BANK"}, headers=h).status_code == 409
    assert c.post("/c/banks", json={"name": "lower-case"}, headers=h).status_code == 400
    assert c.post("/c/banks", json={"name": "HALF", "enabled_ratio": 0.5}, headers=h).status_code == 422
    assert c.get("/c/banks", headers=h).json() == [{"name": "MY_BANK", "matching_enabled_ratio": 0.0}]
    updated = c.put("/c/bank/MY_BANK", json={"name": "RENAMED", "enabled_ratio": 1.0}, headers=h)
    assert updated.json() == {"name": "RENAMED", "matching_enabled_ratio": 1.0}
    assert c.get("/c/bank/RENAMED", headers=h).json()["matching_enabled_ratio"] == 1.0
    assert c.delete("/c/bank/RENAMED", headers=h).json() == {"message": "Done"}
    assert c.get("/c/banks", headers=h).json() == []


def test_bank_signal(api: ApiHarness) -> None:
    c, h = api.client, api.headers()
    c.post("/c/banks", json={"name": "SIGNALS"}, headers=h)
    added = c.post("/c/bank/SIGNALS/signal", json={"pdq": "AB" * 32, "md5": "0" * 32}, headers=h).json()
    assert isinstance(added["id"], int)
    assert added["signals"] == {"pdq": "ab" * 32, "md5": "0" * 32}
    again = c.post("/c/bank/SIGNALS/signal", json={"pdq": "ab" * 32}, headers=h).json()
    assert again["id"] == added["id"]
    assert c.post("/c/bank/SIGNALS/signal", json={"pdq": "xyz"}, headers=h).status_code == 422
    assert c.post("/c/bank/SIGNALS/signal", json={}, headers=h).status_code == 400


def test_bank_content_upload_and_url(api: ApiHarness, media_url: str) -> None:
    c, h = api.client, api.headers()
    c.post("/c/banks", json={"name": "CONTENT"}, headers=h)
    uploaded = c.post("/c/bank/CONTENT/content", files={"photo": ("p.jpg", OTHER_JPEG)}, headers=h).json()
    assert isinstance(uploaded["id"], int)
    assert set(uploaded["signals"]) == {"pdq", "md5"}
    body = {"metadata": {"content_id": "post-17"}}
    by_url = c.post("/c/bank/CONTENT/content", params={"url": media_url}, json=body, headers=h)
    assert by_url.status_code == 200, by_url.text
    assert by_url.json()["id"] != uploaded["id"]
    assert api.tutela.banks.get_entry(by_url.json()["id"]).source_id == "post-17"
    assert c.post("/c/bank/CONTENT/content", headers=h).status_code == 400


def test_unknown_bank_is_404(api: ApiHarness) -> None:
    c, h = api.client, api.headers()
    assert c.get("/c/bank/NOPE", headers=h).status_code == 404
    assert c.put("/c/bank/NOPE", json={"enabled": True}, headers=h).status_code == 404
    assert c.delete("/c/bank/NOPE", headers=h).status_code == 404
    assert c.post("/c/bank/NOPE/signal", json={"pdq": "ab" * 32}, headers=h).status_code == 404
    assert c.post("/c/bank/NOPE/content", files={"photo": ("p.jpg", JPEG)}, headers=h).status_code == 404


def test_open_network_lets_loopback_in_on_hma_routes_only(settings: Settings) -> None:
    with harness(settings.model_copy(update={"hma_open_networks": ["127.0.0.0/8"]})) as api:
        c = api.client
        assert c.get("/status").text == "I-AM-ALIVE"
        assert c.post("/c/banks", json={"name": "OPEN"}).status_code == 201
        assert c.get("/c/banks").json() == [{"name": "OPEN", "matching_enabled_ratio": 1.0}]
        assert c.get("/v1/banks").status_code == 401
        assert c.get("/c/banks", headers={"Authorization": "Bearer tut_nope_nope"}).status_code == 401


def test_no_key_without_open_network(api: ApiHarness) -> None:
    assert api.client.get("/c/banks").status_code == 401
    assert api.client.get("/status").status_code == 401
