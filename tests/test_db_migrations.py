"""Migrations shipped in the package build the schema the models describe."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

import tutela.db.models  # noqa: F401  (registers every table)
from tutela.db import Base, create_engine, current_revision, head_revision, upgrade
from tutela.settings import Settings


def test_upgrade_reaches_head_and_is_idempotent(tmp_path: Path) -> None:
    engine = create_engine(Settings(data_dir=tmp_path))
    assert current_revision(engine) is None
    upgrade(engine)
    upgrade(engine)
    assert current_revision(engine) == head_revision() is not None
    tables = set(inspect(engine).get_table_names())
    assert {"banks", "bank_entries", "bank_changes", "bank_change_counter", "bank_import_staging"} <= tables


def test_migrations_match_models(tmp_path: Path) -> None:
    """Fails when a model changes without a migration (or the migration drifts from the model)."""
    engine = create_engine(Settings(data_dir=tmp_path))
    upgrade(engine)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_constraint_names_follow_the_convention(tmp_path: Path) -> None:
    """Batch mode finds constraints by name; unnamed ones would make later SQLite migrations fail."""
    engine = create_engine(Settings(data_dir=tmp_path))
    upgrade(engine)
    inspector = inspect(engine)
    unique = inspector.get_unique_constraints("bank_entries")
    foreign = inspector.get_foreign_keys("bank_entries")
    assert [c["name"] for c in unique] == ["uq_bank_entries_bank_id_signal_type_value"]
    assert [f["name"] for f in foreign] == ["fk_bank_entries_bank_id_banks"]
