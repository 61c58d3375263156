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

from snowmelt.ivm.aggregate import (
    COUNT,
    RECOMPUTE,
    STATE,
    Grouping,
    delta_select,
    keys_match,
    merge_select,
    outputs_select,
    state_select,
)
from snowmelt.ivm.canonical import column, null_safe_equal, subquery
from snowmelt.ivm.linear import Form, rewrite
from snowmelt.ivm.program import Compiled
from snowmelt.ivm.runner import IncrementalInvariantError, Runner
from snowmelt.ivm.writes import apply_images
from snowmelt.names import INSERT_VERSION, ROW_ID, data_table

TEMPS = ("g", "o", "m", "k", "r", "n")


def temp_table(prefix: str, name: str) -> exp.Table:
    return exp.Table(this=exp.to_identifier(f"{prefix}{name}", quoted=True))


def recompute_select(g: Grouping, leaves: int, keys: exp.Table | None) -> exp.Select:
    """Q's state over the new input, restricted to the groups listed in ``keys``."""
    select = state_select(g, rewrite(g.input, Form("new", (), leaves)))
    if keys is not None and g.keys:
        inside = exp.select(exp.Literal.number(1)).from_(keys.copy().as_("_sm_keys")).where(
            null_safe_equal((column(Grouping.key(i), "_sm_keys"), k.copy())
                            for i, k in enumerate(g.keys)))
        select = select.where(exp.Exists(this=inside))
    return select


def templates(g: Grouping, leaves: int, prefix: str) -> dict[str, exp.Expression]:
    """The statement templates of one grouped table (inputs as placeholders)."""
    t = {name: temp_table(prefix, name) for name in TEMPS}
    keep = exp.select("*").from_(t["m"].copy()).where(exp.Not(this=column(RECOMPUTE)))
    if g.grouped:
        keep = keep.where(exp.GT(this=column(COUNT), expression=exp.Literal.number(0)))
    fresh = exp.select(exp.Column(this=exp.Star(), table=exp.to_identifier("r", quoted=True)),
                       column(ROW_ID, "m")).from_(t["r"].copy().as_("r")).join(
        t["m"].copy().as_("m"), on=keys_match(g, "r", "m"), join_type="left")
    everything = exp.select(exp.Column(this=exp.Star(), table=exp.to_identifier(
        "r", quoted=True)), column(ROW_ID, "o")).from_(t["r"].copy().as_("r")).join(
        t["o"].copy().as_("o"), on=keys_match(g, "r", "o"), join_type="left")
    return {
        "delta": delta_select(g, leaves),
        "recompute": recompute_select(g, leaves, t["k"]),
        "recompute_all": recompute_select(g, leaves, None),
        "keep": outputs_select(g, subquery(keep, STATE)),
        "recomputed": outputs_select(g, subquery(fresh, STATE)),
        "recomputed_all": outputs_select(g, subquery(everything, STATE)),
    }


def _count(table: exp.Expression, where: exp.Expression | None = None) -> exp.Select:
    select = exp.select(exp.func("count", exp.Star())).from_(table.copy())
    return select.where(where) if where is not None else select


def _old_select(g: Grouping, target: exp.Table, columns: list[str],
                changed: exp.Table | None) -> exp.Select:
    """O: the stored rows of the groups in ``changed`` (all rows when None), in both the
    physical and the state shape."""
    items: list[exp.Expression] = [column(c, "t") for c in columns]
    items += [column(ROW_ID, "t"), column(INSERT_VERSION, "t")]
    stored = [column(columns[p], "t") if p is not None else column(Grouping.key(i), "t")
              for i, p in enumerate(g.key_columns)]
    items += [exp.alias_(s.copy(), Grouping.key(i), quoted=True)
              for i, s in enumerate(stored) if g.key_columns[i] is not None]
    select = exp.select(*items).from_(target.copy().as_("t"))
    if changed is not None and g.keys:
        inside = exp.select(exp.Literal.number(1)).from_(changed.copy().as_("d")).where(
            null_safe_equal((column(Grouping.key(i), "d"), s.copy())
                            for i, s in enumerate(stored)))
        select = select.where(exp.Exists(this=inside))
    return select


def _typed(translated: exp.Expression, names: list[str], types: dict[str, str],
           user: int) -> exp.Select:
    """Cast each output to its physical column type (so equal values compare equal)."""
    inner = [f"_sm_out{i}" for i in range(user)]
    aliases = inner + names[len(inner):]
    return exp.select(*[exp.alias_(exp.cast(column(a, "x"), exp.DataType.build(
        types[n], dialect="duckdb")), n, quoted=True) for a, n in zip(
        aliases, names, strict=True)], column(ROW_ID, "x")).from_(subquery(translated, "x"))


def refresh(ctx, compiled: Compiled, run: Runner) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    g: Grouping = compiled.data
    oid = ctx.target_oid
    physical = list(ctx.columns) + g.state_names
    types = dict(ctx.store.engine.columns_of(exp.select("*").from_(data_table(oid))))
    target = data_table(oid)
    outputs = physical  # user columns (from _sm_out{i}) then state columns by name
    user = len(ctx.columns)
    if len(g.outputs) != user:
        raise IncrementalInvariantError(f"plan has {len(g.outputs)} columns, table {user}")

    def finish(name: str) -> exp.Expression:
        return _typed(compiled.engine_query(ctx, name), outputs, types, user)

    if g.time_having:
        old = run.temp("stored rows (every group)", "o", _old_select(g, target, physical, None))
        run.temp("recompute every group", "r", compiled.engine_query(ctx, "recompute_all"))
        new = run.temp("new rows", "n", finish("recomputed_all"))
        return apply_images(run, ctx.commit, oid, physical, old, new)

    delta = run.temp("aggregate the change per group", "g", compiled.engine_query(ctx, "delta"))
    if not run.value("count changed groups", _count(delta)):
        return 0, 0
    old = run.temp("stored state of the changed groups", "o", _old_select(g, target, physical, delta))
    duplicated = exp.select(exp.Literal.number(1)).from_(old.copy()).group_by(
        *[column(Grouping.key(i)) for i in range(len(g.keys))] or [exp.Literal.number(1)]
    ).having(exp.GT(this=exp.func("count", exp.Star()), expression=exp.Literal.number(1)))
    if g.keys:
        run.check("check one row per group", _count(duplicated.subquery("_sm_dup")),
                  "the table holds two rows for one group")
    elif g.having is None:
        found = run.value("count the single row", _count(old), dry=1)
        if found != 1:
            raise IncrementalInvariantError(
                f"an aggregate without GROUP BY must hold exactly one row, table id {oid} "
                f"holds {found}; the refresh is abandoned (snowmelt bug)")
    merged = run.temp("merge the change into the state", "m", merge_select(g, delta, old))
    negative = [exp.LT(this=column(COUNT), expression=exp.Literal.number(0))] + [
        exp.LT(this=column(c.name), expression=exp.Literal.number(0))
        for c in g.components if c.kind in ("COUNT", "COUNT_IF")]
    if g.having is None:
        run.check("check counts", _count(merged, exp.or_(*negative)),
                  "a group count went below zero")
    parts: list[exp.Expression] = [finish("keep")]  # empty under key-recompute
    todo = exp.and_(column(RECOMPUTE), *([exp.GT(this=column(COUNT), expression=exp.Literal.number(
        0))] if g.having is None and g.grouped else []))
    if run.value("count groups to recompute", _count(merged, todo)):
        keys = run.temp("groups to recompute", "k", exp.select(
            *[column(Grouping.key(i)) for i in range(len(g.keys))], column(COUNT)).from_(
            merged.copy()).where(todo.copy()))
        fresh = run.temp("recompute those groups", "r", compiled.engine_query(ctx, "recompute"))
        if g.having is None:
            differ = exp.select(exp.Literal.number(1)).from_(keys.copy().as_("k")).join(
                fresh.copy().as_("r"), on=keys_match(g, "k", "r"), join_type="left").where(
                exp.NullSafeNEQ(this=column(COUNT, "r"), expression=column(COUNT, "k")))
            run.check("cross-check recomputed counts", _count(differ.subquery("_sm_x")),
                      "a recomputed group's COUNT(*) differs from the maintained one")
        parts.append(finish("recomputed"))
    union = parts[0]
    for part in parts[1:]:
        union = exp.union(union, part, distinct=False)
    new = run.temp("new rows of the changed groups", "n", union)
    return apply_images(run, ctx.commit, oid, physical, old, new)
