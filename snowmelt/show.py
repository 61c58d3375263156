"""``SHOW DYNAMIC TABLES | TABLES | VIEWS | SCHEMAS | DATABASES | WAREHOUSES`` and ``DESCRIBE``
with Snowflake's columns, and the scope (``IN ...``), ``LIKE`` and type names the other
``SHOW`` commands share (``information_schema``, ``sequences``, ``functions``).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from typing import Any

import pyarrow as pa
from sqlglot import exp

from snowmelt.catalog import CatalogObject
from snowmelt.ddl import default_text, identity_text
from snowmelt.monitoring import TS, dynamic_table_objects
from snowmelt.names import META_SCHEMA, ObjectName
from snowmelt.result import Result
from snowmelt.runtime import Runtime
from snowmelt.sql import commands


def in_scope(rt: Runtime, show: commands.Show, name: ObjectName) -> bool:
    if show.in_kind in (None, "ACCOUNT") or show.in_name is None:
        if show.in_kind is None and rt.context.database and rt.context.schema:
            return (name.database, name.schema) == (rt.context.database, rt.context.schema)
        return True
    parts = [
        p.name
        for p in (show.in_name.args.get("catalog"), show.in_name.args.get("db"), show.in_name.this)
        if p
    ]
    from snowmelt.names import identifier_value

    parts = [identifier_value(p) for p in parts]
    if show.in_kind == "DATABASE":
        return name.database == parts[-1]
    database = parts[0] if len(parts) == 2 else rt.context.database
    return (name.database, name.schema) == (database, parts[-1])


def matches_like(pattern: str | None, value: str) -> bool:
    if pattern is None:
        return True
    glob = pattern.replace("%", "*").replace("_", "?")
    return fnmatch.fnmatch(value.upper(), glob.upper())


Row = Callable[[Runtime, CatalogObject], dict[str, Any]]


def listing(
    rt: Runtime, command: commands.Show, kind: str, row: Row, columns: list[tuple[str, Any]]
) -> Result:
    """SHOW <kind>s [LIKE] [IN ...]: a ``row`` for each object of ``kind`` in scope."""
    rows = [
        row(rt, obj)
        for obj in rt.catalog.objects(kind)
        if in_scope(rt, command, obj.name) and matches_like(command.like, obj.name.name)
    ]
    return Result(pa.Table.from_pylist(rows, schema=pa.schema(columns)))


def one(
    rt: Runtime, command: commands.Describe, kind: str, row: Row, columns: list[tuple[str, Any]]
) -> Result:
    """DESCRIBE <kind> name: the object's SHOW row."""
    obj = rt.resolver.lookup(command.name, (kind,))
    return Result(pa.Table.from_pylist([row(rt, obj)], schema=pa.schema(columns)))


def show(rt: Runtime, command: commands.Show) -> Result:
    from snowmelt.properties import format_lag

    if command.what == "DYNAMIC TABLES":
        rows = []
        for obj, dt in dynamic_table_objects(rt):
            if not (in_scope(rt, command, obj.name) and matches_like(command.like, obj.name.name)):
                continue
            rows.append(
                {
                    "created_on": obj.created_on,
                    "name": obj.name.name,
                    "database_name": obj.name.database,
                    "schema_name": obj.name.schema,
                    "cluster_by": dt.cluster_by or "",
                    "rows": rt.store.count_rows(obj.oid),
                    "bytes": None,
                    "owner": "SYSADMIN",
                    "target_lag": format_lag(dt.target_lag_sec, dt.target_lag_type)
                    if dt.scheduler != "DISABLE"
                    else None,
                    "refresh_mode": dt.refresh_mode,
                    "refresh_mode_reason": dt.refresh_mode_reason,
                    "warehouse": dt.warehouse,
                    "comment": obj.comment or "",
                    "text": obj.text,
                    "automatic_clustering": "OFF",
                    "scheduling_state": dt.state,
                    "last_suspended_on": dt.suspended_on,
                    "is_clone": "true" if dt.is_clone else "false",
                    "is_replica": "false",
                    "is_iceberg": "false",
                    "data_timestamp": dt.data_timestamp,
                    "owner_role_type": "ROLE",
                    "scheduler": dt.scheduler,
                    "immutable_where": dt.frozen_where,
                }
            )
        return Result(pa.Table.from_pylist(rows, schema=SHOW_SCHEMA))
    if command.what in ("TABLES", "VIEWS"):
        kind = "TABLE" if command.what == "TABLES" else "VIEW"
        rows = [
            {
                "created_on": o.created_on,
                "name": o.name.name,
                "database_name": o.name.database,
                "schema_name": o.name.schema,
                "kind": "TRANSIENT" if o.transient else o.kind,
                "comment": o.comment or "",
                "rows": rt.store.count_rows(o.oid) if o.tracked else None,
                "is_dynamic": "Y" if o.kind == "DYNAMIC TABLE" else "N",
                "text": o.text if kind == "VIEW" else None,
            }
            for o in rt.catalog.objects()
            if (o.kind == kind or (kind == "TABLE" and o.kind == "DYNAMIC TABLE"))
            and in_scope(rt, command, o.name)
            and matches_like(command.like, o.name.name)
        ]
        return Result(
            pa.Table.from_pylist(rows)
            if rows
            else pa.table({"created_on": pa.array([], TS), "name": pa.array([], pa.string())})
        )
    if command.what == "SCHEMAS":
        database = None
        if command.in_name is not None:
            database = command.in_name.name.upper()
        elif command.in_kind != "ACCOUNT":
            database = rt.context.database
        rows = [
            {"created_on": c, "name": s, "database_name": d, "comment": m or ""}
            for d, s, c, m in rt.catalog.schemas_with_comments(database)
            if matches_like(command.like, s)
        ]
        return Result(pa.Table.from_pylist(rows) if rows else pa.table({"name": []}))
    if command.what == "DATABASES":
        rows = [
            {"created_on": c, "name": n, "comment": m or ""}
            for n, c, m in rt.catalog.databases()
            if matches_like(command.like, n)
        ]
        return Result(pa.Table.from_pylist(rows) if rows else pa.table({"name": []}))
    rows = [
        {"name": r[0], "created_on": r[1], "state": "STARTED", "properties": r[2]}
        for r in rt.engine.rows(f'SELECT * FROM "{META_SCHEMA}".warehouses ORDER BY name')
        if matches_like(command.like, r[0])
    ]
    return Result(pa.Table.from_pylist(rows) if rows else pa.table({"name": []}))


SHOW_SCHEMA = pa.schema(
    [
        ("created_on", TS),
        ("name", pa.string()),
        ("database_name", pa.string()),
        ("schema_name", pa.string()),
        ("cluster_by", pa.string()),
        ("rows", pa.int64()),
        ("bytes", pa.int64()),
        ("owner", pa.string()),
        ("target_lag", pa.string()),
        ("refresh_mode", pa.string()),
        ("refresh_mode_reason", pa.string()),
        ("warehouse", pa.string()),
        ("comment", pa.string()),
        ("text", pa.string()),
        ("automatic_clustering", pa.string()),
        ("scheduling_state", pa.string()),
        ("last_suspended_on", TS),
        ("is_clone", pa.string()),
        ("is_replica", pa.string()),
        ("is_iceberg", pa.string()),
        ("data_timestamp", TS),
        ("owner_role_type", pa.string()),
        ("scheduler", pa.string()),
        ("immutable_where", pa.string()),
    ]
)


# SHOW TERSE: these columns, for the commands whose producer does not shape it (OBJECTS does)
_TERSE = ("created_on", "name", "kind", "database_name", "schema_name")
_TERSE_KINDS = {"TABLES": "TABLE", "VIEWS": "VIEW", "SCHEMAS": None, "DATABASES": None}


def shape(command: commands.Show, result: Result) -> Result:
    """What every SHOW shares, applied to its rows: ``TERSE``, ``STARTS WITH 'prefix'``
    (case-sensitive, on the name) and ``LIMIT n [FROM 'name']`` (the first n rows; with
    FROM, in name order from the first name at or after it)."""
    table = result.arrow()
    if command.terse and command.what in _TERSE_KINDS:
        rows = table.num_rows
        columns = {
            c: table[c]
            if c in table.column_names
            else pa.array([_TERSE_KINDS[command.what]] * rows, pa.string())
            if c == "kind"
            else pa.nulls(rows, TS if c == "created_on" else pa.string())
            for c in _TERSE
        }
        table = pa.table(columns)
    if (command.starts_with is not None or command.limit is not None) and "name" in (
        table.column_names
    ):
        names = table["name"].to_pylist()
        keep = [
            i
            for i, n in enumerate(names)
            if command.starts_with is None or str(n or "").startswith(command.starts_with)
        ]
        if command.limit_from is not None:
            keep = sorted(
                (i for i in keep if str(names[i] or "") >= command.limit_from),
                key=lambda i: str(names[i] or ""),
            )
        if command.limit is not None:
            keep = keep[: command.limit]
        table = table.take(pa.array(keep, pa.int64()))
    return result if table is result.arrow() else Result(table, result.message)


def describe(rt: Runtime, command: commands.Describe) -> Result:
    kinds = (
        ("DYNAMIC TABLE",)
        if command.kind == "DYNAMIC TABLE"
        else (("TABLE", "DYNAMIC TABLE") if command.kind == "TABLE" else ("VIEW",))
    )
    obj = rt.resolver.lookup(command.name, kinds)
    rows = [
        {
            "name": c.name,
            "type": snowflake_type(c.type),
            "kind": "COLUMN",
            "null?": "Y" if c.nullable else "N",
            "default": identity_text(rt, c.default) or default_text(rt, c.default),
            "primary key": "N",
            "unique key": "N",
            "check": None,
            "expression": None,
            "comment": c.comment,
            "policy name": None,
            "privacy domain": None,
        }
        for c in obj.columns
    ]
    return Result(pa.Table.from_pylist(rows))


def describe_result(rt: Runtime, command: commands.DescribeResult) -> Result:
    """DESCRIBE RESULT: the columns of a kept statement result (``results``), in DESCRIBE
    TABLE's layout."""
    log = rt.results
    query_id = command.query_id if command.query_id is not None else log.last_id(command.index)
    table = log.table(query_id, exp.Literal.string(query_id or ""))
    with rt.engine.register("_sm_described", table):
        columns = rt.engine.columns_of('SELECT * FROM "_sm_described"')
    rows = [
        {
            "name": name,
            "type": snowflake_type(duck),
            "kind": "COLUMN",
            "null?": "Y",
            "default": None,
            "primary key": "N",
            "unique key": "N",
            "check": None,
            "expression": None,
            "comment": None,
            "policy name": None,
            "privacy domain": None,
        }
        for name, duck in columns
    ]
    return Result(pa.Table.from_pylist(rows))


def snowflake_type(duck: str) -> str:
    """Show a stored DuckDB type with the Snowflake name users wrote."""
    text = duck.upper()
    mapping = {
        "VARCHAR": "VARCHAR(16777216)",
        "TEXT": "VARCHAR(16777216)",
        "JSON": "VARIANT",
        **dict.fromkeys(  # integers of any width (HUGEINT: a SUM of integers)
            ("BIGINT", "INTEGER", "SMALLINT", "TINYINT", "HUGEINT", "UBIGINT", "UINTEGER"),
            "NUMBER(38,0)",
        ),
        "DOUBLE": "FLOAT",
        "FLOAT": "FLOAT",
        "TIMESTAMP": "TIMESTAMP_NTZ(9)",
        "TIMESTAMP WITH TIME ZONE": "TIMESTAMP_LTZ(9)",
        "BOOLEAN": "BOOLEAN",
        "DATE": "DATE",
        "BLOB": "BINARY",
    }
    if text.startswith("DECIMAL"):
        return text.replace("DECIMAL", "NUMBER").replace(" ", "")
    return mapping.get(text, text)
