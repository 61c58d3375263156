"""A database's INFORMATION_SCHEMA: the TABLES, COLUMNS, VIEWS and SCHEMATA views.

Computed from the catalog when a query reads them (``query.run_query``) and exposed to it as
registered Arrow tables, with Snowflake's column names and values: dynamic tables are
``BASE TABLE`` with ``IS_DYNAMIC = 'YES'``, types read as Snowflake names them (``NUMBER``
with its precision and scale, ``TEXT`` of 16,777,216 characters, ``TIMESTAMP_NTZ``, ...),
identity columns with their start and increment. ``INFORMATION_SCHEMA.X`` unqualified is the
current database's; ``DB.INFORMATION_SCHEMA.X`` another's. A view snowmelt does not have is
named in the error, with the ones it has. ``SHOW COLUMNS`` lists the same columns in
Snowflake's SHOW layout.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

import pyarrow as pa
from sqlglot import exp

from snowmelt.catalog import CatalogObject, Column
from snowmelt.ddl import default_text, identity_text
from snowmelt.errors import ObjectNotFound, SqlError
from snowmelt.result import Result
from snowmelt.runtime import Runtime
from snowmelt.show import in_scope, matches_like, snowflake_type
from snowmelt.sql import commands
from snowmelt.sql.resolve import information_schema_references, position

SCHEMA = "INFORMATION_SCHEMA"
_OWNER = "SYSADMIN"
_YES_NO = {True: "YES", False: "NO"}


def expand_information_schema(
    rt: Runtime, expression: exp.Expression, stack: ExitStack
) -> exp.Expression:
    """Replace each ``[DB.]INFORMATION_SCHEMA.<view>`` of ``expression`` by its rows."""
    for number, table in enumerate(information_schema_references(expression)):
        database = table.text("catalog").upper() or rt.context.database
        if database is None:
            raise SqlError(
                f"{SCHEMA}.{table.name} needs a database: run USE DATABASE or qualify it",
                *position(table),
            )
        if database not in {d for d, _, _ in rt.catalog.databases()}:
            raise ObjectNotFound(f"Database '{database}' does not exist.", name=database)
        view = table.name.upper()
        producer = _VIEWS.get(view)
        if producer is None:
            raise ObjectNotFound(
                f"{database}.{SCHEMA}.{view} is not one of snowmelt's information schema "
                f"views ({', '.join(sorted(_VIEWS))})",
                name=f"{database}.{SCHEMA}.{view}",
            )
        rt.expose(stack, f"_sm_info_{number}", producer(rt, database), table, view)
    return expression


def _objects(rt: Runtime, database: str) -> list[CatalogObject]:
    return rt.catalog.objects(database=database)


def _tables(rt: Runtime, database: str) -> pa.Table:
    rows = []
    for obj in _objects(rt, database):
        rows.append(
            {
                "TABLE_CATALOG": obj.name.database,
                "TABLE_SCHEMA": obj.name.schema,
                "TABLE_NAME": obj.name.name,
                "TABLE_OWNER": _OWNER,
                "TABLE_TYPE": "VIEW" if obj.kind == "VIEW" else "BASE TABLE",
                "IS_TRANSIENT": _YES_NO[bool(obj.transient)],
                "CLUSTERING_KEY": None,
                "ROW_COUNT": rt.store.count_rows(obj.oid) if obj.tracked else None,
                "BYTES": None,
                "RETENTION_TIME": 1,
                "CREATED": obj.created_on,
                "LAST_ALTERED": obj.created_on,
                "LAST_DDL": obj.created_on,
                "LAST_DDL_BY": _OWNER,
                "AUTO_CLUSTERING_ON": "NO",
                "COMMENT": obj.comment,
                "IS_TEMPORARY": "NO",
                "IS_ICEBERG": "NO",
                "IS_DYNAMIC": _YES_NO[obj.kind == "DYNAMIC TABLE"],
                "IS_HYBRID": "NO",
            }
        )
    return pa.Table.from_pylist(rows, schema=_TABLES)


_NUMBER = re.compile(r"^NUMBER\((\d+),(\d+)\)$")
_TIME = re.compile(r"^(TIMESTAMP_\w+|TIME)\((\d)\)$")
_TEXT_LENGTH = 16_777_216


def _type_columns(column: Column) -> dict[str, Any]:
    """DATA_TYPE and its precision columns, as Snowflake fills them."""
    shown = snowflake_type(column.type)
    out: dict[str, Any] = {"DATA_TYPE": shown}
    number, time = _NUMBER.match(shown), _TIME.match(shown)
    if number:
        out.update(
            DATA_TYPE="NUMBER",
            NUMERIC_PRECISION=int(number.group(1)),
            NUMERIC_PRECISION_RADIX=10,
            NUMERIC_SCALE=int(number.group(2)),
        )
    elif shown.startswith("VARCHAR"):
        out.update(
            DATA_TYPE="TEXT",
            CHARACTER_MAXIMUM_LENGTH=_TEXT_LENGTH,
            CHARACTER_OCTET_LENGTH=_TEXT_LENGTH,
        )
    elif time:
        out.update(DATA_TYPE=time.group(1), DATETIME_PRECISION=int(time.group(2)))
    elif shown == "FLOAT":
        out.update(NUMERIC_PRECISION=53, NUMERIC_PRECISION_RADIX=2)
    return out


def _columns(rt: Runtime, database: str) -> pa.Table:
    rows = []
    for obj in _objects(rt, database):
        for position_number, column in enumerate(obj.columns, start=1):
            identity = identity_text(rt, column.default)  # IDENTITY START s INCREMENT i
            start, increment = identity.split()[2::2] if identity else (None, None)
            rows.append(
                {
                    "TABLE_CATALOG": obj.name.database,
                    "TABLE_SCHEMA": obj.name.schema,
                    "TABLE_NAME": obj.name.name,
                    "COLUMN_NAME": column.name,
                    "ORDINAL_POSITION": position_number,
                    "COLUMN_DEFAULT": None if identity else default_text(rt, column.default),
                    "IS_NULLABLE": _YES_NO[column.nullable],
                    **_type_columns(column),
                    "IS_IDENTITY": _YES_NO[identity is not None],
                    "IDENTITY_START": start,
                    "IDENTITY_INCREMENT": increment,
                    "COMMENT": column.comment,
                }
            )
    return pa.Table.from_pylist(rows, schema=_COLUMNS)


def show_columns(rt: Runtime, command: commands.Show) -> Result:
    """SHOW COLUMNS [LIKE] [IN TABLE t | SCHEMA s | DATABASE d | ACCOUNT]: a row per column,
    ``data_type`` as Snowflake's JSON (``{"type": "FIXED", "precision": 38, ...}``)."""
    if command.in_kind == "TABLE" and command.in_name is not None:
        objects = [rt.resolver.lookup(command.in_name, ("TABLE", "DYNAMIC TABLE", "VIEW"))]
    else:
        objects = [o for o in rt.catalog.objects() if in_scope(rt, command, o.name)]
    rows = []
    for obj in objects:
        for column in obj.columns:
            if not matches_like(command.like, column.name):
                continue
            identity = identity_text(rt, column.default)
            rows.append(
                {
                    "table_name": obj.name.name,
                    "schema_name": obj.name.schema,
                    "column_name": column.name,
                    "data_type": json.dumps(_type_json(column)),
                    "null?": "true" if column.nullable else "false",
                    "default": "" if identity or column.default is None else column.default,
                    "kind": "COLUMN",
                    "expression": "",
                    "comment": column.comment or "",
                    "database_name": obj.name.database,
                    "autoincrement": identity.replace("IDENTITY ", "").lower() if identity else "",
                }
            )
    return Result(pa.Table.from_pylist(rows, schema=_SHOW_COLUMNS))


def show_objects(rt: Runtime, command: commands.Show) -> Result:
    """SHOW [TERSE] OBJECTS [LIKE] [IN SCHEMA | DATABASE | ACCOUNT]: tables, dynamic tables
    (kind TABLE, is_dynamic Y) and views, as tools like dbt list a schema's relations."""
    rows = []
    for obj in rt.catalog.objects():
        if not (in_scope(rt, command, obj.name) and matches_like(command.like, obj.name.name)):
            continue
        row: dict[str, Any] = {
            "created_on": obj.created_on,
            "name": obj.name.name,
            "kind": "VIEW" if obj.kind == "VIEW" else "TABLE",
            "database_name": obj.name.database,
            "schema_name": obj.name.schema,
        }
        if not command.terse:
            row |= {
                "comment": obj.comment or "",
                "cluster_by": "",
                "rows": rt.store.count_rows(obj.oid) if obj.tracked else None,
                "bytes": None,
                "owner": _OWNER,
                "retention_time": "1",
                "owner_role_type": "ROLE",
                "is_hybrid": "N",
                "is_dynamic": "Y" if obj.kind == "DYNAMIC TABLE" else "N",
                "is_iceberg": "N",
            }
        rows.append(row)
    schema = _SHOW_OBJECTS_TERSE if command.terse else _SHOW_OBJECTS
    return Result(pa.Table.from_pylist(rows, schema=schema))


def _type_json(column: Column) -> dict[str, Any]:
    typed = _type_columns(column)
    kind = typed["DATA_TYPE"]
    out: dict[str, Any] = {"type": {"NUMBER": "FIXED", "FLOAT": "REAL"}.get(kind, kind)}
    if kind == "NUMBER":
        out.update(precision=typed["NUMERIC_PRECISION"], scale=typed["NUMERIC_SCALE"])
    elif kind == "TEXT":
        out.update(length=_TEXT_LENGTH, byteLength=_TEXT_LENGTH, fixed=False)
    elif "DATETIME_PRECISION" in typed:
        out.update(precision=0, scale=typed["DATETIME_PRECISION"])
    out["nullable"] = column.nullable
    return out


def _views(rt: Runtime, database: str) -> pa.Table:
    from snowmelt.get_ddl import ddl_text

    rows = [
        {
            "TABLE_CATALOG": obj.name.database,
            "TABLE_SCHEMA": obj.name.schema,
            "TABLE_NAME": obj.name.name,
            "TABLE_OWNER": _OWNER,
            "VIEW_DEFINITION": ddl_text(rt, obj),
            "CHECK_OPTION": "NONE",
            "IS_UPDATABLE": "NO",
            "INSERTABLE_INTO": "NO",
            "IS_SECURE": "NO",
            "CREATED": obj.created_on,
            "LAST_ALTERED": obj.created_on,
            "LAST_DDL": obj.created_on,
            "LAST_DDL_BY": _OWNER,
            "COMMENT": obj.comment,
        }
        for obj in _objects(rt, database)
        if obj.kind == "VIEW"
    ]
    return pa.Table.from_pylist(rows, schema=_VIEWS_SCHEMA)


def _schemata(rt: Runtime, database: str) -> pa.Table:
    schemas = [
        (s, created, comment)
        for d, s, created, comment in rt.catalog.schemas_with_comments(database)
        if d == database
    ]
    created_db = next((c for d, c, _ in rt.catalog.databases() if d == database), None)
    rows = [
        {
            "CATALOG_NAME": database,
            "SCHEMA_NAME": name,
            "SCHEMA_OWNER": _OWNER if name != SCHEMA else None,
            "IS_TRANSIENT": "NO",
            "IS_MANAGED_ACCESS": "NO",
            "RETENTION_TIME": 1,
            "CREATED": created,
            "LAST_ALTERED": created,
            "COMMENT": comment,
        }
        for name, created, comment in [
            *schemas,
            (SCHEMA, created_db, "Views describing the contents of schemas"),
        ]
    ]
    return pa.Table.from_pylist(rows, schema=_SCHEMATA)


def _schema(*fields: tuple[str, pa.DataType]) -> pa.Schema:
    return pa.schema(list(fields))


_TIMESTAMP = pa.timestamp("us", tz="UTC")
_TABLES = _schema(
    ("TABLE_CATALOG", pa.string()),
    ("TABLE_SCHEMA", pa.string()),
    ("TABLE_NAME", pa.string()),
    ("TABLE_OWNER", pa.string()),
    ("TABLE_TYPE", pa.string()),
    ("IS_TRANSIENT", pa.string()),
    ("CLUSTERING_KEY", pa.string()),
    ("ROW_COUNT", pa.int64()),
    ("BYTES", pa.int64()),
    ("RETENTION_TIME", pa.int64()),
    ("CREATED", _TIMESTAMP),
    ("LAST_ALTERED", _TIMESTAMP),
    ("LAST_DDL", _TIMESTAMP),
    ("LAST_DDL_BY", pa.string()),
    ("AUTO_CLUSTERING_ON", pa.string()),
    ("COMMENT", pa.string()),
    ("IS_TEMPORARY", pa.string()),
    ("IS_ICEBERG", pa.string()),
    ("IS_DYNAMIC", pa.string()),
    ("IS_HYBRID", pa.string()),
)
_COLUMNS = _schema(
    ("TABLE_CATALOG", pa.string()),
    ("TABLE_SCHEMA", pa.string()),
    ("TABLE_NAME", pa.string()),
    ("COLUMN_NAME", pa.string()),
    ("ORDINAL_POSITION", pa.int64()),
    ("COLUMN_DEFAULT", pa.string()),
    ("IS_NULLABLE", pa.string()),
    ("DATA_TYPE", pa.string()),
    ("CHARACTER_MAXIMUM_LENGTH", pa.int64()),
    ("CHARACTER_OCTET_LENGTH", pa.int64()),
    ("NUMERIC_PRECISION", pa.int64()),
    ("NUMERIC_PRECISION_RADIX", pa.int64()),
    ("NUMERIC_SCALE", pa.int64()),
    ("DATETIME_PRECISION", pa.int64()),
    ("IS_IDENTITY", pa.string()),
    ("IDENTITY_START", pa.string()),
    ("IDENTITY_INCREMENT", pa.string()),
    ("COMMENT", pa.string()),
)
_VIEWS_SCHEMA = _schema(
    ("TABLE_CATALOG", pa.string()),
    ("TABLE_SCHEMA", pa.string()),
    ("TABLE_NAME", pa.string()),
    ("TABLE_OWNER", pa.string()),
    ("VIEW_DEFINITION", pa.string()),
    ("CHECK_OPTION", pa.string()),
    ("IS_UPDATABLE", pa.string()),
    ("INSERTABLE_INTO", pa.string()),
    ("IS_SECURE", pa.string()),
    ("CREATED", _TIMESTAMP),
    ("LAST_ALTERED", _TIMESTAMP),
    ("LAST_DDL", _TIMESTAMP),
    ("LAST_DDL_BY", pa.string()),
    ("COMMENT", pa.string()),
)
_SCHEMATA = _schema(
    ("CATALOG_NAME", pa.string()),
    ("SCHEMA_NAME", pa.string()),
    ("SCHEMA_OWNER", pa.string()),
    ("IS_TRANSIENT", pa.string()),
    ("IS_MANAGED_ACCESS", pa.string()),
    ("RETENTION_TIME", pa.int64()),
    ("CREATED", _TIMESTAMP),
    ("LAST_ALTERED", _TIMESTAMP),
    ("COMMENT", pa.string()),
)
_SHOW_COLUMNS = _schema(
    ("table_name", pa.string()),
    ("schema_name", pa.string()),
    ("column_name", pa.string()),
    ("data_type", pa.string()),
    ("null?", pa.string()),
    ("default", pa.string()),
    ("kind", pa.string()),
    ("expression", pa.string()),
    ("comment", pa.string()),
    ("database_name", pa.string()),
    ("autoincrement", pa.string()),
)
_SHOW_OBJECTS_TERSE = _schema(
    ("created_on", _TIMESTAMP),
    ("name", pa.string()),
    ("kind", pa.string()),
    ("database_name", pa.string()),
    ("schema_name", pa.string()),
)
_SHOW_OBJECTS = _schema(
    *[(f.name, f.type) for f in _SHOW_OBJECTS_TERSE],
    ("comment", pa.string()),
    ("cluster_by", pa.string()),
    ("rows", pa.int64()),
    ("bytes", pa.int64()),
    ("owner", pa.string()),
    ("retention_time", pa.string()),
    ("owner_role_type", pa.string()),
    ("is_hybrid", pa.string()),
    ("is_dynamic", pa.string()),
    ("is_iceberg", pa.string()),
)
_VIEWS: dict[str, Callable[[Runtime, str], pa.Table]] = {
    "TABLES": _tables,
    "COLUMNS": _columns,
    "VIEWS": _views,
    "SCHEMATA": _schemata,
}
