"""Streams: ``CREATE [OR REPLACE] STREAM [IF NOT EXISTS] s ON TABLE t [AT | BEFORE (...)]
[APPEND_ONLY = TRUE] [SHOW_INITIAL_ROWS = TRUE] [COMMENT = '...']``, ``DROP STREAM``,
``SHOW STREAMS``, ``DESCRIBE STREAM``, ``SYSTEM$STREAM_HAS_DATA('s')``, and reading and
consuming them.

A stream is an offset (a version) on a table's change history — a base table's or a
dynamic table's. Reading it yields the table's net change since the offset, from snowmelt's
change tracking (``Store.change``): each row with ``METADATA$ACTION`` (``INSERT`` or
``DELETE``), ``METADATA$ISUPDATE`` (TRUE for the two images of an updated row) and
``METADATA$ROW_ID`` (the row's stable id). A query reading it leaves the offset where it is;
a DML statement reading it moves it, when it commits, to the version it read — in an
explicit transaction every statement reads the same changes until COMMIT, and ROLLBACK
moves nothing, as on Snowflake. An ``APPEND_ONLY`` (or ``INSERT_ONLY``) stream yields the
rows inserted since the offset, whatever happened to them since; ``SHOW_INITIAL_ROWS`` starts
from an empty table, so the first read has every row as an insert.

The table keeps the change log a stream has not consumed (``retention`` does not vacuum below
an offset) for 14 days from when the stream was created or last consumed — Snowflake's
``MAX_DATA_EXTENSION_TIME_IN_DAYS``, by which it extends a source's retention for its streams.
Past that the stream is stale (``SHOW STREAMS``: ``stale``, ``stale_after``): reading it is an
error naming when it went stale, and it no longer holds the change log back; CREATE OR REPLACE
makes it anew. A stream whose table was dropped or replaced cannot be read (it names why);
streams on views, external tables and stages are refused by name.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa
from sqlglot import exp

from snowmelt import ddl
from snowmelt.catalog import CatalogObject, Column
from snowmelt.ddl import check_schema, drop_object, prepare_replace, status
from snowmelt.errors import SqlError, UnsupportedError
from snowmelt.names import (
    INSERT_VERSION,
    ROW_ID,
    WEIGHT,
    ObjectName,
    col,
    data_table,
    delete_log,
    quoted,
)
from snowmelt.result import Result
from snowmelt.runtime import Runtime
from snowmelt.show import listing, one
from snowmelt.sql import commands
from snowmelt.sql.resolve import object_name, position

ACTION, IS_UPDATE, ROW = "METADATA$ACTION", "METADATA$ISUPDATE", "METADATA$ROW_ID"
# Snowflake's MAX_DATA_EXTENSION_TIME_IN_DAYS default: how long an unconsumed stream keeps
# its table's change log (longer than the one-day time-travel window)
EXTENSION = timedelta(days=14)
METADATA = [Column(ACTION, "VARCHAR"), Column(IS_UPDATE, "BOOLEAN"), Column(ROW, "VARCHAR")]
SHOW_COLUMNS = [
    ("created_on", pa.timestamp("us", tz="UTC")),
    ("name", pa.string()),
    ("database_name", pa.string()),
    ("schema_name", pa.string()),
    ("owner", pa.string()),
    ("comment", pa.string()),
    ("table_name", pa.string()),
    ("source_type", pa.string()),
    ("base_tables", pa.string()),
    ("type", pa.string()),
    ("stale", pa.string()),
    ("mode", pa.string()),
    ("stale_after", pa.timestamp("us", tz="UTC")),
    ("invalid_reason", pa.string()),
    ("owner_role_type", pa.string()),
]


def _truthy(value: Any) -> bool:
    return str(value).upper() in ("TRUE", "1", "YES", "ON")


def create(rt: Runtime, command: commands.CreateStream) -> Result:
    name = object_name(command.name, rt.context)
    if command.on_kind not in ("TABLE", "DYNAMIC TABLE"):
        raise UnsupportedError(
            f"STREAM ON {command.on_kind}",
            f"STREAM ON {command.on_kind} is not supported by snowmelt (streams on tables and "
            "dynamic tables are); create the stream on the table it reads",
            *position(command.source),
        )
    props = command.properties
    append_only = _truthy(props.get("APPEND_ONLY", False)) or _truthy(
        props.get("INSERT_ONLY", False)
    )
    with rt.store.write("DDL"):
        check_schema(rt, name, command.name)
        table = rt.resolver.lookup(command.source, ("TABLE", "DYNAMIC TABLE"))
        existing = prepare_replace(rt, name, "STREAM", command.replace, command.if_not_exists)
        if existing is False:
            return status(f"{name.name} already exists, statement succeeded.")
        if isinstance(existing, CatalogObject):
            drop_object(rt, existing)
        when = command.source.args.get("when")
        if when is not None:
            offset = rt.version_for(when)
        elif _truthy(props.get("SHOW_INITIAL_ROWS", False)):
            offset = 0  # from an empty table: every row is an insert
        else:
            offset = rt.store.version
        spec = {
            "table": table.oid,
            "offset": offset,
            "mode": "APPEND_ONLY" if append_only else "DEFAULT",
            "source_type": "Dynamic Table" if table.kind == "DYNAMIC TABLE" else "Table",
            "read_at": rt.clock.now().isoformat(),  # staleness counts from here
        }
        rt.catalog.add_object(
            CatalogObject(
                rt.catalog.next_oid(),
                name,
                "STREAM",
                rt.clock.now(),
                [Column(c.name, c.type) for c in table.columns] + METADATA,
                json.dumps(spec),
                0,
                0,
                comment=str(props["COMMENT"]) if "COMMENT" in props else None,
            )
        )
    return status(f"Stream {name.name} successfully created.")


def drop(rt: Runtime, command: commands.DropObject) -> Result:
    return ddl.drop(rt, "STREAM", command.name, command.if_exists)


def copy(
    rt: Runtime,
    stream: CatalogObject,
    name: ObjectName,
    moved: Callable[[ObjectName], ObjectName],
    version: int,
) -> None:
    """A clone of ``stream`` named ``name`` in a cloned schema (``moved`` maps names into
    it; the clone's commit is at ``version``): on the clone of its table, from the clone on
    (what it had not consumed is not carried over, as on Snowflake); on a table outside,
    from where it stood."""
    spec = definition(stream)
    table = rt.catalog.get(spec["table"])
    cloned = rt.catalog.find(moved(table.name))
    if cloned is not None and cloned.oid != table.oid:
        spec = dict(spec, table=cloned.oid, offset=version, read_at=rt.clock.now().isoformat())
    rt.catalog.add_object(
        dataclasses.replace(
            stream,
            oid=rt.catalog.next_oid(),
            name=name,
            created_on=rt.clock.now(),
            text=json.dumps(spec),
        )
    )


def definition(obj: CatalogObject) -> dict[str, Any]:
    return dict(json.loads(obj.text or "{}"))


def stale_after(stream: CatalogObject) -> datetime:
    """When ``stream`` goes (or went) stale: EXTENSION after it was created or last consumed
    (a stream from before this was recorded counts from its creation)."""
    read_at = definition(stream).get("read_at")
    return (datetime.fromisoformat(read_at) if read_at else stream.created_on) + EXTENSION


def is_stale(rt: Runtime, stream: CatalogObject) -> bool:
    return rt.clock.now() > stale_after(stream)


def _table(rt: Runtime, stream: CatalogObject) -> CatalogObject | None:
    """The stream's table, None when it was dropped or replaced."""
    table = rt.catalog.get(definition(stream)["table"])
    live = rt.catalog.find(table.name)
    return table if live is not None and live.oid == table.oid else None


def read(rt: Runtime, stream: CatalogObject, node: exp.Expression) -> exp.Expression:
    """What reading ``stream`` yields now (engine rows: the table's columns and the three
    METADATA$ columns). In a DML statement, its commit moves the offset to what was read."""
    table = _table(rt, stream)
    if table is None:
        raise SqlError(
            f"Stream {stream.name} cannot be read: the table it is on was dropped or replaced "
            "(create the stream again)",
            *position(node),
        )
    if is_stale(rt, stream):
        raise SqlError(
            f"Stream {stream.name} is stale since {stale_after(stream):%Y-%m-%d %H:%M:%S %Z}: "
            f"it was not consumed within {EXTENSION.days} days, and the change log it reads "
            "is no longer kept for it. Create it again (CREATE OR REPLACE STREAM ...)",
            *position(node),
        )
    spec = definition(stream)
    upto = rt.store.version
    after = min(int(spec["offset"]), upto)
    rows = (
        _appended(table, after, upto)
        if spec["mode"] == "APPEND_ONLY"
        else _net_change(rt, table, after, upto)
    )
    if rt.consuming_streams:  # a DML statement: consumed when it commits
        key, hook = f"stream {stream.oid}", lambda: _advance(rt, stream.oid, upto)
        commit = rt.store.open_commit
        if commit is not None:
            commit.before_commit[key] = hook
        else:  # it reads before it writes: its commit takes the hook
            rt.store.defer(key, hook)
    return rows


def _net_change(rt: Runtime, table: CatalogObject, after: int, upto: int) -> exp.Expression:
    change = rt.store.change(table.oid, table.column_names, after, upto)
    return exp.select(
        *[col(c) for c in table.column_names],
        exp.If(
            this=exp.GT(this=col(WEIGHT), expression=exp.Literal.number(0)),
            true=exp.Literal.string("INSERT"),
            false=exp.Literal.string("DELETE"),
        ).as_(ACTION),
        exp.GT(
            this=exp.Window(this=exp.Count(this=exp.Star()), partition_by=[col(ROW_ID)]),
            expression=exp.Literal.number(1),
        ).as_(IS_UPDATE),
        exp.cast(col(ROW_ID), "VARCHAR").as_(ROW),
    ).from_(exp.Subquery(this=change, alias=exp.TableAlias(this=quoted("_sm_change"))))


def _appended(table: CatalogObject, after: int, upto: int) -> exp.Expression:
    """The rows first inserted over (after, upto], as they were inserted."""
    names = table.column_names
    born = exp.and_(
        exp.GT(this=col(INSERT_VERSION), expression=exp.Literal.number(after)),
        exp.LTE(this=col(INSERT_VERSION), expression=exp.Literal.number(upto)),
    )
    images = exp.union(
        exp.select(*[col(c) for c in names], col(ROW_ID), col(INSERT_VERSION))
        .from_(data_table(table.oid))
        .where(born),
        exp.select(*[col(c) for c in names], col(ROW_ID), col(INSERT_VERSION))
        .from_(delete_log(table.oid))
        .where(born.copy()),
        distinct=False,
    )
    older = (
        exp.select(col(ROW_ID))
        .from_(delete_log(table.oid))
        .where(exp.LTE(this=col(INSERT_VERSION), expression=exp.Literal.number(after)))
    )
    first = exp.EQ(
        this=exp.Window(
            this=exp.RowNumber(),
            partition_by=[col(ROW_ID)],
            order=exp.Order(expressions=[exp.Ordered(this=col(INSERT_VERSION))]),
        ),
        expression=exp.Literal.number(1),
    )
    return (
        exp.select(
            *[col(c) for c in names],
            exp.Literal.string("INSERT").as_(ACTION),
            exp.false().as_(IS_UPDATE),
            exp.cast(col(ROW_ID), "VARCHAR").as_(ROW),
        )
        .from_(exp.Subquery(this=images, alias=exp.TableAlias(this=quoted("_sm_images"))))
        .where(exp.not_(exp.In(this=col(ROW_ID), query=exp.Subquery(this=older))))
        .qualify(first)
    )


def _advance(rt: Runtime, oid: int, version: int) -> None:
    obj = rt.catalog.get(oid)
    spec = definition(obj)
    if version >= int(spec["offset"]):  # consumed: fresh for EXTENSION from now
        moved = dict(spec, offset=version, read_at=rt.clock.now().isoformat())
        rt.catalog.update_object(oid, text=json.dumps(moved))


def has_data(rt: Runtime, name: exp.Expression) -> bool:
    """SYSTEM$STREAM_HAS_DATA: whether reading the stream would yield a row."""
    stream = rt.resolver.lookup(name, ("STREAM",))
    rows = read(rt, stream, name)
    probe = exp.select(exp.Literal.number(1)).from_(
        exp.Subquery(this=rows, alias=exp.TableAlias(this=quoted("_sm_s")))
    )
    return bool(rt.engine.rows(probe.limit(1)))


def expand_has_data(rt: Runtime, query: exp.Expression) -> exp.Expression:
    """``SYSTEM$STREAM_HAS_DATA('s')`` in a query, replaced by its value."""
    for node in list(query.find_all(exp.Anonymous)):
        if node.name.upper() != "SYSTEM$STREAM_HAS_DATA":
            continue
        args = node.expressions
        if len(args) != 1 or not (isinstance(args[0], exp.Literal) and args[0].is_string):
            raise SqlError(
                "SYSTEM$STREAM_HAS_DATA takes the stream's name as a string literal",
                *position(node),
            )
        named = exp.to_table(args[0].name, dialect="snowflake")
        value = exp.true() if has_data(rt, named) else exp.false()
        if node is query:
            return value
        node.replace(value)
    return query


def offsets(rt: Runtime) -> dict[int, int]:
    """Per table, the lowest offset of the streams on it that are not stale (its change log
    must reach it)."""
    found: dict[int, int] = {}
    for stream in rt.catalog.objects("STREAM"):
        if is_stale(rt, stream):
            continue  # it no longer holds the change log back
        spec = definition(stream)
        table, offset = int(spec["table"]), int(spec["offset"])
        found[table] = min(found.get(table, offset), offset)
    return found


def show(rt: Runtime, command: commands.Show) -> Result:
    return listing(rt, command, "STREAM", _row, SHOW_COLUMNS)


def describe(rt: Runtime, command: commands.Describe) -> Result:
    return one(rt, command, "STREAM", _row, SHOW_COLUMNS)


def _row(rt: Runtime, obj: CatalogObject) -> dict[str, Any]:
    spec = definition(obj)
    table = _table(rt, obj)
    named = str(table.name) if table is not None else str(rt.catalog.get(spec["table"]).name)
    return {
        "created_on": obj.created_on,
        "name": obj.name.name,
        "database_name": obj.name.database,
        "schema_name": obj.name.schema,
        "owner": "SYSADMIN",
        "comment": obj.comment or "",
        "table_name": named,
        "source_type": spec["source_type"],
        "base_tables": named,
        "type": "DELTA",
        "stale": "false" if table is not None and not is_stale(rt, obj) else "true",
        "mode": spec["mode"],
        "stale_after": stale_after(obj),
        "invalid_reason": "N/A" if table is not None else "the table was dropped or replaced",
        "owner_role_type": "ROLE",
    }
