"""POST /v1/items end to end over real HTTP: verdicts, signed webhooks, idempotency and bad input."""

from __future__ import annotations

import http.client
import json
import time
import urllib.parse
from collections.abc import Iterator

import pytest

from tests import malformed
from tests.api_support import ApiHarness, harness
from tests.pipeline_support import worker_process
from tutela.api.routes.items import MAX_ITEM_SIGNALS
from tutela.auth import Role
from tutela.demo.images import TRANSFORMS, jpeg_bytes, picture
from tutela.effects.signing import verify
from tutela.effects.testing import WebhookReceiver
from tutela.settings import Settings


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as r:
        yield r


@pytest.fixture
def api(settings: Settings) -> Iterator[ApiHarness]:
    tuned = settings.model_copy(
        update={"allow_private_network_targets": True, "decoder_processes": 1, "webhook_poll_seconds": 0.05}
    )
    with harness(tuned, background=True) as h:
        yield h


def _known_bank(api: ApiHarness) -> None:
    h = api.headers()
    api.client.post("/v1/banks", json={"name": "demo-csam", "category": "csam"}, headers=h)
    hashed = api.client.post(
        "/h/hash", files={"file": ("k.jpg", jpeg_bytes(picture(3, (640, 480))))}, headers=h
    ).json()
    assert api.client.post("/v1/banks/demo-csam/entries", json={"value": hashed["pdq"]}, headers=h).is_success


def _upload(api: ApiHarness, content_id: str, data: bytes, role: Role = Role.PLATFORM, **fields: str):  # type: ignore[no-untyped-def]
    return api.client.post(
        "/v1/items?wait=true",
        files={"file": ("upload.jpg", data)},
        data={"content_id": content_id, "jurisdiction": "DE", **fields},
        headers=api.headers(role),
    )


def test_matching_upload_is_blocked_and_held_and_the_webhook_is_signed(
    api: ApiHarness, receiver: WebhookReceiver
) -> None:
    _known_bank(api)
    hook = api.client.post(
        "/v1/services/demo-service/webhooks", json={"url": receiver.url}, headers=api.headers()
    ).json()
    copy = jpeg_bytes(TRANSFORMS["recompressed"](picture(3, (640, 480))))
    response = _upload(api, "post-1", copy)
    assert response.status_code == 200, response.text
    evaluation = response.json()["evaluation"]
    assert evaluation["status"] == "done"
    assert evaluation["visibility"] == "block"
    assert "csam" in evaluation["verdict"]["holds"]
    assert evaluation["matches"][0]["category"] == "csam"
    other = _upload(api, "post-2", jpeg_bytes(picture(77, (640, 480))))
    assert other.json()["evaluation"]["visibility"] == "allow"
    deadline = time.monotonic() + 10
    while len(receiver.received) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    received = {json.loads(r.body)["data"]["content_id"]: r for r in receiver.received}
    assert set(received) == {"post-1", "post-2"}
    blocked = received["post-1"]
    assert verify(hook["secret"], blocked.body, blocked.signature)
    assert json.loads(blocked.body)["data"]["verdict"]["visibility"] == "block"
    item = api.client.get(f"/v1/items/{response.json()['item']['id']}", headers=api.headers(Role.PLATFORM))
    assert item.json()["actions"][0]["item_seq"] == 1


def test_resubmission_is_idempotent_and_new_content_is_a_new_evaluation(api: ApiHarness) -> None:
    first = _upload(api, "post-9", jpeg_bytes(picture(5, (320, 240))))
    again = _upload(api, "post-9", jpeg_bytes(picture(5, (320, 240))))
    assert again.json()["created"] is False
    assert again.json()["evaluation"]["id"] == first.json()["evaluation"]["id"]
    edited = _upload(api, "post-9", jpeg_bytes(picture(6, (320, 240))))
    assert edited.json()["created"] is True
    assert edited.json()["item"]["id"] == first.json()["item"]["id"]
    item = api.client.get(f"/v1/items/{first.json()['item']['id']}", headers=api.headers()).json()
    assert len(item["evaluations"]) == 2


def test_precomputed_signals(api: ApiHarness) -> None:
    response = api.client.post(
        "/v1/items?wait=true",
        json={
            "content_id": "sig-1",
            "signals": [{"type": "md5", "value": "d41d8cd98f00b204e9800998ecf8427e"}],
        },
        headers=api.headers(Role.PLATFORM),
    )
    assert response.status_code == 200, response.text
    assert response.json()["evaluation"]["visibility"] == "allow"


def _declared_too_big(api: ApiHarness) -> int:
    """A request declaring a 1 GB body is refused from its headers, before any body is read."""
    url = urllib.parse.urlsplit(api.base_url)
    connection = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=10)
    connection.putrequest("POST", "/v1/items")
    for name, value in {**api.headers(Role.PLATFORM), "Content-Type": "application/json"}.items():
        connection.putheader(name, value)
    connection.putheader("Content-Length", str(10**9))
    connection.endheaders(b"{}")
    status = connection.getresponse().status
    connection.close()
    return status


def test_bad_input_answers_4xx(api: ApiHarness) -> None:
    c = api.client
    text = _upload(api, "bad-1", b"this is text, not an image")
    assert text.status_code == 415
    assert "precomputed signals" in text.json()["detail"]
    truncated = _upload(api, "bad-3", malformed.truncated(malformed.jpeg((400, 300)), 0.3))
    assert truncated.status_code == 200  # accepted: a truncated image still has digests to match
    assert "truncated" in truncated.json()["evaluation"]["extraction_error"]
    assert _declared_too_big(api) == 413
    bad_hash = c.post(
        "/v1/items",
        json={"content_id": "x", "signals": [{"type": "pdq", "value": "zz"}]},
        headers=api.headers(Role.PLATFORM),
    )
    assert bad_hash.status_code == 422
    both = c.post(
        "/v1/items", json={"content_id": "x", "url": "http://example.org/a.jpg", "signals": []},
        headers=api.headers(Role.PLATFORM),
    )  # fmt: skip
    assert both.status_code == 422
    md5 = {"type": "md5", "value": "d41d8cd98f00b204e9800998ecf8427e"}
    too_many = c.post(
        "/v1/items",
        json={"content_id": "x", "signals": [md5] * (MAX_ITEM_SIGNALS + 1)},
        headers=api.headers(Role.PLATFORM),
    )
    assert too_many.status_code == 422
    assert too_many.json()["detail"][0]["loc"][-1] == "signals"
    private = c.post(
        "/v1/items",
        json={"content_id": "x", "url": "http://169.254.169.254/x"},
        headers=api.headers(Role.PLATFORM),
    )
    assert private.status_code == 422
    assert c.get("/v1/items/999999", headers=api.headers()).status_code == 404
    assert c.post("/v1/items", json={"content_id": "x"}, headers=api.headers()).status_code == 422
    unknown_surface = _upload(api, "bad-2", malformed.jpeg(), surface="billboard")
    assert unknown_surface.status_code == 422


def test_queue_full_answers_429_with_retry_after(settings: Settings) -> None:
    with harness(settings.model_copy(update={"queue_max_pending": 1}), background=False) as api:
        first = _upload(api, "q-1", jpeg_bytes(picture(1, (320, 240))))
        assert first.status_code == 202
        second = _upload(api, "q-2", jpeg_bytes(picture(2, (320, 240))))
        assert second.status_code == 429
        assert int(second.headers["retry-after"]) >= 1
        again = _upload(api, "q-1", jpeg_bytes(picture(1, (320, 240))))
        assert again.status_code == 202  # a resubmission is answered even when the queue is full


def test_entry_added_through_the_api_is_matched_by_a_worker_process_within_a_second(
    settings: Settings,
) -> None:
    """Serve accepts only; a separate `tutela worker` process decides, following the bank change log."""
    tuned = settings.model_copy(update={"run_workers": False, "job_lease_seconds": 5.0})
    with harness(tuned, background=True) as api, worker_process(tuned, decoders=1):
        h = api.headers()
        api.client.post("/v1/banks", json={"name": "late", "category": "csam"}, headers=h)
        warm = _upload(api, "warm-up", jpeg_bytes(picture(40, (320, 240))))
        assert warm.json()["evaluation"]["visibility"] == "allow"  # the worker is up and idle
        known = jpeg_bytes(picture(41, (320, 240)))
        pdq = api.client.post("/h/hash", files={"file": ("k.jpg", known)}, headers=h).json()["pdq"]
        start = time.monotonic()
        added = api.client.post("/v1/banks/late/entries", json={"value": pdq}, headers=h)
        assert added.status_code == 201
        decided = api.client.post(
            "/v1/items?wait=true",
            json={"content_id": "late-1", "signals": [{"type": "pdq", "value": pdq}]},
            headers=api.headers(Role.PLATFORM),
        )
        elapsed = time.monotonic() - start
        assert decided.json()["evaluation"]["visibility"] == "block", decided.text
        assert elapsed < 1.0
