"""/v1/banks over HTTP: CRUD, entries, import/export, and the typed errors as 4xx answers."""

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


def test_bank_lifecycle(api: ApiHarness) -> None:
    c, h = api.client, api.headers()
    created = c.post("/v1/banks", json={"name": "own", "category": "own-confirmed"}, headers=h)
    assert created.status_code == 201, created.text
    assert created.json()["pdq_threshold"] == 31
    assert c.post("/v1/banks", json={"name": "own", "category": "csam"}, headers=h).status_code == 409
    entry = c.post("/v1/banks/own/entries", json={"value": "AB" * 32, "note": "case 12"}, headers=h)
    assert entry.status_code == 201, entry.text
    assert entry.json()["value"] == "ab" * 32
    entry_id = entry.json()["id"]
    assert c.post("/v1/banks/own/entries", json={"value": "xyz"}, headers=h).status_code == 422
    bad_type = c.post("/v1/banks/own/entries", json={"signal_type": "photodna", "value": "ab"}, headers=h)
    assert bad_type.status_code == 422
    assert "known types" in bad_type.json()["detail"]
    listed = c.get("/v1/banks/own/entries", headers=h).json()
    assert [e["id"] for e in listed] == [entry_id]
    patched = c.patch(f"/v1/banks/own/entries/{entry_id}", json={"enabled": False}, headers=h)
    assert patched.json()["enabled"] is False
    assert c.patch("/v1/banks/own", json={"pdq_threshold": 20}, headers=h).json()["pdq_threshold"] == 20
    assert c.get("/v1/banks/nope", headers=h).status_code == 404
    assert c.delete(f"/v1/banks/own/entries/{entry_id}", headers=h).status_code == 204
    assert c.delete("/v1/banks/own", headers=h).status_code == 204
    assert c.get("/v1/banks", headers=h).json() == []


def test_import_reports_bad_lines_and_export_respects_licence(api: ApiHarness) -> None:
    c, h = api.client, api.headers()
    c.post("/v1/banks", json={"name": "list", "category": "ncii"}, headers=h)
    body = ("ab" * 32 + "\nnot-a-hash\n" + "cd" * 32 + "\n").encode()
    result = c.post(
        "/v1/banks/list/import?format=plain&signal_type=pdq", files={"file": ("l.txt", body)}, headers=h
    )
    assert result.status_code == 200, result.text
    assert result.json()["added"] == 2
    assert result.json()["first_errors"][0]["line"] == 2
    refused = c.get("/v1/banks/list/export", headers=h)
    assert refused.status_code == 403
    assert "not exportable" in refused.json()["detail"]
    c.patch("/v1/banks/list", json={"exportable": True}, headers=h)
    exported = c.get("/v1/banks/list/export?format=plain", headers=h)
    assert exported.text.split() == ["ab" * 32, "cd" * 32]


def test_entry_added_over_http_matches_at_once(api: ApiHarness) -> None:
    c, h = api.client, api.headers()
    c.post("/v1/banks", json={"name": "b", "category": "csam"}, headers=h)
    c.post("/v1/banks/b/entries", json={"value": "ab" * 32}, headers=h)
    hits = api.tutela.matcher.pdq.query_one(bytes.fromhex("ab" * 32))
    assert len(hits) == 1


def test_no_key_wrong_key_and_wrong_role(api: ApiHarness) -> None:
    c = api.client
    assert c.get("/v1/banks").status_code == 401
    assert c.get("/v1/banks", headers={"Authorization": "Bearer tut_nope_nope"}).status_code == 401
    denied = c.post("/v1/banks", json={"name": "x", "category": "csam"}, headers=api.headers(Role.MODERATOR))
    assert denied.status_code == 403
    assert "banks:write" in denied.json()["detail"]


def test_metrics_and_probes(api: ApiHarness) -> None:
    assert api.client.get("/healthz").json() == {"status": "ok"}
    assert api.client.get("/readyz").json()["status"] == "ready"
    assert api.client.get("/metrics").status_code == 401
    text = api.client.get("/metrics", headers=api.headers(Role.AUDITOR)).text
    expected = (
        "pdq_index_entries",
        "index_change_lag",
        "jobs_ready",
        "webhooks_dead",
        "tutela_http_requests",
    )
    assert [name for name in expected if name not in text] == []


def test_entry_pages(api: ApiHarness) -> None:
    c, h = api.client, api.headers()
    c.post("/v1/banks", json={"name": "paged", "category": "other"}, headers=h)
    ids = [
        c.post(
            "/v1/banks/paged/entries", json={"signal_type": "md5", "value": f"{n:032x}"}, headers=h
        ).json()["id"]
        for n in range(5)
    ]
    first = c.get("/v1/banks/paged/entries?limit=2", headers=h).json()
    rest = c.get(f"/v1/banks/paged/entries?after_id={first[-1]['id']}&limit=10", headers=h).json()
    assert [e["id"] for e in first + rest] == ids
