"""DISTINCT (and UNION) by counting.

    DISTINCT(R) = the rows r with cnt[r] > 0, cnt[r] = Σ weights of r in R

which is GROUP BY over every selected column with only the hidden ``_sm_cnt`` kept: a row
appears when its count goes from 0 to positive and disappears when it returns to 0, so the
aggregate rule's merge maintains it (``aggregate.decompose`` gives DISTINCT a grouping with
no components). The reference treats ``UNION`` as ``UNION ALL`` + DISTINCT; a top-level
UNION is rewritten to exactly that here, so it is maintained the same way.
"""

from __future__ import annotations

from sqlglot import exp

from snowmelt.ivm.aggregate import Unsupported
from snowmelt.names import quoted

UNION_ALIAS = "_sm_union"


def _leftmost(query: exp.Expr) -> exp.Select | None:
    while isinstance(query, exp.Union | exp.Subquery):
        query = query.this
    return query if isinstance(query, exp.Select) else None


def _all_branches(query: exp.Expr) -> exp.Expr:
    """The same set operation tree with every UNION made UNION ALL."""
    for union in _set_operations(query):
        if union.args.get("distinct"):
            union.set("distinct", False)
    return query


def union_to_distinct(query: exp.Expr) -> exp.Expr:
    """``A UNION B`` → ``SELECT DISTINCT * FROM (A UNION ALL B)``; other queries unchanged.

    Only UNIONs at the top (possibly mixed with UNION ALL) are rewritten; a UNION nested in a
    subquery is refused by the caller as not linear.
    """
    if not isinstance(query, exp.Union) or not any(
        u.args.get("distinct") for u in _set_operations(query)
    ):
        return query
    first = _leftmost(query)
    if first is None:
        raise Unsupported(
            "UNION", "UNION over this query shape is not supported by incremental refresh", query
        )
    names = [e.alias_or_name for e in first.expressions]
    if len(set(names)) != len(names) or any(not n for n in names):
        raise Unsupported(
            "UNION",
            "UNION needs distinct column names in its first branch for "
            "incremental refresh; alias the columns",
            first,
        )
    inner = _all_branches(query.copy())
    return (
        exp.select(
            *[
                exp.alias_(exp.column(quoted(n), table=quoted(UNION_ALIAS)), n, quoted=True)
                for n in names
            ]
        )
        .from_(exp.Subquery(this=inner, alias=exp.TableAlias(this=quoted(UNION_ALIAS))))
        .distinct()
    )


def _set_operations(query: exp.Expr) -> list[exp.Union]:
    """The UNION nodes of the top-level set-operation tree (not inside subqueries)."""
    found: list[exp.Union] = []
    stack = [query]
    while stack:
        node = stack.pop()
        if isinstance(node, exp.Union):
            found.append(node)
            stack += [node.this, node.expression]
        elif isinstance(node, exp.Subquery) and isinstance(node.this, exp.Union):
            stack.append(node.this)
    return found
