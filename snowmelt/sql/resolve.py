"""Name resolution: bind the table references of a parsed statement to catalog objects.

Snowflake resolves ``NAME``, ``SCHEMA.NAME`` and ``DB.SCHEMA.NAME`` against the session's
current database and schema; unquoted parts fold to upper case. ``bind`` walks a query and
hands each referenced object to a callback that says what relation stands for it: the
user-visible DuckDB view for ad-hoc queries, a snapshot or a change for refreshes. CTE names
are left alone; Snowflake views referenced by a dynamic table are inlined so that the
table's real sources are the tracked base tables under them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlglot import exp
from sqlglot.optimizer.normalize_identifiers import normalize_identifiers

from snowmelt.catalog import Catalog, CatalogObject
from snowmelt.errors import ObjectNotFound, SqlError
from snowmelt.names import ObjectName, identifier_value

BOUND = "snowmelt_bound"  # meta flag on table nodes that already name engine relations


@dataclass
class Context:
    """The session's current database and schema (Snowflake's USE)."""

    database: str | None = None
    schema: str | None = None
    warehouse: str | None = None
    role: str | None = None


def normalize(expression: exp.Expression) -> exp.Expression:
    """Fold unquoted identifiers to upper case, as Snowflake does (JSON path keys keep case)."""
    return normalize_identifiers(expression, dialect="snowflake")


def position(node: exp.Expression) -> tuple[int | None, int | None]:
    """Line and column of a node's first identifier, when the parser recorded it."""
    for ident in [node, *node.find_all(exp.Identifier)]:
        meta = getattr(ident, "meta", None) or {}
        if "line" in meta:
            text = ident.this if isinstance(ident, exp.Identifier) else ""
            return meta["line"], max(1, meta.get("col", 1) - len(str(text)) + 1)
    return None, None


def object_name(table: exp.Table | exp.Dot | exp.Expression, context: Context) -> ObjectName:
    """The three-part name a table reference means in ``context``."""
    if isinstance(table, exp.Table):
        parts = [p for p in (table.args.get("catalog"), table.args.get("db"), table.this) if p]
    else:
        parts = list(table.flatten()) if isinstance(table, exp.Dot) else [table]
    values = [
        identifier_value(p) if isinstance(p, exp.Identifier) else identifier_value(str(p.name))
        for p in parts
    ]
    if len(values) == 3:
        return ObjectName(*values)
    if len(values) == 2:
        if not context.database:
            line, column = position(table)
            raise SqlError(
                f"Cannot resolve '{'.'.join(values)}': no current database. Run "
                "USE DATABASE <name> or use a three-part name.",
                line,
                column,
            )
        return ObjectName(context.database, values[0], values[1])
    if not context.database or not context.schema:
        line, column = position(table)
        raise SqlError(
            f"Cannot resolve '{values[0]}': no current database and schema. Run "
            "USE SCHEMA <db>.<schema> or qualify the name.",
            line,
            column,
        )
    return ObjectName(context.database, context.schema, values[0])


def parse_object_name(text: str) -> exp.Table:
    """A table reference from a name given through the API (``"DB.S.T"``, ``'S."t"'``).

    Parsed as a name only, never as SQL: anything that is not a dotted identifier becomes
    one quoted identifier, which then simply does not exist.
    """
    try:
        table = exp.to_table(text.strip(), dialect="snowflake")
    except Exception:
        raise SqlError(f"Invalid object name {text!r}") from None
    if not isinstance(table.this, exp.Identifier):
        raise SqlError(f"Invalid object name {text!r}: at most DATABASE.SCHEMA.NAME")
    return table


def name_parts(table: exp.Expression) -> list[str]:
    """The non-empty parts of a (possibly partial) name, outermost first, case-folded."""
    return [
        identifier_value(p)
        for p in (table.args.get("catalog"), table.args.get("db"), table.args.get("this"))
        if p is not None
    ]


def schema_of(parts: list[str], context: Context) -> tuple[str, str]:
    """(database, schema) a schema name's parts (``name_parts``) mean, the session's current
    database filling in a one-part name."""
    database = parts[0] if len(parts) == 2 else context.database
    if database is None:
        raise SqlError(
            f"No current database for schema {parts[-1]}: run USE DATABASE or write DB.SCHEMA"
        )
    return database, parts[-1]


def cte_names(expression: exp.Expression) -> set[str]:
    return {
        identifier_value(cte.args["alias"].this)
        for cte in expression.find_all(exp.CTE)
        if cte.args.get("alias")
    }


def table_references(expression: exp.Expression) -> list[exp.Table]:
    """Table nodes that name stored objects (not CTEs, not table functions, not the
    INFORMATION_SCHEMA views: ``information_schema_references``)."""
    ctes = cte_names(expression)
    found = []
    for table in expression.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier) or table.meta.get(BOUND):
            continue  # table function, UNNEST, or already bound by snowmelt
        if not table.args.get("db") and identifier_value(table.this) in ctes:
            continue
        if table.text("db").upper() == INFORMATION_SCHEMA:
            continue
        found.append(table)
    return found


INFORMATION_SCHEMA = "INFORMATION_SCHEMA"


def information_schema_references(expression: exp.Expression) -> list[exp.Table]:
    """``[DB.]INFORMATION_SCHEMA.<view>`` references (computed by
    ``snowmelt.information_schema`` when a query or a view is read)."""
    return [
        t
        for t in expression.find_all(exp.Table)
        if isinstance(t.this, exp.Identifier)
        and not t.meta.get(BOUND)
        and t.text("db").upper() == INFORMATION_SCHEMA
    ]


Replacer = Callable[[CatalogObject, exp.Table], exp.Expression]


class Resolver:
    def __init__(self, catalog: Catalog, context: Context):
        self.catalog = catalog
        self.context = context

    def object_name(self, table: exp.Expression) -> ObjectName:
        return object_name(table, self.context)

    def lookup(self, table: exp.Expression, kinds: tuple[str, ...] | None = None) -> CatalogObject:
        name = object_name(table, self.context)
        obj = self.catalog.find(name)
        if obj is None or (kinds and obj.kind not in kinds):
            line, column = position(table)
            what = " or ".join(k.lower() for k in kinds) if kinds else "object"
            message = f"{what.capitalize()} '{name}' does not exist"
            if obj is not None:
                message += f" (it is a {obj.kind.lower()})"
            elif not self.catalog.schema_exists(name.database, name.schema):
                message += f": schema '{name.database}.{name.schema}' does not exist"
            raise ObjectNotFound(message + _where(line, column), name=str(name))
        return obj

    def bind(
        self, expression: exp.Expression, replace: Replacer, inline_views: bool = False
    ) -> exp.Expression:
        """Replace every table reference with ``replace(object, table)`` (in place)."""
        for table in table_references(expression):
            obj = self.lookup(table)
            alias = table.alias_or_name if table.args.get("alias") else None
            default_alias = identifier_value(table.this)
            if inline_views and obj.kind == "VIEW":
                from snowmelt.sql.parse import parse_padded

                body = normalize(parse_padded(obj.text or ""))
                inner = body.args.get("expression") if isinstance(body, exp.Create) else body
                assert inner is not None
                self.bind(inner, replace, inline_views=True)
                new: exp.Expression = exp.Subquery(this=inner)
            else:
                new = replace(obj, table)
            if isinstance(new, exp.Table):
                if not new.args.get("alias"):
                    new.set(
                        "alias",
                        exp.TableAlias(this=exp.to_identifier(alias or default_alias, quoted=True)),
                    )
            else:
                new = exp.Subquery(
                    this=new.unnest() if isinstance(new, exp.Subquery) else new,
                    alias=exp.TableAlias(
                        this=exp.to_identifier(alias or default_alias, quoted=True)
                    ),
                )
            table.replace(new)
            if table is expression:  # the root itself was a table reference
                expression = new
        return expression

    def sources(self, expression: exp.Expression) -> list[CatalogObject]:
        """Objects a query reads, views inlined down to tracked tables."""
        found: dict[int, CatalogObject] = {}

        def collect(obj: CatalogObject, table: exp.Table) -> exp.Expression:
            found[obj.oid] = obj
            return table.copy()

        self.bind(expression.copy(), collect, inline_views=True)
        return list(found.values())


def _where(line: int | None, column: int | None) -> str:
    return f" (line {line}, column {column})" if line is not None else ""


def raise_not_found(name: ObjectName, kind: str) -> None:
    raise ObjectNotFound(f"{kind} '{name}' does not exist", name=str(name))
