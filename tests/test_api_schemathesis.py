"""A bounded schemathesis run over the OpenAPI schema: no generated request may get a 5xx answer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.core.result import Err

from tests.api_support import ApiHarness, harness
from tutela.settings import Settings


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiHarness]:
    data_dir: Path = tmp_path_factory.mktemp("schemathesis")
    with harness(Settings(data_dir=data_dir), background=False) as h:
        h.client.post("/v1/banks", json={"name": "b", "category": "csam"}, headers=h.headers())
        yield h


@pytest.fixture(scope="module")
def api_schema(live: ApiHarness) -> schemathesis.BaseSchema:
    openapi = live.client.get("/openapi.json").json()
    schema = schemathesis.openapi.from_dict(openapi)
    schema.config.update(base_url=live.base_url, headers=live.headers())
    return schema


def test_no_server_errors(api_schema: schemathesis.BaseSchema, live: ApiHarness) -> None:
    """Every operation, a few generated requests each (derandomized: the same run every time)."""
    failures: list[str] = []
    operations = 0
    for result in api_schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()
        operation = result.ok()
        operations += 1

        @settings(
            max_examples=6,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        @given(case=operation.as_strategy())
        def run(case: schemathesis.Case[Any]) -> None:
            response = case.call(headers=live.headers(), timeout=30)
            if response.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:300]}"
                )

        run()
    assert operations > 20
    assert failures == []
