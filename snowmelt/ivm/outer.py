"""Outer equi-joins: the NULL-extended rows, recomputed for the join keys whose match status
changed.

    L ⟕ R = (L ⋈ R) ⊎ pad(L ▷ R)          (L ▷ R: rows of L with no match in R)

The inner part changes by the join rule (``join``). For the padded part, with L_new = L_old +
ΔL::

    Δ pad(L ▷ R) = pad(ΔL ▷ R_new) + pad(L_old ▷ R_new) − pad(L_old ▷ R_old)

The first term joins ``ΔL ⟕ R_new`` with the inner ΔL ⋈ R_new (so a change of the
preserved side — a fact table beside its dimensions, the common case — is one term, linear
in ΔL). The last two differ only for rows of L_old whose key k is among the keys of ΔR and
whose match status flipped: with n_new(k) = |σ_{b=k} R_new| and n_old(k) = n_new(k) − Σ_{ΔR,
b=k} w, a key that gained its first match (n_old = 0 < n_new) retracts the padded rows of its
L_old rows (weight -1), a key that lost its last match adds them (+1). That is affected-key
recompute restricted to the keys of ΔR (``flip``); its cost is a probe of R_new for those
keys and of L_old for the flipped ones.

RIGHT joins are LEFT joins with the inputs swapped (``normalize``). FULL OUTER (first join of
a FROM clause) is both: ΔA ⟕ B_new, A_old ⟖ ΔB, the flips of B's keys over A_old and the
flips of A's keys over B_new.

Only equality predicates ``left-expression = right-expression`` may relate the two sides
(plus predicates reading one side only); any other condition forces FULL, as in the reference.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlglot import exp

from snowmelt.ivm.canonical import WEIGHT, column

if TYPE_CHECKING:
    from snowmelt.ivm.join import Differentiator

FLIP = "_sm_flip"


class NotEquiJoin(Exception):
    """An outer join condition that is not a conjunction of equalities (and one-side
    predicates); carries the offending node."""

    def __init__(self, message: str, node: exp.Expr):
        super().__init__(message)
        self.node = node


@dataclass
class Condition:
    """An outer join's ON split into equalities and one-side predicates."""

    left: list[exp.Expr] = field(default_factory=list)  # key expressions of the left side
    right: list[exp.Expr] = field(default_factory=list)  # ... of the right side, paired
    left_only: list[exp.Expr] = field(default_factory=list)
    right_only: list[exp.Expr] = field(default_factory=list)


def _conjuncts(node: exp.Expr | None) -> list[exp.Expr]:
    if node is None:
        return []
    if isinstance(node, exp.Paren):
        return _conjuncts(node.this)
    if isinstance(node, exp.And):
        return _conjuncts(node.this) + _conjuncts(node.expression)
    return [node]


def _aliases(node: exp.Expr) -> set[str]:
    return {c.table for c in node.find_all(exp.Column) if c.table}


def split(on: exp.Expr | None, left: set[str], right: str) -> Condition:
    """Split an outer join's ON; raises ``NotEquiJoin`` when sides meet other than by
    equality."""
    found = Condition()
    for conjunct in _conjuncts(on):
        used = _aliases(conjunct)
        if used <= left:
            found.left_only.append(conjunct)
            continue
        if used == {right}:
            found.right_only.append(conjunct)
            continue
        if isinstance(conjunct, exp.EQ):
            a, b = conjunct.this, conjunct.expression
            sides = (_aliases(a), _aliases(b))
            if sides[0] and sides[0] <= left and sides[1] == {right}:
                found.left.append(a)
                found.right.append(b)
                continue
            if sides[1] and sides[1] <= left and sides[0] == {right}:
                found.left.append(b)
                found.right.append(a)
                continue
        raise NotEquiJoin(
            f"the outer join condition {conjunct.sql('snowflake')} is not an "
            "equality between the two sides",
            conjunct,
        )
    if not found.left:
        raise NotEquiJoin(
            "an outer join without an equality between its two sides",
            on if on is not None else exp.true(),
        )
    return found


def condition_of(diff: Differentiator, index: int) -> Condition:
    """The split ON of the join at ``index`` (> 0)."""
    join = diff.items[index].join
    assert join is not None
    left = {diff.items[k].alias for k in range(index)}
    return split(join.args.get("on"), left, diff.items[index].alias)


def flip(
    diff: Differentiator, index: int, keys: list[exp.Expr], filters: list[exp.Expr]
) -> exp.Select:
    """Keys (``_sm_k0``, ...) of item ``index`` whose match status flipped, weighted +1 when
    the last match went away and -1 when the first one came."""
    names = [f"_sm_k{i}" for i in range(len(keys))]
    present = [exp.Not(this=exp.Is(this=k.copy(), expression=exp.Null())) for k in keys]
    alias = diff.items[index].alias
    changed = (
        exp.select(
            *[exp.alias_(k.copy(), n, quoted=True) for k, n in zip(keys, names, strict=True)],
            exp.alias_(exp.func("sum", column(WEIGHT, alias)), "_sm_dw", quoted=True),
        )
        .from_(diff.relation(index, "delta", weighted=True))
        .where(exp.and_(*present, *[f.copy() for f in filters]))
        .group_by(*[k.copy() for k in keys])
    )
    probe = (
        exp.select(
            *[exp.alias_(k.copy(), n, quoted=True) for k, n in zip(keys, names, strict=True)],
            exp.alias_(exp.func("count", exp.Star()), "_sm_n", quoted=True),
        )
        .from_(diff.relation(index, "new"))
        .join(
            changed.copy().subquery("_sm_fk", copy=False),
            on=exp.and_(
                *[
                    exp.EQ(this=k.copy(), expression=column(n, "_sm_fk"))
                    for k, n in zip(keys, names, strict=True)
                ]
            ),
            join_type="semi",
        )
    )
    if filters:
        probe = probe.where(exp.and_(*[f.copy() for f in filters]))
    probe = probe.group_by(*[k.copy() for k in keys])
    now = exp.func("coalesce", column("_sm_n", "_sm_fn"), exp.Literal.number(0))
    before = exp.Sub(this=now.copy(), expression=column("_sm_dw", "_sm_fd"))
    zero = exp.Literal.number(0)
    return (
        exp.select(
            *[column(n, "_sm_fd") for n in names],
            exp.alias_(
                exp.Case(
                    ifs=[
                        exp.If(
                            this=exp.EQ(this=now.copy(), expression=zero.copy()),
                            true=exp.Literal.number(1),
                        )
                    ],
                    default=exp.Literal.number(-1),
                ),
                WEIGHT,
                quoted=True,
            ),
        )
        .from_(changed.subquery("_sm_fd", copy=False))
        .join(
            probe.subquery("_sm_fn", copy=False),
            join_type="left",
            on=exp.and_(
                *[exp.EQ(this=column(n, "_sm_fd"), expression=column(n, "_sm_fn")) for n in names]
            ),
        )
        .where(
            exp.NEQ(
                this=exp.paren(exp.EQ(this=now.copy(), expression=zero.copy())),
                expression=exp.paren(exp.EQ(this=before, expression=zero.copy())),
            )
        )
    )


def _flip_join(relation: exp.Select, keys: list[exp.Expr], filters: list[exp.Expr]) -> exp.Join:
    names = [f"_sm_k{i}" for i in range(len(keys))]
    on = exp.and_(
        *[
            exp.EQ(this=k.copy(), expression=column(n, FLIP))
            for k, n in zip(keys, names, strict=True)
        ],
        *[f.copy() for f in filters],
    )
    return exp.Join(this=relation.subquery(FLIP, copy=False), on=on)


def flip_terms(diff: Differentiator, index: int, where: exp.Expr | None) -> list[exp.Select]:
    """The padded-row terms caused by the change of item ``index`` (see the module doc)."""
    items = diff.items
    out: list[exp.Select] = []
    if index > 0 and items[index].side in ("LEFT", "FULL"):
        # rows of rel_{index-1}_old whose match in item ``index`` flipped
        c = condition_of(diff, index)
        relation = flip(diff, index, c.right, c.right_only)
        first = diff.relation(0, "old")
        joins = [diff.joined(k, diff.relation(k, "old")) for k in range(1, index)]
        joins.append(_flip_join(relation, c.left, c.left_only))
        joins.append(diff.joined(index, diff.empty(index), side="LEFT"))
        joins += [diff.joined(k, diff.relation(k, "new")) for k in range(index + 1, len(items))]
        out.append(
            diff.assemble(
                first, joins, column(WEIGHT, FLIP), where.copy() if where is not None else None
            )
        )
    if index == 0 and len(items) > 1 and items[1].side == "FULL":
        # rows of item 1 (new) whose match in item 0 flipped
        c = condition_of(diff, 1)
        relation = flip(diff, 0, c.left, c.left_only)
        template = items[1].join
        assert template is not None
        joins = [
            _flip_join(relation, c.right, c.right_only),
            exp.Join(this=diff.empty(0), side="LEFT", on=template.args["on"].copy()),
        ]
        joins += [diff.joined(k, diff.relation(k, "new")) for k in range(2, len(items))]
        out.append(
            diff.assemble(
                diff.relation(1, "new"),
                joins,
                column(WEIGHT, FLIP),
                where.copy() if where is not None else None,
            )
        )
    return out
