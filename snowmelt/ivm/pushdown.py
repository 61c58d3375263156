"""Pushing an affected-key filter down to the source scans.

An affected-key recompute evaluates its query only for the keys in a small table K. The
filter ``(e_0, …, e_n) ∈ K`` is stated over the input of the operator that defines the key
(a window's PARTITION BY, a GROUP BY); written there, the engine would compute every row of
the input below it first. ``push`` moves it down through projections (substituting the
projected expressions), filters and UNION ALL branches, and through joins into the input the
key comes from, until it reaches the SELECT reading the source, where it becomes a semi join
with K::

    SELECT … FROM (SELECT d, DATE_TRUNC('hour', ts) AS h FROM RAW) AS x  [key x.d, x.h]
    → SELECT … FROM (SELECT d, DATE_TRUNC('hour', ts) AS h FROM RAW
                     SEMI JOIN K ON K.k0 IS NOT DISTINCT FROM RAW.d
                              AND K.k1 IS NOT DISTINCT FROM DATE_TRUNC('hour', RAW.ts)) AS x

so the scan of RAW feeds only the rows of the affected keys to everything above it. (A
semi join, not ``EXISTS``: the engine turns a correlated EXISTS into a far slower plan.)
"""

from __future__ import annotations

import dataclasses

from sqlglot import exp

from snowmelt.ivm import window_tail
from snowmelt.ivm.canonical import PLACEHOLDER, ROW_ID, column, null_safe_equal
from snowmelt.ivm.join import LEAF
from snowmelt.ivm.normalize import blocking
from snowmelt.ivm.window_tail import Tail

KEYS = "_sm_keys"
IDS = "_sm_ids"


def key_name(i: int) -> str:
    return f"_sm_k{i}"


def _linear(node: exp.Expr) -> bool:
    if isinstance(node, exp.Union):
        return not node.args.get("distinct") and _linear(node.this) and _linear(node.expression)
    return (
        isinstance(node, exp.Select)
        and not blocking(node)
        and not any(node.args.get(k) for k in ("limit", "offset", "fetch"))
    )


def _branches(node: exp.Expr) -> list[exp.Select]:
    if isinstance(node, exp.Union):
        return _branches(node.this) + _branches(node.expression)
    if isinstance(node, exp.Subquery):
        return _branches(node.this)
    assert isinstance(node, exp.Select)
    return [node]


def _outputs(select: exp.Select) -> dict[str, exp.Expr]:
    return {p.alias_or_name: p.unalias() for p in select.expressions}


def _substitute(expression: exp.Expr, alias: str, outputs: dict[str, exp.Expr]) -> exp.Expr | None:
    """``expression`` with ``alias.c`` replaced by the projection ``c`` of the relation below;
    None when a column is not projected there."""
    missing: list[str] = []

    def swap(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Column) and node.table == alias:
            found = outputs.get(node.name)
            if found is None:
                missing.append(node.name)
                return node
            return found.copy()
        return node

    out = expression.copy().transform(swap)
    return None if missing else out


def _home(select: exp.Select, exprs: list[exp.Expr]) -> int | None:
    """The FROM item every column of ``exprs`` comes from, if the filter may move into it."""
    items = [select.args["from_"].this] + [j.this for j in select.args.get("joins") or []]
    used = {c.table for e in exprs for c in e.find_all(exp.Column)}
    names = [i.alias_or_name for i in items]
    if len(used) != 1 or next(iter(used)) not in names:
        return None
    index = names.index(next(iter(used)))
    joins = select.args.get("joins") or []
    sides = [str(j.side or "").upper() for j in joins]
    if index == 0:  # the preserved side of LEFT joins; not below a FULL join
        return None if sides and sides[0] == "FULL" else 0
    return index if sides[index - 1] == "" and not isinstance(items[index], exp.Lateral) else None


def push(
    select: exp.Select, exprs: list[exp.Expr], keys: exp.Table, tail: Tail | None = None
) -> None:
    """Restrict ``select``'s input to rows whose ``exprs`` (over that input) are in
    ``keys`` (``_sm_k0``, ...), as deep as the filter can go (in place). With ``tail`` (a
    window's order over that input, looking back at most ``tail.lookback`` rows; ``keys``
    then has the first changed order value per key), only each partition's tail and the
    rows of context before it, when the rows reach ``select`` one for one from the source
    (``window_tail``)."""
    if select.args.get("from_") is None:
        raise ValueError("a key filter needs a FROM clause")
    if tail is not None and (select.args.get("where") is not None or select.args.get("joins")):
        tail = None  # a filter or a join on the way: the rows before the tail are not k rows
    index = _home(select, exprs)
    if index is not None:
        items = [select.args["from_"].this] + [j.this for j in select.args.get("joins") or []]
        item = items[index]
        if isinstance(item, exp.Subquery) and _linear(item.this):
            branches = _branches(item.this)
            names = [p.alias_or_name for p in branches[0].expressions]
            carried = exprs + ([tail.order] if tail is not None else [])
            mapped_all = []
            for branch in branches:
                outputs = dict(zip(names, [p.unalias() for p in branch.expressions], strict=True))
                mapped = [_substitute(e, item.alias_or_name, outputs) for e in carried]
                if any(m is None for m in mapped[: len(exprs)]):
                    break
                mapped_all.append((branch, mapped))
            else:
                for branch, mapped in mapped_all:
                    order = mapped[len(exprs)] if tail is not None else None
                    below = (
                        dataclasses.replace(tail, order=order)
                        if tail is not None and order is not None
                        else None
                    )
                    push(branch, mapped[: len(exprs)], keys, below)  # type: ignore[arg-type]
                return
    _attach(select, exprs, keys, index, tail)


def _attach(
    select: exp.Select,
    exprs: list[exp.Expr],
    keys: exp.Table,
    index: int | None,
    tail: Tail | None = None,
) -> None:
    """The semi join with K, at ``select``. When the key comes from one source reference,
    the rows are picked by row id from a first scan of the key columns alone, so the scan
    feeding ``select`` reads its other columns only for the affected keys (with ``tail``,
    only for their tails and the rows of context before them)."""
    on = null_safe_equal((column(key_name(i), KEYS), e.copy()) for i, e in enumerate(exprs))
    items = [select.args["from_"].this] + [j.this for j in select.args.get("joins") or []]
    leaf = items[index] if index is not None else None
    if not isinstance(leaf, exp.Table) or not (
        LEAF in leaf.meta or leaf.name.startswith(PLACEHOLDER)
    ):
        select.join(keys.copy().as_(KEYS), join_type="semi", copy=False, on=on)
        return
    alias = leaf.alias_or_name

    def scan() -> exp.Select:
        if tail is not None:  # each row with its key and order value, and the key's f
            return (
                exp.select(
                    column(ROW_ID, alias),
                    *[column(key_name(i), KEYS) for i in range(len(exprs))],
                    exp.alias_(tail.order.copy(), window_tail.ORDER, quoted=True),
                    window_tail.first_column(KEYS),
                )
                .from_(leaf.copy())
                .join(keys.copy().as_(KEYS), on=on.copy())
            )
        return (
            exp.select(column(ROW_ID, alias))
            .from_(leaf.copy())
            .join(keys.copy().as_(KEYS), join_type="semi", on=on.copy())
        )

    ranges = _time_ranges(exprs, keys)
    ids: exp.Query = scan()
    if ranges:
        # Keys truncating a time column (DATE_TRUNC('hour', ts)) bound the column itself:
        # the scan skips the row groups outside [min key, max key + unit) by their zone
        # maps. Rows with a NULL time (matching a NULL key) come from a second branch.
        inside = scan().where(exp.and_(*[r for r, _ in ranges]))
        null = scan().where(exp.or_(*[n for _, n in ranges]))
        ids = exp.union(inside, null, distinct=False)
    if tail is not None:
        ids = _tails(ids, len(exprs), tail)
    select.join(
        ids.subquery(IDS),
        join_type="semi",
        copy=False,
        on=exp.EQ(this=column(ROW_ID, alias), expression=column(ROW_ID, IDS)),
    )


def _tails(rows: exp.Query, width: int, tail: Tail) -> exp.Select:
    """The row ids of ``rows`` (row id, key, order value, f) in their partition's tail, or
    ranked ``tail.lookback`` or better among the rows before it, nearest first (``RANK``
    keeps ties, so these include the rows right before the tail)."""
    order, first = column(window_tail.ORDER), window_tail.first_column("_sm_s")
    inside = window_tail.in_tail(tail, column(window_tail.ORDER, "_sm_s"), first)
    before = exp.Case(ifs=[exp.If(this=exp.Not(this=exp.paren(inside.copy())), true=order.copy())])
    rank = exp.Window(
        this=exp.Rank(),
        partition_by=[column(key_name(i), "_sm_s") for i in range(width)],
        order=exp.Order(
            expressions=[exp.Ordered(this=before, desc=not tail.desc, nulls_first=False)]
        ),
    )
    ranked = exp.select(
        column(ROW_ID, "_sm_s"),
        exp.alias_(inside, "_sm_tail", quoted=True),
        exp.alias_(rank, "_sm_rank", quoted=True),
    ).from_(rows.subquery("_sm_s"))
    return (
        exp.select(column(ROW_ID))
        .from_(ranked.subquery("_sm_r"))
        .where(
            exp.or_(
                column("_sm_tail"),
                exp.LTE(this=column("_sm_rank"), expression=exp.Literal.number(tail.lookback or 0)),
            )
        )
    )


_UNITS = {
    "SECOND": (1, "SECOND"),
    "MINUTE": (1, "MINUTE"),
    "HOUR": (1, "HOUR"),
    "DAY": (1, "DAY"),
    "WEEK": (7, "DAY"),
    "MONTH": (1, "MONTH"),
    "QUARTER": (3, "MONTH"),
    "YEAR": (1, "YEAR"),
}


def _time_ranges(exprs: list[exp.Expr], keys: exp.Table) -> list[tuple[exp.Expr, exp.Expr]]:
    """For each key ``DATE_TRUNC(unit, column)``: (the column within the keys' span, the
    column IS NULL)."""
    found: list[tuple[exp.Expr, exp.Expr]] = []
    for i, e in enumerate(exprs):
        if not isinstance(e, exp.TimestampTrunc | exp.DateTrunc) or not isinstance(
            e.this, exp.Column
        ):
            continue
        unit_node = e.args.get("unit")
        unit = _UNITS.get(str(unit_node.name if unit_node is not None else "").upper())
        if unit is None:
            continue

        def bound(fn: str, k: int = i) -> exp.Expr:
            return exp.Subquery(
                this=exp.select(exp.func(fn, column(key_name(k)))).from_(keys.copy())
            )

        step = exp.Interval(this=exp.Literal.string(str(unit[0])), unit=exp.Var(this=unit[1]))
        inside = exp.and_(
            exp.GTE(this=e.this.copy(), expression=bound("min")),
            exp.LT(this=e.this.copy(), expression=exp.Add(this=bound("max"), expression=step)),
        )
        found.append((inside, exp.Is(this=e.this.copy(), expression=exp.Null())))
    return found


def semi_join(
    select: exp.Select,
    names: list[str],
    alias: str,
    keys: exp.Table,
    tail: tuple[Tail, str] | None = None,
) -> exp.Select:
    """``select`` restricted to rows of relation ``alias`` whose columns ``names`` are in
    ``keys`` (for reading a table's stored rows of the affected keys); with ``tail`` (and
    the column of ``alias`` showing its order), to the rows in their partition's tail."""
    on = null_safe_equal((column(key_name(i), KEYS), column(n, alias)) for i, n in enumerate(names))
    if tail is not None:
        on = exp.and_(
            on,
            exp.paren(
                window_tail.in_tail(tail[0], column(tail[1], alias), window_tail.first_column(KEYS))
            ),
        )
    return select.join(keys.copy().as_(KEYS), join_type="semi", copy=False, on=on)
