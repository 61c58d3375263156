"""Shape the canonical query so that every operator reads a FROM clause the join rule can
differentiate.

* A SELECT that joins *and* aggregates, windows, deduplicates or QUALIFYs is split in two:
  the join (with its WHERE) moves into a subquery projecting the columns the rest reads, so
  the aggregate, window and recompute rules always see one input relation::

      SELECT a.k, SUM(b.v) FROM A a JOIN B b ON … WHERE p GROUP BY a.k
      → SELECT j._sm_c0, SUM(j._sm_c1)
        FROM (SELECT a.k AS _sm_c0, b.v AS _sm_c1 FROM A a JOIN B b ON … WHERE p) AS j
        GROUP BY j._sm_c0

* ``A RIGHT JOIN B`` becomes ``B LEFT JOIN A`` (projections name their columns, so the order of
  the FROM items does not show); a RIGHT or FULL join after the first join first moves the
  joins before it into a subquery, so outer joins other than LEFT only ever come first.

The rewrite runs once at CREATE on the canonical (qualified) query; the plan persists its
result.
"""

from __future__ import annotations

from sqlglot import exp

from snowmelt.ivm.canonical import column, own_scope
from snowmelt.names import quoted


def blocking(select: exp.Select) -> bool:
    """Whether ``select`` aggregates, windows, deduplicates or QUALIFYs its input."""
    if any(select.args.get(k) for k in ("group", "having", "qualify", "distinct")):
        return True
    for node in select.find_all(exp.Window, exp.AggFunc):
        if own_scope(node, select) and (
            isinstance(node, exp.Window) or node.find_ancestor(exp.Window) is None
        ):
            return True
    return False


class _Names:
    def __init__(self) -> None:
        self.count = 0

    def next(self) -> str:
        self.count += 1
        return f"_sm_j{self.count}"


def isolate(select: exp.Select, count: int, names: _Names) -> None:
    """Move the first ``count`` FROM items (and the WHERE, when all move) of ``select`` into a
    subquery projecting every column the rest of ``select`` reads (in place)."""
    joins = list(select.args.get("joins") or [])
    moved_joins = joins[: count - 1]
    kept_joins = joins[count - 1 :]
    everything = count == len(joins) + 1
    moved = [select.args["from_"].this] + [j.this for j in moved_joins]
    aliases = {m.alias_or_name for m in moved}
    inside: list[exp.Expr] = list(moved_joins)
    where = select.args.get("where")
    if everything and where is not None:
        inside.append(where)

    def within(node: exp.Expr) -> bool:
        return any(node is part or node.find_ancestor(type(part)) is part for part in inside)

    alias = names.next()
    mapping: dict[tuple[str, str], str] = {}
    for col in list(select.find_all(exp.Column)):
        if col.table not in aliases or not own_scope(col, select) or within(col):
            continue
        key = (col.table, col.name)
        name = mapping.setdefault(key, f"_sm_c{len(mapping)}")
        col.replace(column(name, alias))
    projections = [exp.alias_(column(c, t), n, quoted=True) for (t, c), n in mapping.items()]
    if not projections:
        projections = [exp.alias_(exp.true(), "_sm_row", quoted=True)]
    inner = exp.Select(expressions=projections)
    inner.set("from_", select.args["from_"].copy())
    if moved_joins:
        inner.set("joins", [j.copy() for j in moved_joins])
    if everything and where is not None:
        inner.set("where", where.copy())
        select.set("where", None)
    select.set(
        "from_", exp.From(this=exp.Subquery(this=inner, alias=exp.TableAlias(this=quoted(alias))))
    )
    select.set("joins", kept_joins or None)


def _swap_right(select: exp.Select) -> None:
    """``FROM A RIGHT JOIN B`` → ``FROM B LEFT JOIN A`` (first join only)."""
    join = select.args["joins"][0]
    first = select.args["from_"].this
    second = join.this
    select.args["from_"].set("this", second.copy())
    join.set("this", first.copy())
    join.set("side", "LEFT")


def _outer_position(select: exp.Select) -> int | None:
    """1-based position of the first join needing a rewrite, if any."""
    for position, join in enumerate(select.args.get("joins") or [], 1):
        side = str(join.side or "").upper()
        if side == "RIGHT" or (side == "FULL" and position > 1):
            return position
    return None


def normalize(query: exp.Expr) -> exp.Expr:
    """The rewrites of the module docstring, deepest SELECT first (in place; returned)."""
    names = _Names()
    selects = [n for n in query.walk(bfs=False) if isinstance(n, exp.Select)]
    for select in reversed(selects):
        if not select.args.get("joins"):
            continue
        while (position := _outer_position(select)) is not None:
            if position > 1:
                isolate(select, position, names)
            else:
                _swap_right(select)
        if blocking(select):
            isolate(select, len(select.args["joins"]) + 1, names)
    return query
