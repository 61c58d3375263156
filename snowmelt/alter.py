"""ALTER TABLE, COMMENT ON and ALTER SESSION: changing an existing base table's columns,
name and comments; session parameters.

ALTER TABLE actions, each in the statement's one transaction (an action that fails undoes
the ones before it):

- ``ADD [COLUMN] c type ...``, ``DROP [COLUMN] c, ...``, ``RENAME TO new``, ``SWAP WITH t``;
- ``RENAME COLUMN a TO b``;
- ``ALTER|MODIFY [COLUMN] c [SET DATA] TYPE t`` — only what Snowflake allows: a text column
  stays text (its length may change), a NUMBER keeps its scale and does not lose precision;
- ``ALTER [COLUMN] c SET NOT NULL`` (fails while the column holds a NULL) / ``DROP NOT NULL``;
- ``ALTER [COLUMN] c COMMENT '...'``, ``SET COMMENT = '...'``, ``UNSET COMMENT``.

Columns are renamed and retyped in the table's change log too, so time travel and the
changes dynamic tables read keep one schema. A change to the columns bumps the table's
generation (so does a rename): dynamic tables reading it reinitialize at their next
refresh (and fail, keeping their rows, when their query no longer binds); a comment changes
no data and no generation. COMMENT ON TABLE / VIEW / DYNAMIC TABLE / COLUMN stores the comment shown by
SHOW and DESCRIBE. ALTER SESSION is accepted with a notice (``alter_session``).
"""

from __future__ import annotations

import re

from sqlglot import exp

from snowmelt.catalog import CatalogObject, Column
from snowmelt.ddl import column_from_def, refresh_view, status
from snowmelt.errors import ObjectExists, ObjectNotFound, SqlError, UnsupportedError
from snowmelt.names import drop_if_exists, identifier_value
from snowmelt.result import Result
from snowmelt.runtime import Runtime
from snowmelt.sql.resolve import name_parts, object_name, position
from snowmelt.sql.translate import duckdb_type


def alter_table(rt: Runtime, alter: exp.Alter) -> Result:
    obj = rt.resolver.lookup(alter.this, ("TABLE",))
    before = _shape(obj)
    with rt.store.write("DDL"):
        for action in alter.args.get("actions") or []:
            _apply(rt, obj, action)
        generation = obj.generation + (1 if _shape(obj) != before else 0)
        rt.catalog.update_object(
            obj.oid, columns=obj.columns, generation=generation, comment=obj.comment
        )
        refresh_view(rt, obj)
    return status("Statement executed successfully.")


def _drops_constraint(action: exp.Expression) -> bool:
    if isinstance(action, exp.Drop):
        return str(action.args.get("kind", "")).upper() == "CONSTRAINT"
    text = " ".join(action.sql("snowflake").upper().split())
    return isinstance(action, exp.Command) and text.startswith(
        ("DROP PRIMARY KEY", "DROP UNIQUE", "DROP FOREIGN KEY")
    )


def _informational_constraint(rt: Runtime, obj: CatalogObject, action: exp.Expression) -> None:
    """``ADD [CONSTRAINT c] PRIMARY KEY | UNIQUE | FOREIGN KEY (...)``, ``DROP CONSTRAINT c``,
    ``DROP PRIMARY KEY``: Snowflake records these on standard tables without enforcing them
    (only NOT NULL is enforced), so DDL scripts and tools emit them freely. snowmelt checks
    the columns exist and accepts them, with a notice that nothing is enforced or kept."""
    keys = [
        node for node in action.find_all(exp.PrimaryKey, exp.UniqueColumnConstraint, exp.ForeignKey)
    ]
    for key in keys:
        schema = key.this if isinstance(key, exp.UniqueColumnConstraint) else key
        for name in schema.expressions if schema is not None else []:
            column = identifier_value(name if isinstance(name, exp.Identifier) else name.this)
            if column not in obj.column_names:
                raise SqlError(
                    f"Column '{column}' does not exist in table {obj.name}", *position(name)
                )
    rt.notice(
        f"{action.sql('snowflake')} accepted on {obj.name}: primary, unique and foreign keys "
        "are not enforced, as on Snowflake's standard tables (snowmelt does not keep them)."
    )


def _shape(obj: CatalogObject) -> tuple[str, list[tuple[str, str, bool, str | None]]]:
    """What a reader depends on: the table's name (a dynamic table's query names it) and its
    columns' names, types, NULLs allowed and defaults."""
    return str(obj.name), [(c.name, c.type, c.nullable, c.default) for c in obj.columns]


def _apply(rt: Runtime, obj: CatalogObject, action: exp.Expression) -> None:
    if isinstance(action, exp.ColumnDef):
        column = column_from_def(action, rt)
        if column.name in obj.column_names:
            raise SqlError(f"Column '{column.name}' already exists in {obj.name}")
        rt.store.add_column(obj.oid, column)
        obj.columns.append(column)
    elif isinstance(action, exp.AlterRename):
        _rename_table(rt, obj, action)
    elif isinstance(action, exp.SwapTable):
        _swap(rt, obj, action)
    elif isinstance(action, exp.Drop) and str(action.args.get("kind", "")).upper() == "COLUMN":
        _drop_columns(rt, obj, action)
    elif isinstance(action, exp.RenameColumn):
        _rename_column(rt, obj, action)
    elif isinstance(action, exp.AddConstraint) or _drops_constraint(action):
        _informational_constraint(rt, obj, action)
    elif not _changed_in_place(rt, obj, action):
        raise UnsupportedError(
            "ALTER TABLE",
            f"ALTER TABLE action {action.sql('snowflake')!r} is not supported by snowmelt",
            *position(action),
        )


def _changed_in_place(rt: Runtime, obj: CatalogObject, action: exp.Expression) -> bool:
    """ALTER COLUMN, SET / UNSET (comment, parameters), CLUSTER BY; False for another."""
    if isinstance(action, exp.AlterColumn):
        return _alter_column(rt, obj, action)
    if isinstance(action, exp.AlterSet):
        return _set_properties(rt, obj, action)
    if isinstance(action, exp.Set) and action.args.get("unset"):
        return _unset(action, obj)
    if isinstance(action, exp.ClusterProperty):
        rt.notice(f"{obj.name}: clustering keys have no effect in snowmelt (accepted).")
        return True
    return False


def _column(obj: CatalogObject, node: exp.Expression) -> Column:
    target = node.this if isinstance(node, exp.Column) else node
    name = identifier_value(target) if isinstance(target, exp.Identifier) else target.name
    for column in obj.columns:
        if column.name == name:
            return column
    raise SqlError(f"Column '{name}' does not exist in {obj.name}", *position(node))


def _rename_table(rt: Runtime, obj: CatalogObject, action: exp.AlterRename) -> None:
    new_name = object_name(action.this, rt.context)
    if rt.catalog.find(new_name) is not None:
        raise ObjectExists(f"Object '{new_name}' already exists.", name=str(new_name))
    rt.engine.execute(drop_if_exists("VIEW", obj.name.view_table()))
    rt.catalog.update_object(obj.oid, name=new_name)
    obj.name = new_name


def _swap(rt: Runtime, obj: CatalogObject, action: exp.SwapTable) -> None:
    """ALTER TABLE a SWAP WITH b: the two tables trade names, in the statement's transaction.
    A dynamic table reads by name, so the readers of each name now read the other table:
    their inputs are swapped too, and both generations move past either's, so they
    reinitialize over the rows now behind the name."""
    other = rt.resolver.lookup(action.this, ("TABLE",))
    if other.oid == obj.oid:
        raise SqlError(f"Cannot swap {obj.name} with itself", *position(action))
    mine, theirs = obj.name, other.name
    for table in (obj, other):
        rt.engine.execute(drop_if_exists("VIEW", table.name.view_table()))
    parked = exp.to_table(f"{mine.database}.{mine.schema}._sm_swap_{obj.oid}")
    rt.catalog.update_object(obj.oid, name=object_name(parked, rt.context))  # names are unique
    generation = max(obj.generation, other.generation) + 1
    rt.catalog.update_object(other.oid, name=mine, generation=generation)
    rt.catalog.update_object(obj.oid, name=theirs)
    for old, new in ((obj.oid, -obj.oid), (other.oid, obj.oid), (-obj.oid, other.oid)):
        rt.catalog.repoint_inputs(old, new)
    obj.name, other.name = theirs, mine
    obj.generation = other.generation = generation
    refresh_view(rt, other)  # obj's view is made by alter_table when it finishes


def _drop_columns(rt: Runtime, obj: CatalogObject, action: exp.Drop) -> None:
    # sqlglot keeps the columns of DROP COLUMN a, b under "tables"
    targets = action.args.get("tables") or action.expressions or [action.this]
    names = {
        identifier_value(e) if isinstance(e, exp.Identifier) else identifier_value(e.this)
        for e in targets
        if e is not None
    }
    missing = names - set(obj.column_names)
    if missing:
        raise SqlError(f"Column {sorted(missing)[0]!r} does not exist in {obj.name}")
    if not names or names >= set(obj.column_names):
        raise SqlError(f"Cannot drop all the columns of table {obj.name}")
    for name in sorted(names):  # its values go too: a column added again is new
        rt.store.drop_column(obj.oid, name)
    obj.columns = [c for c in obj.columns if c.name not in names]


def _rename_column(rt: Runtime, obj: CatalogObject, action: exp.RenameColumn) -> None:
    column = _column(obj, action.this)
    new = identifier_value(action.args["to"].this)
    if new in obj.column_names:
        raise SqlError(f"Column '{new}' already exists in {obj.name}", *position(action))
    if new.lower().startswith("_sm_"):
        raise SqlError(f"Column name '{new}' is reserved by snowmelt (prefix _sm_)")
    rt.store.rename_column(obj.oid, column.name, new)
    column.name = new


def _alter_column(rt: Runtime, obj: CatalogObject, action: exp.AlterColumn) -> bool:
    """One ALTER COLUMN change; False when it is none snowmelt knows."""
    column = _column(obj, action.this)
    if action.args.get("dtype") is not None:
        wanted = duckdb_type(action.args["dtype"]).sql("duckdb")
        _check_retype(obj, column, wanted, action)
        if wanted != column.type:
            rt.store.retype_column(obj.oid, column.name, wanted)
            column.type = wanted
        return True
    if action.args.get("comment") is not None:
        column.comment = action.args["comment"].name
        return True
    if action.args.get("allow_null") is not None and action.args.get("default") is None:
        nullable = bool(action.args.get("allow_null"))
        try:
            rt.store.set_nullable(obj.oid, column.name, nullable)
        except Exception as err:  # DuckDB found a NULL in the column
            raise SqlError(
                f"Column {column.name} of {obj.name} holds NULL values: it cannot be NOT NULL",
                *position(action),
            ) from err
        column.nullable = nullable
        return True
    return False


_DECIMAL = re.compile(r"^DECIMAL\((\d+),\s*(\d+)\)$")
_TEXT = ("VARCHAR",)
_WHOLE = ("BIGINT", "INTEGER", "SMALLINT", "TINYINT", "HUGEINT")


def _check_retype(obj: CatalogObject, column: Column, wanted: str, at: exp.Expression) -> None:
    """Snowflake's rule: text stays text; a number keeps its scale and its precision does
    not shrink; other types do not change."""
    have = column.type.upper()
    new = wanted.upper()
    if have == new or (have in _TEXT and new in _TEXT) or (have in _WHOLE and new in _WHOLE):
        return
    old_decimal, new_decimal = _DECIMAL.match(have), _DECIMAL.match(new)
    old_scale = int(old_decimal.group(2)) if old_decimal else (0 if have in _WHOLE else None)
    new_scale = int(new_decimal.group(2)) if new_decimal else (0 if new in _WHOLE else None)
    if old_scale is not None and new_scale is not None:
        old_precision = int(old_decimal.group(1)) if old_decimal else 38  # whole: NUMBER(38, 0)
        new_precision = int(new_decimal.group(1)) if new_decimal else 38
        if old_scale != new_scale:
            reason = "changing the scale of a number is not supported"
        elif new_precision < old_precision:
            reason = "decreasing the precision of a number is not supported"
        else:
            return
    else:
        reason = "only a text length or a number's precision may change"
    raise SqlError(
        f"Cannot change column {column.name} of {obj.name} from type {column.type} to "
        f"{wanted}: {reason}",
        *position(at),
    )


# Table parameters accepted for scripts' sake, with what snowmelt does instead.
_PARAMETERS = {
    "CHANGE_TRACKING": "snowmelt tracks every table's changes (dynamic tables read them)",
    "DATA_RETENTION_TIME_IN_DAYS": "snowmelt keeps one day of time travel for every table",
    "MAX_DATA_EXTENSION_TIME_IN_DAYS": "snowmelt keeps changes until their readers consumed them",
}


def _set_properties(rt: Runtime, obj: CatalogObject, action: exp.AlterSet) -> bool:
    """SET COMMENT = '...' and the parameters of ``_PARAMETERS`` (accepted with a notice);
    False when the action sets anything else."""
    props = [p for group in action.expressions for p in getattr(group, "expressions", [])]
    known = all(
        isinstance(p, exp.SchemaCommentProperty)
        or (isinstance(p, exp.Property) and p.name.upper() in _PARAMETERS)
        for p in props
    )
    if not props or not known:
        return False
    for prop in props:
        if isinstance(prop, exp.SchemaCommentProperty):
            obj.comment = str(prop.this.name)
        else:
            rt.notice(
                f"{obj.name}: {prop.name.upper()} accepted; {_PARAMETERS[prop.name.upper()]}."
            )
    return True


def _unset(action: exp.Set, obj: CatalogObject) -> bool:
    names = [identifier_value(e).upper() for e in action.expressions]
    if not names or not all(n == "COMMENT" or n in _PARAMETERS for n in names):
        return False
    if "COMMENT" in names:
        obj.comment = None
    return True


# -- ALTER SESSION -------------------------------------------------------------------------------
_UTC = {"UTC", "ETC/UTC", "GMT", "ETC/GMT", "Z"}


def alter_session(rt: Runtime, alter: exp.Alter) -> Result:
    """ALTER SESSION SET / UNSET: accepted, so scripts written for Snowflake run, with a
    notice that snowmelt has no session parameters — except a TIMEZONE other than UTC,
    refused: snowmelt computes and shows every time in UTC."""
    names = []
    for action in alter.args.get("actions") or []:
        for item in action.expressions:
            target = item.this
            name = (target.this if isinstance(target, exp.EQ) else target).name.upper()
            value = target.expression if isinstance(target, exp.EQ) else None
            if name == "TIMEZONE" and value is not None and value.name.upper() not in _UTC:
                raise UnsupportedError(
                    "ALTER SESSION SET TIMEZONE",
                    f"TIMEZONE = {value.sql('snowflake')} is not supported: snowmelt computes "
                    "and shows times in UTC (TIMEZONE = 'UTC' is accepted)",
                    *position(item),
                )
            names.append(name)
    verb = "UNSET" if any(a.args.get("unset") for a in alter.args.get("actions") or []) else "SET"
    rt.notice(
        f"ALTER SESSION {verb} {', '.join(names)} accepted; snowmelt has no session "
        "parameters, so it has no effect."
    )
    return status("Statement executed successfully.")


# -- COMMENT ON ----------------------------------------------------------------------------------
_KINDS = {
    "TABLE": ("TABLE", "DYNAMIC TABLE"),
    "VIEW": ("VIEW",),
    "DYNAMIC TABLE": ("DYNAMIC TABLE",),
}
# sqlglot parses COMMENT ON DYNAMIC TABLE as a bare command
_DYNAMIC = re.compile(
    r"^\s*COMMENT\s+(IF\s+EXISTS\s+)?ON\s+DYNAMIC\s+TABLE\s+(.+?)\s+IS\s+'((?:[^']|'')*)'\s*;?\s*$",
    re.IGNORECASE | re.DOTALL,
)


def comment_on(rt: Runtime, comment: exp.Comment) -> Result:
    kind = str(comment.args.get("kind") or "").upper()
    text = comment.expression.name if comment.expression is not None else None
    exists = bool(comment.args.get("exists"))
    if kind == "COLUMN":
        return _comment_column(rt, comment.this, text, exists)
    if kind in ("SCHEMA", "DATABASE"):
        return _comment_container(rt, comment.this, kind, text, exists)
    if kind not in _KINDS:
        raise UnsupportedError(
            f"COMMENT ON {kind}",
            f"COMMENT ON {kind} is not supported by snowmelt (databases, schemas, tables, "
            "views, dynamic tables and columns are)",
            *position(comment),
        )
    return _comment_object(rt, comment.this, kind, text, exists)


def comment_on_dynamic_table(rt: Runtime, text: str) -> Result | None:
    """``COMMENT [IF EXISTS] ON DYNAMIC TABLE name IS '...'``; None when ``text`` is not one."""
    found = _DYNAMIC.match(text)
    if found is None:
        return None
    from snowmelt.sql.resolve import parse_object_name

    name = parse_object_name(found.group(2))
    value = found.group(3).replace("''", "'")
    return _comment_object(rt, name, "DYNAMIC TABLE", value, bool(found.group(1)))


def _comment_object(
    rt: Runtime, table: exp.Expression, kind: str, text: str | None, exists: bool
) -> Result:
    try:
        obj = rt.resolver.lookup(table, _KINDS[kind])
    except ObjectNotFound:
        if exists:
            return status("Statement executed successfully.")
        raise
    with rt.store.write("DDL"):
        rt.catalog.update_object(obj.oid, comment=text)
    return status("Statement executed successfully.")


def _comment_container(
    rt: Runtime, target: exp.Expression, kind: str, text: str | None, exists: bool
) -> Result:
    """COMMENT ON DATABASE d / SCHEMA [d.]s: shown by SHOW DATABASES / SCHEMAS and
    INFORMATION_SCHEMA.SCHEMATA."""
    parts = name_parts(target)
    if kind == "DATABASE":
        database, schema = parts[-1], None
        found = database in {d for d, _, _ in rt.catalog.databases()}
    else:
        database = parts[0] if len(parts) > 1 else (rt.context.database or "")
        schema = parts[-1]
        found = rt.catalog.schema_exists(database, schema)
    if not found:
        if exists:
            return status("Statement executed successfully.")
        what = database if schema is None else f"{database}.{schema}"
        raise ObjectNotFound(f"{kind.title()} '{what}' does not exist.", name=what)
    with rt.store.write("DDL"):
        rt.catalog.set_container_comment(database, schema, text)
    return status("Statement executed successfully.")


def _comment_column(rt: Runtime, target: exp.Expression, text: str | None, exists: bool) -> Result:
    if not isinstance(target, exp.Column) or not target.table:
        raise SqlError("COMMENT ON COLUMN needs <table>.<column>", *position(target))
    parts = [p for p in (target.args.get("catalog"), target.args.get("db")) if p is not None]
    table = exp.Table(this=target.args["table"].copy(), db=None, catalog=None)
    if parts:
        table.set("db", parts[-1].copy())
        if len(parts) == 2:
            table.set("catalog", parts[0].copy())
    try:
        obj = rt.resolver.lookup(table, ("TABLE", "DYNAMIC TABLE", "VIEW"))
    except ObjectNotFound:
        if exists:
            return status("Statement executed successfully.")
        raise
    column = _column(obj, target)
    column.comment = text
    with rt.store.write("DDL"):
        rt.catalog.update_object(obj.oid, columns=obj.columns)
    return status("Statement executed successfully.")
