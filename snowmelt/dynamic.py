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

from snowmelt import frozen, ivm
from snowmelt.catalog import CatalogObject, Column, DynamicTable
from snowmelt.ddl import prepare_replace, refresh_view, replace_object
from snowmelt.errors import (
    DynamicTableError,
    ObjectExists,
    ObjectNotFound,
    SqlError,
)
from snowmelt.monitoring import record_graph
from snowmelt.names import drop_if_exists, identifier_value
from snowmelt.planning import functions_record, output_names, plan_query, resolved_mode
from snowmelt.properties import Options, format_lag, options_from, parse_lag
from snowmelt.refresh import Refresher
from snowmelt.refresh_records import RefreshOutcome
from snowmelt.result import Result
from snowmelt.runtime import Runtime
from snowmelt.sql import commands
from snowmelt.sql.parse import Statement
from snowmelt.sql.resolve import normalize, object_name, position


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
    options.frozen_where = statement.clauses.get("FROZEN WHERE")
    if "REQUIRE USER" in statement.clauses:  # refreshed by a user: first on schedule
        options.initialize = "ON_SCHEDULE"
    if "EXECUTE AS USER" in statement.clauses:
        rt.notice(
            f"{statement.clauses['EXECUTE AS USER']} recorded (no effect in snowmelt: "
            "refreshes run as the process that owns the database)."
        )
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
        planned = plan_query(rt, name, query, options)
        sources, described, analysis = planned.sources, planned.described, planned.analysis
        names = output_names(query, described)
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
        if or_alter and isinstance(existing, CatalogObject):
            kept = _alter_in_place(rt, existing, options, planned.query, columns, analysis)
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
        frozen_where = (
            frozen.check(rt, name, oid, obj.column_names, options.frozen_where)
            if options.frozen_where is not None
            else None
        )
        dt = DynamicTable(
            oid=oid,
            target_lag_sec=options.target_lag_sec,
            target_lag_type=options.target_lag_type or "USER_DEFINED",
            warehouse=options.warehouse,
            requested_mode=options.refresh_mode,
            refresh_mode=resolved_mode(options.refresh_mode, analysis),
            refresh_mode_reason=analysis.reason,
            initialize=options.initialize,
            scheduler=options.scheduler,
            cluster_by=options.cluster_by,
            query_text=_query_text(statement),
            query_sql=planned.query.sql("snowflake"),
            state="ACTIVE",
            plan=dict(planned.record(), functions=functions_record(rt)),
            config_changed_at=rt.clock.now(),
            frozen_where=frozen_where,
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
        or (options.frozen_where is not None and dt.incremental)  # a frozen region: FULL
        or (options.frozen_where is None and dt.refresh_mode_reason == "FROZEN_REGION")
    ):  # ... and without one it may be incremental again: planned anew, reinitialized
        return False
    frozen_where = (
        frozen.check(rt, existing.name, existing.oid, existing.column_names, options.frozen_where)
        if options.frozen_where is not None
        else None
    )
    if frozen_where != dt.frozen_where:
        rt.catalog.forget_consumed(existing.oid)  # rows it thaws: recomputed next refresh
    rt.catalog.update_dynamic_table(
        existing.oid,
        target_lag_sec=options.target_lag_sec,
        target_lag_type=options.target_lag_type or "USER_DEFINED",
        warehouse=options.warehouse,
        scheduler=options.scheduler,
        cluster_by=options.cluster_by,
        config_changed_at=rt.clock.now(),
        plan=dict(dt.plan, functions=functions_record(rt)),  # the same bodies, now current
        frozen_where=frozen_where,
    )
    rt.catalog.update_object(existing.oid, comment=options.comment)
    record_graph(rt, existing.oid)
    return True


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
            set_properties(rt, obj, command.properties)
        elif action == "UNSET":
            if "COMMENT" in command.properties:
                rt.catalog.update_object(obj.oid, comment=None)
            if {"FROZEN", "IMMUTABLE"} & set(command.properties):
                rt.catalog.update_dynamic_table(obj.oid, frozen_where=None)
                rt.catalog.forget_consumed(obj.oid)  # its thawed rows: recomputed next
                record_graph(rt, obj.oid)
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


def set_properties(rt: Runtime, obj: CatalogObject, props: dict[str, Any]) -> None:
    """ALTER DYNAMIC TABLE ... SET (and a clone's TARGET_LAG and WAREHOUSE)."""
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
        elif key == "FROZEN_WHERE":
            if dt.incremental:
                raise DynamicTableError(
                    f"{obj.name} refreshes in {dt.refresh_mode} mode; snowmelt keeps a frozen "
                    "region (FROZEN WHERE) on FULL tables only: create it again with "
                    "REFRESH_MODE = FULL or AUTO and the FROZEN WHERE clause",
                    name=str(obj.name),
                )
            updates["frozen_where"] = frozen.check(
                rt, obj.name, obj.oid, obj.column_names, str(value)
            )
            rt.catalog.forget_consumed(obj.oid)  # rows it thaws: recomputed next refresh
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
