"""Dynamic-table DDL: CREATE [OR REPLACE | OR ALTER], ALTER (SUSPEND, RESUME, REFRESH, SET,
RENAME), DROP — validated as the reference describes, errors naming the object and the fix.

A dynamic table is stored like a base table (tracked table + view), plus a row in
``_snowmelt.dynamic_tables`` (lag, modes, scheduling state, frontier) and its dependencies.
Its query is kept normalized with three-part names, so it means the same whatever the
session's current schema is later.
"""

from __future__ import annotations

from typing import Any

from sqlglot import exp

from snowmelt import ivm
from snowmelt.catalog import CatalogObject, Column, DynamicTable
from snowmelt.ddl import prepare_replace, qualify_names, refresh_view, replace_object
from snowmelt.errors import (
    DynamicTableError,
    ObjectExists,
    ObjectNotFound,
    SqlError,
    UnsupportedError,
)
from snowmelt.names import ObjectName, drop_if_exists, identifier_value
from snowmelt.properties import Options, format_lag, options_from, parse_lag
from snowmelt.query import inline_views
from snowmelt.refresh import Refresher, RefreshOutcome
from snowmelt.result import Result
from snowmelt.runtime import Runtime
from snowmelt.sql import commands
from snowmelt.sql.parse import Statement
from snowmelt.sql.resolve import normalize, object_name, position


def _output_names(query: exp.Expression, described: list[tuple[str, str]]) -> list[str]:
    select = query if isinstance(query, exp.Select) else None
    if select is None or any(
        isinstance(e, exp.Star) or (isinstance(e, exp.Column) and isinstance(e.this, exp.Star))
        for e in select.expressions
    ):
        return [n.upper() if n == n.lower() and not n.startswith('"') else n for n, _ in described]
    names = []
    for expression in select.expressions:
        if isinstance(expression, exp.Alias):
            names.append(identifier_value(expression.args["alias"]))
        elif isinstance(expression, exp.Column):
            names.append(identifier_value(expression.this))
        else:
            names.append(expression.sql("snowflake").upper())
    return names


def create(rt: Runtime, statement: Statement, refresher: Refresher) -> Result:
    create = statement.expression
    assert isinstance(create, exp.Create)
    or_alter = statement.starts_with("CREATE", "OR", "ALTER")
    replace = bool(create.args.get("replace")) and not or_alter
    if_not_exists = bool(create.args.get("exists"))
    if (replace or or_alter) and if_not_exists:
        raise SqlError(
            "CREATE OR REPLACE and IF NOT EXISTS cannot be used together on a "
            "dynamic table; choose one",
            statement.line,
            statement.column,
        )
    schema_node = create.this
    table = schema_node.this if isinstance(schema_node, exp.Schema) else schema_node
    name = object_name(table, rt.context)
    options = options_from(create)
    query = create.args.get("expression")
    if query is None:
        raise DynamicTableError(f"Dynamic table {name} needs AS <query>", name=str(name))
    query = normalize(query.copy())
    with rt.store.write("DDL") as commit:
        if not rt.catalog.schema_exists(name.database, name.schema):
            raise ObjectNotFound(
                f"Schema '{name.database}.{name.schema}' does not exist. Create "
                "it with CREATE SCHEMA first.",
                name=f"{name.database}.{name.schema}",
            )
        existing = prepare_replace(rt, name, "DYNAMIC TABLE", replace or or_alter, if_not_exists)
        if existing is False:
            return Result.status(f"{name.name} already exists, statement succeeded.")
        sources = rt.resolver.sources(query)
        qualified = qualify_names(rt, query.copy())
        views: list[CatalogObject] = []  # the views it reads, their definitions inlined:
        inlined = inline_views(rt, qualified.copy(), inlined=views)
        _refuse_time_travel(name, query, inlined)
        _validate_sources(rt, name, sources, options, existing)
        described = rt.engine.columns_of(rt.to_engine(rt.bind_for_read(query.copy())))
        names = _output_names(query, described)
        if isinstance(schema_node, exp.Schema) and schema_node.expressions:
            listed = [
                identifier_value(e.this if isinstance(e, exp.ColumnDef) else e)
                for e in schema_node.expressions
            ]
            if len(listed) != len(names):
                raise SqlError(
                    f"Dynamic table {name} lists {len(listed)} columns but its query "
                    f"returns {len(names)}",
                    statement.line,
                    statement.column,
                )
            names = listed
        if len(set(names)) != len(names):
            dup = next(n for n in names if names.count(n) > 1)
            raise SqlError(
                f"Dynamic table {name} would have two columns named {dup!r}; alias one of them",
                statement.line,
                statement.column,
            )
        columns = [Column(n, t) for n, (_, t) in zip(names, described, strict=True)]
        if isinstance(schema_node, exp.Schema):  # (X COMMENT 'what x is', Y)
            for column, listed_column in zip(columns, schema_node.expressions, strict=False):
                column.comment = _column_comment(listed_column)
        analysis, qualified, views = _plan(rt, name, qualified, inlined, views, sources, options)
        if or_alter and isinstance(existing, CatalogObject):
            kept = _alter_in_place(rt, existing, options, qualified, columns, analysis)
            if kept:
                return Result.status(f"Dynamic table {name.name} successfully altered.")
        oid = rt.catalog.next_oid()
        generation = replace_object(rt, existing, oid)
        obj = CatalogObject(
            oid,
            name,
            "DYNAMIC TABLE",
            rt.clock.now(),
            columns,
            statement.text,
            generation,
            commit.version,
            comment=options.comment,
        )
        rt.store.create_tracked(oid, columns + analysis.state_columns)
        rt.catalog.add_object(obj)
        refresh_view(rt, obj)
        plan = dict(
            analysis.plan,
            state_columns=[c.__dict__ for c in analysis.state_columns],
            strategy=analysis.strategy,
            views=[
                {"name": [v.name.database, v.name.schema, v.name.name], "text": v.text}
                for v in views
            ],
        )
        dt = DynamicTable(
            oid=oid,
            target_lag_sec=options.target_lag_sec,
            target_lag_type=options.target_lag_type or "USER_DEFINED",
            warehouse=options.warehouse,
            requested_mode=options.refresh_mode,
            refresh_mode=analysis.mode,
            refresh_mode_reason=analysis.reason,
            initialize=options.initialize,
            scheduler=options.scheduler,
            cluster_by=options.cluster_by,
            query_text=_query_text(statement),
            query_sql=qualified.sql("snowflake"),
            state="ACTIVE",
            plan=plan,
            config_changed_at=rt.clock.now(),
        )
        rt.catalog.add_dynamic_table(dt)
        rt.catalog.set_dependencies(oid, [s.oid for s in sources])
        record_graph(rt, obj.oid)
        if options.initialize == "ON_CREATE":
            uninitialized = [
                s.oid
                for s in sources
                if s.kind == "DYNAMIC TABLE" and not rt.catalog.dynamic_table(s.oid).initialized
            ]
            if uninitialized:
                refresher.refresh(uninitialized, "CREATION")
            refresher.refresh([oid], "CREATION", include_upstream=False)
    return Result.status(f"Dynamic table {name.name} successfully created.")


def _column_comment(listed: exp.Expression) -> str | None:
    for constraint in listed.args.get("constraints") or []:
        if isinstance(constraint.args.get("kind"), exp.CommentColumnConstraint):
            return str(constraint.args["kind"].this.name)
    return None


def _query_text(statement: Statement) -> str:
    return statement.text


def _validate_sources(
    rt: Runtime, name: ObjectName, sources: list[CatalogObject], options: Options, existing: Any
) -> None:
    for source in sources:
        if source.name == name:
            raise DynamicTableError(f"Dynamic table {name} cannot read itself", name=str(name))
        if source.kind not in ("TABLE", "DYNAMIC TABLE"):
            raise DynamicTableError(
                f"Dynamic table {name} reads {source.name}, a "
                f"{source.kind.lower()}, which snowmelt cannot track",
                name=str(name),
            )
        if source.kind == "DYNAMIC TABLE":
            if _reads(rt, source.oid, name):
                raise DynamicTableError(
                    f"Dynamic table {name} would form a cycle: {source.name} already reads "
                    f"{name}. Remove that dependency first.",
                    name=str(name),
                )
            upstream = rt.catalog.dynamic_table(source.oid)
            if (
                options.target_lag_type == "USER_DEFINED"
                and upstream.target_lag_type == "USER_DEFINED"
                and upstream.target_lag_sec is not None
                and options.target_lag_sec is not None
                and options.target_lag_sec < upstream.target_lag_sec
            ):
                raise DynamicTableError(
                    f"TARGET_LAG of {name} ({format_lag(options.target_lag_sec, 'USER_DEFINED')})"
                    f" is shorter than that of its upstream dynamic table {source.name} "
                    f"({format_lag(upstream.target_lag_sec, 'USER_DEFINED')}). Use a lag of at "
                    "least the upstream's, or make the upstream's shorter or DOWNSTREAM.",
                    name=str(name),
                )


def _reads(rt: Runtime, oid: int, name: ObjectName, seen: set[int] | None = None) -> bool:
    """Whether dynamic table ``oid`` reads (transitively) the object called ``name``."""
    seen = seen or set()
    if oid in seen:
        return False
    seen.add(oid)
    for input_oid, _, _ in rt.catalog.inputs(oid):
        source = rt.catalog.get(input_oid)
        if source.name == name:
            return True
        if source.kind == "DYNAMIC TABLE" and _reads(rt, input_oid, name, seen):
            return True
    return False


def _refuse_time_travel(name: ObjectName, query: exp.Expression, inlined: exp.Expression) -> None:
    """A refresh reads every source as of the table's data timestamp (views' included).
    The clause is looked for in the query as written first, where it has its position."""
    travel = next(query.find_all(exp.HistoricalData), None) or next(
        inlined.find_all(exp.HistoricalData), None
    )
    if travel is not None:
        raise UnsupportedError(
            f"{travel.name}(...) (time travel)",
            f"Dynamic table {name} cannot use {travel.name}(...) (time travel): a dynamic "
            "table reads its sources as of its data timestamp. Query the history with AT "
            "outside the dynamic table, or copy it into a table.",
            *position(travel.find_ancestor(exp.Table) or travel),  # the table it follows
        )


def _plan(
    rt: Runtime,
    name: ObjectName,
    qualified: exp.Expression,
    inlined: exp.Expression,
    views: list[CatalogObject],
    sources: list[CatalogObject],
    options: Options,
) -> tuple[ivm.Analysis, exp.Expression, list[CatalogObject]]:
    """The refresh mode, the query the table keeps and the views it was planned through.

    The incremental compiler reads tables: a query that reads views is analysed with their
    definitions inlined (``inlined``, through ``views``). When it refreshes incrementally
    the table keeps that inlined query (its plan is of those definitions) and the views'
    texts: a refresh fails while one of them reads differently (``Refresher._inputs``). A
    FULL table keeps reading the views by name, as it always did."""
    analysis = _resolve_mode(rt, name, inlined, sources, options)
    if views and analysis.mode == "INCREMENTAL":
        return analysis, inlined, list({v.oid: v for v in views}.values())
    return analysis, qualified, []


def _resolve_mode(
    rt: Runtime,
    name: ObjectName,
    query: exp.Expression,
    sources: list[CatalogObject],
    options: Options,
) -> ivm.Analysis:
    infos = {}
    upstream_full = None
    for source in sources:
        mode = None
        if source.kind == "DYNAMIC TABLE":
            mode = rt.catalog.dynamic_table(source.oid).refresh_mode
            if mode == "FULL":
                upstream_full = source.name
        infos[source.name] = ivm.SourceInfo(source.name, source.kind, source.column_names, mode)
    if options.refresh_mode == "FULL":
        return ivm.Analysis(mode="FULL", reason="USER_SPECIFIED_FULL_REFRESH")
    analysis = ivm.analyze(query, infos)
    if analysis.mode != "INCREMENTAL":
        if options.refresh_mode == "INCREMENTAL":
            where = f" (line {analysis.line}, column {analysis.column})" if analysis.line else ""
            raise DynamicTableError(
                f"Dynamic table {name} cannot be refreshed incrementally: {analysis.message}"
                f"{where}. Use REFRESH_MODE = FULL or AUTO, or rewrite the query.",
                name=str(name),
            )
        return analysis
    if upstream_full is not None and options.refresh_mode == "AUTO":
        return ivm.Analysis(
            mode="FULL",
            reason="UPSTREAM_USES_FULL_REFRESH",
            message=f"upstream dynamic table {upstream_full} uses FULL refresh",
        )
    return analysis


def _alter_in_place(
    rt: Runtime,
    existing: CatalogObject,
    options: Options,
    qualified: exp.Expression,
    columns: list[Column],
    analysis: ivm.Analysis,
) -> bool:
    """CREATE OR ALTER: keep the data when only data-preserving properties changed."""
    dt = rt.catalog.dynamic_table(existing.oid)
    if (
        dt.query_sql != qualified.sql("snowflake")
        or dt.requested_mode != options.refresh_mode
        or [c.name for c in columns] != existing.column_names
    ):
        return False
    rt.catalog.update_dynamic_table(
        existing.oid,
        target_lag_sec=options.target_lag_sec,
        target_lag_type=options.target_lag_type or "USER_DEFINED",
        warehouse=options.warehouse,
        scheduler=options.scheduler,
        cluster_by=options.cluster_by,
        config_changed_at=rt.clock.now(),
    )
    rt.catalog.update_object(existing.oid, comment=options.comment)
    record_graph(rt, existing.oid)
    return True


def record_graph(rt: Runtime, oid: int) -> None:
    obj = rt.catalog.get(oid)
    dt = rt.catalog.dynamic_table(oid)
    inputs = [
        {"name": str(rt.catalog.get(i).name), "kind": rt.catalog.get(i).kind.replace(" ", "_")}
        for i, _, _ in rt.catalog.inputs(oid)
    ]
    rt.catalog.add_graph_version(
        {
            "oid": oid,
            "name": obj.name.name,
            "schema_name": obj.name.schema,
            "database_name": obj.name.database,
            "inputs": inputs,
            "target_lag_type": dt.target_lag_type,
            "target_lag_sec": dt.target_lag_sec,
            "query_text": dt.query_text,
            "scheduling_state": scheduling_state(dt),
            "scheduler": dt.scheduler,
        },
        rt.clock.now(),
    )


def scheduling_state(dt: DynamicTable) -> dict[str, Any]:
    return {
        "state": dt.state,
        "reason_code": dt.state_reason_code,
        "reason_message": dt.state_reason_message,
        "suspended_on": dt.suspended_on.isoformat() if dt.suspended_on else None,
        "resumed_on": dt.resumed_on.isoformat() if dt.resumed_on else None,
    }


# -- ALTER / DROP -----------------------------------------------------------------------------------
def alter(rt: Runtime, command: commands.AlterDynamicTable, refresher: Refresher) -> Result:
    name = object_name(command.name, rt.context)
    obj = rt.catalog.find(name)
    if obj is None or obj.kind != "DYNAMIC TABLE":
        if command.if_exists:
            return Result.status("Statement executed successfully.")
        hint = f" (it is a {obj.kind.lower()})" if obj else ""
        raise ObjectNotFound(f"Dynamic table '{name}' does not exist{hint}.", name=str(name))
    action = command.action
    if action == "REFRESH":
        return manual_refresh(refresher, [obj.oid])
    with rt.store.write("DDL"):
        if action == "SUSPEND":
            suspend(rt, obj.oid, "USER_SUSPENDED", "Suspended by user")
        elif action == "RESUME":
            resume(rt, obj.oid)
        elif action == "RENAME":
            assert command.new_name is not None
            new = object_name(command.new_name, rt.context)
            if rt.catalog.find(new) is not None:
                raise ObjectExists(f"Object '{new}' already exists.", name=str(new))
            if not rt.catalog.schema_exists(new.database, new.schema):
                raise ObjectNotFound(f"Schema '{new.database}.{new.schema}' does not exist.")
            rt.engine.execute(drop_if_exists("VIEW", obj.name.view_table()))
            rt.catalog.update_object(obj.oid, name=new)
            obj.name = new
            refresh_view(rt, obj)
            record_graph(rt, obj.oid)
        elif action == "SET":
            _set(rt, obj, command.properties)
        elif action == "UNSET":
            if "COMMENT" in command.properties:
                rt.catalog.update_object(obj.oid, comment=None)
        elif action == "SWAP":
            raise SqlError(
                "ALTER DYNAMIC TABLE ... SWAP WITH is not supported by snowmelt; use "
                "CREATE OR REPLACE"
            )
        else:
            rt.notice("Clustering has no effect in snowmelt; statement recorded.")
    return Result.status("Statement executed successfully.")


def manual_refresh(refresher: Refresher, oids: list[int]) -> Result:
    """ALTER DYNAMIC TABLE ... REFRESH for one or more tables, in one round; raises when any
    table of the round failed (each keeps its last good version)."""
    outcomes = refresher.refresh(oids, "MANUAL")
    failed = [o for o in outcomes if o.state != "SUCCEEDED"]
    if failed:
        from snowmelt.errors import RefreshError

        first = failed[0]
        raise RefreshError(
            f"Refresh of {first.name} failed: {(first.message or '').rstrip('.')}. The table keeps "
            "its last good version.",
            name=str(first.name),
            code=first.code or "REFRESH_FAILED",
        )
    return refresh_result(outcomes)


def refresh_result(outcomes: list[RefreshOutcome]) -> Result:
    import pyarrow as pa

    return Result(
        pa.table(
            {
                "NAME": [str(o.name) for o in outcomes],
                "STATE": [o.state for o in outcomes],
                "REFRESH_ACTION": [o.action for o in outcomes],
                "DATA_TIMESTAMP": [o.data_timestamp for o in outcomes],
                "NUM_INSERTED_ROWS": [o.inserted for o in outcomes],
                "NUM_DELETED_ROWS": [o.deleted for o in outcomes],
                "STATE_MESSAGE": [o.message for o in outcomes],
            }
        )
    )


def _set(rt: Runtime, obj: CatalogObject, props: dict[str, Any]) -> None:
    dt = rt.catalog.dynamic_table(obj.oid)
    updates: dict[str, Any] = {}
    for key, value in props.items():
        if key == "TARGET_LAG":
            seconds, kind = parse_lag(value)
            _check_lag_against_graph(rt, obj, seconds, kind)
            if dt.scheduler == "DISABLE":
                raise DynamicTableError(
                    f"{obj.name} has SCHEDULER = DISABLE: set SCHEDULER = "
                    "ENABLE together with TARGET_LAG",
                    name=str(obj.name),
                )
            updates.update(target_lag_sec=seconds, target_lag_type=kind)
        elif key == "WAREHOUSE":
            updates["warehouse"] = str(value)
        elif key == "SCHEDULER":
            value = str(value).upper()
            if value not in ("ENABLE", "DISABLE"):
                raise SqlError(f"Invalid SCHEDULER {value!r}: use ENABLE or DISABLE")
            if value == "ENABLE" and dt.target_lag_type is None and "TARGET_LAG" not in props:
                raise DynamicTableError("SCHEDULER = ENABLE needs a TARGET_LAG")
            updates["scheduler"] = value
            if value == "DISABLE" and "TARGET_LAG" not in props:
                updates.update(target_lag_sec=None, target_lag_type="USER_DEFINED")
        elif key == "COMMENT":
            rt.catalog.update_object(obj.oid, comment=str(value))
        elif key in ("REFRESH_MODE", "INITIALIZE"):
            raise DynamicTableError(
                f"{key} cannot be changed with ALTER; use CREATE OR REPLACE or CREATE OR ALTER",
                name=str(obj.name),
            )
        elif key in (
            "INITIALIZATION_WAREHOUSE",
            "DATA_RETENTION_TIME_IN_DAYS",
            "MAX_DATA_EXTENSION_TIME_IN_DAYS",
            "LOG_LEVEL",
            "DEFAULT_DDL_COLLATION",
        ):
            rt.notice(f"{key} recorded (no effect in snowmelt).")
        else:
            raise SqlError(f"ALTER DYNAMIC TABLE ... SET {key} is not supported")
    if updates:
        updates["config_changed_at"] = rt.clock.now()
        rt.catalog.update_dynamic_table(obj.oid, **updates)
        record_graph(rt, obj.oid)


def _check_lag_against_graph(
    rt: Runtime, obj: CatalogObject, seconds: int | None, kind: str
) -> None:
    if kind != "USER_DEFINED" or seconds is None:
        return
    for input_oid, _, _ in rt.catalog.inputs(obj.oid):
        source = rt.catalog.get(input_oid)
        if source.kind != "DYNAMIC TABLE":
            continue
        up = rt.catalog.dynamic_table(input_oid)
        if (
            up.target_lag_type == "USER_DEFINED"
            and up.target_lag_sec
            and seconds < up.target_lag_sec
        ):
            raise DynamicTableError(
                f"TARGET_LAG of {obj.name} cannot be shorter than that of its upstream "
                f"{source.name} ({format_lag(up.target_lag_sec, 'USER_DEFINED')})",
                name=str(obj.name),
            )
    for consumer in rt.catalog.consumers(obj.oid):
        down = rt.catalog.dynamic_table(consumer)
        if (
            down.target_lag_type == "USER_DEFINED"
            and down.target_lag_sec
            and seconds > down.target_lag_sec
        ):
            raise DynamicTableError(
                f"TARGET_LAG of {obj.name} cannot be longer than that of its consumer "
                f"{rt.catalog.get(consumer).name} "
                f"({format_lag(down.target_lag_sec, 'USER_DEFINED')})",
                name=str(obj.name),
            )


def downstream(rt: Runtime, oid: int) -> list[int]:
    """Every dynamic table reading ``oid``, transitively (breadth first)."""
    found: list[int] = []
    frontier = [oid]
    while frontier:
        current = frontier.pop(0)
        for consumer in rt.catalog.consumers(current):
            if consumer not in found and consumer != oid:
                found.append(consumer)
                frontier.append(consumer)
    return found


def suspend(rt: Runtime, oid: int, code: str, message: str) -> None:
    """Suspend ``oid`` and cascade to its consumers (reason UPSTREAM_*)."""
    now = rt.clock.now()
    rt.catalog.update_dynamic_table(
        oid,
        state="SUSPENDED",
        state_reason_code=code,
        state_reason_message=message,
        suspended_on=now,
    )
    record_graph(rt, oid)
    cascade = "UPSTREAM_" + code
    name = rt.catalog.get(oid).name
    for consumer in downstream(rt, oid):
        dt = rt.catalog.dynamic_table(consumer)
        if dt.state != "SUSPENDED":
            rt.catalog.update_dynamic_table(
                consumer,
                state="SUSPENDED",
                state_reason_code=cascade,
                state_reason_message=f"Upstream dynamic table {name} is suspended",
                suspended_on=now,
            )
            record_graph(rt, consumer)


def resume(rt: Runtime, oid: int) -> None:
    obj = rt.catalog.get(oid)
    for input_oid, _, _ in rt.catalog.inputs(oid):
        source = rt.catalog.get(input_oid)
        if (
            source.kind == "DYNAMIC TABLE"
            and rt.catalog.dynamic_table(input_oid).state == "SUSPENDED"
        ):
            raise DynamicTableError(
                f"Cannot resume {obj.name}: its upstream dynamic table "
                f"{source.name} is suspended. Resume {source.name} first.",
                name=str(obj.name),
            )
    now = rt.clock.now()
    rt.catalog.update_dynamic_table(
        oid,
        state="ACTIVE",
        state_reason_code=None,
        state_reason_message=None,
        resumed_on=now,
        consecutive_failures=0,
    )
    record_graph(rt, oid)
    for consumer in rt.catalog.consumers(oid):
        dt = rt.catalog.dynamic_table(consumer)
        if dt.state == "SUSPENDED" and (dt.state_reason_code or "").startswith("UPSTREAM_"):
            ready = all(
                rt.catalog.get(i).kind != "DYNAMIC TABLE"
                or rt.catalog.dynamic_table(i).state == "ACTIVE"
                for i, _, _ in rt.catalog.inputs(consumer)
            )
            if ready:
                resume(rt, consumer)


def drop(rt: Runtime, command: commands.DropObject) -> Result:
    from snowmelt.ddl import drop as drop_named

    return drop_named(rt, "DYNAMIC TABLE", command.name, command.if_exists)


def position_of(statement: Statement) -> tuple[int, int]:
    return statement.line, statement.column


__all__ = ["create", "alter", "drop", "parse_lag", "format_lag", "position"]
