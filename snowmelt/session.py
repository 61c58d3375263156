"""The Python API: ``snowmelt.connect()`` returns a ``Session`` over one database.

A session parses each statement (Snowflake dialect by default), dispatches it to the module
that owns it, and returns a ``Result``. Statements run one after another; each is atomic.
The session object only delegates: the logic lives in ``ddl``, ``dml``, ``query``,
``dynamic``, ``refresh``, ``monitoring`` and ``show``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from sqlglot import exp

from snowmelt import (
    alter,
    clones,
    ddl,
    dml,
    dynamic,
    explain,
    functions,
    immediate,
    information_schema,
    query,
    retention,
    sequences,
    show,
    streams,
    undrop,
    variables,
    views,
)
from snowmelt.catalog import Catalog
from snowmelt.clock import Clock, SystemClock
from snowmelt.engines.duckdb import DuckDBEngine, EngineError
from snowmelt.errors import SnowmeltError, SqlError, UnsupportedError
from snowmelt.refresh import Refresher
from snowmelt.result import Result
from snowmelt.runtime import Runtime
from snowmelt.sql import commands
from snowmelt.sql.parameters import Parameters, bind_parameters
from snowmelt.sql.parse import Statement, parse_padded, split
from snowmelt.sql.resolve import name_parts, normalize, object_name, parse_object_name, schema_of
from snowmelt.storage import Store

# SHOW and DESCRIBE of the kinds their own modules list (the others: ``show``)
_SHOWS: dict[str, Callable[[Runtime, commands.Show], Result]] = {
    "COLUMNS": information_schema.show_columns,
    "OBJECTS": information_schema.show_objects,
    "SEQUENCES": sequences.show,
    "USER FUNCTIONS": functions.show,
    "FUNCTIONS": functions.show,
    "STREAMS": streams.show,
}
_DESCRIBES: dict[str, Callable[[Runtime, commands.Describe], Result]] = {
    "FUNCTION": functions.describe,
    "SEQUENCE": sequences.describe,
    "STREAM": streams.describe,
}
# statements that consume the streams they read
_DML = (exp.Insert, exp.Update, exp.Delete, exp.Merge, exp.MultitableInserts)


class Session:
    """One open snowmelt database. Use as a context manager or call ``close()``."""

    def __init__(
        self,
        path: str | Path | None = None,
        clock: Clock | None = None,
        on_notice: Callable[[str], None] | None = None,
    ):
        self.path = str(path) if path is not None else None
        engine = DuckDBEngine(self.path)
        catalog = Catalog(engine)
        catalog.migrate()
        clock = clock or SystemClock()
        self.rt = Runtime(
            engine, catalog, Store(engine, catalog, clock), clock, on_notice=on_notice
        )
        self.refresher = Refresher(self.rt)
        retention.purge_dropped(self.rt, clock.now())  # a database never served purges too
        self.variables: dict[str, variables.Variable] = {}  # SET name = value
        self._transaction: ExitStack | None = None  # BEGIN ... COMMIT

    # -- the API -----------------------------------------------------------------------------
    @property
    def notices(self) -> list[str]:
        return self.rt.notices

    @property
    def clock(self) -> Clock:
        return self.rt.clock

    def sql(
        self, text: str, dialect: str = "snowflake", *, params: Parameters | None = None
    ) -> Result:
        """Run one or more statements; returns the result of the last one. ``params`` binds
        the placeholders: a sequence for ``?`` (in order) and ``:1``, ``:2`` (by number), a
        mapping for ``:name``; values become literals (strings quoted), never SQL."""
        results = self.execute_all(text, dialect, params=params)
        return results[-1] if results else Result.status("No statement to run.")

    def execute_all(
        self, text: str, dialect: str = "snowflake", *, params: Parameters | None = None
    ) -> list[Result]:
        statements = split(text, dialect)
        if params is not None:
            bind_parameters(statements, params)
        return list(self._run_all(statements))

    def run_each(self, text: str, dialect: str = "snowflake") -> Iterator[Result]:
        """Each statement's result as soon as it has run (a script's output up to an error
        is not lost with it)."""
        yield from self._run_all(split(text, dialect))

    def _run_all(self, statements: list[Statement]) -> Iterator[Result]:
        """Each statement's result, but of a ``a ->> b ->> c`` chain only the last's."""
        for number, statement in enumerate(statements):
            result = self._run(statement)
            following = statements[number + 1] if number + 1 < len(statements) else None
            if following is None or not following.piped:
                yield result

    def run_script(self, path: str | Path) -> list[Result]:
        return self.execute_all(Path(path).read_text())

    def insert(self, table: str, data: Any) -> int:
        """Append rows (Arrow, pandas, polars or a list of dicts) in one atomic commit."""
        obj = self.rt.resolver.lookup(parse_object_name(table))
        if obj.kind != "TABLE":
            raise SqlError(
                f"Cannot insert into {obj.kind.lower()} {obj.name}: only base tables take rows"
            )
        try:
            return dml.insert_arrow(self.rt, obj, data)
        except BaseException:
            self._end_transaction(commit=False)  # an open transaction is undone whole
            raise

    def refresh(self, *names: str) -> Result:
        """Refresh dynamic tables (and their upstream) in one round, at one data timestamp."""
        self._end_transaction(commit=True)  # a refresh commits an open transaction first
        oids = [
            self.rt.resolver.lookup(parse_object_name(name), ("DYNAMIC TABLE",)).oid
            for name in names
        ]
        return dynamic.manual_refresh(self.refresher, oids)

    def close(self) -> None:
        self._end_transaction(commit=False)  # a transaction left open is rolled back
        self.rt.engine.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- dispatch ----------------------------------------------------------------------------
    def _run(self, statement: Statement) -> Result:
        if self._transaction is not None and not _joins_a_transaction(statement):
            self._end_transaction(commit=True)  # DDL commits the open transaction first
            self.rt.notice(
                f"{' '.join(statement.words[:2])} committed the open transaction first, "
                "as DDL does in Snowflake."
            )
        log = self.rt.results
        if not statement.piped:
            log.chain = []
        try:
            result = self._run_statement(statement)
        except BaseException as err:
            if self._transaction is not None:
                self._end_transaction(commit=False)
                if isinstance(err, SnowmeltError) and err.args:
                    err.args = (f"{err.args[0]}; the open transaction was rolled back",)
            raise
        result.query_id = log.record(result.arrow())  # for RESULT_SCAN, LAST_QUERY_ID, ->>
        log.chain.append(result.arrow())
        return result

    def _run_statement(self, statement: Statement) -> Result:
        try:
            if statement.expression is None:
                return self._command(commands.parse_command(statement))
            if statement.words[:1] == ["UNSET"]:  # sqlglot has no node for it
                return variables.unset(self.variables, statement)
            # Both dialects go through the same handlers: every write stays change-tracked
            # and names resolve against the catalog, whichever dialect parsed them.
            self.rt.dialect = statement.dialect
            try:
                expression = self._with_variables(statement, normalize(statement.expression))
                self.rt.functions_used = []
                expression = functions.expand(self.rt, expression)  # SQL functions inlined
                self.rt.consuming_streams = isinstance(expression, _DML)
                with ExitStack() as scope:
                    if isinstance(expression, _DML) or _creates_table_as(expression):
                        self.rt.scope = scope  # what it computes lives until it ends
                    return self._expression(statement, expression)
            finally:
                self.rt.dialect = "snowflake"
                self.rt.consuming_streams = False
                self.rt.scope = None
                self.rt.store.take_deferred()  # what the statement's commit did not take
        except EngineError as err:
            message = _PHYSICAL.sub(lambda m: self._user_name(m), str(err))
            raise SqlError(message, statement.line, statement.column) from None
        except SqlError as err:
            if err.line is None:  # no finer position known: point at the statement
                raise _at(err, statement) from None
            raise

    def _expression(self, statement: Statement, expression: exp.Expression) -> Result:
        rt = self.rt
        statement.expression = expression
        if isinstance(expression, exp.Query):
            return query.run_query(rt, expression)
        if isinstance(expression, exp.Create):
            return self._create(statement, expression)
        if isinstance(expression, exp.Insert):
            return dml.insert(rt, expression)
        if isinstance(expression, exp.MultitableInserts):  # sqlglot drops OVERWRITE here
            return dml.insert_multi(rt, expression, "OVERWRITE" in statement.words[:2])
        if isinstance(expression, exp.Update):
            return dml.update(rt, expression)
        if isinstance(expression, exp.Delete):
            return dml.delete(rt, expression)
        if isinstance(expression, exp.Merge):
            return dml.merge(rt, expression)
        if isinstance(expression, exp.TruncateTable):
            return dml.truncate(rt, expression)
        if isinstance(expression, exp.Set) and not expression.args.get("tag"):
            return variables.set_variables(rt, self.variables, expression)
        if isinstance(expression, exp.Use):
            return ddl.use(rt, expression)
        if isinstance(expression, exp.Drop):
            return self._drop(expression)
        if (
            isinstance(expression, exp.Alter)
            and str(expression.args.get("kind")).upper() == "TABLE"
        ):
            result = alter.alter_table(rt, expression)
            views.refresh_dependents(rt, object_name(expression.this, rt.context))
            return result
        if (
            isinstance(expression, exp.Alter)
            and str(expression.args.get("kind")).upper() == "SESSION"
        ):
            return alter.alter_session(rt, expression)
        if isinstance(expression, exp.Comment):
            return alter.comment_on(rt, expression)
        if isinstance(expression, exp.Undrop):
            return undrop.undrop(rt, expression)
        if isinstance(expression, exp.Command) and expression.name.upper() == "COMMENT":
            done = alter.comment_on_dynamic_table(rt, statement.text)
            if done is not None:
                return done
        if isinstance(expression, exp.Command) and expression.name.upper() == "EXPLAIN":
            return self._explain_query(statement)
        if immediate.is_execute_immediate(statement):
            return immediate.run(self, statement)
        if isinstance(expression, exp.Command) and _managed_schema(statement):
            self.rt.notice("WITH MANAGED ACCESS accepted; snowmelt has no access control.")
            padded = _MANAGED_ACCESS.sub(lambda m: " " * len(m.group(0)), statement.padded)
            return self._expression(statement, normalize(parse_padded(padded)))
        if isinstance(expression, exp.Command):
            raise commands.unsupported_syntax(statement)
        name = expression.key.upper()
        raise UnsupportedError(
            name,
            f"Statement {statement.text.split()[0].upper()} "
            f"({name}) is not supported by snowmelt (Snowflake dialect)",
            statement.line,
            statement.column,
        )

    def _with_variables(self, statement: Statement, expression: exp.Expression) -> exp.Expression:
        """``$name`` and ``IDENTIFIER(...)`` resolved (``snowmelt.variables``); a view's or a
        dynamic table's kept text may not hold a variable."""
        if isinstance(expression, exp.Set):
            return expression
        kind = str(expression.args.get("kind") or "").upper()
        if (
            isinstance(expression, exp.Create)
            and (kind == "VIEW" or (kind == "TABLE" and _is_dynamic(expression)))
            and variables.uses_variables(expression)
        ):
            raise SqlError(
                "A view's or a dynamic table's definition cannot use session variables: "
                "its text is kept and would read other values in another session",
                statement.line,
                statement.column,
            )
        return variables.substitute(expression, self.variables)

    def _explain_query(self, statement: Statement) -> Result:
        """EXPLAIN [USING TABULAR | TEXT | JSON] <query> (EXPLAIN DYNAMIC TABLE is a command
        of its own)."""
        tokens, form, first = statement.tokens, "TABULAR", 1
        if len(tokens) > 2 and tokens[1].text.upper() == "USING":
            form, first = tokens[2].text.upper(), 3
            if form not in ("TABULAR", "TEXT", "JSON"):
                raise SqlError(
                    f"EXPLAIN USING takes TABULAR, TEXT or JSON, not {tokens[2].text!r}",
                    tokens[2].line,
                    tokens[2].col - len(tokens[2].text) + 1,
                )
        if len(tokens) <= first:
            raise SqlError("EXPLAIN needs a query", statement.line, statement.column)
        start = tokens[first].start  # re-parse the query where it stands in the script
        padded = re.sub(r"[^\n]", " ", statement.padded[:start]) + statement.padded[start:]
        target = self._with_variables(
            statement, normalize(parse_padded(padded, dialect=statement.dialect))
        )
        if not isinstance(target, exp.Query):
            raise UnsupportedError(
                "EXPLAIN",
                f"EXPLAIN {target.key.upper()} is not supported by snowmelt (EXPLAIN of a "
                "query is; EXPLAIN DYNAMIC TABLE shows a refresh)",
                tokens[first].line,
                tokens[first].col - len(tokens[first].text) + 1,
            )
        return query.explain_query(self.rt, target, form)

    def _user_name(self, match: re.Match[str]) -> str:
        """A physical table named in an engine message (``t3.ID``), as the user names it."""
        try:
            return f"{self.rt.catalog.get(int(match.group(1))).name}{match.group(2)}"
        except Exception:  # not one of snowmelt's tables after all
            return match.group(0)

    def _create(self, statement: Statement, create: exp.Create) -> Result:
        rt = self.rt
        kind = str(create.args.get("kind") or "").upper()
        is_dynamic = _is_dynamic(create)
        replace, exists = bool(create.args.get("replace")), bool(create.args.get("exists"))
        if create.args.get("clone") is not None and kind in ("SCHEMA", "DATABASE"):
            return clones.clone_container(rt, create)
        if create.args.get("clone") is not None and (is_dynamic or kind != "TABLE"):
            what = "DYNAMIC TABLE" if is_dynamic else kind
            raise UnsupportedError(
                f"CREATE {what} ... CLONE",
                f"CREATE {what} ... CLONE is not supported by snowmelt (tables, dynamic "
                "tables, schemas and databases can be cloned, AT/BEFORE included)",
                statement.line,
                statement.column,
            )
        if is_dynamic:
            if statement.dialect != "snowflake":
                raise UnsupportedError(
                    "CREATE DYNAMIC TABLE",
                    "Dynamic tables are defined in "
                    "the Snowflake dialect: run this statement with "
                    "dialect='snowflake'",
                    statement.line,
                    statement.column,
                )
            return dynamic.create(rt, statement, self.refresher)
        transient, comment = ddl.create_properties(create)
        if kind == "DATABASE":
            return ddl.create_database(
                rt, name_parts(create.this)[-1], replace, exists, transient, comment
            )
        if kind == "SCHEMA":
            database, schema = self._schema_name(create.this)
            return ddl.create_schema(rt, database, schema, replace, exists, comment)
        if kind == "TABLE":
            result = ddl.create_table(rt, create)
            if replace:  # the views reading it describe the new columns
                table = create.this.this if isinstance(create.this, exp.Schema) else create.this
                views.refresh_dependents(rt, object_name(table, rt.context))
            return result
        if kind == "VIEW":
            return views.create_view(rt, create)
        if kind == "SEQUENCE":
            return sequences.create(rt, create)
        if kind == "FUNCTION":
            return functions.create(rt, create)
        raise UnsupportedError(
            f"CREATE {kind}",
            f"CREATE {kind} is not supported by snowmelt",
            statement.line,
            statement.column,
        )

    def _drop(self, drop: exp.Drop) -> Result:
        rt = self.rt
        kind = str(drop.args.get("kind") or "").upper()
        exists = bool(drop.args.get("exists"))
        result = None
        for table in drop.args.get("tables") or [drop.this]:
            if kind == "DATABASE":
                result = ddl.drop_database(rt, name_parts(table)[-1], exists)
            elif kind == "SCHEMA":
                database, schema = self._schema_name(table)
                result = ddl.drop_schema(rt, database, schema, exists)
            elif kind == "WAREHOUSE":
                result = ddl.warehouse(
                    rt, commands.Warehouse("DROP", name_parts(table)[-1], if_exists=exists)
                )
            elif kind == "VIEW":
                result = views.drop_view(rt, table, exists)
            elif kind in ("TABLE", "SEQUENCE"):
                result = ddl.drop(rt, kind, table, exists)
            elif kind == "FUNCTION":
                result = functions.drop(rt, drop)
            else:
                raise UnsupportedError(f"DROP {kind}", f"DROP {kind} is not supported by snowmelt")
        assert result is not None
        return result

    def _schema_name(self, table: exp.Expression) -> tuple[str, str]:
        return schema_of(name_parts(table), self.rt.context)

    def _command(self, command: commands.Command) -> Result:
        rt = self.rt
        if isinstance(command, commands.AlterDynamicTable):
            return dynamic.alter(rt, command, self.refresher)
        if isinstance(command, commands.DropObject) and command.kind == "STREAM":
            return streams.drop(rt, command)
        if isinstance(command, commands.DropObject):
            return dynamic.drop(rt, command)
        if isinstance(command, commands.CreateStream):
            return streams.create(rt, command)
        if isinstance(command, commands.CloneDynamicTable):
            return clones.clone_dynamic_table(rt, command)
        if isinstance(command, commands.Show) and command.what == "VARIABLES":
            return variables.show(self.variables)
        if isinstance(command, commands.Show):  # TERSE, STARTS WITH, LIMIT: the same for all
            producer = _SHOWS.get(command.what, show.show)
            return show.shape(command, producer(rt, command))
        if isinstance(command, commands.DescribeResult):
            return show.describe_result(rt, command)
        if isinstance(command, commands.Describe) and command.kind in _DESCRIBES:
            return _DESCRIBES[command.kind](rt, command)
        if isinstance(command, commands.AlterSequence):
            return sequences.alter(rt, command)
        if isinstance(command, commands.Describe):
            return show.describe(rt, command)
        if isinstance(command, commands.Explain):
            return self.explain(command.name)
        if isinstance(command, commands.Warehouse):
            return ddl.warehouse(rt, command)
        if isinstance(command, commands.Recorded):
            return ddl.record(rt, command)
        if isinstance(command, commands.Transaction):
            return self._transaction_command(command.action)
        raise UnsupportedError(type(command).__name__, "Unsupported command")

    # -- explicit transactions ---------------------------------------------------------------
    @property
    def in_transaction(self) -> bool:
        return self._transaction is not None

    def _transaction_command(self, action: str) -> Result:
        """BEGIN opens one commit that the statements after it join (``Store.write`` nests):
        their changes get one version and become visible to others at COMMIT, or are undone
        at ROLLBACK. The session holds the database meanwhile (other writers and the
        scheduler wait)."""
        if action == "BEGIN":
            if self._transaction is not None:  # transactions do not nest, as in Snowflake
                self.rt.notice("BEGIN inside an open transaction is ignored.")
                return Result.status("Statement executed successfully.")
            stack = ExitStack()
            stack.enter_context(self.rt.store.write("TRANSACTION"))
            self._transaction = stack
            return Result.status("Statement executed successfully.")
        if self._transaction is None:
            return Result.status("Statement executed successfully.")  # nothing open: no-op
        self._end_transaction(commit=action == "COMMIT")
        return Result.status("Statement executed successfully.")

    def _end_transaction(self, commit: bool) -> None:
        stack, self._transaction = self._transaction, None
        if stack is None:
            return
        if commit:
            stack.close()
        else:
            undo = _Rollback()
            stack.__exit__(_Rollback, undo, None)  # the engine rolls back on the exception

    def rollback(self) -> None:
        """Undo the open transaction, if any (``close`` does it too)."""
        self._end_transaction(commit=False)

    def explain(self, name: exp.Table | str) -> Result:
        """EXPLAIN DYNAMIC TABLE (``explain``)."""
        return explain.dynamic_table(self.rt, self.refresher, name)


# a constraint DuckDB checks names snowmelt's data table (t<oid>) and the column
_PHYSICAL = re.compile(r"(?<=constraint failed: )t(\d+)(\.\w+)")


class _Rollback(Exception):
    """Thrown into an open transaction's commit to undo it."""


# Statements that run inside an open transaction; any other (DDL, refreshes) commits it first.
_IN_TRANSACTION = (
    exp.Query,
    exp.Insert,
    exp.Update,
    exp.Delete,
    exp.Merge,
    exp.TruncateTable,
    exp.MultitableInserts,
    exp.Set,
    exp.Use,
)


def _joins_a_transaction(statement: Statement) -> bool:
    if statement.expression is None:
        return statement.words[:1] in (
            ["SHOW"],
            ["DESCRIBE"],
            ["DESC"],
            ["BEGIN"],
            ["COMMIT"],
            ["ROLLBACK"],
            ["START"],
        )
    if isinstance(statement.expression, exp.Command):  # EXECUTE IMMEDIATE: its statements say
        return statement.words[:1] == ["EXPLAIN"] or immediate.is_execute_immediate(statement)
    return isinstance(statement.expression, _IN_TRANSACTION) or statement.words[:1] == ["UNSET"]


_MANAGED_ACCESS = re.compile(r"\bWITH\s+MANAGED\s+ACCESS\b", re.IGNORECASE)


def _managed_schema(statement: Statement) -> bool:
    """CREATE [OR REPLACE] [TRANSIENT] SCHEMA ... WITH MANAGED ACCESS (sqlglot cannot parse
    it; without the clause it can)."""
    words = [w for w in statement.words[:5] if w not in ("OR", "REPLACE", "TRANSIENT")]
    return words[:2] == ["CREATE", "SCHEMA"] and bool(_MANAGED_ACCESS.search(statement.text))


def _is_dynamic(create: exp.Expression) -> bool:
    props = create.args.get("properties")
    return props is not None and any(isinstance(p, exp.DynamicProperty) for p in props.expressions)


def _at(err: SqlError, statement: Statement) -> SqlError:
    """The same error, positioned at the statement that raised it."""
    err.line, err.column = statement.line, statement.column
    err.args = (f"{err.bare_message} (line {statement.line}, column {statement.column})",)
    return err


def connect(
    path: str | Path | None = None,
    clock: Clock | None = None,
    on_notice: Callable[[str], None] | None = None,
) -> Session:
    """Open (or create) a snowmelt database. ``None`` keeps everything in memory."""
    return Session(path, clock, on_notice)


def _creates_table_as(expression: exp.Expression) -> bool:
    """CREATE TABLE ... AS <query> (not a dynamic table: its query is planned, and reads
    only stored tables)."""
    return (
        isinstance(expression, exp.Create)
        and str(expression.args.get("kind") or "").upper() == "TABLE"
        and isinstance(expression.expression, exp.Query)
        and not _is_dynamic(expression)
    )
