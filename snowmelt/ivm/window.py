"""The window rule: window functions with PARTITION BY, QUALIFY, and stacks of windows and
aggregates over one key (sessionization), by recomputing the affected partitions.

    K = the partition keys present in the change of the window's input (both signs)
    O = the table's rows whose key is in K (their row ids found by a scan of the key
        columns alone)
    R = Q over the new state, its input restricted to K (``pushdown``: down to the scans)
    write R − O by value (``bag``): rows equal in both stay, the others are replaced

A window's rows depend only on the rows of their partition, so rows outside K keep their
value and R − O is Q's exact change. The same holds for any stack of operators that keeps
partitions apart: the query is read as a chain of SELECTs from the top down to the lowest
one that windows, aggregates, deduplicates or QUALIFYs (S_m), whose input is linear (joins
included: its change comes from ``linear``/``join``). The key is the set of expressions of
S_m's input that every such layer partitions by — each window's PARTITION BY, each GROUP BY,
each DISTINCT's columns — traced up through the projections of every layer. Sessionization
(LAG over a customer's events, a running SUM numbering sessions, GROUP BY customer and
session) keeps CUSTOMER_ID throughout, so a late event re-evaluates that customer's sessions
only, merging or splitting them as it must.

When every window of S_m looks back (LAG, ROW_NUMBER, running aggregates, ...) and orders
first by a column the table shows, R and O are restricted to each partition's tail, from its
first changed row on; with a bounded look-back (LAG, a moving ROWS frame) the scan also reads
only the k rows before it (``window_tail``). Events that arrive in order then cost their own
rows, not their partitions'.

Each output row must show its key: a key column the query does not select is carried as
hidden state (``_sm_pk{i}``). A window without PARTITION BY, layers sharing no key, a window
or aggregate below a JOIN or in a UNION ALL branch force FULL with that reason. Layers that
read the current time above S_m's input are re-evaluated for every key at each refresh
(writing only what differs).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp

from snowmelt.catalog import Column
from snowmelt.ivm import bag, pushdown, window_tail
from snowmelt.ivm.aggregate import Unsupported, aggregates_of
from snowmelt.ivm.canonical import WEIGHT, column, own_scope, placeholder, subquery, time_nodes
from snowmelt.ivm.join import LEAF
from snowmelt.ivm.normalize import blocking
from snowmelt.ivm.program import Compiled
from snowmelt.ivm.runner import Runner
from snowmelt.names import ROW_ID, data_table

HIDDEN = "_sm_pk"
PLACEHOLDER_TYPE = "VARCHAR"  # typed from the engine at the first full refresh


def hidden_name(i: int) -> str:
    return f"{HIDDEN}{i}"


def _windows(select: exp.Select) -> list[exp.Window]:
    return [w for w in select.find_all(exp.Window) if own_scope(w, select)]


def _nonlinear(node: exp.Expr) -> exp.Expr | None:
    """A SELECT (or UNION) in ``node`` that is not linear, if any."""
    for inner in node.walk():
        if isinstance(inner, exp.Select) and blocking(inner):
            return inner
        if isinstance(inner, exp.Union) and inner.args.get("distinct"):
            return inner
    return None


def _has_windows(node: exp.Expr) -> exp.Expr | None:
    for inner in node.walk():
        if isinstance(inner, exp.Window) or (
            isinstance(inner, exp.Select) and inner.args.get("qualify")
        ):
            return inner
    return None


def _construct(node: exp.Expr) -> str:
    if isinstance(node, exp.Select):
        if _windows(node) or node.args.get("qualify"):
            return "window function"
        if (
            node.args.get("group")
            or node.args.get("having")
            or any(aggregates_of(e) for e in node.expressions)
        ):
            return "GROUP BY"
        if node.args.get("distinct"):
            return "DISTINCT"
    if isinstance(node, exp.Union):
        return "UNION"
    return "window function" if isinstance(node, exp.Window) else node.key.upper()


def _position(node: exp.Expr) -> str:
    """Where ``node`` sits, for a message: below a JOIN, in a UNION ALL branch, ..."""
    parent = node.parent
    while parent is not None:
        if isinstance(parent, exp.Join) or (
            isinstance(parent, exp.From)
            and isinstance(parent.parent, exp.Select)
            and parent.parent.args.get("joins")
        ):
            return "below a JOIN"
        if isinstance(parent, exp.Union):
            return "in a UNION ALL branch"
        parent = parent.parent
    return "in this position"


def chain_of(query: exp.Expr) -> list[exp.Select] | None:
    """S_0 (the top) … S_m (the lowest non-linear SELECT, whose input is linear), or None
    when no SELECT along the FROM chain is non-linear. Raises ``Unsupported`` for shapes the
    rule cannot maintain."""
    if not isinstance(query, exp.Select):
        return None
    chain = [query]
    node = query
    while True:
        source = node.args.get("from_")
        item = source.this if source is not None else None
        if (
            item is None
            or node.args.get("joins")
            or not isinstance(item, exp.Subquery)
            or not isinstance(item.this, exp.Select)
            or _nonlinear(item) is None
        ):
            break
        node = item.this
        chain.append(node)
    lowest = max((i for i, s in enumerate(chain) if blocking(s)), default=None)
    if lowest is None:
        return None
    chain = chain[: lowest + 1]
    below = chain[-1]
    parts = [below.args["from_"].this] + [j.this for j in below.args.get("joins") or []]
    for part in parts:
        found = _nonlinear(part)
        if found is not None:
            where = _position(found)
            name = _construct(found)
            raise Unsupported(
                name,
                f"{name} {where} is not supported by incremental refresh; "
                "compute it in its own dynamic table and read that",
                found,
            )
    return chain


def _sets(select: exp.Select) -> list[list[exp.Expr]]:
    """Per partitioning operator of ``select``, the expressions it partitions by."""
    sets: list[list[exp.Expr]] = []
    for window in _windows(select):
        partition = window.args.get("partition_by") or []
        if not partition:
            raise Unsupported(
                "window function without PARTITION BY",
                "a window function "
                "without PARTITION BY is not supported by incremental refresh "
                "(every refresh would recompute the whole table)",
                window,
            )
        sets.append(list(partition))
    group = select.args.get("group")
    aggregated = (
        group is not None
        or select.args.get("having") is not None
        or any(aggregates_of(e) for e in select.expressions)
    )
    if aggregated:
        if group is not None and group.args.get("all"):
            sets.append([p.unalias() for p in select.expressions if not aggregates_of(p)])
        else:
            sets.append(list(group.expressions) if group is not None else [])
    if select.args.get("distinct"):
        sets.append([p.unalias() for p in select.expressions])
    return sets


@dataclass
class Stack:
    """What the rule keeps of a query: the key and where each layer shows it."""

    keys: list[exp.Expr]  # key expressions over S_m's input
    names: list[list[str]]  # per layer (top first), the output column of each key
    hidden: list[list[bool]]  # per layer, whether that column is added by the rule
    positions: list[int | None]  # per key, the user column at the top (None: hidden state)
    time_above: bool
    state: list[str] = field(default_factory=list)  # the hidden key columns, in order
    tail: window_tail.Tail | None = None  # recompute only the partitions' tails


def _locate(select: exp.Select, expression: exp.Expr, i: int) -> tuple[str, bool]:
    for p in select.expressions:
        if p.unalias() == expression:
            return p.alias_or_name, False
    return hidden_name(i), True


def analyze(query: exp.Expr) -> Stack | None:
    """The rule's reading of ``query``; None when another rule is the right one."""
    chain = chain_of(query)
    windows = _has_windows(query)
    if chain is None:
        if windows is not None:
            name = _construct(windows)
            raise Unsupported(
                name,
                f"{name} {_position(windows)} is not supported by "
                "incremental refresh; compute it in its own dynamic table and "
                "read that",
                windows,
            )
        return None
    if windows is None and len(chain) == 1:
        return None  # one aggregate on top: the aggregate rule
    if windows is not None and not any(_windows(s) or s.args.get("qualify") for s in chain):
        name = _construct(windows)
        raise Unsupported(
            name,
            f"{name} below this query's aggregate is not supported by incremental refresh",
            windows,
        )
    lowest = chain[-1]
    candidates: list[exp.Expr] = []
    sets = _sets(lowest)
    for e in sets[0] if sets else []:
        if all(any(e == x for x in s) for s in sets[1:]) and not any(e == c for c in candidates):
            candidates.append(e.copy())
    alive = list(range(len(candidates)))
    names: dict[int, list[str]] = {i: [] for i in alive}
    hidden: dict[int, list[bool]] = {i: [] for i in alive}
    for depth in range(len(chain) - 1, -1, -1):
        select = chain[depth]
        here: dict[int, exp.Expr]
        if depth < len(chain) - 1:
            alias = select.args["from_"].this.alias_or_name
            below: dict[int, exp.Expr] = {
                i: exp.column(
                    exp.to_identifier(names[i][0], quoted=True),
                    table=exp.to_identifier(alias, quoted=True),
                )
                for i in alive
            }
            for s in _sets(select):
                alive = [i for i in alive if any(below[i] == x for x in s)]
            here = below
        else:
            here = {i: candidates[i] for i in alive}
        for i in alive:
            name, added = _locate(select, here[i], i)
            names[i].insert(0, name)
            hidden[i].insert(0, added)
    if not alive:
        name = "window function" if windows is not None else "GROUP BY"
        raise Unsupported(
            name,
            f"{name}: the window functions, GROUP BY and DISTINCT of this "
            "query share no partitioning key, so a change cannot be confined to "
            "some partitions; split the query into dynamic tables",
            lowest,
        )
    top = chain[0]
    positions = []
    for i in alive:
        position = next(
            (
                p
                for p, e in enumerate(top.expressions)
                if not hidden[i][0] and e.alias_or_name == names[i][0]
            ),
            None,
        )
        positions.append(position)
    time_above = any(
        bool(time_nodes(part))
        for depth, select in enumerate(chain)
        for key, value in select.args.items()
        if key != "from_" and not (depth == len(chain) - 1 and key == "where")
        for part in (value if isinstance(value, list) else [value])
        if isinstance(part, exp.Expr)
    )
    stack = Stack(
        [candidates[i] for i in alive],
        [names[i] for i in alive],
        [hidden[i] for i in alive],
        positions,
        time_above,
    )
    stack.state = [hidden_name(i) for i, p in zip(alive, positions, strict=True) if p is None]
    if not time_above:
        stack.tail = window_tail.analyze(chain, stack.keys)
    return stack


def augment(query: exp.Expr, stack: Stack) -> tuple[exp.Select, list[exp.Select]]:
    """A copy of ``query`` showing every hidden key column (appended to each layer's
    projections), and its chain of layers."""
    copy = query.copy()
    chain = chain_of(copy)
    assert chain is not None
    for k in range(len(stack.keys)):
        for depth in range(len(chain) - 1, -1, -1):
            if not stack.hidden[k][depth]:
                continue
            select = chain[depth]
            if depth == len(chain) - 1:
                value = stack.keys[k].copy()
            else:
                alias = select.args["from_"].this.alias_or_name
                value = column(stack.names[k][depth + 1], alias)
            select.select(exp.alias_(value, stack.names[k][depth], quoted=True), copy=False)
    return chain[0], chain


def state_columns(stack: Stack) -> list[Column]:
    return [Column(name, PLACEHOLDER_TYPE) for name in stack.state]


# -- templates -------------------------------------------------------------------------------
def keys_template(stack: Stack, query: exp.Expr, form: Any) -> exp.Expr:
    """K: the distinct keys of the change of S_m's input."""
    from snowmelt.ivm.linear import rewrite

    _, chain = augment(query, stack)
    lowest = chain[-1]
    body = exp.Select(
        expressions=[
            exp.alias_(k.copy(), pushdown.key_name(i), quoted=True)
            for i, k in enumerate(stack.keys)
        ]
    )
    body.set("from_", lowest.args["from_"].copy())
    if lowest.args.get("where") is not None:
        body.set("where", lowest.args["where"].copy())
    tail = stack.tail
    if tail is not None:
        body.select(exp.alias_(tail.order.copy(), window_tail.ORDER, quoted=True), copy=False)
    delta = rewrite(body, form)
    names = [pushdown.key_name(i) for i in range(len(stack.keys))]
    if tail is None:
        return exp.select(*[column(n) for n in names]).from_(subquery(delta, "_sm_kd")).distinct()
    first = window_tail.first_changed(tail, column(window_tail.ORDER))
    return (
        exp.select(*[column(n) for n in names], exp.alias_(first, window_tail.FIRST, quoted=True))
        .from_(subquery(delta, "_sm_kd"))
        .group_by(*[column(n) for n in names])
    )


def state_of(query: exp.Expr, kind: str) -> exp.Expr:
    """``query`` reading each source's ``kind`` state (placeholders), aliases kept."""
    out = query.copy()
    for table in list(out.find_all(exp.Table)):
        if LEAF not in table.meta:
            continue
        alias = table.args.get("alias")
        swap = placeholder(kind, int(table.meta[LEAF]))
        swap.set(
            "alias",
            alias.copy()
            if alias is not None
            else exp.TableAlias(this=exp.to_identifier(table.name, quoted=True)),
        )
        table.replace(swap)
    return out


def recompute_template(stack: Stack, query: exp.Expr, keys: exp.Table | None) -> exp.Expr:
    """R: the physical rows (user columns, hidden keys) over the new state, for K."""
    top, chain = augment(query, stack)
    if keys is not None:
        bounded = stack.tail if stack.tail is not None and stack.tail.lookback else None
        pushdown.push(chain[-1], [k.copy() for k in stack.keys], keys, bounded)
    return state_of(top, "new")


# -- refresh -----------------------------------------------------------------------------------
def key_columns(stack: Stack, columns: list[str]) -> list[str]:
    """The physical column holding each key."""
    state = iter(stack.state)
    return [columns[p] if p is not None else next(state) for p in stack.positions]


def _typed(query: exp.Expr, names: list[str], types: dict[str, str]) -> exp.Select:
    return exp.select(
        *[
            exp.alias_(
                exp.cast(column(n, "_sm_r"), exp.DataType.build(types[n], dialect="duckdb")),
                n,
                quoted=True,
            )
            for n in names
        ]
    ).from_(subquery(query, "_sm_r", names))


def refresh(
    ctx: Any, compiled: Compiled, run: Runner, changed: frozenset[int], keys_form: Any
) -> tuple[int, int]:
    """K → O → R → write (module docstring)."""
    stack: Stack = compiled.data
    oid = ctx.target_oid
    physical = list(ctx.columns) + list(stack.state)
    target = data_table(oid)
    keys: exp.Table | None = None
    if not stack.time_above:
        mask = "".join("1" if i in changed else "0" for i in range(len(compiled.leaves)))
        name = f"keys:{mask}"
        template = compiled.templates.get(name)
        if template is None:
            template = compiled.templates[name] = keys_template(
                stack, compiled.canonical, keys_form
            )
        build, key = compiled.statement(ctx, run, name, template)
        keys, count = run.temp_count("partition keys in the change", "k", build, key)
        if not count:
            return 0, 0
    stored = exp.select(
        *[column(c, "t") for c in physical],
        exp.alias_(exp.Literal.number(-1), WEIGHT, quoted=True),
        column(ROW_ID, "t"),
    ).from_(target.as_("t"))
    names = key_columns(stack, list(ctx.columns))
    tail = (stack.tail, ctx.columns[stack.tail.position]) if stack.tail is not None else None
    if keys is not None:
        # the row ids first (a scan of the key columns), then those rows: reading every
        # column of the table for the semi join would cost the whole table
        ids = pushdown.semi_join(
            exp.select(column(ROW_ID, "t")).from_(target.as_("t")), names, "t", keys, tail
        )
        stored = stored.where(exp.In(this=column(ROW_ID, "t"), query=exp.Subquery(this=ids)))
    name = "recompute" if keys is not None else "recompute_all"
    build, key = compiled.statement(ctx, run, name)
    types: dict[str, str] = {}

    def change() -> exp.Expr:
        """R (+1, typed as stored) and O (-1, with its row ids), one statement: each is
        read once and never materialized on its own."""
        if not types:
            types.update(ctx.store.engine.columns_of(exp.select("*").from_(target)))
        fresh = _typed(build(), physical, types)  # type: ignore[operator]
        if keys is not None and tail is not None:  # the recomputed tails, without context
            fresh = pushdown.semi_join(fresh, names, "_sm_r", keys, tail)
        fresh = fresh.select(
            exp.alias_(exp.Literal.number(1), WEIGHT, quoted=True),
            exp.alias_(exp.cast(exp.Null(), "BIGINT"), ROW_ID, quoted=True),
            copy=False,
        )
        return exp.union(fresh, stored, distinct=False)

    return bag.apply_change(
        run,
        ctx.commit,
        oid,
        physical,
        change,
        None if key is None else f"{key}:change",
        "window",
        ids=True,
        label="recompute those partitions, diff them with the stored rows",
    )


def templates(stack: Stack, query: exp.Expr, prefix: str) -> dict[str, exp.Expr]:
    keys = exp.Table(this=exp.to_identifier(f"{prefix}k", quoted=True))
    return {
        "recompute": recompute_template(stack, query, keys),
        "recompute_all": recompute_template(stack, query, None),
    }
