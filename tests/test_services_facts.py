"""The cached service facts the inline pipeline reads: fresh within their age, cleared by local changes."""

from __future__ import annotations

from pathlib import Path

from tutela.app import Tutela
from tutela.banks import BankCategory
from tutela.services.facts import ServiceFacts, ServiceFactsCache
from tutela.settings import Settings


def test_facts_follow_changes_from_this_and_other_processes(tmp_path: Path) -> None:
    app = Tutela.open(Settings(data_dir=tmp_path), load_indexes=False)
    other = Tutela.open(Settings(data_dir=tmp_path), load_indexes=False)  # as another process would
    service = app.services.create("platform")
    app.banks.create_bank("hashes", BankCategory.CSAM)
    cache = ServiceFactsCache(app.database, max_age_seconds=3600)
    app.services.subscribe(cache.clear)
    assert cache.get(service.id) == ServiceFacts("platform", frozenset())

    app.services.set_bank_enabled(service.id, "hashes", False)  # this process: cleared at once
    assert cache.get(service.id) == ServiceFacts("platform", frozenset({"hashes"}))

    other.services.set_bank_enabled(service.id, "hashes", True)  # another process: kept until max age
    assert cache.get(service.id) == ServiceFacts("platform", frozenset({"hashes"}))
    fresh = ServiceFactsCache(app.database, max_age_seconds=0)
    assert fresh.get(service.id) == ServiceFacts("platform", frozenset())


def test_an_unknown_service_is_not_cached(tmp_path: Path) -> None:
    app = Tutela.open(Settings(data_dir=tmp_path), load_indexes=False)
    cache = ServiceFactsCache(app.database, max_age_seconds=3600)
    assert cache.get(1) is None
    created = app.services.create("late")  # as another process would, without clearing this cache
    assert cache.get(created.id) == ServiceFacts("late", frozenset())
