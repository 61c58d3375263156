"""UNDROP TABLE | DYNAMIC TABLE | SCHEMA | DATABASE: the most recent drop of that name,
within the time-travel window (one day; ``retention.purge_dropped`` forgets older drops).

A table comes back with its rows, history and the dynamic tables that read it (they refresh
again). A dynamic table comes back with its definition, schedule and state; its next refresh
plans it again and reinitializes it (what it had consumed of its sources is not kept). A
schema comes back with what it held when it was dropped — tables, dynamic tables, views,
sequences (from the same next value) and functions — and a database with its schemas.
"""

from __future__ import annotations

from typing import Any

from sqlglot import exp

from snowmelt import views
from snowmelt.catalog import CatalogObject
from snowmelt.ddl import check_schema, create_schema_storage, refresh_view, status
from snowmelt.errors import ObjectExists, ObjectNotFound, UnsupportedError
from snowmelt.monitoring import record_graph
from snowmelt.result import Result
from snowmelt.runtime import Runtime
from snowmelt.sql.resolve import name_parts, object_name, position, schema_of

KEPT = "dropped objects are kept for one day"


def undrop(rt: Runtime, undrop: exp.Expression) -> Result:
    kind = str(undrop.args.get("kind") or "").upper()
    if kind in ("TABLE", "DYNAMIC TABLE"):
        return _undrop_table(rt, undrop, kind)
    if kind in ("SCHEMA", "DATABASE"):
        return _undrop_container(rt, undrop, kind)
    raise UnsupportedError(
        f"UNDROP {kind}",
        f"UNDROP {kind} is not supported by snowmelt (UNDROP TABLE, DYNAMIC TABLE, SCHEMA "
        f"and DATABASE are); re-create the {kind.lower()}",
        *position(undrop),
    )


def _undrop_table(rt: Runtime, undrop: exp.Expression, kind: str) -> Result:
    name = object_name(undrop.this, rt.context)
    with rt.store.write("DDL"):
        if rt.catalog.find(name) is not None:
            raise ObjectExists(f"Object '{name}' already exists.", name=str(name))
        check_schema(rt, name, undrop.this)
        obj = rt.catalog.last_dropped(name, kind)
        if obj is None:
            raise ObjectNotFound(
                f"{kind.capitalize()} '{name}' did not exist or was purged ({KEPT}).",
                name=str(name),
            )
        _restore(rt, obj)
    what = "Dynamic table" if kind == "DYNAMIC TABLE" else "Table"
    return status(f"{what} {name.name} successfully restored.")


def _restore(rt: Runtime, obj: CatalogObject) -> None:
    rt.catalog.undrop(obj.oid)
    if obj.kind == "DYNAMIC TABLE":
        rt.catalog.restore_dynamic_table(obj.oid)
        record_graph(rt, obj.oid)
    if obj.tracked:
        refresh_view(rt, obj)


def _undrop_container(rt: Runtime, undrop: exp.Expression, kind: str) -> Result:
    # sqlglot reads UNDROP SCHEMA D.S as a table name without its last part
    parts = name_parts(undrop.this)
    if kind == "DATABASE":
        database, schema = parts[-1], None
    else:
        database, schema = schema_of(parts, rt.context)
    label = database if schema is None else f"{database}.{schema}"
    restored: list[CatalogObject] = []
    with rt.store.write("DDL"):
        if schema is None:
            if rt.catalog.database_exists(database):
                raise ObjectExists(f"Database '{database}' already exists.", name=database)
            kept = rt.catalog.dropped_database(database)
            if kept is None:
                raise ObjectNotFound(
                    f"Database '{database}' did not exist or was purged ({KEPT}).",
                    name=database,
                )
            rt.catalog.add_database(
                database, kept["created_on"], kept["comment"], bool(kept["transient"])
            )
            rt.catalog.forget_dropped(database, None, kept["version"])
            schemas = rt.catalog.dropped_schemas(database, version=kept["version"])
        else:
            if not rt.catalog.database_exists(database):
                raise ObjectNotFound(
                    f"Database '{database}' does not exist (UNDROP DATABASE {database} first, "
                    "if it was dropped).",
                    name=database,
                )
            if rt.catalog.schema_exists(database, schema):
                raise ObjectExists(f"Schema '{label}' already exists.", name=label)
            schemas = rt.catalog.dropped_schemas(database, schema)[:1]
            if not schemas:
                raise ObjectNotFound(
                    f"Schema '{label}' did not exist or was purged ({KEPT}).", name=label
                )
        for kept_schema in schemas:
            restored += _restore_schema(rt, kept_schema)
    for view in restored:  # outside the commit: one that no longer binds stays, unviewed
        if view.kind == "VIEW":
            views.remake(rt, view)
    what = "Database" if schema is None else "Schema"
    return status(f"{what} {schema or database} successfully restored.")


def _restore_schema(rt: Runtime, kept: dict[str, Any]) -> list[CatalogObject]:
    """Put back schema ``kept`` and the objects dropped with it (tables first); returns
    them."""
    create_schema_storage(rt, kept["database"], kept["name"], kept["comment"], kept["created_on"])
    rt.catalog.forget_dropped(kept["database"], kept["name"], kept["version"])
    objects = sorted(
        (rt.catalog.get(oid) for oid in kept["objects"]),
        key=lambda o: (o.kind == "VIEW", o.kind == "DYNAMIC TABLE", o.oid),
    )
    for obj in objects:
        _restore(rt, obj)
    return objects
