"""The one application object: settings, database, bank store and match indexes.

`tutela serve`, `tutela worker`, `tutela scan` and the tests all build a `Tutela` the same way, so every entry
point runs the same code path against the same state.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from functools import cached_property

from tutela.auth.keys import KeyStore
from tutela.banks.changes import Change
from tutela.banks.store import BankStore
from tutela.db.change_probe import ChangeProbe
from tutela.db.engine import create_engine
from tutela.db.migrate import upgrade
from tutela.db.session import Database
from tutela.effects.deliverer import WebhookDeliverer
from tutela.matcher import Matcher
from tutela.ops.background import Background
from tutela.ops.blas import pin_blas_threads
from tutela.ops.metrics import Metrics
from tutela.pipeline.runtime import PipelineRuntime
from tutela.policy.catalog import PolicyCatalog
from tutela.services.facts import ServiceFactsCache
from tutela.services.store import ServiceStore
from tutela.settings import Settings


class Tutela:
    """Everything a command needs; build with `Tutela.open(settings)`."""

    def __init__(self, settings: Settings, database: Database) -> None:
        pin_blas_threads()
        self.settings = settings
        self.database = database
        self.banks = BankStore(database, settings)
        self.services = ServiceStore(database)
        self.service_facts = ServiceFactsCache(database, settings.index_sync_seconds)
        self.services.subscribe(self.service_facts.clear)
        self.keys = KeyStore(database, settings.key_cache_seconds)
        self.metrics = Metrics()
        self._background = Background()
        self.matcher = Matcher(
            database,
            low_quality_threshold=settings.pdq_low_quality_threshold,
            min_quality=settings.pdq_min_quality,
            threads=settings.index_threads or max(1, len(os.sched_getaffinity(0)) // settings.serve_workers),
            chunk_tables=settings.index_chunk_tables,
        )

    @classmethod
    def open(cls, settings: Settings, *, load_indexes: bool = True) -> Tutela:
        """Migrate the database to the current schema, then load the indexes (skip for bank-only commands)."""
        engine = create_engine(settings)
        upgrade(engine)
        app = cls(settings, Database(engine, sync_commits=settings.sqlite_sync_commits))
        if load_indexes:
            app.matcher.load()
            app.banks.subscribe(app.on_bank_changes)
        return app

    def on_bank_changes(self, changes: Sequence[Change]) -> None:
        """Apply this process's own bank changes to the index at once (other processes' via the sync loop);
        a renamed or deleted bank changes the services' lists of disabled banks too."""
        self.matcher.sync()
        self.service_facts.clear()

    def sync_index(self) -> None:
        """Apply other processes' bank changes to the index, and record its state for /metrics. Called by
        the index-sync loop only: when nothing at all was committed since its last look, no query runs."""
        started = time.monotonic()
        if self._index_probe.changed():
            try:
                self.matcher.sync(via=self._index_probe)
            except Exception:
                self._index_probe.invalidate()
                raise
        else:
            self.matcher.confirm_current(started)
        self.metrics.record_index(self)

    @cached_property
    def _index_probe(self) -> ChangeProbe:
        return self.database.change_probe()

    @cached_property
    def policies(self) -> PolicyCatalog:
        """The policies the pipeline evaluates: `policy_file` (or the built-in pack) for every service, and
        `service_policy_files` for the services that have their own; all validated before any item runs."""
        return PolicyCatalog.from_files(self.settings.policy_file, self.settings.service_policy_files)

    @cached_property
    def pipeline(self) -> PipelineRuntime:
        """Submit and wait for items; its worker runs here only when `run_workers` is set (embedded)."""
        return PipelineRuntime(self, self.policies, start_worker=self.settings.run_workers)

    def use_pipeline(self, runtime: PipelineRuntime) -> None:
        """Replace the default pipeline runtime (`tutela worker` chooses decoder count and lanes)."""
        self.__dict__["pipeline"] = runtime

    def start_background(self, *, workers: bool | None = None) -> None:
        """Start in-process loops: index sync always; the pipeline worker and webhook delivery when `workers`
        (default: the `run_workers` setting). Deliverers lease their rows, so any number may run at once."""
        self._background.every(self.settings.index_sync_seconds, "index-sync", self.sync_index)
        if self.settings.run_workers if workers is None else workers:
            deliverer = WebhookDeliverer(self.database, self.settings)
            wakeup = self.pipeline.notifier.deliveries_due  # verdicts stored here are delivered at once
            self._background.thread(
                "webhooks",
                lambda stop: deliverer.run(stop, self.settings.webhook_poll_seconds, wakeup),
                wakeup=wakeup,
            )
            self._background.on_stop(deliverer.close)
        self._background.start()
        self.pipeline.start()

    def stop_background(self) -> None:
        if "pipeline" in self.__dict__:
            self.pipeline.stop()
        self._background.stop()

    def close(self) -> None:
        self.stop_background()
        self.database.engine.dispose()
