"""The one application object: settings, database, bank store and match indexes.

`tutela serve`, `tutela worker`, `tutela scan` and the tests all build a `Tutela` the same way, so every entry
point runs the same code path against the same state.
"""

from __future__ import annotations

from tutela.banks.store import BankStore
from tutela.db.engine import create_engine
from tutela.db.migrate import upgrade
from tutela.db.session import Database
from tutela.matcher import Matcher
from tutela.settings import Settings


class Tutela:
    """Everything a command needs; build with `Tutela.open(settings)`."""

    def __init__(self, settings: Settings, database: Database) -> None:
        self.settings = settings
        self.database = database
        self.banks = BankStore(database, settings)
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
        return app

    def close(self) -> None:
        self.database.engine.dispose()
