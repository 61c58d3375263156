"""COUNT(DISTINCT x) per group, maintained from the change and a probe of the new state.

A group's distinct count moves only through the values the change touches. For each pair
(group g, value x) in the change of the input, with Σw the change's net weight for it:

    n_new(g, x) = |σ_{g, x} I_new|            (a probe of the new input for those pairs only)
    n_old(g, x) = n_new(g, x) − Σw
    Δcount(g)   = #{x : n_old = 0 < n_new} − #{x : n_new = 0 < n_old}

so the state is the count itself, merged like COUNT (``aggregate``). The probe scans the
input with the touched pairs as the small side of a semi join pushed down to the source
(``pushdown``) — the cost of the values the change touches, not of the groups' data, which
is what makes a per-product or per-day distinct count cheap after a small change. NULL
values are not counted, as in SQL.
"""

from __future__ import annotations

from typing import Any

from sqlglot import exp

from snowmelt.ivm import pushdown
from snowmelt.ivm.canonical import WEIGHT, column, null_safe_equal, subquery
from snowmelt.ivm.linear import Form, rewrite

KIND = "DISTINCT_COUNT"
DELTA = "_sm_dd"


def _pairs(g: Any, c: Any, source: exp.Expr) -> exp.Select:
    """(group keys, x) touched by the change of the input (``source``), with their net
    weight."""
    keys = list(g.keys) + [c.arg]
    names = [pushdown.key_name(i) for i in range(len(keys))]
    return (
        exp.select(
            *[exp.alias_(k.copy(), n, quoted=True) for k, n in zip(keys, names, strict=True)],
            exp.alias_(exp.func("sum", column(WEIGHT, g.alias)), "_sm_dw", quoted=True),
        )
        .from_(subquery(source.copy(), g.alias))
        .where(exp.Not(this=exp.Is(this=c.arg.copy(), expression=exp.Null())))
        .group_by(*[k.copy() for k in keys])
    )


def distinct_delta(g: Any, c: Any, leaves: int, index: int, source: exp.Expr) -> exp.Select:
    """Per group (``_sm_k{i}``), the change of component ``c``'s distinct count."""
    keys = list(g.keys) + [c.arg]
    names = [pushdown.key_name(i) for i in range(len(keys))]
    pairs = exp.Table(this=exp.to_identifier(f"_sm_p{index}", quoted=True))
    probe = exp.select(
        *[exp.alias_(k.copy(), n, quoted=True) for k, n in zip(keys, names, strict=True)],
        exp.alias_(exp.func("count", exp.Star()), "_sm_n", quoted=True),
    ).from_(subquery(rewrite(g.input, Form("new", (), leaves)), g.alias))
    pushdown.push(probe, [k.copy() for k in keys], pairs)
    probe = probe.group_by(*[k.copy() for k in keys])
    now = exp.func("coalesce", column("_sm_n", "n"), exp.Literal.number(0))
    before = exp.Sub(this=now.copy(), expression=column("_sm_dw", "p"))
    zero = exp.Literal.number(0)
    step = exp.Case(
        ifs=[
            exp.If(
                this=exp.and_(
                    exp.GT(this=now.copy(), expression=zero.copy()),
                    exp.LTE(this=before.copy(), expression=zero.copy()),
                ),
                true=exp.Literal.number(1),
            ),
            exp.If(
                this=exp.and_(
                    exp.LTE(this=now.copy(), expression=zero.copy()),
                    exp.GT(this=before.copy(), expression=zero.copy()),
                ),
                true=exp.Literal.number(-1),
            ),
        ],
        default=zero.copy(),
    )
    group = names[:-1]
    out = (
        exp.select(
            *[column(n, "p") for n in group], exp.alias_(exp.func("sum", step), DELTA, quoted=True)
        )
        .from_(pairs.copy().as_("p"))
        .join(
            probe.subquery("n"),
            join_type="left",
            on=null_safe_equal((column(n, "p"), column(n, "n")) for n in names),
        )
    )
    if group:
        out = out.group_by(*[column(n, "p") for n in group])
    return out.with_(pairs.name, as_=_pairs(g, c, source), materialized=True)


def with_distinct_counts(g: Any, delta: exp.Select, leaves: int, source: exp.Expr) -> exp.Select:
    """``delta`` (G, one row per changed group) with each distinct-count component's change
    joined in; ``source`` is the change of the input."""
    counted = [c for c in g.components if c.kind == KIND]
    if not counted:
        return delta
    names = [pushdown.key_name(i) for i in range(len(g.keys))]
    joins = []
    for index, c in enumerate(g.components):
        if c.kind != KIND:
            continue
        alias = f"_sm_d{index}"
        joins.append((alias, distinct_delta(g, c, leaves, index, source)))
    replaced = {c.name: f"_sm_d{g.components.index(c)}" for c in counted}
    columns = [e.alias_or_name for e in delta.expressions]
    out = exp.select(
        *[
            exp.alias_(
                exp.func("coalesce", column(DELTA, replaced[n]), exp.Literal.number(0)),
                n,
                quoted=True,
            )
            if n in replaced
            else column(n, "_sm_g")
            for n in columns
        ]
    ).from_(subquery(delta, "_sm_g"))
    for alias, relation in joins:
        out = out.join(
            relation.subquery(alias),
            join_type="left",
            on=null_safe_equal((column(n, "_sm_g"), column(n, alias)) for n in names),
        )
    return out
