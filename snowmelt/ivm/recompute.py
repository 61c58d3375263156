"""Affected-key recompute, and the refresh of grouped queries built on it.

    K = the keys whose rows the change touches (here: the GROUP BY keys of G)
    delete the table's rows for K; insert Q evaluated over the new state, restricted to K

It is correct for any deterministic operator above the key, so it finishes what the algebra
of ``aggregate`` cannot: MIN/MAX groups that lost their extreme value, aggregates without an
inverse (COUNT(DISTINCT), MEDIAN, LISTAGG, ...) and HAVING (a group failing HAVING has no
stored state to merge into). Its cost follows the data of the changed keys; without an index
that is one scan of the input, with the key set as the small (build) side of a semi join.

A HAVING that reads the current time can change any group without any change of input, so
such a table recomputes every group each refresh (still writing only the groups that differ).

``refresh`` below is the executor of the aggregate rule: G → O → M → (K → R) → N → write.
"""

from __future__ import annotations

from sqlglot import exp

from snowmelt.ivm import pushdown
from snowmelt.ivm.aggregate import (
    COUNT,
    RECOMPUTE,
    STATE,
    Grouping,
    delta_select,
    input_delta,
    keys_match,
    merge_select,
    old_name,
    outputs_select,
    state_select,
)
from snowmelt.ivm.canonical import column, null_safe_equal, subquery
from snowmelt.ivm.linear import Form, rewrite
from snowmelt.ivm.program import Compiled
from snowmelt.ivm.runner import IncrementalInvariantError, Runner, Statement
from snowmelt.ivm.writes import KEEP, SAME, apply_flagged, replace_flagged
from snowmelt.names import INSERT_VERSION, ROW_ID, data_table

TEMPS = ("i", "d", "g", "o", "m", "k", "r", "n")


def temp_table(prefix: str, name: str) -> exp.Table:
    return exp.Table(this=exp.to_identifier(f"{prefix}{name}", quoted=True))


def recompute_select(g: Grouping, leaves: int, keys: exp.Table | None) -> exp.Select:
    """Q's state over the new input, restricted to the groups listed in ``keys``."""
    select = state_select(g, rewrite(g.input, Form("new", (), leaves)))
    if keys is not None and g.keys:  # a semi join pushed to the scans (not EXISTS: slow)
        pushdown.push(select, [k.copy() for k in g.keys], keys)
    return select


def templates(g: Grouping, leaves: int, prefix: str) -> dict[str, exp.Expr]:
    """The statement templates of one grouped table (inputs as placeholders)."""
    t = {name: temp_table(prefix, name) for name in TEMPS}
    keep = exp.select("*").from_(t["m"].copy()).where(exp.Not(this=column(RECOMPUTE)))
    if g.grouped:
        keep = keep.where(exp.GT(this=column(COUNT), expression=exp.Literal.number(0)))
    width = len(g.outputs) + len(g.state_names)  # physical columns

    def stored(alias: str) -> list[exp.Expr]:  # the group's stored state, to compare with
        found: list[exp.Expr] = [column(ROW_ID, alias)]
        return found + [column(old_name(i), alias) for i in range(len(g.outputs), width)]

    fresh = (
        exp.select(
            exp.Column(this=exp.Star(), table=exp.to_identifier("r", quoted=True)), *stored("m")
        )
        .from_(t["r"].copy().as_("r"))
        .join(t["m"].copy().as_("m"), on=keys_match(g, "r", "m"), join_type="left")
    )
    everything = (
        exp.select(
            exp.Column(this=exp.Star(), table=exp.to_identifier("r", quoted=True)), *stored("o")
        )
        .from_(t["r"].copy().as_("r"))
        .join(t["o"].copy().as_("o"), on=keys_match(g, "r", "o"), join_type="left")
    )
    return {
        "delta": delta_select(g, leaves),
        "delta_appends": delta_select(g, leaves, appends=True),
        # the change read once into ``i``, for G's that read it several times
        "input": input_delta(g, leaves),
        "delta_shared": delta_select(g, leaves, source=exp.select("*").from_(t["i"])),
        "recompute": recompute_select(g, leaves, t["k"]),
        "recompute_all": recompute_select(g, leaves, None),
        "keep": outputs_select(g, subquery(keep, STATE), width),
        "merged": outputs_select(g, t["m"].copy(), width, version=True),
        "recomputed": outputs_select(g, subquery(fresh, STATE), width),
        "recomputed_all": outputs_select(g, subquery(everything, STATE), width),
    }


def _count(table: exp.Expr, where: exp.Expr | None = None) -> exp.Select:
    select = exp.select(exp.func("count", exp.Star())).from_(table.copy())
    return select.where(where) if where is not None else select


def _old_select(
    g: Grouping, target: exp.Table, columns: list[str], changed: exp.Table | None
) -> exp.Select:
    """O: the stored rows of the groups in ``changed`` (all rows when None): the state as
    stored (``_sm_old{i}``, physical column i past the user columns), row id, version, and
    the state to merge into (``_sm_k{i}``, ``_sm_cnt``, ...)."""
    user = len(g.outputs)
    items: list[exp.Expr] = [
        exp.alias_(column(c, "t"), old_name(i), quoted=True)
        for i, c in enumerate(columns)
        if i >= user
    ]
    items += [column(ROW_ID, "t"), column(INSERT_VERSION, "t")]
    stored = [
        column(columns[p], "t") if p is not None else column(Grouping.key(i), "t")
        for i, p in enumerate(g.key_columns)
    ]
    items += [exp.alias_(s.copy(), Grouping.key(i), quoted=True) for i, s in enumerate(stored)]
    items += [column(n, "t") for n in g.state_names if not n.startswith("_sm_k")]
    select = exp.select(*items).from_(target.copy().as_("t"))
    if changed is not None and g.keys:  # a semi join: the engine plans EXISTS far slower
        select = select.join(
            changed.copy().as_("d"),
            join_type="semi",
            on=null_safe_equal(
                (column(Grouping.key(i), "d"), s.copy()) for i, s in enumerate(stored)
            ),
        )
    return select


def _typed(
    translated: exp.Expr, names: list[str], types: dict[str, str], user: int, images: bool = False
) -> exp.Select:
    """New images: each output cast to its physical column type, the row id to keep and
    ``_sm_same`` — whether the state equals the stored one, and so the image (then nothing
    is written). With ``images``, also the stored row's version and ``_sm_keep``: the
    group is not empty."""
    inner = [f"_sm_out{i}" for i in range(user)]
    aliases = inner + names[len(inner) :]

    def typed(value: exp.Expr, name: str) -> exp.Expr:
        return exp.alias_(
            exp.cast(value, exp.DataType.build(types[name], dialect="duckdb")), name, quoted=True
        )

    projections = translated.expressions if isinstance(translated, exp.Select) else []
    if [p.alias_or_name for p in projections[: len(aliases)]] != aliases:
        raise IncrementalInvariantError(
            "an aggregate's outputs statement does not start with its physical columns "
            "(snowmelt bug)"
        )
    # the casts go on the outputs themselves: a 30-column layer around them would cost the
    # engine about a millisecond to bind
    for projection, name in zip(projections[: len(aliases)], names, strict=True):
        projection.replace(typed(projection.unalias().copy(), name))
    same = exp.and_(
        exp.Not(this=exp.Is(this=column(ROW_ID, "y"), expression=exp.Null())),
        null_safe_equal(
            (column(names[i], "y"), column(old_name(i), "y")) for i in range(user, len(names))
        ),
    )
    items: list[exp.Expr] = [*[column(n, "y") for n in names], column(ROW_ID, "y")]
    items.append(exp.alias_(same, SAME, quoted=True))
    if images:
        items.append(column(INSERT_VERSION, "y"))
        keep = exp.GT(this=column(COUNT, "y"), expression=exp.Literal.number(0))
        items.append(exp.alias_(keep, KEEP, quoted=True))
    return exp.select(*items).from_(subquery(translated, "y"))


def refresh(ctx, compiled: Compiled, run: Runner) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """G → O → M → (K → R) → N → write; see the module docstring of ``aggregate``. When
    no group can need recomputing, M and N are one statement."""
    g: Grouping = compiled.data
    oid = ctx.target_oid
    physical = list(ctx.columns) + g.state_names
    target = data_table(oid)
    user = len(ctx.columns)
    if len(g.outputs) != user:
        raise IncrementalInvariantError(f"plan has {len(g.outputs)} columns, table {user}")
    types: dict[str, str] = {}

    def typed(name: str) -> tuple[Statement, str | None]:
        """Template ``name`` (user columns computed from state), cast to the stored types."""
        build, key = compiled.statement(ctx, run, name)

        def make() -> exp.Expr:
            if not types:
                types.update(ctx.store.engine.columns_of(exp.select("*").from_(target)))
            return _typed(build(), physical, types, user, images=name == "merged")  # type: ignore[operator]

        return make, key

    def temp(label: str, name: str, template: str) -> exp.Table:
        build, key = (
            typed(template) if template in OUTPUTS else compiled.statement(ctx, run, template)
        )
        return run.temp(label, name, build, key)

    if g.time_having:
        old = run.temp(
            "stored rows (every group)",
            "o",
            lambda: _old_select(g, target, physical, None),
            "agg:o_all",
        )
        temp("recompute every group", "r", "recompute_all")
        new = temp("new rows", "n", "recomputed_all")
        return apply_flagged(run, ctx.commit, oid, physical, old, new, "agg")

    extremes = any(c.kind in ("MIN", "MAX") for c in g.components)
    # a change that only adds rows cannot take a MIN/MAX away: nothing to recompute unless
    # an aggregate has no inverse, and no net deletions to work out
    appends = extremes and ctx.appends_only(g.input)
    simple = bool(g.keys) and not g.recomputes and (appends or not extremes)
    delta = "delta_appends" if appends else "delta"
    if extremes and not appends:
        # G reads the change once more per MIN/MAX (its net deletions): read it once.
        # Inlined six times (DEVICE_HEALTH_HOURLY), planning the statement took 19 of its
        # 37 ms.
        temp("the change of the input", "i", "input")
        delta += "_shared"
    delta_build, delta_key = compiled.statement(ctx, run, delta)
    # G first, on its own: the engine then knows how few groups changed, and builds the
    # semi join with the stored rows on G's side (as a CTE, G was estimated from the whole
    # source and the stored table became the hash table)
    changed, changes = run.temp_count(
        "aggregate the change per group",
        "d",
        delta_build,
        None if delta_key is None else f"agg:d:{delta_key}",
    )
    if not changes:
        return 0, 0

    def merge() -> exp.Expr:
        """G merged with the stored rows of its groups."""
        return merge_select(g, changed, _old_select(g, target, physical, changed), physical)

    outputs, outputs_key = typed("merged") if simple else (None, None)
    if outputs is not None and outputs_key is not None:
        # nothing to recompute: M and its new images in one statement (M as a CTE named
        # like its scratch table, which the template reads), every group with its stored
        # image; the groups left empty are deleted, not inserted
        def merged_images() -> exp.Expr:
            return outputs().with_(run.table("m").name, as_=merge())  # type: ignore[operator, union-attr]

        both, rows = run.temp_count(
            "merge the change into the stored state, new images",
            "n",
            merged_images,
            f"agg:mn:{outputs_key}",
        )
        _one_row_per_group(oid, rows, changes)
        return replace_flagged(run, ctx.commit, oid, physical, both, "agg:mn")

    merged, merged_rows = run.temp_count(
        "merge the change into the stored state of those groups",
        "m",
        merge,
        "agg:m",
    )
    if not merged_rows:
        return 0, 0
    todo = exp.and_(
        column(RECOMPUTE),
        *(
            [exp.GT(this=column(COUNT), expression=exp.Literal.number(0))]
            if g.having is None and g.grouped
            else []
        ),
    )
    _one_row_per_group(oid, merged_rows, changes)
    if simple:
        stored, recomputed = None, 0
    else:
        ((stored, recomputed),) = run.rows(
            "count stored rows and groups to recompute",
            lambda: _merge_stats(merged, todo),
            "agg:stats",
            dry=[(1, 1)],
        )
    if not g.keys and g.having is None and stored != 1:
        raise IncrementalInvariantError(
            f"an aggregate without GROUP BY must hold exactly one row, table id {oid} holds "
            f"{stored}; the refresh is abandoned (snowmelt bug)"
        )
    parts = ["keep"]  # (empty under key-recompute)
    if recomputed:
        keys = run.temp(
            "groups to recompute",
            "k",
            lambda: (
                exp.select(*[column(Grouping.key(i)) for i in range(len(g.keys))], column(COUNT))
                .from_(merged.copy())
                .where(todo.copy())
            ),
            "agg:k",
        )
        fresh = temp("recompute those groups", "r", "recompute")
        if g.having is None:
            run.check(
                "cross-check recomputed counts",
                lambda: _count(
                    exp.select(exp.Literal.number(1))
                    .from_(keys.copy().as_("k"))
                    .join(fresh.copy().as_("r"), on=keys_match(g, "k", "r"), join_type="left")
                    .where(exp.NullSafeNEQ(this=column(COUNT, "r"), expression=column(COUNT, "k")))
                    .subquery("_sm_x")
                ),
                "a recomputed group's COUNT(*) differs from the maintained one",
                "agg:check_r",
            )
        parts.append("recomputed")
    built = [typed(p) for p in parts]

    def union() -> exp.Expr:
        out = built[0][0]()  # type: ignore[operator]
        for part, _ in built[1:]:
            out = exp.union(out, part(), distinct=False)  # type: ignore[operator]
        return out

    key = None if any(k is None for _, k in built) else "agg:n:" + "+".join(parts)
    new = run.temp("new rows of the changed groups", "n", union, key)
    return apply_flagged(run, ctx.commit, oid, physical, merged, new, "agg")


def _one_row_per_group(oid: int, merged: int, changes: int) -> None:
    """G holds one row per group and M is G left-joined with the stored rows: M has more
    rows only if the table holds two rows for one group. (M's statement itself fails if a
    count would go below zero.)"""
    if merged != changes:
        raise IncrementalInvariantError(
            f"table id {oid} holds two rows for one group; the refresh is abandoned (snowmelt bug)"
        )


def _merge_stats(merged: exp.Table, todo: exp.Expr) -> exp.Select:
    """(stored rows, groups to recompute) of M, one pass."""
    stored = exp.Not(this=exp.Is(this=column(ROW_ID), expression=exp.Null()))
    return exp.select(*[exp.func("count_if", c) for c in (stored, todo.copy())]).from_(
        merged.copy()
    )


OUTPUTS = ("keep", "recomputed", "recomputed_all", "merged")
