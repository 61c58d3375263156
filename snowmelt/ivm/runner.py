"""Runs the statements of one incremental refresh — or only records them, for EXPLAIN.

Rules never call the engine directly: they ask a ``Runner`` to create scratch tables, read a
number, or execute a write. A dry runner (``execute=False``) records the SQL it would send
and answers every question with a value that takes the most complete branch, so EXPLAIN
shows every statement a refresh can run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlglot import exp

from snowmelt.names import drop_if_exists, quoted
from snowmelt.storage import StorageInvariantError


class IncrementalInvariantError(StorageInvariantError):
    """An incremental refresh found state it cannot explain; the refresh fails (no write)."""

    code = "INCREMENTAL_INVARIANT"


class Runner:
    def __init__(self, engine: Any, prefix: str, execute: bool = True):
        self.engine = engine
        self.prefix = prefix
        self.execute_statements = execute
        self.statements: list[tuple[str, str]] = []
        self._temps: list[str] = []

    def render(self, statement: exp.Expression | str) -> str:
        return statement if isinstance(statement, str) else self.engine.render(statement)

    def _record(self, label: str, statement: exp.Expression | str) -> str:
        sql = self.render(statement)
        self.statements.append((label, sql))
        return sql

    def execute(self, label: str, statement: exp.Expression) -> int:
        """Run a write; returns the engine's row count (0 when dry)."""
        sql = self._record(label, statement)
        if not self.execute_statements:
            return 0
        rows = self.engine.rows(sql)
        return int(rows[0][0]) if rows and rows[0] and rows[0][0] is not None else 0

    def temp(self, label: str, name: str, query: exp.Expression) -> exp.Table:
        """Materialize ``query`` into a scratch table for the rest of this refresh."""
        table = exp.Table(this=quoted(f"{self.prefix}{name}"))
        create = exp.Create(kind="TABLE", this=table.copy(), expression=query, replace=True,
                            properties=exp.Properties(expressions=[exp.TemporaryProperty()]))
        sql = self._record(label, create)
        if self.execute_statements:
            self.engine.execute(sql)
        self._temps.append(table.name)
        return table

    def value(self, label: str, query: exp.Expression, dry: Any = 1) -> Any:
        """The first column of the first row of ``query`` (``dry`` when not executing)."""
        sql = self._record(label, query)
        if not self.execute_statements:
            return dry
        rows = self.engine.rows(sql)
        return rows[0][0] if rows else None

    def rows(self, label: str, query: exp.Expression,
             dry: Sequence[tuple[Any, ...]] = ()) -> list[tuple[Any, ...]]:
        sql = self._record(label, query)
        if not self.execute_statements:
            return list(dry)
        return list(self.engine.rows(sql))

    def check(self, label: str, query: exp.Expression, message: str) -> None:
        """``query`` counts violations of an invariant; any violation fails the refresh."""
        found = self.value(label, query, dry=0)
        if found:
            raise IncrementalInvariantError(f"{message} ({found} rows); the refresh is "
                                            "abandoned and the table keeps its last version. "
                                            "This is a snowmelt bug: please report it.")

    def cleanup(self) -> None:
        if not self.execute_statements:
            return
        for name in self._temps:
            self.engine.execute(drop_if_exists("TABLE", exp.Table(this=quoted(name))))
        self._temps.clear()
