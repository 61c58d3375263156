"""Recomputing only the tails of the affected partitions, for windows that look back.

A window function that looks back (ROW_NUMBER, RANK, DENSE_RANK, LAG, FIRST_VALUE, and
aggregates whose frame ends at the current row or before it) computes a row's value from
the rows before it and its peers in the partition's order. So when every window of the
window rule's lowest layer S_m looks back and orders first by the same expression o, in
the same direction, the rows of a partition that come before its first changed row keep
their value. f is the least o among the change's rows of that partition, of either sign
(the greatest for DESC). The rule's R − O (``window``) can then be restricted, on both
sides, to each affected partition's *tail*:

    P(row) = o ≥ f  OR  o IS NULL  OR  f IS NULL        (DESC: o ≤ f)

f is NULL when a changed row has no o; then the whole partition is the tail. Rows with a
NULL o are always in the tail, wherever the engine sorts NULLs. The layers above S_m must
keep S_m's rows one for one (projections and filters only), and o must be shown by the
table as a user column, so that P can be evaluated on the stored rows.

The recompute reads whole partitions unless every window also looks back a bounded number
of rows k (LAG with a constant offset, a moving frame ``ROWS BETWEEN k PRECEDING AND …``)
and partitions by exactly the key. Then the scan that finds the affected rows by their key
(``pushdown``) keeps only the tail and, below f, the rows ranked k or better by o
descending. Ties are kept, so those rows include the k rows right before the tail. That
holds only when the rows reach S_m one for one from the scanned source (projections and
UNION ALL branches; no filter or join on the way), which ``pushdown`` checks as it goes
down.

In a stream whose events arrive in order, a partition's tail is just its new rows. The
refresh then reads, recomputes and compares those rows and k rows of context, not the whole
partition. A late event makes its tail longer, from its place in the order.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from snowmelt.ivm.canonical import column, own_scope
from snowmelt.ivm.normalize import blocking

FIRST = "_sm_f"  # K's column: the first changed o of the partition
ORDER = "_sm_o"

# functions whose value depends only on the rows before the current one and its peers
_RANKS = (exp.RowNumber, exp.Rank, exp.DenseRank)
_FRAMED = (exp.FirstValue, exp.LastValue, exp.Sum, exp.Count, exp.Min, exp.Max, exp.Avg)


@dataclass(frozen=True)
class Tail:
    order: exp.Expr  # o, over S_m's input
    desc: bool
    position: int  # the user column that shows o
    lookback: int | None  # k when every window looks back at most k rows


def _is(value: object, word: str) -> bool:
    """Whether a frame bound (a keyword as sqlglot keeps it) is ``word``."""
    return isinstance(value, str) and value.upper() == word


def _rows(value: object) -> int | None:
    """A non-negative integer literal's value (an offset, a frame's ``n PRECEDING``)."""
    if isinstance(value, exp.Literal) and not value.is_string and value.this.isdigit():
        return int(value.this)
    return None


def _bound(window: exp.Window, edge: str) -> tuple[object, object]:
    """(value, side) of the frame's ``start`` or ``end``; the window has a frame."""
    spec = window.args["spec"]
    return spec.args.get(edge), spec.args.get(f"{edge}_side")


def _frame_looks_back(window: exp.Window) -> bool:
    if window.args.get("spec") is None:  # RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
        return True
    end, side = _bound(window, "end")
    return _is(end, "CURRENT ROW") or _is(side, "PRECEDING")


def _frame_from_start(window: exp.Window) -> bool:
    spec = window.args.get("spec")
    if spec is None or spec.args.get("exclude"):
        return spec is None
    start, side = _bound(window, "start")
    return _is(start, "UNBOUNDED") and _is(side, "PRECEDING")


def _rows_back(window: exp.Window) -> int | None:
    """n for a frame ``ROWS BETWEEN n PRECEDING AND …`` (a moving window), else None."""
    spec = window.args.get("spec")
    if spec is None or not _is(spec.args.get("kind"), "ROWS"):
        return None
    start, side = _bound(window, "start")
    return _rows(start) if _is(side, "PRECEDING") else None


def _lookback(window: exp.Window) -> tuple[bool, int | None]:
    """(whether ``window`` looks back, how many rows at most when bounded)."""
    function = window.this
    if isinstance(function, exp.Lag):
        offset = function.args.get("offset")
        k = 1 if offset is None else _rows(offset)
        return k is not None, k
    if isinstance(function, exp.IgnoreNulls) and isinstance(function.this, exp.Lag):
        return True, None
    if isinstance(function, _RANKS):
        return True, None
    if isinstance(function, exp.FirstValue) and _frame_from_start(window):
        return True, None  # the partition's first row, whatever the frame's end
    if isinstance(function, _FRAMED):
        return _frame_looks_back(window), _rows_back(window)
    return False, None


def analyze(chain: list[exp.Select], keys: list[exp.Expr]) -> Tail | None:
    """The tail restriction for the window rule's chain (top first, S_m last), or None."""
    lowest = chain[-1]
    if (
        lowest.args.get("group")
        or lowest.args.get("having")
        or lowest.args.get("distinct")
        or any(
            own_scope(a, lowest) and a.find_ancestor(exp.Window) is None
            for a in lowest.find_all(exp.AggFunc)
        )
    ):
        return None
    if any(blocking(s) for s in chain[:-1]):
        return None
    windows = [w for w in lowest.find_all(exp.Window) if own_scope(w, lowest)]
    if not windows:
        return None
    first: exp.Ordered | None = None
    bounds: list[int | None] = []
    for window in windows:
        order = window.args.get("order")
        if order is None or not order.expressions:
            return None
        head = order.expressions[0]
        if first is None:
            first = head
        elif head.this != first.this or bool(head.args.get("desc")) != bool(first.args.get("desc")):
            return None
        looks_back, k = _lookback(window)
        if not looks_back:
            return None
        partition = list(window.args.get("partition_by") or [])
        exact = len(partition) == len(keys) and all(
            any(p == key for key in keys) for p in partition
        )
        bounds.append(k if exact else None)
    assert first is not None
    name = _shown(chain, first.this)
    if name is None:
        return None
    position = next(p for p, e in enumerate(chain[0].expressions) if e.alias_or_name == name)
    lookback = None if any(b is None for b in bounds) else max(b for b in bounds if b is not None)
    return Tail(first.this.copy(), bool(first.args.get("desc")), position, lookback)


def _shown(chain: list[exp.Select], expression: exp.Expr) -> str | None:
    """The top's output column carrying ``expression`` (over S_m's input) unchanged."""
    current: exp.Expr = expression
    name: str | None = None
    for depth in range(len(chain) - 1, -1, -1):
        select = chain[depth]
        if depth < len(chain) - 1:
            alias = select.args["from_"].this.alias_or_name
            assert name is not None
            current = exp.column(
                exp.to_identifier(name, quoted=True), table=exp.to_identifier(alias, quoted=True)
            )
        name = next((p.alias_or_name for p in select.expressions if p.unalias() == current), None)
        if name is None:
            return None
    return name


def first_changed(tail: Tail, order: exp.Expr) -> exp.Expr:
    """f over the change rows of one partition (``order`` is o there): NULL when some
    changed row has no o."""
    extreme = exp.Max(this=order.copy()) if tail.desc else exp.Min(this=order.copy())
    complete = exp.EQ(this=exp.Count(this=order.copy()), expression=exp.Count(this=exp.Star()))
    return exp.Case(ifs=[exp.If(this=complete, true=extreme)])


def in_tail(tail: Tail, value: exp.Expr, first: exp.Expr) -> exp.Expr:
    """P: whether a row whose o is ``value`` is in the tail that starts at ``first``."""
    after = (exp.LTE if tail.desc else exp.GTE)(this=value.copy(), expression=first.copy())
    return exp.or_(
        after,
        exp.Is(this=value.copy(), expression=exp.Null()),
        exp.Is(this=first.copy(), expression=exp.Null()),
    )


def first_column(alias: str) -> exp.Expr:
    return column(FIRST, alias)
