"""The join rule: inner and cross joins of any number of inputs (and the per-row LATERAL
FLATTEN), differentiated by telescoping over the FROM items.

A FROM clause ``item_0 op_1 item_1 … op_n item_n`` is a left-deep chain
``rel_j = rel_{j-1} op_j item_j``. With X_old the state the table was last refreshed at and
X_new the state of this refresh, an inner or cross join changes as

    Δ(rel_{j-1} ⋈ item_j) = Δrel_{j-1} ⋈ item_j_new  +  rel_{j-1}_old ⋈ Δitem_j

which unrolls into one term per item (the telescoping form of ``reference/IVM.md``)::

    Δ(item_0 ⋈ … ⋈ item_n) = Σ_i item_0_old ⋈ … ⋈ item_{i-1}_old ⋈ Δitem_i
                                  ⋈ item_{i+1}_new ⋈ … ⋈ item_n_new

A term's weight is the weight of its Δ item (each term holds exactly one). A term whose Δ
item reads no source changed in this refresh is empty and left out (``Source.changed``), so
a fact table joined to unchanged dimensions costs one term: Δfact ⋈ dims. An item is a
source reference or a subquery (differentiated recursively); a self-join is two items that
read one source, both reading the one copy of its change. A LATERAL item (FLATTEN) is a
function of the row to its left, not an item of its own: every term carries it as written.
Outer joins keep this frame and add the terms of ``outer``. A WHERE that reads the current
time adds the entering/leaving terms of ``linear`` over the old state of the whole join.

Output rows carry no source identity (a join row has several); rules built on this one
apply the change by value (``bag``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
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
    time_nodes,
)

LATERALS = (exp.Lateral, exp.TableFromRows, exp.Unnest)
Rewrite = Callable[[exp.Expr, object], exp.Expr]


@dataclass
class Item:
    """One relation of a FROM clause, as written."""

    node: exp.Expr  # a numbered source reference, a subquery, or a LATERAL
    join: exp.Join | None  # the JOIN bringing it in; None for the FROM item
    leaves: frozenset[int]

    @property
    def alias(self) -> str:
        return self.node.alias_or_name

    @property
    def lateral(self) -> bool:
        return isinstance(self.node, LATERALS)

    @property
    def side(self) -> str:
        return str(self.join.side or "").upper() if self.join is not None else ""


def leaves_of(node: exp.Expr) -> frozenset[int]:
    return frozenset(int(t.meta[LEAF]) for t in node.find_all(exp.Table) if LEAF in t.meta)


def items_of(select: exp.Select) -> list[Item]:
    first = select.args["from_"].this
    found = [Item(first, None, leaves_of(first))]
    for join in select.args.get("joins") or []:
        found.append(Item(join.this, join, leaves_of(join.this)))
    return found


def has_joins(select: exp.Select) -> bool:
    return bool(select.args.get("joins") or select.args.get("laterals"))


def scoped_columns(select: exp.Select, name: str) -> list[str]:
    """Columns of relation ``name`` that ``select`` itself reads, in order of first use."""
    found: dict[str, None] = {}
    for col in select.find_all(exp.Column):
        if col.table == name and not isinstance(col.this, exp.Star) and own_scope(col, select):
            found.setdefault(col.name, None)
    return list(found)


def changed_leaves(form: object) -> frozenset[int] | None:
    """The leaves whose source changed in this refresh (None: assume all of them)."""
    return getattr(form, "changed", None)


def with_mode(form: object, mode: str, carry: tuple[str, ...]) -> object:
    return dataclasses.replace(form, mode=mode, carry=carry)  # type: ignore[type-var]


def leaf_relation(table: exp.Table, columns: list[str], mode: str, weighted: bool) -> exp.Expr:
    """A source reference as ``mode`` (delta | old | new | full), with the weight if asked."""
    name = table.alias_or_name
    leaf = int(table.meta[LEAF])
    if mode == "full":
        body = exp.select(*[column(c, name) for c in columns]).from_(table.copy())
    else:
        kind = "change" if mode == "delta" else mode
        body = exp.select(*[column(c) for c in columns]).from_(placeholder(kind, leaf))
        if weighted:
            body = body.select(
                column(WEIGHT)
                if mode == "delta"
                else exp.alias_(exp.Literal.number(1), WEIGHT, quoted=True)
            )
    if not body.expressions:
        body = body.select(exp.alias_(exp.true(), "_sm_row", quoted=True))
    return exp.Subquery(this=body, alias=exp.TableAlias(this=exp.to_identifier(name, quoted=True)))


class Differentiator:
    """The terms of one SELECT with joins, in one form (``linear.Form``)."""

    def __init__(self, select: exp.Select, form: object, rewrite: Rewrite):
        if SRC in form.carry:  # type: ignore[attr-defined]
            raise ValueError(
                "a join row has no single source identity; joins are applied by value (rule 'join')"
            )
        self.select = select
        self.form = form
        self.rewrite = rewrite
        self.items = items_of(select)
        where = select.args.get("where")
        self.predicate: exp.Expr | None = where.this if where is not None else None
        changed = changed_leaves(form)
        self.changed = (
            changed if changed is not None else frozenset().union(*(i.leaves for i in self.items))
        )

    # -- relations ------------------------------------------------------------------------------
    def relation(self, index: int, mode: str, weighted: bool = False) -> exp.Expr:
        item = self.items[index]
        node = item.node
        if isinstance(node, exp.Table) and LEAF in node.meta:
            return leaf_relation(node, scoped_columns(self.select, item.alias), mode, weighted)
        if isinstance(node, exp.Subquery):
            carry = (WEIGHT,) if weighted else ()
            return exp.Subquery(
                this=self.rewrite(node.this, with_mode(self.form, mode, carry)),
                alias=node.args["alias"].copy(),
            )
        return node.copy()

    def empty(self, index: int) -> exp.Expr:
        """Item ``index`` with no rows (its columns NULL when outer-joined)."""
        alias = self.items[index].node.args["alias"].copy()
        inner = self.relation(index, "new")
        inner.set("alias", exp.TableAlias(this=exp.to_identifier("_sm_none", quoted=True)))
        return exp.Subquery(this=exp.select("*").from_(inner).where(exp.false()), alias=alias)

    def joined(self, index: int, this: exp.Expr, side: str | None = None) -> exp.Join:
        """Join ``index`` of the original FROM clause reading ``this``; ``side`` overrides
        its side ("" for an inner join)."""
        template = self.items[index].join
        assert template is not None
        join = template.copy()
        join.set("this", this)
        if side is not None:
            join.set("side", side or None)
            if not side and join.args.get("kind") == "OUTER":
                join.set("kind", None)
        return join

    def assemble(
        self,
        first: exp.Expr,
        joins: list[exp.Join],
        weight: exp.Expr | None,
        where: exp.Expr | None,
    ) -> exp.Select:
        out = exp.Select(expressions=[e.copy() for e in self.select.expressions])
        if WEIGHT in self.form.carry:  # type: ignore[attr-defined]
            out = out.select(
                exp.alias_(
                    weight if weight is not None else exp.Literal.number(1), WEIGHT, quoted=True
                ),
                copy=False,
            )
        out.set("from_", exp.From(this=first))
        if joins:
            out.set("joins", joins)
        if where is not None:
            out.set("where", exp.Where(this=where))
        return out

    def state(self, mode: str, where: exp.Expr | None) -> exp.Select:
        """The whole FROM clause as ``mode`` (old | new | full), join types as written."""
        first = self.relation(0, mode)
        joins = [self.joined(i, self.relation(i, mode)) for i in range(1, len(self.items))]
        return self.assemble(first, joins, None, where)

    def weight_of(self, index: int) -> exp.Expr:
        return column(WEIGHT, self.items[index].alias)

    # -- terms ------------------------------------------------------------------------------------
    def delta_term(self, i: int, where: exp.Expr | None) -> exp.Select:
        """Items before ``i`` old, item ``i`` changed, items after it new. At ``i`` a LEFT
        join becomes inner (rel_old ⋈ Δitem) and a FULL join RIGHT (rel_old ⟖ Δitem); with
        ``i`` = 0 a FULL join at 1 becomes LEFT (Δitem_0 ⟕ item_1_new)."""
        parts = [
            self.relation(k, "delta" if k == i else "old" if k < i else "new", weighted=k == i)
            for k in range(len(self.items))
        ]
        joins = []
        for k in range(1, len(self.items)):
            side = None
            if k == i and self.items[k].side == "LEFT":
                side = ""
            elif k == i and self.items[k].side == "FULL":
                side = "RIGHT"
            elif i == 0 and k == 1 and self.items[k].side == "FULL":
                side = "LEFT"
            joins.append(self.joined(k, parts[k], side))
        return self.assemble(parts[0], joins, self.weight_of(i), where)

    def terms(self) -> exp.Expr:
        from snowmelt.ivm import outer

        predicate = self.predicate
        mode = self.form.mode  # type: ignore[attr-defined]
        if mode != "delta":
            if predicate is not None and mode in ("old", "new"):
                predicate = mark_time(predicate.copy(), mode)
            return self.state(mode, predicate.copy() if predicate is not None else None)
        at_new = mark_time(predicate.copy(), "new") if predicate is not None else None
        found: list[exp.Select] = []
        for i, item in enumerate(self.items):
            if item.lateral or not item.leaves & self.changed:
                continue
            found.append(self.delta_term(i, at_new.copy() if at_new is not None else None))
            found += outer.flip_terms(self, i, at_new)
        if predicate is not None and time_nodes(predicate):
            found += self.time_terms(predicate)
        if not found:  # nothing changed: an empty change with the right columns
            return self.state("new", exp.false())
        out: exp.Expr = found[0]
        for term in found[1:]:
            out = exp.union(out, term, distinct=False)
        return out

    def time_terms(self, predicate: exp.Expr) -> list[exp.Select]:
        """Rows of the old join entering (+1) or leaving (-1) a window on the current time."""
        at_new = is_true(mark_time(predicate.copy(), "new"))
        at_old = is_true(mark_time(predicate.copy(), "old"))
        out = []
        for sign, condition in (
            (1, exp.and_(at_new.copy(), exp.Not(this=at_old.copy()))),
            (-1, exp.and_(at_old.copy(), exp.Not(this=at_new.copy()))),
        ):
            term = self.state("old", condition)
            if WEIGHT in self.form.carry:  # type: ignore[attr-defined]
                term.expressions[-1].set("this", exp.Literal.number(sign))
            out.append(term)
        return out


def differentiate(select: exp.Select, form: object, rewrite: Rewrite) -> exp.Expr:
    """``select`` (linear, with joins) as its change / old / new / full state."""
    return Differentiator(select, form, rewrite).terms()


__all__ = [
    "Differentiator",
    "Item",
    "differentiate",
    "has_joins",
    "items_of",
    "leaves_of",
    "scoped_columns",
    "ROW_ID",
]
