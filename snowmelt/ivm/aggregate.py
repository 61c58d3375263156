"""The aggregate rule: GROUP BY (and scalar aggregates) maintained by merging the change into
hidden per-group state.

For a query ``SELECT f(keys, aggs) FROM I GROUP BY keys`` (I linear) the dynamic table keeps,
per group, the group keys, ``_sm_cnt`` = COUNT(*) and one state column per aggregate
component; user columns are recomputed from that state. Per refresh:

    G = the change of I aggregated per group (weights applied)          -- |ΔI|
    O = the stored state of the groups in G (null-safe key match)       -- probe of the table
    M = O ⊕ G:  COUNT(*), COUNT(x), COUNT_IF(p): old + Σw
                SUM(x): old + Σ w·x, NULL when COUNT(x) reaches 0  (AVG = SUM / COUNT)
                MIN/MAX(x): on insertions least/greatest(old, new values); a group where a
                deleted value ≤ the stored MIN (≥ MAX) is recomputed (``recompute``)
    groups whose COUNT(*) reaches 0 disappear; groups that appear are inserted.

Other aggregates (COUNT(DISTINCT), MEDIAN, LISTAGG, ...) and HAVING use affected-key
recompute for every changed group (``recompute``). Without GROUP BY the one row always
exists (COUNT → 0, SUM → NULL over empty input). DISTINCT is GROUP BY over its columns with
only ``_sm_cnt`` (``distinct``). Every refresh cross-checks the algebra: a recomputed group
must have exactly the COUNT(*) the merge predicted, and no count may go negative.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlglot import exp

from snowmelt.ivm.canonical import WEIGHT, column, locate, null_safe_equal, subquery, time_nodes
from snowmelt.ivm.count_distinct import KIND as DISTINCT_COUNT
from snowmelt.ivm.count_distinct import with_distinct_counts
from snowmelt.ivm.linear import LEAF, Form, is_linear, referenced_columns, rewrite
from snowmelt.ivm.runner import guard

STATE = "_sm_g"  # alias of a relation in state schema: _sm_k{i}, _sm_cnt, components
COUNT = "_sm_cnt"
RECOMPUTE = "_sm_recompute"
ALGEBRAIC = ("COUNT", "COUNT_IF", "SUM", "MIN", "MAX")
COUNTS = ("COUNT", "COUNT_IF", DISTINCT_COUNT)  # components that are counts (never negative)


class Unsupported(Exception):
    """A construct that keeps the query from being incremental, and where it is."""

    def __init__(self, construct: str, message: str, node: exp.Expr | None = None):
        super().__init__(message)
        self.construct = construct
        self.message = message
        self.line, self.column = locate(node) if node is not None else (None, None)


@dataclass
class Component:
    name: str
    kind: str  # COUNT | COUNT_IF | SUM | MIN | MAX | DISTINCT_COUNT | HOLISTIC
    arg: exp.Expr | None
    node: exp.Expr  # the aggregate as written (HOLISTIC recomputes it verbatim)
    count: str | None = None  # SUM: the COUNT(x) component that says when it is NULL

    def full(self) -> exp.Expr:
        """The component computed from scratch over the input."""
        assert self.arg is not None or self.kind == "HOLISTIC"
        if self.kind == "COUNT":
            return exp.Count(this=self.arg.copy())  # type: ignore[union-attr]
        if self.kind == "SUM":
            return exp.Sum(this=self.arg.copy())  # type: ignore[union-attr]
        if self.kind == "MIN":
            return exp.Min(this=self.arg.copy())  # type: ignore[union-attr]
        if self.kind == "MAX":
            return exp.Max(this=self.arg.copy())  # type: ignore[union-attr]
        return self.node.copy()  # COUNT_IF and HOLISTIC as written


@dataclass
class Grouping:
    """A GROUP BY / scalar aggregate / DISTINCT query decomposed for maintenance."""

    alias: str  # the input's relation name, which keys and arguments refer to
    input: exp.Select  # I: the FROM and WHERE of the query, projecting what it reads
    keys: list[exp.Expr]
    key_columns: list[int | None]  # user column holding key i, None when hidden
    components: list[Component]
    outputs: list[exp.Expr]  # user columns over the state relation ``_sm_g``
    having: exp.Expr | None
    grouped: bool
    strategy: str  # aggregate | key-recompute | distinct
    time_having: bool = False
    hidden: list[int] = field(default_factory=list)

    @staticmethod
    def key(i: int) -> str:
        return f"_sm_k{i}"

    @property
    def state_names(self) -> list[str]:
        return [self.key(i) for i in self.hidden] + [COUNT] + [c.name for c in self.components]

    @property
    def state_relation(self) -> list[str]:
        return (
            [self.key(i) for i in range(len(self.keys))]
            + [COUNT]
            + [c.name for c in self.components]
        )

    @property
    def recomputes(self) -> bool:
        return self.strategy == "key-recompute"


def is_aggregate(node: exp.Expr) -> bool:
    return isinstance(node, exp.AggFunc) and node.find_ancestor(exp.Window) is None


def aggregates_of(node: exp.Expr) -> list[exp.Expr]:
    """Outermost aggregate calls under ``node`` (WITHIN GROUP counts as part of its call)."""
    found: list[exp.Expr] = []
    for candidate in node.find_all(exp.AggFunc, exp.WithinGroup):
        target = candidate.parent if isinstance(candidate.parent, exp.WithinGroup) else candidate
        if isinstance(target, exp.AggFunc) and not is_aggregate(target):
            continue
        if any(a is target for a in found) or any(
            target.find_ancestor(type(a)) is a for a in found
        ):
            continue
        found.append(target)
    return found


def decompose(select: exp.Select, user_columns: int) -> Grouping:
    """Split a top-level aggregate or DISTINCT select; raises ``Unsupported``."""
    source = select.args.get("from_")
    if source is None:
        raise Unsupported("query without FROM", "a query without FROM cannot be maintained", select)
    item = source.this
    alias = item.alias_or_name
    broken = (
        is_linear(item)
        if isinstance(item, exp.Subquery)
        else (None if isinstance(item, exp.Table) and LEAF in item.meta else item)
    )
    if broken is not None:
        raise Unsupported(
            _name_of(broken),
            f"{_name_of(broken)} below an aggregate is not "
            "supported by incremental refresh; compute it in an upstream dynamic "
            "table and aggregate that",
            broken,
        )
    projections = [e.unalias() for e in select.expressions]
    group = select.args.get("group")
    calls = [a for e in select.expressions for a in aggregates_of(e)]
    having = select.args.get("having")
    if having is not None:
        calls += aggregates_of(having)
    grouped = group is not None
    distinct = bool(select.args.get("distinct"))
    if group is not None and group.args.get("all"):
        keys = [p.copy() for p in projections if not aggregates_of(p)]
    elif group is not None:
        keys = [k.copy() for k in group.expressions]
    elif distinct and not calls:
        keys, grouped = [p.copy() for p in projections], True
    else:
        keys = []
    unique: list[exp.Expr] = []
    for k in keys:
        if not any(k == u for u in unique):
            unique.append(k)
    keys = unique
    for k in keys:
        if aggregates_of(k) or time_nodes(k):
            raise Unsupported(
                k.sql("snowflake"),
                "a GROUP BY key must be a deterministic expression of the input columns",
                k,
            )
    key_columns: list[int | None] = []
    for k in keys:
        position = next((i for i, p in enumerate(projections) if p == k), None)
        key_columns.append(position if position is not None and position < user_columns else None)
    if (
        distinct
        and (calls or group is not None)
        and grouped
        and any(c is None for c in key_columns)
    ):
        raise Unsupported(
            "DISTINCT",
            "DISTINCT over GROUP BY is incremental only when every GROUP BY key is selected",
            select.args["distinct"],
        )
    components: list[Component] = []
    state: dict[int, exp.Expr] = {}
    holistic = False
    for call in calls:
        replacement = _component(call, components)
        holistic = holistic or any(c.kind == "HOLISTIC" for c in components)
        state[id(call)] = replacement
    outputs = [_output(p, keys, calls, state, alias) for p in projections]
    time_having = having is not None and bool(time_nodes(having))
    strategy = (
        "key-recompute"
        if (holistic or having is not None)
        else ("distinct" if distinct and not calls and group is None else "aggregate")
    )
    needed = referenced_columns(select, alias)
    body = exp.select(*[exp.alias_(column(c, alias), c, quoted=True) for c in needed]).from_(
        item.copy()
    )
    where = select.args.get("where")
    if where is not None:
        body = body.where(where.this.copy())
    if not needed:
        body = body.select(exp.alias_(exp.true(), "_sm_row", quoted=True))
    return Grouping(
        alias,
        body,
        keys,
        key_columns,
        components,
        outputs,
        having.this.copy() if having is not None else None,
        grouped,
        strategy,
        time_having,
        [i for i, c in enumerate(key_columns) if c is None],
    )


def _name_of(node: exp.Expr) -> str:
    if isinstance(node, exp.Group):
        return "GROUP BY"
    if isinstance(node, exp.Distinct):
        return "DISTINCT"
    if isinstance(node, exp.AggFunc):
        return node.sql("snowflake").split("(")[0].upper()
    if isinstance(node, exp.Union):
        return "UNION"
    return node.key.upper()


def _component(call: exp.Expr, components: list[Component]) -> exp.Expr:
    """Register the state ``call`` needs; returns its value over the state relation."""

    def add(kind: str, arg: exp.Expr | None, node: exp.Expr) -> Component:
        text = (kind, arg.sql("snowflake") if arg is not None else node.sql("snowflake"))
        for c in components:
            if (
                c.kind,
                c.arg.sql("snowflake") if c.arg is not None else c.node.sql("snowflake"),
            ) == text:
                return c
        component = Component(
            f"_sm_a{len(components)}", kind, arg.copy() if arg is not None else None, node.copy()
        )
        components.append(component)
        return component

    def ref(component: Component) -> exp.Expr:
        return column(component.name, STATE)

    if (
        isinstance(call, exp.Count)
        and isinstance(call.this, exp.Distinct)
        and len(call.this.expressions) == 1
    ):  # maintained by ``count_distinct``
        return ref(add(DISTINCT_COUNT, call.this.expressions[0], call))
    plain = (
        isinstance(call, exp.AggFunc)
        and not call.expressions
        and not isinstance(call.this, exp.Distinct)
        and call.this is not None
    )
    if isinstance(call, exp.Count):
        if isinstance(call.this, exp.Star) or call.this is None:
            return column(COUNT, STATE)
        if plain:
            return ref(add("COUNT", call.this, call))
    elif isinstance(call, exp.CountIf) and plain:
        return ref(add("COUNT_IF", call.this, call))
    elif isinstance(call, exp.Sum | exp.Avg) and plain:
        count = add("COUNT", call.this, exp.Count(this=call.this.copy()))
        total = add("SUM", call.this, exp.Sum(this=call.this.copy()))
        total.count = count.name
        if isinstance(call, exp.Sum):
            return ref(total)
        return exp.Case(
            ifs=[
                exp.If(
                    this=exp.GT(this=ref(count), expression=exp.Literal.number(0)),
                    true=exp.Div(this=ref(total), expression=ref(count)),
                )
            ]
        )
    elif isinstance(call, exp.Min | exp.Max) and plain:
        return ref(add("MIN" if isinstance(call, exp.Min) else "MAX", call.this, call))
    return ref(add("HOLISTIC", None, call))


def _output(
    projection: exp.Expr,
    keys: list[exp.Expr],
    calls: list[exp.Expr],
    state: dict[int, exp.Expr],
    alias: str,
) -> exp.Expr:
    def swap(node: exp.Expr) -> exp.Expr:
        for i, k in enumerate(keys):
            if node == k:
                return column(Grouping.key(i), STATE)
        for call in calls:
            if node is call or node == call:
                return state[id(call)].copy()
        return node

    out = _transform_top_down(projection.copy(), swap, calls, keys)
    for col in out.find_all(exp.Column):
        if col.table == alias:
            raise Unsupported(
                col.sql("snowflake"), f"column {col.name} is neither grouped nor aggregated", col
            )
    return out


def _transform_top_down(node: exp.Expr, swap, calls, keys) -> exp.Expr:  # type: ignore[no-untyped-def]
    replaced = swap(node)
    if replaced is not node:
        return replaced
    for key, value in list(node.args.items()):
        if isinstance(value, exp.Expr):
            node.set(key, _transform_top_down(value, swap, calls, keys))
        elif isinstance(value, list):
            node.set(
                key,
                [
                    _transform_top_down(v, swap, calls, keys) if isinstance(v, exp.Expr) else v
                    for v in value
                ],
            )
    return node


# -- statements ------------------------------------------------------------------------------------
def state_select(g: Grouping, source: exp.Expr, having: bool = True) -> exp.Select:
    """``SELECT keys, COUNT(*), components FROM source GROUP BY keys [HAVING]`` — the state
    of every group of ``source`` (the input, in some form, aliased as ``g.alias``)."""
    items = [exp.alias_(k.copy(), Grouping.key(i), quoted=True) for i, k in enumerate(g.keys)]
    items.append(exp.alias_(exp.Count(this=exp.Star()), COUNT, quoted=True))
    items += [exp.alias_(c.full(), c.name, quoted=True) for c in g.components]
    out = exp.select(*items).from_(subquery(source, g.alias))
    if g.keys:
        out = out.group_by(*[k.copy() for k in g.keys])
    if having and g.having is not None:
        out = out.having(g.having.copy())
    return out


def materialize(g: Grouping, leaves: int) -> exp.Expr:
    """The table's full contents: user columns computed from state, then the state."""
    inner = state_select(g, rewrite(g.input, Form("full", (), leaves)))
    outer = [exp.alias_(o.copy(), f"_sm_out{i}", quoted=True) for i, o in enumerate(g.outputs)]
    outer += [column(n, STATE) for n in g.state_names]
    return exp.select(*outer).from_(subquery(inner, STATE))


def delta_select(
    g: Grouping, leaves: int, appends: bool = False, source: exp.Expr | None = None
) -> exp.Select:
    """G: the change of the input aggregated per group, one state-shaped row per group.
    ``appends``: for a change that only adds rows, whose MIN/MAX need no net deletions.
    ``source``: the change of the input, already computed (read once per use here)."""
    source = source.copy() if source is not None else input_delta(g, leaves)
    w = column(WEIGHT, g.alias)
    items = [exp.alias_(k.copy(), Grouping.key(i), quoted=True) for i, k in enumerate(g.keys)]
    items.append(exp.alias_(exp.func("sum", w.copy()), COUNT, quoted=True))
    for c in g.components:
        arg = c.arg.copy() if c.arg is not None else None
        if c.kind == "COUNT":
            value: exp.Expr = exp.func(
                "sum",
                _when(
                    exp.Not(this=exp.Is(this=arg, expression=exp.Null())),
                    w.copy(),
                    exp.Literal.number(0),
                ),
            )
        elif c.kind == "COUNT_IF":
            value = exp.func("sum", _when(arg, w.copy(), exp.Literal.number(0)))  # type: ignore[arg-type]
        elif c.kind == "SUM":
            assert arg is not None
            value = exp.func(
                "sum", _when(_positive(w), arg, exp.Neg(this=exp.paren(arg.copy(), copy=False)))
            )
        elif c.kind in ("MIN", "MAX"):
            fn = "min" if c.kind == "MIN" else "max"
            value = exp.func(fn, _when(_positive(w), arg, None))  # type: ignore[arg-type]
            items.append(
                exp.alias_(
                    exp.func(fn, _when(_negative(w), arg.copy(), None)),  # type: ignore[union-attr]
                    f"_sm_del_{c.name}",
                    quoted=True,
                )
            )
        elif c.kind == DISTINCT_COUNT:
            value = exp.Literal.number(0)  # joined in by ``with_distinct_counts``
        else:
            value = exp.Null()
        items.append(exp.alias_(value, c.name, quoted=True))
    out = exp.select(*items).from_(subquery(source.copy(), g.alias))
    if g.keys:
        out = out.group_by(*[k.copy() for k in g.keys])
    else:
        out = out.having(
            exp.GT(this=exp.func("count", exp.Star()), expression=exp.Literal.number(0))
        )
    out = out if appends else _net_deletions(g, out, source)
    return with_distinct_counts(g, out, leaves, source)


def input_delta(g: Grouping, leaves: int) -> exp.Select:
    """The change of the aggregate's input (its columns and ``_sm_weight``)."""
    return rewrite(g.input, Form("delta", (WEIGHT,), leaves))  # type: ignore[return-value]


def _net_deletions(g: Grouping, delta: exp.Select, source: exp.Expr) -> exp.Select:
    """G with each MIN/MAX taken over the values whose count in the group went up, and its
    deleted extreme over the values whose count went down. A value deleted and inserted
    again (a row updated in a column the extreme does not read) leaves the group's multiset
    of values, and so its extreme, as it was, and need not send the group to recompute; and
    a value a join's delta adds and removes in one refresh (an old row meeting a new
    dimension row, then its update) is not in a new group at all."""
    extremes = [c for c in g.components if c.kind in ("MIN", "MAX")]
    if not extremes:
        return delta
    names = [Grouping.key(i) for i in range(len(g.keys))]
    replaced = {f"_sm_del_{c.name}": f"_sm_x{i}" for i, c in enumerate(extremes)}
    replaced.update({c.name: f"_sm_x{i}" for i, c in enumerate(extremes)})
    items: list[exp.Expr] = []
    for e in delta.expressions:
        name = e.alias_or_name
        items.append(
            exp.alias_(column(name, replaced[name]), name, quoted=True)
            if name in replaced
            else column(name, "_sm_g")
        )
    out = exp.select(*items)
    out = out.from_(subquery(delta, "_sm_g"))
    for i, c in enumerate(extremes):
        per_value = (
            exp.select(
                *[exp.alias_(k.copy(), n, quoted=True) for k, n in zip(g.keys, names, strict=True)],
                exp.alias_(c.arg.copy(), "_sm_v", quoted=True),  # type: ignore[union-attr]
                exp.alias_(exp.func("sum", column(WEIGHT, g.alias)), "_sm_nw", quoted=True),
            )
            .from_(subquery(source.copy(), g.alias))
            .group_by(*[k.copy() for k in g.keys], c.arg.copy())  # type: ignore[union-attr]
        )
        fn = "min" if c.kind == "MIN" else "max"

        def net(sign: type[exp.Expr], name: str, fn: str = fn) -> exp.Expr:
            return exp.alias_(
                exp.func(
                    fn,
                    _when(
                        sign(this=column("_sm_nw"), expression=exp.Literal.number(0)),
                        column("_sm_v"),
                        None,
                    ),
                ),
                name,
                quoted=True,
            )

        gone = exp.select(
            *[column(n) for n in names], net(exp.LT, f"_sm_del_{c.name}"), net(exp.GT, c.name)
        ).from_(per_value.subquery("_sm_pv"))
        if names:
            gone = gone.group_by(*[column(n) for n in names])
        out = out.join(
            gone.subquery(f"_sm_x{i}"),
            join_type="left",
            on=null_safe_equal((column(n, "_sm_g"), column(n, f"_sm_x{i}")) for n in names),
        )
    return out


def _when(condition: exp.Expr, then: exp.Expr | None, otherwise: exp.Expr | None) -> exp.Expr:
    return exp.Case(ifs=[exp.If(this=condition, true=then or exp.Null())], default=otherwise)


def _positive(w: exp.Expr) -> exp.Expr:
    return exp.GT(this=w.copy(), expression=exp.Literal.number(0))


def _negative(w: exp.Expr) -> exp.Expr:
    return exp.LT(this=w.copy(), expression=exp.Literal.number(0))


def keys_match(g: Grouping, left: str, right: str) -> exp.Expr:
    return null_safe_equal(
        (column(Grouping.key(i), left), column(Grouping.key(i), right)) for i in range(len(g.keys))
    )


def merge_select(g: Grouping, delta: exp.Table, old: exp.Expr, physical: list[str]) -> exp.Select:
    """M = O ⊕ G, with ``_sm_recompute`` marking groups the algebra cannot finish. Each row
    also carries the group's stored state (``_sm_old{i}`` for physical column i past the
    user columns), row id and version (NULL for a new group): a group whose new state
    equals the stored one has an unchanged image (user columns are functions of the keys
    and the state), and the stored images of the others are logged by row id."""

    def old_(name: str) -> exp.Expr:
        return column(name, "o")

    def new_(name: str) -> exp.Expr:
        return column(name, "d")

    def plus(name: str) -> exp.Expr:
        return exp.Add(
            this=exp.func("coalesce", old_(name), exp.Literal.number(0)),
            expression=exp.func("coalesce", new_(name), exp.Literal.number(0)),
        )

    items: list[exp.Expr] = [column(Grouping.key(i), "d") for i in range(len(g.keys))]
    items.append(exp.alias_(plus(COUNT), COUNT, quoted=True))
    recompute: list[exp.Expr] = [exp.true()] if g.recomputes else []
    by_name = {c.name: c for c in g.components}
    for c in g.components:
        if c.kind in ("COUNT", "COUNT_IF", DISTINCT_COUNT):
            value: exp.Expr = plus(c.name)
        elif c.kind == "SUM":
            assert c.count is not None
            value = _when(
                exp.GT(this=plus(by_name[c.count].name), expression=exp.Literal.number(0)),
                plus(c.name),
                None,
            )
        elif c.kind in ("MIN", "MAX"):
            better = exp.LT if c.kind == "MIN" else exp.GT
            reach = exp.LTE if c.kind == "MIN" else exp.GTE
            o, d, gone = old_(c.name), new_(c.name), column(f"_sm_del_{c.name}", "d")
            value = exp.Case(
                ifs=[
                    exp.If(this=exp.Is(this=o.copy(), expression=exp.Null()), true=d.copy()),
                    exp.If(this=exp.Is(this=d.copy(), expression=exp.Null()), true=o.copy()),
                    exp.If(this=better(this=d.copy(), expression=o.copy()), true=d.copy()),
                ],
                default=o.copy(),
            )
            recompute.append(
                exp.and_(
                    exp.Not(this=exp.Is(this=gone, expression=exp.Null())),
                    exp.or_(
                        exp.Is(this=o.copy(), expression=exp.Null()),
                        reach(this=gone.copy(), expression=o.copy()),
                    ),
                )
            )
        else:
            value = exp.Null()
        items.append(exp.alias_(value, c.name, quoted=True))
    items.append(
        exp.alias_(
            exp.func("coalesce", exp.or_(*recompute) if recompute else exp.false(), exp.false()),
            RECOMPUTE,
            quoted=True,
        )
    )
    items.append(column("_sm_rowid", "o"))
    items.append(column("_sm_ver", "o"))
    items += [column(old_name(i), "o") for i in range(len(g.outputs), len(physical))]
    merged = (
        exp.select(*items)
        .from_(delta.copy().as_("d"))
        .join(subquery(old, "o"), on=keys_match(g, "d", "o"), join_type="left")
    )
    if g.having is None:  # (under HAVING a group that failed it has no state to merge into)
        counts = [COUNT] + [c.name for c in g.components if c.kind in COUNTS]
        negative = exp.or_(
            *[exp.LT(this=plus(n), expression=exp.Literal.number(0)) for n in counts]
        )
        merged = merged.where(guard(negative, "a group count went below zero"))
    return merged


def old_name(i: int) -> str:
    return f"_sm_old{i}"


def outputs_select(g: Grouping, state: exp.Expr, width: int, version: bool = False) -> exp.Select:
    """User columns then state columns of ``state`` rows, then the row id to keep and the
    stored state (``_sm_old{i}`` for the physical columns past the user columns, up to
    ``width``) to compare with (and, with ``version``, the stored row's version)."""
    items = [exp.alias_(o.copy(), f"_sm_out{i}", quoted=True) for i, o in enumerate(g.outputs)]
    items += [column(n, STATE) for n in g.state_names]
    items.append(column("_sm_rowid", STATE))
    items += [column(old_name(i), STATE) for i in range(len(g.outputs), width)]
    if version:
        items.append(column("_sm_ver", STATE))
    return exp.select(*items).from_(
        state.copy().as_(STATE) if isinstance(state, exp.Table) else state
    )
