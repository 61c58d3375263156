"""The shared state of one open database: engine, catalog, store, clock and session context.

Statement handlers (``ddl``, ``dml``, ``query``, ``dynamic``, ``refresh``, ``monitoring``)
receive a ``Runtime``; it holds no logic of its own beyond small conveniences and the one
way every statement binds the tables it reads (``bind_for_read``: current data, or the
snapshot a time-travel clause names — so ``INSERT ... SELECT``, CTAS, ``UPDATE ... FROM``
and ``MERGE ... USING`` honour ``AT``/``BEFORE`` like a query).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlglot import exp

from snowmelt.catalog import Catalog, CatalogObject
from snowmelt.clock import Clock
from snowmelt.engines.base import Engine
from snowmelt.errors import SqlError, UnsupportedError
from snowmelt.names import quoted, sequence_table
from snowmelt.results import ResultLog
from snowmelt.sql.resolve import (
    BOUND,
    Context,
    Resolver,
    information_schema_references,
    position,
)
from snowmelt.sql.translate import to_duckdb
from snowmelt.storage import Store

_CONTEXT_FUNCTIONS = (
    exp.CurrentDatabase,
    exp.CurrentSchema,
    exp.CurrentWarehouse,
    exp.CurrentRole,
    exp.CurrentUser,
)
_EXPOSED = itertools.count()  # makes exposed relation names unique


def _user() -> str:
    """The name CURRENT_USER() returns: the operating-system user's, upper case."""
    import getpass

    try:
        return getpass.getuser().upper()
    except Exception:  # no user name in this environment (a bare container)
        return "SNOWMELT"


@dataclass
class Runtime:
    engine: Engine
    catalog: Catalog
    store: Store
    clock: Clock
    context: Context = field(default_factory=Context)
    notices: list[str] = field(default_factory=list)
    on_notice: Callable[[str], None] | None = None
    dialect: str = "snowflake"  # of the statement being run; DuckDB SQL is not translated
    # the SQL functions the statement being run calls (``functions.expand`` inlined them),
    # for a dynamic table to record: it fails once one of them is replaced or dropped
    functions_used: list[CatalogObject] = field(default_factory=list)
    # the statement being run is DML: the streams it reads are consumed when it commits
    consuming_streams: bool = False
    # the results of the statements run so far, for RESULT_SCAN, LAST_QUERY_ID and ->>
    results: ResultLog = field(default_factory=ResultLog)
    # set while a DML or CREATE TABLE AS statement runs: what it computes (a table function's
    # rows, a kept result) stays registered with the engine until the statement ends
    scope: ExitStack | None = None

    def notice(self, message: str) -> None:
        self.notices.append(message)
        if self.on_notice is not None:
            self.on_notice(message)

    @property
    def resolver(self) -> Resolver:
        return Resolver(self.catalog, self.context)

    def to_engine(self, expression: exp.Expression) -> exp.Expression:
        """Translate a bound Snowflake-dialect expression for the engine; the session's
        CURRENT_DATABASE(), CURRENT_SCHEMA(), CURRENT_WAREHOUSE(), CURRENT_ROLE() and
        CURRENT_USER() become its values (the engine's own would name DuckDB's), and a
        sequence's ``s.NEXTVAL`` the engine's ``nextval`` of it."""
        if self.dialect == "duckdb":
            return expression
        return to_duckdb(self._bind_sequences(self._bind_context(expression)))

    def _bind_sequences(self, expression: exp.Expression) -> exp.Expression:
        if not any(
            node.name.upper() == "NEXTVAL" and node.table
            for node in expression.find_all(exp.Column)
        ):
            return expression
        expression = expression.copy()
        for node in list(expression.find_all(exp.Column)):
            if node.name.upper() == "NEXTVAL" and node.table:
                call = self._next_value(node)
                if call is not None:
                    if node is expression:
                        return call
                    node.replace(call)
        return expression

    def _next_value(self, column: exp.Column) -> exp.Expression | None:
        """``s.NEXTVAL`` as the engine's call, when ``s`` names a sequence; else None (a
        column called NEXTVAL of a table ``s``)."""
        table = exp.Table(
            this=column.args["table"].copy(),
            db=column.args["db"].copy() if column.args.get("db") else None,
            catalog=column.args["catalog"].copy() if column.args.get("catalog") else None,
        )
        try:
            obj = self.catalog.find(self.resolver.object_name(table))
        except SqlError:
            return None
        if obj is None or obj.kind != "SEQUENCE":
            return None
        return exp.Anonymous(
            this="nextval", expressions=[exp.Literal.string(sequence_table(obj.oid))]
        )

    def _bind_context(self, expression: exp.Expression) -> exp.Expression:
        if expression.find(*_CONTEXT_FUNCTIONS) is None:
            return expression
        values = {
            exp.CurrentDatabase: self.context.database,
            exp.CurrentSchema: self.context.schema,
            exp.CurrentWarehouse: self.context.warehouse,
            exp.CurrentRole: self.context.role or "SYSADMIN",
            exp.CurrentUser: _user(),
        }
        expression = expression.copy()
        for node in list(expression.find_all(*_CONTEXT_FUNCTIONS)):
            value = values[type(node)]
            node.replace(
                exp.Literal.string(value) if value is not None else exp.cast(exp.null(), "VARCHAR")
            )
        return expression

    def expose(
        self, stack: ExitStack, name: str, rows: Any, node: exp.Expression, alias: str
    ) -> None:
        """Register ``rows`` (an Arrow table) as a relation named after ``name`` for the
        life of ``stack`` and put it in the place of ``node``, keeping its alias (else
        ``alias``). Names are made unique: one statement may expose several times."""
        name = f"{name}_{next(_EXPOSED)}"
        stack.enter_context(self.engine.register(name, rows))
        given = node.args.get("alias")
        replacement = exp.Table(
            this=quoted(name), alias=given.copy() if given else exp.TableAlias(this=quoted(alias))
        )
        replacement.meta[BOUND] = True
        node.replace(replacement)

    def bind_for_read(self, expression: exp.Expression) -> exp.Expression:
        """Point every table reference at its user-visible relation (current data), or,
        with ``AT(...)`` / ``BEFORE(...)``, at its snapshot as of that instant. In a
        statement that computes relations (``scope``: DML, CREATE TABLE AS), the monitoring
        table functions, INFORMATION_SCHEMA, RESULT_SCAN and a ->> chain's $n are computed
        first, as for a query."""
        if self.scope is not None:
            from snowmelt import query  # it builds on the runtime

            expression = query.expand_computed(self, expression, self.scope)

        def to_view(obj: CatalogObject, table: exp.Table) -> exp.Expression:
            when = table.args.get("when")
            if obj.kind == "STREAM":
                from snowmelt import streams  # streams read through the runtime

                if when is not None:
                    raise SqlError(
                        f"Time travel is not supported on a stream ('{obj.name}')",
                        *position(table),
                    )
                return streams.read(self, obj, table)
            if when is None:
                check_readable(self, obj)
                return obj.name.view_table()
            if not obj.tracked:
                raise SqlError(
                    f"Time travel needs a table; '{obj.name}' is a {obj.kind.lower()}",
                    *position(table),
                )
            return self.store.snapshot(obj.oid, obj.column_names, self.version_for(when))

        unread = information_schema_references(expression)
        if unread:  # computed by queries, views, DML and CTAS only (``scope``)
            raise SqlError(
                f"{unread[0].sql('snowflake')}: the INFORMATION_SCHEMA views are computed "
                "for queries, views, DML and CREATE TABLE AS (not in dynamic tables)",
                *position(unread[0]),
            )
        return self.resolver.bind(expression, to_view)

    def version_for(self, when: exp.HistoricalData) -> int:
        """The version an ``AT(TIMESTAMP => ...)``, ``AT(OFFSET => ...)`` or ``BEFORE(...)``
        clause names: the last committed at (or strictly before) that instant."""
        kind = (
            when.args.get("kind", "").upper()
            if isinstance(when.args.get("kind"), str)
            else when.text("kind").upper()
        )
        before = when.name.upper() == "BEFORE"
        value = when.args["expression"]
        if kind == "OFFSET":
            sql = f"SELECT CAST({self.to_engine(value).sql('duckdb')} AS DOUBLE)"
            seconds = self.engine.rows(sql)[0][0]
            instant: datetime = self.clock.now() + timedelta(seconds=float(seconds))
        elif kind == "TIMESTAMP":
            sql = f"SELECT CAST({self.to_engine(value).sql('duckdb')} AS TIMESTAMPTZ)"
            instant = self.engine.rows(sql)[0][0]
        else:
            raise UnsupportedError(
                f"{when.name}({kind})",
                f"Time travel by {kind} is not supported; use TIMESTAMP => or OFFSET =>",
                *position(value),
            )
        first = self.catalog.first_version_time()
        if first is None or instant < first:
            raise SqlError(
                f"Time travel data is not available for {instant.isoformat()}: it is "
                "before the table's history starts",
                *position(value),
            )
        return self.catalog.version_at(instant, strictly_before=before)


def check_readable(rt: Runtime, obj: CatalogObject) -> None:
    if obj.kind == "DYNAMIC TABLE":
        from snowmelt.errors import NotInitializedError

        dt = rt.catalog.dynamic_table(obj.oid)
        if not dt.initialized:
            raise NotInitializedError(
                f"Dynamic Table '{obj.name}' is not initialized. Please run a manual refresh "
                f"or wait for a scheduled refresh before querying.",
                name=str(obj.name),
            )
