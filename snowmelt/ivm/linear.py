"""The linear rule: projections, filters, deterministic scalar functions, UNION ALL and
subqueries in FROM commute with change.

    Δ π_e σ_p (R) = π_e σ_p (ΔR)          Δ (A ⊎ B) = ΔA ⊎ ΔB

Each row of a change carries a weight (+1 inserted, -1 deleted) and an identity
``_sm_src`` = source row id · n + leaf (n = number of source references in the query), so a
deleted source row removes exactly the output row it produced, and an update whose projected
row is unchanged cancels out. The dynamic table keeps ``_sm_src`` as hidden state.

**Filters on the current time.** ``p`` may call ``CURRENT_TIMESTAMP`` (reference: allowed in
WHERE). Its value moves from τ_old (previous refresh) to τ_new without any source change, so
the change of σ_p(R) is not a function of ΔR alone:

    Δ σ_p(R) = σ_{p(τ_new)}(ΔR)
             + σ_{p(τ_new) ∧ ¬p(τ_old)}(R_old)     (rows entering the window, weight +1)
             − σ_{p(τ_old) ∧ ¬p(τ_new)}(R_old)     (rows leaving it, weight -1)

The two extra terms read the old state of R (a scan of R, not of the change): that is the
price of a moving window, and it is paid only by queries that use the current time.

``rewrite`` is also the input differentiator of the aggregate and window rules: any operator
whose input is linear differentiates that input here. A SELECT with joins (or LATERAL
FLATTEN) is handed to the join rule (``join``), which differentiates over the old and new
states of the other inputs; ``Form.changed`` lets it leave out the terms of unchanged
sources.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from snowmelt.ivm.canonical import (
    LEAF,
    ROW_ID,
    SRC,
    WEIGHT,
    column,
    is_true,
    mark_time,
    own_scope,
    placeholder,
    table_name,
    time_nodes,
)
from snowmelt.names import ObjectName


def number_leaves(query: exp.Expr) -> list[ObjectName]:
    """Number the source references of ``query`` in pre-order (stable across re-parsing)."""
    names: list[ObjectName] = []
    for table in query.find_all(exp.Table, bfs=False):
        name = table_name(table)
        if name is None:
            continue
        table.meta[LEAF] = len(names)
        names.append(name)
    return names


@dataclass(frozen=True)
class Form:
    """How to rewrite: ``mode`` delta | old | new | full; ``carry`` hidden columns to pass
    up (``_sm_src``, ``_sm_weight``); ``leaves`` the number of source references;
    ``changed`` the leaves whose source changed in this refresh (None: any may have), so the
    join rule can leave out the terms of unchanged ones."""

    mode: str
    carry: tuple[str, ...]
    leaves: int
    changed: frozenset[int] | None = None


def rewrite(node: exp.Expr, form: Form) -> exp.Expr:
    """``node`` (a linear query in canonical form) as its change / old / new state / full
    state with carried columns appended to every projection."""
    if not form.carry and form.mode == "full":
        return node.copy()
    if isinstance(node, exp.Subquery):
        return exp.Subquery(this=rewrite(node.this, form), alias=_copy(node.args.get("alias")))
    if isinstance(node, exp.Union):
        return exp.Union(
            this=rewrite(node.this, form), expression=rewrite(node.expression, form), distinct=False
        )
    if isinstance(node, exp.Select):
        return _select(node, form)
    raise ValueError(f"not a linear query: {node.sql('snowflake')[:80]}")


def _copy(node: exp.Expr | None) -> exp.Expr | None:
    return node.copy() if node is not None else None


def _select(select: exp.Select, form: Form) -> exp.Expr:
    if select.args.get("joins"):
        from snowmelt.ivm.join import differentiate

        return differentiate(select, form, rewrite)  # type: ignore[arg-type]
    source = select.args["from_"].this
    name = source.alias_or_name
    where = select.args.get("where")
    predicate = where.this if where is not None else None
    projections = [e.copy() for e in select.expressions]

    def build(mode: str, sign: int = 1, condition: exp.Expr | None = None) -> exp.Select:
        carried: list[exp.Expr] = []
        for hidden in form.carry:
            value: exp.Expr = column(hidden, name)
            if hidden == WEIGHT and sign < 0:
                value = exp.Neg(this=value)
            carried.append(exp.alias_(value, hidden, quoted=True))
        out = exp.select(*[p.copy() for p in projections], *carried).from_(
            _from_item(source, select, Form(mode, form.carry, form.leaves, form.changed))
        )
        if condition is not None:
            out = out.where(condition)
        return out

    if predicate is None:
        return build(form.mode)
    if form.mode == "full":
        return build("full", condition=predicate.copy())
    if form.mode != "delta" or not time_nodes(predicate):
        which = "old" if form.mode == "old" else "new"
        return build(form.mode, condition=mark_time(predicate.copy(), which))
    at_new = is_true(mark_time(predicate.copy(), "new"))
    at_old = is_true(mark_time(predicate.copy(), "old"))
    changed = build("delta", condition=at_new.copy())
    entering = build("old", 1, exp.and_(at_new.copy(), exp.Not(this=at_old.copy())))
    leaving = build("old", -1, exp.and_(at_old.copy(), exp.Not(this=at_new.copy())))
    return exp.union(exp.union(changed, entering, distinct=False), leaving, distinct=False)


def _from_item(source: exp.Expr, select: exp.Select, form: Form) -> exp.Expr:
    if isinstance(source, exp.Subquery):
        return exp.Subquery(this=rewrite(source.this, form), alias=_copy(source.args.get("alias")))
    if isinstance(source, exp.Table) and LEAF in source.meta:
        return _leaf(source, select, form)
    raise ValueError(f"not a linear input: {source.sql('snowflake')[:80]}")


def referenced_columns(select: exp.Select, name: str) -> list[str]:
    """Columns of relation ``name`` that ``select`` reads, in order of first use."""
    found: dict[str, None] = {}
    for key, value in select.args.items():
        if key == "from_" or value is None:
            continue
        for node in value if isinstance(value, list) else [value]:
            if not isinstance(node, exp.Expr):
                continue
            for col in node.find_all(exp.Column):
                if col.table == name and not isinstance(col.this, exp.Star):
                    found.setdefault(col.name, None)
    return list(found)


def _leaf(table: exp.Table, select: exp.Select, form: Form) -> exp.Expr:
    leaf = int(table.meta[LEAF])
    name = table.alias_or_name
    columns = referenced_columns(select, name)
    source_id: exp.Expr = column(ROW_ID)
    if form.leaves > 1:
        source_id = exp.Add(
            this=exp.Mul(this=source_id, expression=exp.Literal.number(form.leaves)),
            expression=exp.Literal.number(leaf),
        )
    hidden: list[exp.Expr] = []
    if SRC in form.carry:
        hidden.append(exp.alias_(source_id, SRC, quoted=True))
    if form.mode == "full":
        body = exp.select(
            *[column(c, name) for c in columns], *[_qualify(h, name) for h in hidden]
        ).from_(table.copy())
    else:
        if WEIGHT in form.carry:
            hidden.append(
                column(WEIGHT)
                if form.mode == "delta"
                else exp.alias_(exp.Literal.number(1), WEIGHT, quoted=True)
            )
        kind = "change" if form.mode == "delta" else form.mode
        body = exp.select(*[column(c) for c in columns], *hidden).from_(placeholder(kind, leaf))
    if not body.expressions:
        body = body.select(exp.alias_(exp.true(), "_sm_row", quoted=True))
    return exp.Subquery(this=body, alias=exp.TableAlias(this=exp.to_identifier(name, quoted=True)))


def _qualify(expression: exp.Expr, name: str) -> exp.Expr:
    """Point bare columns of ``expression`` at relation ``name``."""
    out = expression.copy()
    for col in out.find_all(exp.Column):
        if not col.table:
            col.set("table", exp.to_identifier(name, quoted=True))
    return out


def is_linear(node: exp.Expr) -> exp.Expr | None:
    """None when ``node`` is a linear query; else the node that breaks linearity."""
    if isinstance(node, exp.Subquery):
        return is_linear(node.this)
    if isinstance(node, exp.Union):
        if node.args.get("distinct"):
            return node
        return is_linear(node.this) or is_linear(node.expression)
    if not isinstance(node, exp.Select):
        return node
    for key in ("group", "having", "qualify", "laterals", "limit", "offset", "connect", "pivots"):
        if node.args.get(key):
            return node.args[key] if not isinstance(node.args[key], list) else node.args[key][0]
    if node.args.get("distinct"):
        return node.args["distinct"]
    if any(_is_aggregate(n) for n in node.find_all(exp.AggFunc) if own_scope(n, node)):
        return next(n for n in node.find_all(exp.AggFunc) if own_scope(n, node))
    source = node.args.get("from_")
    if source is None:
        return node
    items = [source.this] + [j.this for j in node.args.get("joins") or []]
    for position, item in enumerate(items):
        if isinstance(item, exp.Subquery):
            broken = is_linear(item.this)
            if broken is not None:
                return broken
        elif not (isinstance(item, exp.Table) and LEAF in item.meta) and not (
            position > 0 and isinstance(item, exp.Lateral | exp.TableFromRows)
        ):
            return item
    return None


def _is_aggregate(node: exp.Expr) -> bool:
    return isinstance(node, exp.AggFunc) and node.find_ancestor(exp.Window) is None
