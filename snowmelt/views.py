"""Views: CREATE [OR REPLACE] VIEW, DROP VIEW, and keeping the views that read a view or a
table in step with it.

A view keeps its query qualified (three-part names) and is evaluated by snowmelt, its
definition inlined where it is read (``query.inline_views``), so a query always sees every
view as it is now. Its columns (for DESCRIBE, SHOW COLUMNS, INFORMATION_SCHEMA) and the
engine's own view of it (for other tools reading the database file) are made when it is
created — and made again when a view it reads is replaced or dropped, or a table it reads
is replaced or altered (``refresh_dependents``): the engine's view holds the inlined
definitions of views, and the columns were computed once.
"""

from __future__ import annotations

from contextlib import ExitStack

from sqlglot import exp

from snowmelt.catalog import CatalogObject, Column
from snowmelt.ddl import (
    check_schema,
    create_properties,
    drop,
    drop_object,
    prepare_replace,
    qualify_names,
    status,
)
from snowmelt.errors import SqlError
from snowmelt.names import ObjectName, drop_if_exists, identifier_value, quoted
from snowmelt.result import Result
from snowmelt.runtime import Runtime
from snowmelt.sql.parse import parse_padded
from snowmelt.sql.resolve import (
    information_schema_references,
    normalize,
    object_name,
    table_references,
)


def create_view(rt: Runtime, create: exp.Create) -> Result:
    table = create.this.this if isinstance(create.this, exp.Schema) else create.this
    name = object_name(table, rt.context)
    query = create.args["expression"]
    qualified = qualify_names(rt, query.copy())
    with rt.store.write("DDL"):
        check_schema(rt, name, table)
        existing = prepare_replace(
            rt, name, "VIEW", bool(create.args.get("replace")), bool(create.args.get("exists"))
        )
        if existing is False:
            return status(f"{name.name} already exists, statement succeeded.")
        if isinstance(existing, CatalogObject):
            drop_object(rt, existing)
        if isinstance(create.this, exp.Schema):  # V (A, B) AS ...: the columns renamed
            names = [
                identifier_value(e.this if isinstance(e, exp.ColumnDef) else e)
                for e in create.this.expressions
            ]
            qualified = exp.select("*").from_(
                exp.Subquery(
                    this=qualified,
                    alias=exp.TableAlias(this=quoted("_sm_v"), columns=[quoted(n) for n in names]),
                )
            )
        obj = CatalogObject(
            rt.catalog.next_oid(),
            name,
            "VIEW",
            rt.clock.now(),
            _engine_view(rt, name, qualified),
            qualified.sql("snowflake"),
            0,
            0,
            comment=create_properties(create)[1],
        )
        rt.catalog.add_object(obj)
    refresh_dependents(rt, name)
    return status(f"View {name.name} successfully created.")


def drop_view(rt: Runtime, table: exp.Expression, if_exists: bool) -> Result:
    result = drop(rt, "VIEW", table, if_exists)
    refresh_dependents(rt, object_name(table, rt.context))
    return result


def refresh_dependents(rt: Runtime, name: ObjectName) -> None:
    """The views that read ``name`` (directly or through other views) made again from
    their kept text: their columns and the engine's view follow what ``name`` now is. One
    that no longer binds loses its engine view (other tools reading the file get an error,
    not the old rows; snowmelt's own queries name the problem), each in its own commit, so
    that the statement that changed ``name`` stands either way."""
    views = []  # each view's kept query and what it reads, parsed once
    for view in rt.catalog.objects(kind="VIEW"):
        query = normalize(parse_padded(view.text or ""))
        views.append((view, query, _reads(rt, query)))
    done, queue = {name}, [name]
    while queue:
        changed = queue.pop(0)
        for view, query, reads in views:
            if view.name in done or changed not in reads:
                continue
            done.add(view.name)
            queue.append(view.name)
            remake(rt, view, query)


def remake(rt: Runtime, view: CatalogObject, query: exp.Expression | None = None) -> None:
    """View ``view`` made again from its kept text (``query``, parsed): its columns and the
    engine's view; one that no longer binds loses its engine view. Each in its own commit
    (joining the caller's, when one is open)."""
    if query is None:
        query = normalize(parse_padded(view.text or ""))
    try:
        with rt.store.write("DDL"):
            columns = _engine_view(rt, view.name, query.copy())
            rt.catalog.update_object(view.oid, columns=columns)
    except Exception:  # it no longer binds
        with rt.store.write("DDL"):
            rt.engine.execute(drop_if_exists("VIEW", view.name.view_table()))


def _reads(rt: Runtime, query: exp.Expression) -> set[ObjectName]:
    names = set()
    for table in table_references(query):
        try:
            names.add(rt.resolver.object_name(table))
        except SqlError:
            continue
    return names


def _engine_view(rt: Runtime, name: ObjectName, qualified: exp.Expression) -> list[Column]:
    """The view's columns, and the engine's view of ``name`` made over ``qualified``."""
    from snowmelt.information_schema import expand_information_schema
    from snowmelt.query import expand_table_functions, inline_views

    inlined = inline_views(rt, qualified.copy())
    with ExitStack() as stack:
        probe = expand_table_functions(rt, inlined.copy(), stack)
        probe = expand_information_schema(rt, probe, stack)
        for travel in list(probe.find_all(exp.HistoricalData)):
            travel.pop()  # the columns are today's; the instant is read at query time
        columns = [
            Column(n, t) for n, t in rt.engine.columns_of(rt.to_engine(rt.bind_for_read(probe)))
        ]
    # Views are evaluated by snowmelt (see query.inline_views); the engine's view is a
    # convenience for other tools reading the file, made when the query allows it (not with
    # table functions or time travel, which snowmelt computes at query time).
    computed = inlined.find(exp.TableFromRows, exp.HistoricalData) is not None or bool(
        information_schema_references(inlined)
    )
    if computed:
        rt.engine.execute(drop_if_exists("VIEW", name.view_table()))
    else:
        bound = rt.to_engine(rt.bind_for_read(inlined))
        rt.engine.execute(
            exp.Create(kind="VIEW", this=name.view_table(), expression=bound, replace=True)
        )
    return columns
