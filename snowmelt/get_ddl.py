"""GET_DDL('TABLE' | 'VIEW' | 'DYNAMIC_TABLE', 'name'): the statement that re-creates an
object, in Snowflake's layout (lower-case keywords, one column per line).

It is computed from the catalog when the query is bound (``query.run_query``): each call,
whose arguments must be string literals, becomes the text. Tables list their columns with
the types DESCRIBE shows, NOT NULL, DEFAULT and COMMENT; views and dynamic tables their
column names and their query as snowmelt keeps it (names qualified); dynamic tables also
their target lag, requested refresh mode, initialization and warehouse.
"""

from __future__ import annotations

from sqlglot import exp

from snowmelt.catalog import CatalogObject
from snowmelt.ddl import default_text, identity_text
from snowmelt.errors import SqlError, UnsupportedError
from snowmelt.properties import format_lag
from snowmelt.runtime import Runtime
from snowmelt.show import snowflake_type
from snowmelt.sql.resolve import parse_object_name, position

_KINDS = {
    "TABLE": ("TABLE", "DYNAMIC TABLE"),
    "VIEW": ("VIEW",),
    "DYNAMIC_TABLE": ("DYNAMIC TABLE",),
    "DYNAMIC TABLE": ("DYNAMIC TABLE",),
}


def expand_get_ddl(rt: Runtime, expression: exp.Expression) -> exp.Expression:
    for node in list(expression.find_all(exp.Anonymous)):
        if node.name.upper() != "GET_DDL":
            continue
        args = node.expressions
        if len(args) < 2 or not all(isinstance(a, exp.Literal) and a.is_string for a in args[:2]):
            raise SqlError(
                "GET_DDL takes the object type and name as string literals, e.g. "
                "GET_DDL('TABLE', 'DB.SCHEMA.T')",
                *position(node),
            )
        kind = args[0].name.upper()
        if kind not in _KINDS:
            raise UnsupportedError(
                f"GET_DDL('{kind}')",
                f"GET_DDL of a {kind.lower()} is not supported by snowmelt (of a TABLE, VIEW "
                "or DYNAMIC_TABLE it is)",
                *position(node),
            )
        obj = rt.resolver.lookup(parse_object_name(args[1].name), _KINDS[kind])
        replacement = exp.Literal.string(ddl_text(rt, obj))
        if node is expression:
            return replacement
        node.replace(replacement)
    return expression


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _comment(text: str | None) -> str:
    return f" COMMENT={_quote(text)}" if text else ""


def ddl_text(rt: Runtime, obj: CatalogObject) -> str:
    name = obj.name.name
    if obj.kind == "TABLE":
        columns = []
        for c in obj.columns:
            line = f"\t{c.name} {snowflake_type(c.type)}"
            if not c.nullable:
                line += " NOT NULL"
            identity = identity_text(rt, c.default)
            if identity is not None:
                line += " " + identity.replace("IDENTITY", "AUTOINCREMENT")  # a new sequence
            elif c.default is not None:
                line += f" DEFAULT {default_text(rt, c.default)}"
            if c.comment:
                line += f" COMMENT {_quote(c.comment)}"
            columns.append(line)
        transient = "TRANSIENT " if obj.transient else ""
        body = ",\n".join(columns)
        return f"create or replace {transient}TABLE {name} (\n{body}\n){_comment(obj.comment)};"
    names = ",\n".join(f"\t{c.name}" for c in obj.columns)
    if obj.kind == "VIEW":
        return f"create or replace view {name}(\n{names}\n){_comment(obj.comment)}\n as {obj.text};"
    dt = rt.catalog.dynamic_table(obj.oid)
    settings = (
        f"target_lag = '{format_lag(dt.target_lag_sec, dt.target_lag_type)}' "
        f"refresh_mode = {dt.requested_mode} initialize = {dt.initialize}"
        + (f" warehouse = {dt.warehouse}" if dt.warehouse else "")
        + (f" frozen where ({dt.frozen_where})" if dt.frozen_where else "")
    )
    return (
        f"create or replace dynamic table {name}(\n{names}\n) {settings}"
        f"{_comment(obj.comment)}\n as {dt.query_sql};"
    )
