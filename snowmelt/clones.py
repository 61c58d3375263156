"""Clones of dynamic tables, schemas and databases.

``CREATE DYNAMIC TABLE t CLONE s [AT | BEFORE (...)]`` makes a dynamic table of its own with
s's definition, modes and rows (hidden state included) — as of now, or of the instant
AT/BEFORE names. As on Snowflake it comes up suspended (``CLONED_AUTO_SUSPENDED``), and
TARGET_LAG and WAREHOUSE may be given anew. A clone of the present takes over s's frontier
(what it consumed of each source), so once resumed it refreshes incrementally from there;
a clone of a past instant has that instant's rows and data timestamp, but what s had
consumed then is not kept: its first refresh reinitializes it.

``CREATE SCHEMA | DATABASE c CLONE s [AT | BEFORE (...)]`` clones what the container holds:
tables (their rows as of the instant), sequences (going on from the same next value),
functions, views, dynamic tables and streams — the objects that existed at the instant (a
stream on a cloned table starts at the clone: as on Snowflake, what it had not consumed is
not in the clone's stream). Names that
point into the cloned container point into the clone: a view or dynamic table reading
``S.T`` reads the clone's ``T``; one reading outside it reads what it read. Each cloned
dynamic table is planned again over its new sources, keeps its rows, and comes up suspended
(``CLONED_AUTO_SUSPENDED``, or ``UPSTREAM_CLONED_AUTO_SUSPENDED`` when it reads another
cloned dynamic table; resuming that one resumes it). Its sources are new tables, so what it
had consumed of them means nothing: its first refresh reinitializes it.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

from sqlglot import exp

from snowmelt import ddl, sequences, streams, views
from snowmelt.catalog import CatalogObject, Column
from snowmelt.commits import Commit
from snowmelt.ddl import check_schema, prepare_replace, refresh_view, replace_object
from snowmelt.dynamic import set_properties
from snowmelt.errors import DynamicTableError, ObjectExists, ObjectNotFound
from snowmelt.monitoring import record_graph
from snowmelt.names import ObjectName, quoted
from snowmelt.planning import Planned, plan_query, resolved_mode
from snowmelt.properties import Options
from snowmelt.result import Result
from snowmelt.runtime import Runtime
from snowmelt.sql import commands
from snowmelt.sql.parse import parse_padded
from snowmelt.sql.resolve import name_parts, normalize, object_name, schema_of


def clone_dynamic_table(rt: Runtime, command: commands.CloneDynamicTable) -> Result:
    """CREATE DYNAMIC TABLE t CLONE s [AT | BEFORE (...)] (see the module docstring)."""
    name = object_name(command.name, rt.context)
    with rt.store.write("DDL") as commit:
        check_schema(rt, name, command.name)
        source = rt.resolver.lookup(command.source, ("DYNAMIC TABLE",))
        existing = prepare_replace(
            rt, name, "DYNAMIC TABLE", command.replace, command.if_not_exists
        )
        if existing is False:
            return Result.status(f"{name.name} already exists, statement succeeded.")
        if isinstance(existing, CatalogObject) and existing.oid == source.oid:
            raise DynamicTableError(f"Cannot replace {name} with a clone of itself", name=str(name))
        when = command.source.args.get("when")
        version = rt.version_for(when) if when is not None else None
        oid = rt.catalog.next_oid()
        generation = replace_object(rt, existing, oid)
        obj = _copy_dynamic_table(rt, commit, source, name, oid, generation, version)
        if command.properties:
            set_properties(rt, obj, command.properties)
    return Result.status(f"Dynamic table {name.name} successfully created.")


def _copy_dynamic_table(
    rt: Runtime,
    commit: Commit,
    source: CatalogObject,
    name: ObjectName,
    oid: int,
    generation: int,
    version: int | None,
    planned: Planned | None = None,
    upstream_cloned: bool = False,
    functions: dict[int, CatalogObject] | None = None,
) -> CatalogObject:
    """Dynamic table ``source`` copied to ``name`` (new ``oid``), its rows as of ``version``
    (None: now), suspended. ``planned``: its query planned again over other sources (a
    container clone), whose frontier is then not known; else the same plan and sources.
    ``functions``: the clones of functions it calls, by the oid of the original."""
    original = rt.catalog.dynamic_table(source.oid)
    now = rt.clock.now()
    obj = CatalogObject(
        oid,
        name,
        "DYNAMIC TABLE",
        now,
        [Column(**c.__dict__) for c in source.columns],
        source.text,
        generation,
        commit.version,
        transient=source.transient,
        comment=source.comment,
    )
    stored = rt.store.state_columns(source.oid, source.column_names)
    state = planned.analysis.state_columns if planned is not None else stored
    rt.store.create_tracked(oid, obj.columns + state)
    rt.catalog.add_object(obj)
    # the rows, with the hidden state when the new plan keeps the same (its first refresh
    # then writes only what differs)
    same_state = [c.name for c in state] == [c.name for c in stored]
    names = source.column_names + ([c.name for c in stored] if same_state else [])
    if version is None:
        initialized, data_timestamp = original.initialized, original.data_timestamp
        rows: exp.Expression = rt.store.live(source.oid, names)
    else:
        data_timestamp = rt.catalog.data_timestamp_before(source.oid, version)
        initialized = data_timestamp is not None
        rows = rt.store.snapshot(source.oid, names, version)
    if initialized:
        rt.store.insert(commit, oid, names, rows)
    code = "UPSTREAM_CLONED_AUTO_SUSPENDED" if upstream_cloned else "CLONED_AUTO_SUSPENDED"
    record = dataclasses.replace(
        original,
        oid=oid,
        state="SUSPENDED",
        state_reason_code=code,
        state_reason_message=f"Cloned from {source.name}; resume it to refresh",
        suspended_on=now,
        resumed_on=None,
        initialized=initialized,
        data_version=original.data_version if version is None and planned is None else None,
        data_timestamp=data_timestamp,
        commit_version=commit.version if initialized else None,
        consecutive_failures=0,
        config_changed_at=now,
        is_clone=True,
    )
    if planned is not None:
        called = [
            {"oid": f.oid, "name": [f.name.database, f.name.schema, f.name.name]}
            if f is not None
            else used
            for used in original.plan.get("functions", [])
            for f in [(functions or {}).get(used["oid"])]
        ]
        record = dataclasses.replace(
            record,
            query_sql=planned.query.sql("snowflake"),
            plan=dict(planned.record(), functions=called),
            refresh_mode=resolved_mode(
                original.requested_mode, planned.analysis, original.refresh_mode
            ),
            refresh_mode_reason=planned.analysis.reason,
        )
    rt.catalog.add_dynamic_table(record)
    inputs = rt.catalog.inputs(source.oid)
    if planned is not None:  # new sources: what was consumed of them is not known
        rt.catalog.set_dependencies(oid, [s.oid for s in planned.sources])
    else:
        rt.catalog.set_dependencies(oid, [i for i, _, _ in inputs])
        if version is None:  # the present's frontier; a past one's is not kept
            for input_oid, consumed, consumed_generation in inputs:
                if consumed is not None and consumed_generation is not None:
                    rt.catalog.set_consumed(oid, input_oid, consumed, consumed_generation)
    refresh_view(rt, obj)
    record_graph(rt, oid)
    return obj


# -- schemas and databases ------------------------------------------------------------------
def clone_container(rt: Runtime, create: exp.Create) -> Result:
    """CREATE [OR REPLACE] SCHEMA | DATABASE [IF NOT EXISTS] c CLONE s [AT | BEFORE (...)]."""
    kind = str(create.args.get("kind") or "").upper()
    clone = create.args["clone"]
    replace, if_not_exists = ddl.create_flags(create, create.this)
    source_parts, target_parts = name_parts(clone.this), name_parts(create.this)
    with rt.store.write("DDL") as commit:
        if kind == "DATABASE":
            source_db, target_db = source_parts[-1], target_parts[-1]
            if not rt.catalog.database_exists(source_db):
                raise ObjectNotFound(f"Database '{source_db}' does not exist.", name=source_db)
            if rt.catalog.database_exists(target_db):
                if if_not_exists:
                    return Result.status(f"{target_db} already exists, statement succeeded.")
                if not replace:
                    raise ObjectExists(
                        f"Database '{target_db}' already exists. Use CREATE OR REPLACE or "
                        "IF NOT EXISTS.",
                        name=target_db,
                    )
                if target_db == source_db:
                    raise ObjectExists(f"Cannot replace database {source_db} with its clone")
                ddl.drop_database(rt, target_db, if_exists=False)
            transient, comment = ddl.create_properties(create)
            rt.catalog.add_database(target_db, rt.clock.now(), comment, transient)
            mapping = {
                (source_db, schema): (target_db, schema)
                for _, schema, _ in rt.catalog.schemas(source_db)
            }
            what = f"Database {target_db}"
        else:
            source = schema_of(source_parts, rt.context)
            target = schema_of(target_parts, rt.context)
            if not rt.catalog.schema_exists(*source):
                raise ObjectNotFound(
                    f"Schema '{source[0]}.{source[1]}' does not exist.", name=".".join(source)
                )
            if not rt.catalog.database_exists(target[0]):
                raise ObjectNotFound(f"Database '{target[0]}' does not exist.", name=target[0])
            if rt.catalog.schema_exists(*target):
                if if_not_exists:
                    return Result.status(f"{target[1]} already exists, statement succeeded.")
                if not replace:
                    raise ObjectExists(
                        f"Schema '{target[0]}.{target[1]}' already exists. Use CREATE OR "
                        "REPLACE or IF NOT EXISTS.",
                        name=".".join(target),
                    )
                if target == source:
                    raise ObjectExists(f"Cannot replace schema {'.'.join(source)} with its clone")
                ddl.drop_schema(rt, *target, if_exists=False)
            mapping = {source: target}
            what = f"Schema {target[1]}"
        when = clone.this.args.get("when")
        version = rt.version_for(when) if when is not None else None
        instant = rt.catalog.version_time(version) if version is not None else None
        for (database, schema), (new_db, new_schema) in mapping.items():
            comment = next(
                (c for d, s, _, c in rt.catalog.schemas_with_comments(database) if s == schema),
                None,
            )
            ddl.create_schema_storage(rt, new_db, new_schema, comment)
        _clone_objects(rt, commit, mapping, clone.this.args.get("when"), version, instant)
    target = mapping[next(iter(mapping))] if kind == "SCHEMA" else (target_parts[-1], "PUBLIC")
    if kind == "DATABASE" and not rt.catalog.schema_exists(*target):
        target = (target[0], None)  # type: ignore[assignment]
    rt.context.database, rt.context.schema = target
    return Result.status(f"{what} successfully created.")


def _clone_objects(
    rt: Runtime,
    commit: Commit,
    mapping: dict[tuple[str, str], tuple[str, str]],
    when: exp.Expression | None,
    version: int | None,
    instant: datetime | None,
) -> None:
    """Clone every object of the mapped schemas that existed at ``instant`` (None: now)."""
    found = [
        obj
        for database, schema in mapping
        for obj in rt.catalog.objects(database=database, schema=schema, every=True)
        if instant is None or obj.created_on <= instant
    ]

    def moved(name: ObjectName) -> ObjectName:
        database, schema = mapping.get((name.database, name.schema), (name.database, name.schema))
        return ObjectName(database, schema, name.name)

    def repoint(query: exp.Expression) -> exp.Expression:
        """A qualified query's names into the clone, where they point into the source."""
        for table in query.find_all(exp.Table):
            parts = name_parts(table)
            if len(parts) == 3 and (parts[0], parts[1]) in mapping:
                database, schema = mapping[(parts[0], parts[1])]
                table.set("catalog", quoted(database))
                table.set("db", quoted(schema))
        return query

    cloned_dynamic: set[int] = set()
    cloned_functions: dict[int, CatalogObject] = {}

    def clone(obj: CatalogObject) -> None:
        name = moved(obj.name)
        if obj.kind == "TABLE":
            source = _table(obj.name)
            if when is not None:
                source.set("when", when.copy())
            clause = exp.Clone(this=source)
            ddl.create_table(rt, exp.Create(kind="TABLE", this=_table(name), clone=clause))
        elif obj.kind == "SEQUENCE":
            sequences.copy(rt, obj, name)
        elif obj.kind == "STREAM":
            streams.copy(rt, obj, name, moved, commit.version)
        elif obj.kind == "FUNCTION":
            copied = dataclasses.replace(
                obj, oid=rt.catalog.next_oid(), name=name, created_on=rt.clock.now()
            )
            rt.catalog.add_object(copied)
            cloned_functions[obj.oid] = copied
        elif obj.kind == "VIEW":
            query = repoint(normalize(parse_padded(obj.text or "")))
            views.create_view(rt, exp.Create(kind="VIEW", this=_table(name), expression=query))
        elif obj.kind == "DYNAMIC TABLE":
            dt = rt.catalog.dynamic_table(obj.oid)
            text = dt.plan.get("through_views") or dt.query_sql
            options = Options(
                target_lag_sec=dt.target_lag_sec,
                target_lag_type=dt.target_lag_type,
                warehouse=dt.warehouse,
                refresh_mode=dt.requested_mode,
                initialize=dt.initialize,
                scheduler=dt.scheduler,
                cluster_by=dt.cluster_by,
                frozen_where=dt.frozen_where,
            )
            planned = plan_query(rt, name, repoint(normalize(parse_padded(text))), options)
            oid = rt.catalog.next_oid()
            # its sources are the tables under the views it reads: a cloned dynamic table
            # read through a cloned view counts too
            upstream = any(s.oid in cloned_dynamic for s in planned.sources)
            _copy_dynamic_table(
                rt, commit, obj, name, oid, 0, version, planned, upstream, cloned_functions
            )
            cloned_dynamic.add(oid)

    # tables, sequences and functions first; then views and dynamic tables, in the order
    # they were made — and, as a view replaced later may be read by an older dynamic table,
    # again for one whose source is not cloned yet (what fails does so before it writes)
    pending = sorted(found, key=lambda o: (o.kind in ("VIEW", "DYNAMIC TABLE"), o.oid))
    while pending:
        waiting: list[CatalogObject] = []
        failure: ObjectNotFound | None = None
        for obj in pending:
            try:
                clone(obj)
            except ObjectNotFound as err:
                waiting.append(obj)
                failure = err
        if failure is not None and len(waiting) == len(pending):
            raise failure
        pending = waiting


def _table(name: ObjectName) -> exp.Table:
    return exp.Table(this=quoted(name.name), db=quoted(name.schema), catalog=quoted(name.database))
