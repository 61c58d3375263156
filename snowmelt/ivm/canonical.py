"""The canonical form of a dynamic table's query, and the small tree utilities every delta
rule shares.

The canonical form is what the rules differentiate: CTEs inlined as subqueries (a linear CTE
used twice is simply differentiated twice), every column qualified by its relation's alias,
``*`` expanded against the sources' columns as they were at CREATE, ORDER BY dropped (the
reference accepts and ignores it). It is computed once at CREATE and persisted in the plan,
so a refresh re-parses it instead of re-running the optimizer.

Conventions shared by the rules:

* **Placeholders.** Compiled statements name their inputs with placeholder tables
  (``"_sm_ph_change_0"``, ``"_sm_ph_new_0"``, ...), one per *source reference* (leaf) of the
  canonical query; a refresh swaps in the storage readers (``Source.change()`` etc.) after
  the Snowflake→engine translation, so the translation of a plan can be cached.
* **Time.** ``CURRENT_TIMESTAMP`` and friends are bound to the refresh's statement time: in
  a delta, filters are evaluated at the new time, old states at the previous refresh's time
  (``mark_time`` / ``bind_time``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from sqlglot import exp
from sqlglot.optimizer.qualify import qualify
from sqlglot.schema import MappingSchema

from snowmelt.names import ObjectName, quoted

LEAF = "sm_leaf"  # meta key: index of a source reference in the canonical query (``linear``)
SRC = "_sm_src"  # carried identity of an output row of a linear query (source row id, leaf)
WEIGHT = "_sm_weight"  # +1 / -1 of a weighted change row
ROW_ID = "_sm_rowid"

TIME_NODES: tuple[type[exp.Expr], ...] = (
    exp.CurrentTimestamp,
    exp.CurrentDate,
    exp.CurrentTime,
    exp.Localtime,
    exp.Localtimestamp,
    exp.CurrentDatetime,
    exp.Systimestamp,
    exp.CurrentTimestampLTZ,
)
_TIME_MARK = "_SM_TIME"


# -- names and positions --------------------------------------------------------------------
def table_name(table: exp.Table) -> ObjectName | None:
    """The three-part name of a stored-object reference, None for CTE references."""
    parts = [table.args.get("catalog"), table.args.get("db"), table.this]
    if not all(isinstance(p, exp.Identifier) for p in parts):
        return None
    db, schema, name = (p.this if p.quoted else p.this.upper() for p in parts)
    return ObjectName(db, schema, name)


def locate(node: exp.Expr) -> tuple[int | None, int | None]:
    """Line and (1-based, first character) column of ``node`` in the statement's text.

    sqlglot records positions on tokens that become identifiers, literals and function
    names; for keyword-only nodes (LIMIT, GROUP BY ROLLUP, EXCEPT) the nearest positioned
    descendant, then ancestor, stands in.
    """

    def of(candidate: exp.Expr) -> tuple[int, int] | None:
        meta = candidate.meta if candidate._meta else {}
        if "line" not in meta:
            return None
        col = meta.get("col", 1)
        if "start" in meta and "end" in meta:
            col = col - (meta["end"] - meta["start"])
        elif isinstance(candidate, exp.Identifier):
            col = col - len(candidate.this) + 1
        return meta["line"], max(1, col)

    for candidate in node.walk():
        found = of(candidate)
        if found:
            return found
    parent = node.parent
    while parent is not None:
        found = of(parent)
        if found:
            return found
        parent = parent.parent
    root = node.root()
    last: tuple[int, int] | None = None
    for candidate in root.walk(bfs=False):  # the nearest positioned token before it
        if candidate is node:
            break
        last = of(candidate) or last
    return last if last is not None else (None, None)


# -- canonicalization -------------------------------------------------------------------------
def inline_ctes(query: exp.Expr) -> exp.Expr:
    """Replace every CTE reference by a subquery of its body (innermost scopes first)."""
    for with_ in reversed(list(query.find_all(exp.With))):
        owner = with_.parent
        if owner is None:
            continue
        bodies: dict[str, exp.CTE] = {}
        for cte in with_.expressions:
            name = cte.alias_or_name
            body = cte.this
            # later CTEs may read earlier ones
            _replace_cte_refs(body, bodies)
            bodies[name] = cte
        owner.set("with_", None)
        _replace_cte_refs(owner, bodies)
    return query


def _replace_cte_refs(scope: exp.Expr, bodies: dict[str, exp.CTE]) -> None:
    if not bodies:
        return
    for table in list(scope.find_all(exp.Table)):
        if table.args.get("db") or not isinstance(table.this, exp.Identifier):
            continue
        cte = bodies.get(table.this.this)
        if cte is None:
            continue
        alias = table.args.get("alias")
        alias_name = alias.this.copy() if alias is not None and alias.this else table.this.copy()
        columns = cte.args["alias"].args.get("columns") if cte.args.get("alias") else None
        if alias is not None and alias.args.get("columns"):
            columns = alias.args["columns"]
        table.replace(
            exp.Subquery(
                this=cte.this.copy(),
                alias=exp.TableAlias(
                    this=alias_name, columns=[c.copy() for c in columns] if columns else None
                ),
            )
        )


def strip_order(query: exp.Expr) -> exp.Expr:
    """Drop ORDER BY outside windows and aggregates (accepted but ignored)."""
    for node in list(query.find_all(exp.Order)):
        if isinstance(node.parent, exp.Query | exp.Subquery) and node.arg_key == "order":
            node.pop()
    return query


def canonicalize(query: exp.Expr, columns: dict[ObjectName, list[str]]) -> exp.Expr:
    """Qualify (aliases, columns, ``*``), inline CTEs, drop ORDER BY. Raises sqlglot's
    ``OptimizeError`` when a column cannot be resolved."""
    schema: dict[str, Any] = {}
    for name, cols in columns.items():
        schema.setdefault(name.database, {}).setdefault(name.schema, {})[name.name] = {
            c: "UNKNOWN" for c in cols
        }
    qualified = qualify(
        query.copy(),
        schema=MappingSchema(schema, dialect="snowflake", normalize=False),
        dialect="snowflake",
        quote_identifiers=True,
    )
    return strip_order(inline_ctes(qualified))


# -- placeholders ---------------------------------------------------------------------------
PLACEHOLDER = "_sm_ph_"


def placeholder(kind: str, leaf: int) -> exp.Table:
    """A stand-in for leaf ``leaf``'s ``change`` / ``old`` / ``new`` relation."""
    return exp.Table(this=quoted(f"{PLACEHOLDER}{kind}_{leaf}"))


def bind_placeholders(
    expression: exp.Expr, reader: Callable[[str, int, frozenset[str] | None], exp.Expr]
) -> exp.Expr:
    """Replace placeholder tables by ``reader(kind, leaf, names)`` subqueries (in place);
    ``names`` (upper case) are the columns the reading SELECT may take from it
    (``read_names``), so a reader can leave out the source's other columns."""
    for table in list(expression.find_all(exp.Table)):
        name = table.name
        if not name.startswith(PLACEHOLDER):
            continue
        kind, _, leaf = name[len(PLACEHOLDER) :].rpartition("_")
        alias = table.args.get("alias")
        table.replace(
            exp.Subquery(
                this=reader(kind, int(leaf), read_names(table)),
                alias=alias.copy() if alias else exp.TableAlias(this=quoted(name)),
            )
        )
    return expression


def read_names(table: exp.Table) -> frozenset[str] | None:
    """The upper-cased names of every column the SELECT whose FROM or JOIN holds ``table``
    may read from it: each column anywhere in that SELECT qualified by the table's alias or
    not qualified at all — a superset, which is all a reader needs to drop the rest. None
    (read every column) under a ``*``, when no SELECT reads the table directly, or when a
    join of that SELECT names its columns by USING or NATURAL."""
    holder = table.parent
    select = holder.parent if isinstance(holder, exp.From | exp.Join) else None
    if (
        not isinstance(select, exp.Select)
        or any(isinstance(e, exp.Star) for e in select.expressions)
        or any(j.args.get("using") or j.args.get("method") for j in select.args.get("joins") or [])
    ):
        return None  # (USING and NATURAL name columns without Column nodes)
    alias = table.alias_or_name
    names: set[str] = set()
    for c in select.find_all(exp.Column):
        if c.table not in ("", alias):
            continue
        if isinstance(c.this, exp.Star):
            return None
        names.add(c.name.upper())
    return frozenset(names)


# -- time --------------------------------------------------------------------------------------
def time_nodes(expression: exp.Expr) -> list[exp.Expr]:
    return [n for n in expression.find_all(*TIME_NODES)] + [
        n for n in expression.find_all(exp.Anonymous) if n.name.upper() == _TIME_MARK
    ]


def mark_time(expression: exp.Expr, which: str) -> exp.Expr:
    """Tag the time functions of ``expression`` as evaluated at ``which`` ("new"/"old")."""

    def swap(node: exp.Expr) -> exp.Expr:
        if isinstance(node, TIME_NODES):
            return exp.Anonymous(
                this=_TIME_MARK,
                expressions=[exp.Literal.string(which), exp.Literal.string(_time_kind(node))],
            )
        return node

    return expression.transform(swap, copy=False)


def _time_kind(node: exp.Expr) -> str:
    if isinstance(node, exp.CurrentDate):
        return "DATE"
    if isinstance(node, exp.CurrentTime | exp.Localtime):
        return "TIME"
    if isinstance(node, exp.Localtimestamp) or (
        isinstance(node, exp.CurrentTimestamp) and node.args.get("sysdate")
    ):
        return "TIMESTAMP_NTZ"
    return "TIMESTAMP_LTZ"


def bind_time(expression: exp.Expr, now: datetime | None, then: datetime | None = None) -> exp.Expr:
    """Replace time functions (and marks) by literals of ``now`` (marks "old": ``then``)."""

    def literal(kind: str, when: datetime) -> exp.Expr:
        when = when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)
        if kind == "DATE":
            return exp.cast(exp.Literal.string(when.date().isoformat()), "DATE")
        if kind == "TIME":
            return exp.cast(exp.Literal.string(when.time().isoformat()), "TIME")
        if kind == "TIMESTAMP_NTZ":
            return exp.cast(
                exp.Literal.string(when.replace(tzinfo=None).isoformat(sep=" ")),
                exp.DataType.build("TIMESTAMP_NTZ", dialect="snowflake"),
            )
        return exp.cast(
            exp.Literal.string(when.isoformat(sep=" ")),
            exp.DataType.build("TIMESTAMP_LTZ", dialect="snowflake"),
        )

    def swap(node: exp.Expr) -> exp.Expr:
        if isinstance(node, TIME_NODES) and now is not None:
            return literal(_time_kind(node), now)
        if isinstance(node, exp.Anonymous) and node.name.upper() == _TIME_MARK:
            which, kind = (e.name for e in node.expressions)
            when = now if which == "new" else then
            if when is None:
                raise ValueError("a time-dependent plan needs both statement times")
            return literal(kind, when)
        return node

    return expression.transform(swap, copy=False)


# -- small builders ------------------------------------------------------------------------------
def column(name: str, table: str | None = None) -> exp.Column:
    return exp.column(quoted(name), table=quoted(table) if table else None)


def alias(expression: exp.Expr, name: str) -> exp.Alias:
    return exp.Alias(this=expression, alias=quoted(name))


def null_safe_equal(pairs: Iterable[tuple[exp.Expr, exp.Expr]]) -> exp.Expr:
    conditions = [exp.NullSafeEQ(this=a, expression=b) for a, b in pairs]
    return exp.and_(*conditions) if conditions else exp.true()


def is_true(predicate: exp.Expr) -> exp.Expr:
    """``predicate`` with NULL read as false (SQL filters drop NULL)."""
    return exp.func("coalesce", exp.paren(predicate.copy(), copy=False), exp.false())


def subquery(query: exp.Expr, name: str, columns: list[str] | None = None) -> exp.Subquery:
    return exp.Subquery(
        this=query,
        alias=exp.TableAlias(
            this=quoted(name), columns=[quoted(c) for c in columns] if columns else None
        ),
    )


def own_scope(node: exp.Expr, select: exp.Select) -> bool:
    """Whether ``node`` belongs to ``select`` itself rather than to a nested query."""
    parent = node.parent
    while parent is not None and parent is not select:
        if isinstance(parent, exp.Query):
            return False
        parent = parent.parent
    return parent is select


def monotone(node: exp.Expr, changed: frozenset[int] | None = None) -> bool:
    """Whether ``node`` turns a change that only adds rows into one that only adds rows:
    projections, filters, inner and cross joins (each delta term carries one input's
    change), LATERAL FLATTEN and UNION ALL do; windows, aggregates, DISTINCT, outer, semi
    and anti joins, set differences and LIMIT can remove rows. Given the source references
    that ``changed`` (``LEAF`` numbers; the others did not), a LEFT join does too when none
    of them is on its NULL-supplying side: a row added to the preserved side joins or is
    padded, and no padded row loses its NULLs (a fact table appended to beside unchanged
    dimensions). Kept in the node's ``meta``: a plan asks it of the same tree at every
    refresh (a walk of the tree, 0.3 ms)."""
    known = node.meta.get(MONOTONE)
    if known is None:
        known = node.meta[MONOTONE] = _monotone(node, None)
    if known or changed is None:
        return bool(known)
    by_changes = node.meta.setdefault(MONOTONE_BY_CHANGES, {})
    if changed not in by_changes:
        by_changes[changed] = _monotone(node, changed)
    return bool(by_changes[changed])


MONOTONE = "_sm_monotone"
MONOTONE_BY_CHANGES = "_sm_monotone_by_changes"


def _monotone(node: exp.Expr, changed: frozenset[int] | None) -> bool:
    blocking = (exp.Window, exp.AggFunc, exp.Distinct, exp.Except, exp.Intersect)
    if node.find(*blocking, exp.Limit, exp.Offset, exp.Group, exp.Having, exp.Qualify):
        return False
    if any(u.args.get("distinct") for u in node.find_all(exp.Union)):
        return False

    def grows(join: exp.Join) -> bool:
        side, kind = str(join.side or "").upper(), str(join.kind or "").upper()
        if not side and kind in ("", "INNER", "CROSS"):
            return True
        if changed is None or side != "LEFT" or kind not in ("", "OUTER"):
            return False
        supplying = {int(t.meta[LEAF]) for t in join.this.find_all(exp.Table) if LEAF in t.meta}
        return not supplying & changed

    return all(grows(j) for j in node.find_all(exp.Join))
