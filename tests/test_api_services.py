"""/v1/services and webhooks: creation, SSRF refusal, secrets shown once, platform keys confined."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.api_support import ApiHarness, harness
from tutela.auth import Role
from tutela.settings import Settings


@pytest.fixture
def api(settings: Settings) -> Iterator[ApiHarness]:
    with harness(settings) as h:
        yield h


def test_services_and_bank_switch(api: ApiHarness) -> None:
    c, h = api.client, api.headers()
    assert c.post("/v1/services", json={"name": "second"}, headers=h).status_code == 201
    assert {s["name"] for s in c.get("/v1/services", headers=h).json()} == {"demo-service", "second"}
    c.post("/v1/banks", json={"name": "b", "category": "csam"}, headers=h)
    switched = c.put("/v1/services/second/banks/b", json={"enabled": False}, headers=h)
    assert switched.json() == {"enabled": False}
    assert api.tutela.services.disabled_bank_ids(api.tutela.services.get("second").id) != set()
    assert c.put("/v1/services/second/banks/nope", json={"enabled": False}, headers=h).status_code == 404


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://10.0.0.1/hook",
        "http://[::1]/hook",
        "file:///etc/passwd",
    ],
)
def test_webhook_to_private_address_refused(api: ApiHarness, url: str) -> None:
    response = api.client.post("/v1/services/demo-service/webhooks", json={"url": url}, headers=api.headers())
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "TargetRefused"


def test_webhook_secret_shown_once_and_platform_confined(settings: Settings) -> None:
    with harness(settings.model_copy(update={"allow_private_network_targets": True})) as api:
        c, h = api.client, api.headers()
        created = c.post(
            "/v1/services/demo-service/webhooks", json={"url": "http://127.0.0.1:9/x"}, headers=h
        )
        assert created.status_code == 201, created.text
        assert len(created.json()["secret"]) >= 32
        listed = c.get("/v1/services/demo-service/webhooks", headers=h).json()
        assert listed[0]["secret"] is None
        c.post("/v1/services", json={"name": "other"}, headers=h)
        foreign = c.get("/v1/services/other/webhooks", headers=api.headers(Role.AUDITOR))
        assert foreign.status_code == 200
        assert c.delete(f"/v1/services/demo-service/webhooks/{listed[0]['id']}", headers=h).status_code == 204
        assert c.get("/v1/deliveries/dead", headers=api.headers(Role.AUDITOR)).json() == []
        assert c.post("/v1/deliveries/999/retry", headers=h).status_code == 404
