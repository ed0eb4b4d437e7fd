"""/metrics counts the full reloads of a match index that fell behind the trimmed bank change log.

The served app stands for one server process following the log; a second `Tutela` on the same data directory
makes the bank changes, as another process would.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.api_support import ApiHarness, harness
from tests.bank_log_support import add_pdq, age_changes, random_pdq, writer_with_bank
from tutela.app import Tutela
from tutela.auth import Role
from tutela.pipeline.retention import sweep_bank_changes
from tutela.settings import Settings

BANK = "reload-metrics"
RELOADS = "tutela_index_full_reloads_total"


@pytest.fixture
def writer(settings: Settings) -> Iterator[Tutela]:
    with writer_with_bank(settings, BANK) as app:
        yield app


@pytest.fixture
def api(writer: Tutela, settings: Settings) -> Iterator[ApiHarness]:
    with harness(settings) as api:
        yield api


def add(app: Tutela, rng: random.Random) -> None:
    add_pdq(app, BANK, random_pdq(rng))


def fall_behind_the_trimmed_log(writer: Tutela, rng: random.Random) -> None:
    """Two changes the follower has not applied, aged a month and trimmed, then a recent one."""
    add(writer, rng)
    add(writer, rng)
    age_changes(writer, writer.banks.current_seq())
    add(writer, rng)
    assert sweep_bank_changes(writer.database, retention_hours=24) > 0


def scraped_reloads(api: ApiHarness) -> list[float]:
    response = api.client.get("/metrics", headers=api.headers(Role.AUDITOR))
    assert response.status_code == 200
    families = text_string_to_metric_families(response.text)
    return [sample.value for family in families for sample in family.samples if sample.name == RELOADS]


def test_metrics_count_full_index_reloads(writer: Tutela, api: ApiHarness) -> None:
    rng = random.Random(7)
    follower = api.tutela
    follower.sync_index()
    assert scraped_reloads(api) == [0]

    fall_behind_the_trimmed_log(writer, rng)
    follower.sync_index()  # what the index-sync loop runs: sync, then record for /metrics

    assert follower.matcher.reloads == 1
    assert follower.matcher.seq == writer.banks.current_seq()
    assert scraped_reloads(api) == [1]
    assert scraped_reloads(api) == [1]  # a reload is counted once, however often it is recorded

    add(writer, rng)
    follower.sync_index()  # caught up: follows the log again
    assert scraped_reloads(api) == [1]

    fall_behind_the_trimmed_log(writer, rng)
    follower.sync_index()
    assert scraped_reloads(api) == [2]


def test_the_help_text_tells_an_operator_what_a_reload_means(api: ApiHarness) -> None:
    text = api.client.get("/metrics", headers=api.headers(Role.AUDITOR)).text
    (help_line,) = [line for line in text.splitlines() if line.startswith(f"# HELP {RELOADS} ")]
    assert "bank_change_retention_hours" in help_line
