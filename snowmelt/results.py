"""Statement results kept for reading again: ``RESULT_SCAN``, ``LAST_QUERY_ID`` and the pipe
operator ``->>``.

Every statement a session runs gets a query id (``Result.query_id``, a UUID like
Snowflake's) and its result is kept here, so a later query can read it as a table — the usual
way to filter or join the output of ``SHOW`` and ``DESCRIBE`` (their column names are lower
case, so they are read as ``"name"``):

    SHOW DYNAMIC TABLES;
    SELECT "name", "refresh_mode" FROM TABLE(RESULT_SCAN(LAST_QUERY_ID())) WHERE ...;

    SHOW DYNAMIC TABLES ->> SELECT "name" FROM $1 WHERE "scheduling_state" = 'SUSPENDED';

``LAST_QUERY_ID()`` (= ``LAST_QUERY_ID(-1)``) is the id of the statement before the current
one, ``LAST_QUERY_ID(-2)`` the one before it, ``LAST_QUERY_ID(1)`` the session's first, and
NULL past either end. ``RESULT_SCAN`` takes a query id, such an index, or nothing (-1). In a
chain ``a ->> b ->> c``, ``$1`` in a FROM clause is the result of the statement just before,
``$2`` the one before that, whatever else runs meanwhile; only the chain's last result is
shown.

Snowflake keeps results for 24 hours across sessions; snowmelt keeps them in memory for the
life of the session (the server: of one request, for ``LAST_QUERY_ID``; by id, across requests),
the latest 100 and at most 256 MB of them — the most recent is always kept.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict

import pyarrow as pa
from sqlglot import exp

from snowmelt.errors import SqlError
from snowmelt.sql.resolve import position

KEEP = 100
KEEP_BYTES = 256 * 1024 * 1024


class ResultLog:
    """Results by query id (bounded, shared), and the order a session ran its statements in."""

    def __init__(self, keep: int = KEEP, keep_bytes: int = KEEP_BYTES):
        self.keep, self.keep_bytes = keep, keep_bytes
        self._tables: OrderedDict[str, pa.Table] = OrderedDict()
        self.ids: list[str] = []  # this session's statements, in order
        self.chain: list[pa.Table] = []  # the results of the ->> chain being run

    def record(self, table: pa.Table) -> str:
        query_id = str(uuid.uuid4())
        self._tables[query_id] = table
        self.ids.append(query_id)
        del self.ids[: -self.keep]
        size = sum(t.nbytes for t in self._tables.values())
        while len(self._tables) > 1 and (len(self._tables) > self.keep or size > self.keep_bytes):
            _, dropped = self._tables.popitem(last=False)
            size -= dropped.nbytes
        return query_id

    def for_request(self, ids: list[str]) -> ResultLog:
        """A log that shares these results but orders statements as ``ids`` (a server request
        continuing its client's session)."""
        log = ResultLog(self.keep, self.keep_bytes)
        log._tables = self._tables
        log.ids = [i for i in ids if isinstance(i, str)][-self.keep :]
        return log

    def last_id(self, index: int = -1) -> str | None:
        """LAST_QUERY_ID(index): negative counts back from the latest, positive from the first."""
        if index < 0 and -index <= len(self.ids):
            return self.ids[index]
        if index > 0 and index <= len(self.ids):
            return self.ids[index - 1]
        return None

    def table(self, query_id: str | None, node: exp.Expression) -> pa.Table:
        if query_id is None:
            raise SqlError(
                "RESULT_SCAN: no such statement earlier in this session", *position(node)
            )
        found = self._tables.get(query_id)
        if found is None:
            raise SqlError(
                f"Statement {query_id} not found (snowmelt keeps the results of this session's "
                f"latest {self.keep} statements)",
                *position(node),
            )
        return found


def _index(node: exp.Expression) -> int | None:
    """An integer literal, possibly negated."""
    if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal) and node.this.is_int:
        return -int(node.this.name)
    if isinstance(node, exp.Literal) and node.is_int:
        return int(node.name)
    return None


def _is_last_query_id(node: exp.Expression) -> bool:
    return isinstance(node, exp.Anonymous) and node.name.upper() == "LAST_QUERY_ID"


def _last_query_id(log: ResultLog, call: exp.Anonymous) -> str | None:
    args = call.expressions
    index = -1 if not args else _index(args[0])
    if len(args) > 1 or index is None:
        raise SqlError(
            "LAST_QUERY_ID takes an integer: -1 (the default) for the latest statement, "
            "-2 for the one before, 1 for the session's first",
            *position(call),
        )
    return log.last_id(index)


def bind_last_query_id(log: ResultLog, expression: exp.Expression) -> exp.Expression:
    """``LAST_QUERY_ID([n])`` anywhere in a query: the id, a string (NULL past the ends)."""

    def fn(node: exp.Expression) -> exp.Expression:
        if not _is_last_query_id(node):
            return node
        found = _last_query_id(log, node)  # type: ignore[arg-type]
        return exp.Literal.string(found) if found is not None else exp.Null()

    return expression.transform(fn, copy=False)


def scanned(log: ResultLog, call: exp.Expression) -> pa.Table:
    """The rows ``RESULT_SCAN(<arg>)`` names."""
    args = call.expressions if isinstance(call, exp.Anonymous) else []
    if not args:
        return log.table(log.last_id(-1), call)
    if len(args) > 1:
        raise SqlError("RESULT_SCAN takes one argument: a query id or index", *position(call))
    arg = args[0]
    index = _index(arg)
    if index is not None:
        return log.table(log.last_id(index), call)
    if _is_last_query_id(arg):
        return log.table(_last_query_id(log, arg), call)
    if isinstance(arg, exp.Literal) and arg.is_string:
        return log.table(arg.name, call)
    if isinstance(arg, exp.Null):
        return log.table(None, call)
    raise SqlError(
        f"RESULT_SCAN({arg.sql('snowflake')}): give a query id (a string), an index or "
        "LAST_QUERY_ID()",
        *position(call),
    )


def piped_references(expression: exp.Expression) -> list[tuple[exp.Table, int]]:
    """The ``$n`` of FROM clauses (a table named by a positional parameter)."""
    found = []
    for table in expression.find_all(exp.Table):
        name = table.this
        literal = name.this if isinstance(name, exp.Parameter) else None
        if isinstance(literal, exp.Literal) and literal.is_int:
            found.append((table, int(literal.name)))
    return found


def piped(log: ResultLog, table: exp.Table, number: int) -> pa.Table:
    """The result ``$number`` names in a ``->>`` chain."""
    if not log.chain:
        raise SqlError(
            f"${number} in a FROM clause reads the result of an earlier statement of a "
            "->> chain (SHOW TABLES ->> SELECT * FROM $1); this statement is not in one",
            *position(table),
        )
    if not 1 <= number <= len(log.chain):
        raise SqlError(
            f"${number}: the chain has {len(log.chain)} statement"
            f"{'s' if len(log.chain) != 1 else ''} before this one",
            *position(table),
        )
    return log.chain[-number]
