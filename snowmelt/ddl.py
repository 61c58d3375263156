"""DDL for databases, schemas, base tables, views and warehouses (Snowflake semantics).

A base table is a change-tracked table in ``_snowmelt_data`` plus a DuckDB view with the
user's columns in the Snowflake schema, so ``SELECT *`` never shows hidden columns, even to
other tools reading the file. Every statement runs in one transaction: nothing is half
applied after an error.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlglot import exp

from snowmelt.catalog import CatalogObject, Column
from snowmelt.errors import CatalogError, ObjectExists, ObjectNotFound, SqlError, UnsupportedError
from snowmelt.names import (
    DATA_SCHEMA,
    ObjectName,
    data_table,
    drop_if_exists,
    identifier_value,
    quoted,
    sequence_table,
)
from snowmelt.result import Result
from snowmelt.runtime import Runtime
from snowmelt.sql import commands
from snowmelt.sql.resolve import (
    information_schema_references,
    name_parts,
    object_name,
    position,
)
from snowmelt.sql.translate import duckdb_type


def status(message: str) -> Result:
    return Result.status(message)


# -- databases and schemas ----------------------------------------------------------------------
def create_database(
    rt: Runtime,
    name: str,
    replace: bool,
    if_not_exists: bool,
    transient: bool = False,
    comment: str | None = None,
) -> Result:
    with rt.store.write("DDL"):
        if rt.catalog.database_exists(name):
            if if_not_exists:
                return status(f"{name} already exists, statement succeeded.")
            if not replace:
                raise ObjectExists(
                    f"Database '{name}' already exists. Use CREATE OR REPLACE or IF NOT EXISTS.",
                    name=name,
                )
            drop_database(rt, name, if_exists=False)
        rt.catalog.add_database(name, rt.clock.now(), comment, transient)
        create_schema_storage(rt, name, "PUBLIC")
    rt.context.database, rt.context.schema = name, "PUBLIC"
    return status(f"Database {name} successfully created.")


def create_schema_storage(
    rt: Runtime,
    database: str,
    schema: str,
    comment: str | None = None,
    created_on: datetime | None = None,
) -> None:
    rt.catalog.add_schema(database, schema, created_on or rt.clock.now(), comment)
    rt.engine.execute(
        exp.Create(kind="SCHEMA", this=exp.Table(this=quoted(f"{database}.{schema}")), exists=True)
    )


def drop_database(rt: Runtime, name: str, if_exists: bool) -> Result:
    with rt.store.write("DDL") as commit:
        if not rt.catalog.database_exists(name):
            if if_exists:
                return status(f"Drop statement executed successfully ({name} already dropped).")
            raise ObjectNotFound(f"Database '{name}' does not exist.", name=name)
        rt.catalog.keep_dropped_database(name, rt.clock.now(), commit.version)  # for UNDROP
        for database, schema, _ in rt.catalog.schemas(name):
            drop_schema(rt, database, schema, if_exists=False)
        rt.catalog.remove_database(name)
    if rt.context.database == name:
        rt.context.database = rt.context.schema = None
    return status(f"{name} successfully dropped.")


def create_schema(
    rt: Runtime,
    database: str,
    schema: str,
    replace: bool,
    if_not_exists: bool,
    comment: str | None = None,
) -> Result:
    with rt.store.write("DDL"):
        if not rt.catalog.database_exists(database):
            raise ObjectNotFound(
                f"Database '{database}' does not exist. Create it first with "
                f"CREATE DATABASE {database}.",
                name=database,
            )
        if rt.catalog.schema_exists(database, schema):
            if if_not_exists:
                return status(f"{schema} already exists, statement succeeded.")
            if not replace:
                raise ObjectExists(
                    f"Schema '{database}.{schema}' already exists. Use CREATE OR "
                    "REPLACE or IF NOT EXISTS.",
                    name=f"{database}.{schema}",
                )
            drop_schema(rt, database, schema, if_exists=False)
        create_schema_storage(rt, database, schema, comment)
    rt.context.database, rt.context.schema = database, schema
    return status(f"Schema {schema} successfully created.")


def drop_schema(rt: Runtime, database: str, schema: str, if_exists: bool) -> Result:
    """DROP SCHEMA: its objects are dropped with it, and it is kept for UNDROP SCHEMA with
    them (their rows, and its sequences' engine state) until retention purges it."""
    with rt.store.write("DDL") as commit:
        if not rt.catalog.schema_exists(database, schema):
            if if_exists:
                return status(f"Drop statement executed successfully ({schema} already dropped).")
            raise ObjectNotFound(
                f"Schema '{database}.{schema}' does not exist.", name=f"{database}.{schema}"
            )
        held = rt.catalog.objects(database=database, schema=schema, every=True)
        rt.catalog.keep_dropped_schema(
            database, schema, rt.clock.now(), commit.version, [o.oid for o in held]
        )
        # consumers first, so dynamic tables never outlive what they read within a drop
        for obj in sorted(held, key=lambda o: o.kind != "DYNAMIC TABLE"):
            if rt.catalog.find(obj.name) is not None:
                drop_object(rt, obj, keep_sequence=True)
        rt.engine.execute(
            drop_if_exists("SCHEMA", exp.Table(this=quoted(f"{database}.{schema}")), cascade=True)
        )
        rt.catalog.remove_schema(database, schema)
    if (rt.context.database, rt.context.schema) == (database, schema):
        rt.context.schema = None
    return status(f"{schema} successfully dropped.")


def use(rt: Runtime, statement: exp.Use) -> Result:
    kind_node = statement.args.get("kind")
    kind = kind_node.name.upper() if kind_node is not None else ""
    parts = name_parts(statement.this)
    if kind == "DATABASE" or (not kind and len(parts) == 1):
        if not rt.catalog.database_exists(parts[-1]):
            raise ObjectNotFound(f"Database '{parts[-1]}' does not exist.", name=parts[-1])
        rt.context.database = parts[-1]
        rt.context.schema = "PUBLIC" if rt.catalog.schema_exists(parts[-1], "PUBLIC") else None
        return status("Statement executed successfully.")
    if kind == "SCHEMA" or (not kind and len(parts) == 2):
        database = parts[0] if len(parts) == 2 else rt.context.database
        if database is None:
            raise SqlError(
                "No current database: use a two-part name DB.SCHEMA or run USE DATABASE first."
            )
        if not rt.catalog.schema_exists(database, parts[-1]):
            raise ObjectNotFound(
                f"Schema '{database}.{parts[-1]}' does not exist.", name=f"{database}.{parts[-1]}"
            )
        rt.context.database, rt.context.schema = database, parts[-1]
        return status("Statement executed successfully.")
    raise UnsupportedError(f"USE {kind}", f"USE {kind} is not supported by snowmelt")


# -- tables -----------------------------------------------------------------------------------------
def column_from_def(definition: exp.ColumnDef, rt: Runtime) -> Column:
    kind = definition.args.get("kind")
    if kind is None:
        raise SqlError(f"Column {definition.name} needs a type", *position(definition))
    column = Column(identifier_value(definition.this), duckdb_type(kind).sql("duckdb"))
    for constraint in definition.args.get("constraints") or []:
        ckind = constraint.args.get("kind")
        if isinstance(ckind, exp.NotNullColumnConstraint) and not ckind.args.get("allow_null"):
            column.nullable = False
        elif isinstance(ckind, exp.DefaultColumnConstraint):
            column.default = rt.to_engine(ckind.this).sql("duckdb")
        elif isinstance(ckind, exp.CommentColumnConstraint):
            column.comment = ckind.this.name
        elif isinstance(
            ckind, exp.AutoIncrementColumnConstraint | exp.GeneratedAsIdentityColumnConstraint
        ):
            column.default = _identity(rt, ckind, definition)
        elif isinstance(ckind, exp.CollateColumnConstraint):
            _check_collation(ckind, definition)
    return column


def _check_collation(constraint: exp.CollateColumnConstraint, column: exp.ColumnDef) -> None:
    """A column's COLLATE: snowmelt compares text as bytes (UTF-8), Snowflake's default, so
    that is accepted; a collation that changes comparisons or order (``'en-ci'``, ``'upper'``,
    a locale) would be silently ignored, so it is refused by name."""
    spec = constraint.this.name if isinstance(constraint.this, exp.Literal) else ""
    if spec.strip().lower() in ("", "utf8", "binary"):
        return
    raise UnsupportedError(
        f"COLLATE '{spec}'",
        f"COLLATE '{spec}' is not supported by snowmelt: text compares as UTF-8 bytes here "
        "(Snowflake's default). Remove it, or compare with UPPER() / LOWER() in the query",
        *position(column),
    )


def _identity(
    rt: Runtime,
    constraint: exp.AutoIncrementColumnConstraint | exp.GeneratedAsIdentityColumnConstraint,
    definition: exp.ColumnDef,
) -> str:
    """AUTOINCREMENT / IDENTITY [START s INCREMENT i | (s, i)]: a sequence of the column's
    own (created in the statement's transaction) as its default, so rows inserted without
    the column — INSERT, MERGE, ``Session.insert`` — number themselves; a value given
    explicitly is kept, as in Snowflake."""

    def number(key: str) -> int:
        value = constraint.args.get(key)
        if value is None:
            return 1
        try:
            return int(value.to_py() if isinstance(value, exp.Literal) else value.name)
        except (TypeError, ValueError):
            raise SqlError(
                f"AUTOINCREMENT {key.upper()} must be an integer", *position(definition)
            ) from None

    start, increment = number("start"), number("increment")
    if increment == 0:
        raise SqlError("AUTOINCREMENT INCREMENT cannot be 0", *position(definition))
    sequence = f"idseq_{rt.catalog.next_oid()}"
    rt.engine.execute(
        f'CREATE SEQUENCE "{DATA_SCHEMA}"."{sequence}" START {start} INCREMENT {increment}'
    )
    return f'nextval(\'"{DATA_SCHEMA}"."{sequence}"\')'


_IDENTITY_DEFAULT = re.compile(r"^nextval\('\"_snowmelt_data\"\.\"(idseq_\d+)\"'\)$")
_SEQUENCE_DEFAULT = re.compile(r"^nextval\('\"_snowmelt_data\"\.\"seq_(\d+)\"'\)$", re.IGNORECASE)


def default_text(rt: Runtime, default: str | None) -> str | None:
    """A column's DEFAULT as the user wrote it: ``D.S.SEQ.NEXTVAL`` for a sequence's next
    value (stored as the engine's call), else as stored."""
    user = _SEQUENCE_DEFAULT.match(default or "")
    if user is not None:
        return f"{rt.catalog.get(int(user.group(1))).name}.NEXTVAL"
    return default


def identity_text(rt: Runtime, default: str | None) -> str | None:
    """``IDENTITY START s INCREMENT i`` when ``default`` is an AUTOINCREMENT column's
    sequence (as DESCRIBE and GET_DDL show it), else None."""
    found = _IDENTITY_DEFAULT.match(default or "")
    if found is None:
        return None
    rows = rt.engine.rows(
        "SELECT start_value, increment_by FROM duckdb_sequences() "
        "WHERE schema_name = ? AND sequence_name = ?",
        [DATA_SCHEMA, found.group(1)],
    )
    return f"IDENTITY START {rows[0][0]} INCREMENT {rows[0][1]}" if rows else None


def create_properties(create: exp.Create) -> tuple[bool, str | None]:
    """(TRANSIENT given, COMMENT = '...') of a CREATE."""
    transient, comment = False, None
    props = create.args.get("properties")
    for prop in props.expressions if props else []:
        if isinstance(prop, exp.TransientProperty):
            transient = True
        elif isinstance(prop, exp.SchemaCommentProperty):
            comment = prop.this.name
    return transient, comment


def check_schema(rt: Runtime, name: ObjectName, node: exp.Expression | None = None) -> None:
    """The schema an object is created in exists (``node``: where the name is written)."""
    if not rt.catalog.schema_exists(name.database, name.schema):
        raise ObjectNotFound(
            f"Schema '{name.database}.{name.schema}' does not exist or not "
            "authorized. Create it with CREATE SCHEMA first.",
            name=f"{name.database}.{name.schema}",
        )


def prepare_replace(
    rt: Runtime, name: ObjectName, kind: str, replace: bool, if_not_exists: bool
) -> CatalogObject | None | bool:
    """Handle an existing object of the same name. Returns False to skip creating."""
    existing = rt.catalog.find(name)
    if existing is None:
        return None
    if if_not_exists:
        return False
    if not replace:
        raise ObjectExists(
            f"Object '{name}' already exists as a {existing.kind.lower()}. Use "
            "CREATE OR REPLACE or IF NOT EXISTS.",
            name=str(name),
        )
    if existing.kind != kind:
        raise ObjectExists(
            f"Object '{name}' already exists as a {existing.kind.lower()}; "
            f"CREATE OR REPLACE {kind} cannot replace it. Drop it first.",
            name=str(name),
        )
    return existing


def create_flags(create: exp.Create, node: exp.Expression) -> tuple[bool, bool]:
    """CREATE's OR REPLACE and IF NOT EXISTS, which exclude each other."""
    replace, if_not_exists = bool(create.args.get("replace")), bool(create.args.get("exists"))
    if replace and if_not_exists:
        raise SqlError(
            "CREATE OR REPLACE and IF NOT EXISTS cannot be used together", *position(node)
        )
    return replace, if_not_exists


def create_table(rt: Runtime, create: exp.Create) -> Result:
    schema_node = create.this
    table = schema_node.this if isinstance(schema_node, exp.Schema) else schema_node
    name = object_name(table, rt.context)
    replace, if_not_exists = create_flags(create, table)
    transient, comment = create_properties(create)
    query = create.args.get("expression")
    clone = create.args.get("clone")  # CREATE TABLE t CLONE s [AT|BEFORE(...)]
    if clone is not None:
        query = exp.select("*").from_(clone.this.copy())
    like = next(
        (
            p
            for p in (create.args.get("properties") or exp.Properties()).expressions
            if isinstance(p, exp.LikeProperty)
        ),
        None,
    )
    with rt.store.write("DDL") as commit:
        check_schema(rt, name, table)
        existing = prepare_replace(rt, name, "TABLE", replace, if_not_exists)
        if existing is False:
            return status(f"{name.name} already exists, statement succeeded.")
        template = like if like is not None else clone
        if template is not None:  # the source's column definitions
            source = rt.resolver.lookup(template.this, ("TABLE",))
            columns = [Column(c.name, c.type, c.nullable, c.default) for c in source.columns]
            if clone is not None and query is not None:  # and its rows, as of AT/BEFORE
                bound = rt.to_engine(rt.bind_for_read(query.copy()))
        elif query is not None:
            bound = rt.to_engine(rt.bind_for_read(query.copy()))
            columns = [Column(n, t) for n, t in rt.engine.columns_of(bound)]
            if isinstance(schema_node, exp.Schema) and schema_node.expressions:
                names = [
                    identifier_value(e.this if isinstance(e, exp.ColumnDef) else e)
                    for e in schema_node.expressions
                ]
                if len(names) != len(columns):
                    raise SqlError(
                        f"CREATE TABLE {name} lists {len(names)} columns but the "
                        f"query returns {len(columns)}",
                        *position(table),
                    )
                for column, new in zip(columns, names, strict=True):
                    column.name = new
        else:
            columns = [
                column_from_def(d, rt)
                for d in schema_node.expressions
                if isinstance(d, exp.ColumnDef)
            ]
        _check_columns(name, columns)
        oid = rt.catalog.next_oid()
        generation = replace_object(rt, existing, oid)
        obj = CatalogObject(
            oid,
            name,
            "TABLE",
            rt.clock.now(),
            columns,
            None,
            generation,
            commit.version,
            transient,
            comment,
        )
        create_tracked_object(rt, obj)
        if query is not None:
            rt.store.insert(commit, oid, obj.column_names, bound)
    return status(f"Table {name.name} successfully created.")


def _check_columns(name: ObjectName, columns: list[Column]) -> None:
    seen: set[str] = set()
    for column in columns:
        if column.name in seen:
            raise SqlError(f"Duplicate column name '{column.name}' in {name}")
        if column.name.lower().startswith("_sm_"):
            raise SqlError(f"Column name '{column.name}' is reserved by snowmelt (prefix _sm_)")
        seen.add(column.name)
    if not columns:
        raise SqlError(f"Table {name} needs at least one column")


def create_tracked_object(rt: Runtime, obj: CatalogObject) -> None:
    rt.store.create_tracked(obj.oid, obj.columns)
    rt.catalog.add_object(obj)
    refresh_view(rt, obj)


def refresh_view(rt: Runtime, obj: CatalogObject) -> None:
    """(Re)create the user-visible view of a tracked object."""
    view = exp.select(*[exp.column(quoted(c)) for c in obj.column_names]).from_(data_table(obj.oid))
    rt.engine.execute(
        exp.Create(kind="VIEW", this=obj.name.view_table(), expression=view, replace=True)
    )


def replace_object(rt: Runtime, existing: CatalogObject | None | bool, new_oid: int) -> int:
    """CREATE OR REPLACE: drop ``existing`` (if any) and hand its consumers to ``new_oid``.

    Returns the new object's generation; consumers see it change and reinitialize.
    """
    if not isinstance(existing, CatalogObject):
        return 0
    drop_object(rt, existing, keep_dependencies=True)
    rt.catalog.repoint_inputs(existing.oid, new_oid)
    return existing.generation + 1


def drop_object(
    rt: Runtime, obj: CatalogObject, keep_dependencies: bool = False, keep_sequence: bool = False
) -> None:
    """Drop ``obj``. A table or dynamic table keeps its rows and change log (a dynamic table
    also its definition and sources) for UNDROP until retention purges them
    (``retention.prune``, after the time-travel window); so does a sequence dropped with its
    schema (``keep_sequence``) its engine state."""
    if (
        obj.kind == "SEQUENCE"
        and not keep_sequence
        and not rt.engine.sequence_in_use(DATA_SCHEMA, f"seq_{obj.oid}")
    ):
        # one a column's DEFAULT draws from stays in the engine for that column (no name
        # a user can reach leads to it any more)
        rt.engine.execute(f"DROP SEQUENCE IF EXISTS {sequence_table(obj.oid)}")
    rt.engine.execute(drop_if_exists("VIEW", obj.name.view_table()))
    retained = obj.kind in ("TABLE", "DYNAMIC TABLE")
    if obj.kind == "DYNAMIC TABLE":
        rt.catalog.keep_dropped_dynamic_table(obj.oid)
    if obj.tracked and not retained:
        rt.store.drop_tracked(obj.oid)
    rt.catalog.mark_dropped(obj.oid, rt.clock.now() if retained else None)
    if obj.kind == "DYNAMIC TABLE":
        rt.catalog.add_graph_version({"oid": obj.oid, "name": None}, rt.clock.now())


def drop(rt: Runtime, kind: str, table: exp.Expression, if_exists: bool) -> Result:
    name = object_name(table, rt.context)
    with rt.store.write("DDL"):
        obj = rt.catalog.find(name)
        if obj is None or obj.kind != kind:
            if if_exists:
                return status(
                    f"Drop statement executed successfully ({name.name} already dropped)."
                )
            hint = f" (it is a {obj.kind.lower()}: use DROP {obj.kind})" if obj else ""
            raise ObjectNotFound(f"{kind.title()} '{name}' does not exist{hint}.", name=str(name))
        drop_object(rt, obj)
    return status(f"{name.name} successfully dropped.")


def qualify_names(rt: Runtime, query: exp.Expression) -> exp.Expression:
    """Rewrite table references to three-part names, so stored text means the same later."""

    def qualified(obj: CatalogObject, table: exp.Table) -> exp.Expression:
        # keep the node (SAMPLE, AT/BEFORE, positions); only its name parts change
        new = table.copy()
        new.set("this", quoted(obj.name.name))
        new.set("db", quoted(obj.name.schema))
        new.set("catalog", quoted(obj.name.database))
        return new

    for table in information_schema_references(query):  # the current database's, then
        if not table.args.get("catalog") and rt.context.database:
            table.set("catalog", quoted(rt.context.database))
    return rt.resolver.bind(query, qualified)


# -- warehouses, grants ----------------------------------------------------------------------------------
def warehouse(rt: Runtime, command: commands.Warehouse) -> Result:
    with rt.store.write("DDL"):
        if command.action == "CREATE":
            if rt.catalog.warehouse_exists(command.name) and command.if_not_exists:
                return status(f"{command.name} already exists, statement succeeded.")
            if rt.catalog.warehouse_exists(command.name) and not command.replace:
                raise ObjectExists(f"Warehouse '{command.name}' already exists.", name=command.name)
            rt.catalog.put_warehouse(command.name, rt.clock.now(), command.properties)
            rt.context.warehouse = command.name
            rt.notice(
                f"Warehouse {command.name} recorded; snowmelt runs every refresh on its "
                "own engine, so warehouse settings have no effect."
            )
            return status(f"Warehouse {command.name} successfully created.")
        if command.action == "DROP":
            if not rt.catalog.drop_warehouse(command.name) and not command.if_exists:
                raise ObjectNotFound(
                    f"Warehouse '{command.name}' does not exist.", name=command.name
                )
            return status(f"{command.name} successfully dropped.")
        if command.action == "ALTER":
            if not rt.catalog.warehouse_exists(command.name):
                if command.if_exists:
                    return status("Statement executed successfully.")
                raise ObjectNotFound(
                    f"Warehouse '{command.name}' does not exist.", name=command.name
                )
            rt.catalog.put_warehouse(command.name, rt.clock.now(), command.properties)
            rt.notice(f"Warehouse {command.name} settings recorded (no effect in snowmelt).")
            return status("Statement executed successfully.")
    # USE WAREHOUSE
    rt.context.warehouse = command.name
    return status("Statement executed successfully.")


def record(rt: Runtime, command: commands.Recorded) -> Result:
    with rt.store.write("DDL"):
        rt.catalog.add_grant(command.text, rt.clock.now())
    rt.notice(f"{command.kind} recorded; snowmelt has no access control, so it has no effect.")
    return status("Statement executed successfully.")


def comment_text(value: Any) -> str | None:
    return None if value is None else str(value)


def require_no_dependents(rt: Runtime, obj: CatalogObject) -> None:
    consumers = rt.catalog.consumers(obj.oid)
    if consumers:
        names = ", ".join(str(rt.catalog.get(c).name) for c in consumers)
        raise CatalogError(f"{obj.name} is read by {names}", name=str(obj.name))
