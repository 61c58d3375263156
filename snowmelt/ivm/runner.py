"""Runs the statements of one incremental refresh — or only records them, for EXPLAIN.

Rules never call the engine directly: they ask a ``Runner`` to create scratch tables, read a
number, or execute a write. A dry runner (``execute=False``) records the SQL it would send
and answers every question with a value that takes the most complete branch, so EXPLAIN
shows every statement a refresh can run.

A statement may be given as a builder plus a ``key``: a refresh of the same plan then reuses
the SQL rendered the first time. The per-refresh values — the versions a source's change
spans, the commit version — are named parameters (``$v``, ``$a0``, ...) taken from
``params``, so a small refresh spends its time in the engine, not in building and rendering
trees.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlglot import exp

from snowmelt.names import drop_if_exists, quoted
from snowmelt.storage import StorageInvariantError

Statement = exp.Expr | Callable[[], exp.Expr]


def built(statement: Statement) -> exp.Expr:
    """The expression of ``statement``: built now when it is a builder, else a copy."""
    return statement() if callable(statement) else statement.copy()


class IncrementalInvariantError(StorageInvariantError):
    """An incremental refresh found state it cannot explain; the refresh fails (no write)."""

    code = "INCREMENTAL_INVARIANT"


INVARIANT = "snowmelt invariant"


def guard(violated: exp.Expr, message: str) -> exp.Expr:
    """A WHERE condition that holds, or fails its statement at the first row for which
    ``violated`` holds: an invariant checked by a statement the refresh runs anyway (one
    statement fewer than counting violations). The runner turns the engine's error into an
    ``IncrementalInvariantError``."""
    fail = exp.Anonymous(this="error", expressions=[exp.Literal.string(f"{INVARIANT}: {message}")])
    return exp.Case(ifs=[exp.If(this=violated, true=fail)], default=exp.true())


def _abandoned(message: str) -> str:
    return (
        f"{message}; the refresh is abandoned and the table keeps its last version. "
        "This is a snowmelt bug: please report it."
    )


class Runner:
    def __init__(
        self,
        engine: Any,
        prefix: str,
        memo: dict[str, tuple[str, tuple[str, ...]]] | None = None,
        execute: bool = True,
        params: dict[str, Any] | None = None,
    ):
        self.engine = engine
        self.prefix = prefix
        self.memo = memo if memo is not None else {}
        self.params = params or {}
        self.execute_statements = execute
        self.statements: list[tuple[str, str]] = []
        self._temps: list[str] = []

    def table(self, name: str) -> exp.Table:
        """A scratch table of this refresh."""
        return exp.Table(this=quoted(f"{self.prefix}{name}"))

    def sql(self, statement: Statement, key: str | None = None) -> tuple[str, tuple[str, ...]]:
        """Render ``statement`` (built lazily), reusing the SQL cached under ``key``; returns
        the SQL and the names of the parameters it reads."""
        if key is not None and key in self.memo:
            return self.memo[key]
        tree = built(statement)
        names = tuple(dict.fromkeys(str(p.name) for p in tree.find_all(exp.Placeholder)))
        rendered = (self.engine.render(tree), names)
        if key is not None:
            self.memo[key] = rendered
        return rendered

    def _record(
        self, label: str, rendered: tuple[str, tuple[str, ...]]
    ) -> tuple[str, dict[str, Any] | None]:
        sql, names = rendered
        self.statements.append((label, sql))
        return sql, ({n: self.params[n] for n in names} if names else None)

    def execute(self, label: str, statement: Statement, key: str | None = None) -> int:
        """Run a write; returns the engine's row count (0 when dry)."""
        sql, params = self._record(label, self.sql(statement, key))
        if not self.execute_statements:
            return 0
        rows = self._rows(sql, params)
        return int(rows[0][0]) if rows and rows[0] and rows[0][0] is not None else 0

    def temp(self, label: str, name: str, query: Statement, key: str | None = None) -> exp.Table:
        """Materialize ``query`` into the scratch table ``name`` for the rest of the refresh."""
        return self.temp_count(label, name, query, key)[0]

    def temp_count(
        self, label: str, name: str, query: Statement, key: str | None = None, dry: int = 1
    ) -> tuple[exp.Table, int]:
        """``temp``, and the number of rows it holds (the engine reports it for free)."""
        table = self.table(name)

        def create() -> exp.Expr:
            body = built(query)
            return exp.Create(
                kind="TABLE",
                this=table.copy(),
                expression=body,
                replace=True,
                properties=exp.Properties(expressions=[exp.TemporaryProperty()]),
            )

        sql, params = self._record(label, self.sql(create, key))
        count = dry
        if self.execute_statements:
            rows = self._rows(sql, params)
            count = int(rows[0][0]) if rows and rows[0] and rows[0][0] is not None else 0
        self._temps.append(table.name)
        return table, count

    def value(self, label: str, query: Statement, key: str | None = None, dry: Any = 1) -> Any:
        """The first column of the first row of ``query`` (``dry`` when not executing)."""
        sql, params = self._record(label, self.sql(query, key))
        if not self.execute_statements:
            return dry
        rows = self._rows(sql, params)
        return rows[0][0] if rows else None

    def rows(
        self,
        label: str,
        query: Statement,
        key: str | None = None,
        dry: Sequence[tuple[Any, ...]] = (),
    ) -> list[tuple[Any, ...]]:
        sql, params = self._record(label, self.sql(query, key))
        if not self.execute_statements:
            return list(dry)
        return list(self._rows(sql, params))

    def _rows(self, sql: str, params: dict[str, Any] | None) -> Any:
        try:
            return self.engine.rows(sql, params)
        except Exception as err:  # a ``guard`` that failed is an invariant, not an engine error
            text = str(err)
            if INVARIANT not in text:
                raise
            found = text.split(f"{INVARIANT}: ", 1)[1].strip()
            raise IncrementalInvariantError(_abandoned(found)) from err

    def check(self, label: str, query: Statement, message: str, key: str | None = None) -> None:
        """``query`` counts violations of an invariant; any violation fails the refresh."""
        found = self.value(label, query, key, dry=0)
        if found:
            raise IncrementalInvariantError(_abandoned(f"{message} ({found} rows)"))

    def cleanup(self) -> None:
        """Drop this refresh's scratch tables. A refresh does not call it: the next refresh
        of the same table replaces them (``CREATE OR REPLACE``), which saves a statement per
        scratch table; they hold at most one change and live only in this connection."""
        if not self.execute_statements:
            return
        for name in dict.fromkeys(self._temps):
            self.engine.execute(drop_if_exists("TABLE", exp.Table(this=quoted(name))))
        self._temps.clear()
