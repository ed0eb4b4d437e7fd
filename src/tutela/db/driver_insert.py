"""Single-row INSERTs on the hot write paths, run on the driver's cursor inside SQLAlchemy's transaction.

Why: SQLAlchemy Core's `Connection.execute` costs ~90 us of CPU per statement even for a prebuilt INSERT
(execution context, parameter compilation, result set-up), against ~10 us for SQLite to run it (measured
on an `items` row). A waited item writes four rows, so that was ~0.35 ms of the ~11 ms of CPU an item
costs. Here the statement is compiled once per dialect and set of columns, values go through each column's
own bind processor (the one SQLAlchemy would apply: UTC timestamps, JSON, booleans), and the driver's
cursor runs it in the caller's transaction, so what lands in the row is what `execute` would have written
(tests/test_db_driver_insert.py compares both).

Columns with a Python-side default must be given: SQLAlchemy fills those in `execute`, and doing it here
would copy its rules. Server-side defaults and the primary key are left to the database.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Connection, Table, bindparam, insert
from sqlalchemy.engine import Dialect

from tutela.db.base import Base

Processor = Callable[[Any], Any] | None


class _Compiled:
    """One (dialect, columns) variant: the SQL text, parameter order or names, and bind processors."""

    def __init__(self, table: Table, keys: tuple[str, ...], dialect: Dialect) -> None:
        missing = [
            column.key
            for column in table.columns
            if column.default is not None and column.key not in keys and not column.primary_key
        ]
        if missing:
            raise ValueError(
                f"insert into {table.name} must give {', '.join(missing)} (Python-side defaults)"
            )
        statement = insert(table).values({key: bindparam(key, type_=table.c[key].type) for key in keys})
        # SQLite's cursor has the new row's id (RETURNING costs ~13 us more there); others return it.
        self.returning = dialect.name != "sqlite"
        if self.returning:
            statement = statement.returning(*table.primary_key.columns)
        compiled = statement.compile(dialect=dialect)
        self.sql = compiled.string
        self.positional = bool(compiled.positional)
        names = list(compiled.positiontup or ()) if self.positional else list(keys)
        if sorted(names) != sorted(keys):
            raise ValueError(f"unexpected parameters {names} for columns {keys}")
        self.names = tuple(names)
        self.processors: tuple[Processor, ...] = tuple(
            table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in self.names
        )

    def parameters(self, values: Mapping[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        converted = [
            value if process is None else process(value)
            for value, process in zip((values[name] for name in self.names), self.processors, strict=True)
        ]
        return tuple(converted) if self.positional else dict(zip(self.names, converted, strict=True))


class DriverInsert:
    """`insert(model)` for one row at a time; returns the new row's primary key."""

    def __init__(self, model: type[Base]) -> None:
        table = model.__table__
        if not isinstance(table, Table):
            raise TypeError(f"{model.__name__} is not mapped to a table")
        self.table = table
        self._variants: dict[tuple[str, tuple[str, ...]], _Compiled] = {}

    def __call__(self, connection: Connection, values: Mapping[str, Any]) -> int:
        """Insert `values` (column key -> Python value) in `connection`'s transaction."""
        dialect = connection.dialect
        keys = tuple(values)
        variant = self._variants.get((dialect.name, keys))
        if variant is None:
            variant = self._variants[(dialect.name, keys)] = _Compiled(self.table, keys, dialect)
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(variant.sql, variant.parameters(values))
            row = cursor.fetchone() if variant.returning else (cursor.lastrowid,)
        finally:
            cursor.close()
        if row is None or row[0] is None:  # every backend Tutela supports returns the new key
            raise RuntimeError(f"the database returned no id for the new {self.table.name} row")
        return int(row[0])
