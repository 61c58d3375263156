"""The embedded DuckDB engine: one file (or memory) holding data and metadata.

One process owns a DuckDB file for writing. Within the process every call goes through one
re-entrant lock, so statements from several threads (scheduler, HTTP handlers) never
interleave inside a transaction; ``transaction()`` holds the lock for its whole extent.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import duckdb
import pyarrow as pa
from sqlglot import exp

from snowmelt.engines.base import Engine
from snowmelt.errors import DatabaseFileError, DatabaseLockedError, SnowmeltError

_LOCK_HOLDER = re.compile(r"\(PID (\d+)\)")


class EngineError(SnowmeltError):
    """The engine rejected a statement; ``sql`` is what was sent."""

    def __init__(self, message: str, sql: str):
        self.sql = sql
        super().__init__(message)


class DuckDBEngine(Engine):
    DIALECT = "duckdb"
    SUPPORTS_MERGE = True

    def __init__(self, path: str | None = None):
        self.path = path
        try:
            self._con = duckdb.connect(path or ":memory:")
        except duckdb.IOException as err:
            text = str(err)
            if "lock" in text.lower():
                match = _LOCK_HOLDER.search(text)
                holder = f"process {match.group(1)}" if match else "another process"
                raise DatabaseLockedError(
                    f"Database file {path!r} is locked by {holder}. Stop that process, or "
                    "talk to it: if it is `snowmelt serve`, the CLI and Python API use it "
                    "automatically.",
                    path=str(path),
                    holder=holder,
                ) from None
            reason = text.removeprefix("IO Error: ")
            raise DatabaseFileError(
                f"Cannot open database file {path!r}: {reason}", path=str(path)
            ) from None
        self._con.execute("SET TimeZone = 'UTC'")
        # A refresh service mixes large statements (full refreshes, bulk loads) with many
        # small ones (incremental refreshes): return freed memory to the OS from background
        # threads, not inline at the end of the next statements (measured: a small refresh
        # right after a 2 GB full one took 35 ms instead of 24).
        self._con.execute("SET allocator_background_threads = true")
        self.lock = threading.RLock()
        self._depth = 0
        self.on_rollback: list[Callable[[], None]] = []  # e.g. the catalog drops its memo

    # -- statements -----------------------------------------------------------------
    def _sql(self, statement: exp.Expression | str) -> str:
        return statement if isinstance(statement, str) else self.render(statement)

    def _run(self, statement: exp.Expression | str, params: Sequence[Any] | None):
        sql = self._sql(statement)
        try:
            return self._con.execute(sql, params) if params else self._con.execute(sql)
        except duckdb.Error as err:
            raise EngineError(_clean(str(err)), sql) from None

    def execute(self, statement: exp.Expression | str, params: Sequence[Any] | None = None) -> None:
        with self.lock:
            self._run(statement, params)

    def query(
        self, statement: exp.Expression | str, params: Sequence[Any] | None = None
    ) -> pa.Table:
        sql = self._sql(statement)
        with self.lock:
            try:
                relation = self._con.sql(sql, params=list(params) if params else None)
                if relation is None:
                    return pa.table({})
                return _narrow_hugeints(relation.to_arrow_table())
            except duckdb.Error as err:
                raise EngineError(_clean(str(err)), sql) from None

    def rows(
        self, statement: exp.Expression | str, params: Sequence[Any] | None = None
    ) -> list[tuple[Any, ...]]:
        with self.lock:
            result = self._run(statement, params)
            return result.fetchall() if result.description else []

    def iter_batches(self, statement: exp.Expression | str) -> Iterator[pa.RecordBatch]:
        yield from self.query(statement).to_batches()

    def columns_of(self, statement: exp.Expression | str) -> list[tuple[str, str]]:
        """Names and DuckDB types of a query's result, without running it."""
        with self.lock:
            result = self._run(f"DESCRIBE {self._sql(statement)}", None)
            return [(row[0], row[1]) for row in result.fetchall()]

    def sequence_in_use(self, schema: str, name: str) -> bool:
        rows = self.rows(
            "SELECT count(*) FROM duckdb_columns() WHERE contains(column_default, ?)",
            [f'"{schema}"."{name}"'],
        )
        return bool(rows[0][0])

    def sequence_state(self, schema: str, name: str) -> tuple[int, int, int | None]:
        rows = self.rows(
            "SELECT start_value, increment_by, last_value FROM duckdb_sequences() "
            "WHERE schema_name = ? AND sequence_name = ?",
            [schema, name],
        )
        start, increment, last = rows[0]
        return int(start), int(increment), None if last is None else int(last)

    # -- transactions ---------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic unit. Nested uses join the outer transaction."""
        with self.lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            self._con.execute("BEGIN TRANSACTION")
            self._depth = 1
            try:
                yield
            except BaseException:
                self._depth = 0
                self._con.execute("ROLLBACK")
                for hook in self.on_rollback:
                    hook()
                raise
            self._depth = 0
            try:
                self._con.execute("COMMIT")
            except duckdb.Error as err:
                raise EngineError(_clean(str(err)), "COMMIT") from None

    @property
    def in_transaction(self) -> bool:
        return self._depth > 0

    @contextmanager
    def register(self, name: str, table: Any) -> Iterator[None]:
        """Expose an Arrow table (or DataFrame) to SQL under ``name`` for the duration."""
        with self.lock:
            self._con.register(name, table)
            try:
                yield
            finally:
                self._con.unregister(name)

    def checkpoint(self) -> None:
        with self.lock:
            self._con.execute("CHECKPOINT")

    def close(self) -> None:
        with self.lock:
            self._con.close()


def _narrow_hugeints(table: pa.Table) -> pa.Table:
    """DuckDB hands HUGEINT (e.g. SUM of integers, COUNT_IF) to Arrow as decimal(38, 0).
    Snowflake returns such integers as integers: narrow them to int64 when they fit."""
    target = pa.decimal128(38, 0)
    for index, field in enumerate(table.schema):
        if field.type == target:
            try:
                column = table.column(index).cast(pa.int64(), safe=True)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                continue
            table = table.set_column(index, field.with_type(pa.int64()), column)
    return table


def _clean(message: str) -> str:
    """DuckDB errors start with a type prefix and may carry a LINE marker: keep the gist."""
    first = message.strip().splitlines()
    return " ".join(
        line
        for line in first
        if not line.startswith("LINE ") and line.strip() and not set(line.strip()) <= {"^"}
    )
