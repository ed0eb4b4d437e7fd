"""Statements on the hot write path, run on the driver's cursor inside SQLAlchemy's transaction.

Why: SQLAlchemy Core's `Connection.execute` costs ~70-90 us of CPU per statement even when prebuilt
(execution context, parameter compilation, result set-up), against ~10 us for SQLite to run a one-row
INSERT or an indexed lookup (measured on an `items` row). A waited item runs six statements, so that was
~0.5 ms of the ~11 ms of CPU an item costs. Here a statement is compiled once per dialect (and, for
inserts, per set of columns), parameters go through each bind's own type processor (the one SQLAlchemy
would apply: UTC timestamps, JSON, booleans), and the driver's cursor runs it in the caller's transaction,
so what lands in a row is what `execute` would have written (tests/test_db_driver.py compares both).

- `DriverInsert`: columns with a Python-side default must be given (SQLAlchemy fills those in `execute`,
  and doing it here would copy its rules); server-side defaults and the primary key are the database's.
- `DriverQuery`: rows come back as the driver returns them, without result processing, so only for
  result columns whose stored value is their Python value (integers, text).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Select, Table, bindparam, insert
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.expression import Insert

from tutela.db.base import Base

Processor = Callable[[Any], Any] | None


class _Compiled:
    """A statement compiled for one dialect: the SQL text, parameter order or names, bind processors."""

    def __init__(self, statement: Insert | Select[*tuple[Any, ...]], dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        self.sql = compiled.string
        self.positional = bool(compiled.positional)
        self.names = tuple(compiled.positiontup or ()) if self.positional else tuple(compiled.binds)
        binds = compiled.binds
        expanding = [name for name in self.names if binds[name].expanding]
        if expanding:
            raise ValueError(f"expanding parameters are not supported: {expanding}")
        self.processors: tuple[Processor, ...] = tuple(
            binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in self.names
        )
        self.literals = {
            name: binds[name].effective_value
            for name in self.names
            if not binds[name].required and binds[name].callable is None
        }
        """Values the statement carries itself (a comparison with a constant); `values` may override them."""

    def parameters(self, values: Mapping[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        given = {**self.literals, **values} if self.literals else values
        converted = [
            value if process is None else process(value)
            for value, process in zip((given[name] for name in self.names), self.processors, strict=True)
        ]
        return tuple(converted) if self.positional else dict(zip(self.names, converted, strict=True))

    def run(self, connection: Connection, values: Mapping[str, Any]) -> Any:
        """A cursor that ran the statement with `values`; the caller reads and closes it."""
        return self.run_on(connection.connection.driver_connection, values)

    def run_on(self, driver_connection: Any, values: Mapping[str, Any]) -> Any:
        """`run` on a DB-API connection of the dialect this was compiled for."""
        cursor = driver_connection.cursor()
        try:
            cursor.execute(self.sql, self.parameters(values))
        except BaseException:
            cursor.close()
            raise
        return cursor


class DriverInsert:
    """`insert(model)` for one row at a time; returns the new row's primary key.

    The key comes from RETURNING on every dialect but SQLite, whose cursor's `lastrowid` costs ~13 us less;
    `returning=True` asks for RETURNING everywhere (SQLite has it since 3.35), which lets the tests run the
    path PostgreSQL takes."""

    def __init__(self, model: type[Base], *, returning: bool | None = None) -> None:
        table = model.__table__
        if not isinstance(table, Table):
            raise TypeError(f"{model.__name__} is not mapped to a table")
        self.table = table
        self.returning = returning
        self._variants: dict[tuple[str, tuple[str, ...]], tuple[_Compiled, bool]] = {}

    def __call__(self, connection: Connection, values: Mapping[str, Any]) -> int:
        """Insert `values` (column key -> Python value) in `connection`'s transaction."""
        dialect = connection.dialect
        keys = tuple(values)
        variant = self._variants.get((dialect.name, keys))
        if variant is None:
            variant = self._variants[(dialect.name, keys)] = self._compile(keys, dialect)
        compiled, returning = variant
        cursor = compiled.run(connection, values)
        try:
            row = cursor.fetchone() if returning else (cursor.lastrowid,)
        finally:
            cursor.close()
        if row is None or row[0] is None:  # every backend Tutela supports returns the new key
            raise RuntimeError(f"the database returned no id for the new {self.table.name} row")
        return int(row[0])

    def _compile(self, keys: Sequence[str], dialect: Dialect) -> tuple[_Compiled, bool]:
        table = self.table
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
        returning = self.returning if self.returning is not None else dialect.name != "sqlite"
        if returning:
            statement = statement.returning(*table.primary_key.columns)
        return _Compiled(statement, dialect), returning


class DriverQuery:
    """A Core SELECT whose rows are plain values (integers, text); see the module docstring."""

    def __init__(self, statement: Select[*tuple[Any, ...]]) -> None:
        self.statement = statement
        self._compiled: dict[str, _Compiled] = {}

    def rows(self, connection: Connection, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Every row, as the driver returns it, in `connection`'s transaction."""
        return self.rows_on(connection.connection.driver_connection, connection.dialect, values)

    def rows_on(
        self, driver_connection: Any, dialect: Dialect, values: Mapping[str, Any]
    ) -> list[tuple[Any, ...]]:
        """`rows` on a bare DB-API connection of `dialect` (a poller's own, `ChangeProbe.rows`)."""
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            compiled = self._compiled[dialect.name] = _Compiled(self.statement, dialect)
        cursor = compiled.run_on(driver_connection, values)
        try:
            return [tuple(row) for row in cursor.fetchall()]
        finally:
            cursor.close()
