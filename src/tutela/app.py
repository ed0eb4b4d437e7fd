"""The one application object: settings, database, bank store and match indexes.

`tutela serve`, `tutela worker`, `tutela scan` and the tests all build a `Tutela` the same way, so every entry
point runs the same code path against the same state.
"""

from __future__ import annotations

from collections.abc import Sequence

from tutela.auth.keys import KeyStore
from tutela.banks.changes import Change
from tutela.banks.store import BankStore
from tutela.db.engine import create_engine
from tutela.db.migrate import upgrade
from tutela.db.session import Database
from tutela.matcher import Matcher
from tutela.ops.background import Background
from tutela.ops.metrics import Metrics
from tutela.services.store import ServiceStore
from tutela.settings import Settings


class Tutela:
    """Everything a command needs; build with `Tutela.open(settings)`."""

    def __init__(self, settings: Settings, database: Database) -> None:
        self.settings = settings
        self.database = database
        self.banks = BankStore(database, settings)
        self.services = ServiceStore(database)
        self.keys = KeyStore(database, settings.key_cache_seconds)
        self.metrics = Metrics()
        self._background = Background()
        self.matcher = Matcher(
            database,
            low_quality_threshold=settings.pdq_low_quality_threshold,
            min_quality=settings.pdq_min_quality,
        )

    @classmethod
    def open(cls, settings: Settings, *, load_indexes: bool = True) -> Tutela:
        """Migrate the database to the current schema, then load the indexes (skip for bank-only commands)."""
        engine = create_engine(settings)
        upgrade(engine)
        app = cls(settings, Database(engine))
        if load_indexes:
            app.matcher.load()
            app.banks.subscribe(app.on_bank_changes)
        return app

    def on_bank_changes(self, changes: Sequence[Change]) -> None:
        """Apply this process's own bank changes to the index at once (other processes' via the sync loop)."""
        self.matcher.sync()

    def start_background(self) -> None:
        """Start the in-process background loops: index sync (and, when present, workers and deliverers)."""
        self._background.every(self.settings.index_sync_seconds, "index-sync", self.matcher.sync)
        self._background.start()

    def stop_background(self) -> None:
        self._background.stop()

    def close(self) -> None:
        self.stop_background()
        self.database.engine.dispose()
