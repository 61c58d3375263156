"""The rule registry: which rule claims a query, and the glue from a persisted plan to that
rule's templates, full contents and refresh.

A rule is a small object with ``plan`` (claim and plan a canonical query at CREATE, or return
None to let the next rule try), ``compile`` (persisted plan → templates), ``materialize``
(the full contents, user columns then state columns) and ``refresh``. ``RULES`` is tried in
order; a new strategy is a new module plus an entry here, placed before the rules it is more
specific than:

* ``WindowRule`` — windows, QUALIFY, stacks of non-linear layers on one key (``window``);
* ``AggregateRule`` — one GROUP BY / DISTINCT / scalar aggregate on top (``aggregate``);
* ``JoinRule`` — linear queries with joins or LATERAL FLATTEN (``join``, ``outer``);
* ``LinearRule`` — projections, filters, UNION ALL (``linear``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import sqlglot
from sqlglot import exp

from snowmelt.catalog import Column
from snowmelt.ivm import aggregate, bag, recompute, window
from snowmelt.ivm.aggregate import Unsupported, aggregates_of, decompose
from snowmelt.ivm.canonical import SRC, WEIGHT
from snowmelt.ivm.linear import Form, is_linear, number_leaves, rewrite
from snowmelt.ivm.program import Compiled
from snowmelt.ivm.runner import Runner
from snowmelt.ivm.writes import apply_linear, insert_appended
from snowmelt.names import ObjectName

PLACEHOLDER_TYPE = "VARCHAR"  # state typed from the engine at the first full refresh


@dataclass
class Planned:
    strategy: str
    state: list[Column]
    fields: dict[str, Any] = field(default_factory=dict)


class Rule(Protocol):
    name: str

    def plan(self, canonical: exp.Expr, leaves: list[ObjectName]) -> Planned | None: ...

    def compile(self, oid: int, plan: dict[str, Any]) -> Compiled: ...

    def materialize(self, compiled: Compiled) -> exp.Expr: ...

    def refresh(self, ctx: Any, compiled: Compiled, run: Runner) -> tuple[int, int]: ...


def parse(plan: dict[str, Any]) -> tuple[exp.Expr, list[ObjectName]]:
    canonical = sqlglot.parse_one(plan["query"], read="snowflake")
    return canonical, number_leaves(canonical)


def aggregate_shaped(query: exp.Expr) -> bool:
    if not isinstance(query, exp.Select):
        return False
    return bool(
        query.args.get("group")
        or query.args.get("having")
        or query.args.get("distinct")
        or any(aggregates_of(e) for e in query.expressions)
    )


class LinearRule:
    """Projections, filters, UNION ALL, subqueries in FROM (``linear``)."""

    name = "linear"

    def plan(self, canonical: exp.Expr, leaves: list[ObjectName]) -> Planned | None:
        _require_linear(canonical)
        return Planned("linear", [Column(SRC, "BIGINT")], {"row_ids": True})

    def compile(self, oid: int, plan: dict[str, Any]) -> Compiled:
        canonical, leaves = parse(plan)
        delta = rewrite(canonical, Form("delta", (SRC, WEIGHT), len(leaves)))
        return Compiled(self.name, plan, canonical, leaves, {"delta": delta})

    def materialize(self, compiled: Compiled) -> exp.Expr:
        return rewrite(compiled.canonical, Form("full", (SRC,), len(compiled.leaves)))

    def refresh(self, ctx: Any, compiled: Compiled, run: Runner) -> tuple[int, int]:
        delta, key = compiled.statement(ctx, run, "delta")
        appends = ctx.appends_only(compiled.canonical)
        return apply_linear(run, ctx.commit, ctx.target_oid, ctx.columns, delta, key, appends)


class AggregateRule:
    """GROUP BY, scalar aggregates, HAVING, DISTINCT (``aggregate``, ``key-recompute``,
    ``distinct``)."""

    name = "aggregate"

    def plan(self, canonical: exp.Expr, leaves: list[ObjectName]) -> Planned | None:
        if not aggregate_shaped(canonical):
            return None
        assert isinstance(canonical, exp.Select)
        g = decompose(canonical, len(canonical.expressions))
        state = [Column(g.key(i), PLACEHOLDER_TYPE) for i in g.hidden]
        state.append(Column(aggregate.COUNT, "BIGINT"))
        state += [
            Column(
                c.name,
                "BIGINT" if c.kind in ("COUNT", "COUNT_IF", "DISTINCT_COUNT") else PLACEHOLDER_TYPE,
            )
            for c in g.components
        ]
        return Planned(g.strategy, state, {"row_ids": False})

    def compile(self, oid: int, plan: dict[str, Any]) -> Compiled:
        canonical, leaves = parse(plan)
        assert isinstance(canonical, exp.Select)
        g = decompose(canonical, len(canonical.expressions))
        return Compiled(
            self.name,
            plan,
            canonical,
            leaves,
            data=g,
            builder=lambda: recompute.templates(g, len(leaves), f"_sm_ivm_{oid}_"),
        )

    def materialize(self, compiled: Compiled) -> exp.Expr:
        return aggregate.materialize(compiled.data, len(compiled.leaves))

    def refresh(self, ctx: Any, compiled: Compiled, run: Runner) -> tuple[int, int]:
        return recompute.refresh(ctx, compiled, run)

    def keys(self, compiled: Compiled, columns: list[str]) -> list[str]:
        g: aggregate.Grouping = compiled.data
        return [
            columns[p] if p is not None else aggregate.Grouping.key(i)
            for i, p in enumerate(g.key_columns)
        ]


def _require_linear(canonical: exp.Expr) -> None:
    """Refuse an aggregate, window or DISTINCT nested where a linear rule must see through."""
    broken = is_linear(canonical)
    if broken is not None:
        name = aggregate._name_of(broken)
        raise Unsupported(
            name,
            f"{name} inside a subquery or UNION ALL branch is not supported by incremental "
            "refresh; move it into its own dynamic table and read that",
            broken,
        )


def changed_leaves(ctx: Any, compiled: Compiled) -> frozenset[int]:
    """The leaves whose source changed since the table's last refresh."""
    return frozenset(i for i, name in enumerate(compiled.leaves) if ctx.sources[name].changed)


def _mask(changed: frozenset[int], leaves: int) -> str:
    return "".join("1" if i in changed else "0" for i in range(leaves))


class JoinRule:
    """Linear queries with joins (inner, cross, outer equi-joins) or LATERAL FLATTEN
    (``join``, ``outer``), applied by value (``bag``)."""

    name = "join"

    def plan(self, canonical: exp.Expr, leaves: list[ObjectName]) -> Planned | None:
        if not any(s.args.get("joins") for s in canonical.find_all(exp.Select)):
            return None
        _require_linear(canonical)
        return Planned("join", [], {"row_ids": False})

    def compile(self, oid: int, plan: dict[str, Any]) -> Compiled:
        canonical, leaves = parse(plan)
        return Compiled(self.name, plan, canonical, leaves, {})

    def materialize(self, compiled: Compiled) -> exp.Expr:
        return compiled.canonical.copy()

    def refresh(self, ctx: Any, compiled: Compiled, run: Runner) -> tuple[int, int]:
        changed = changed_leaves(ctx, compiled)
        name = "delta:" + _mask(changed, len(compiled.leaves))
        template = compiled.templates.get(name)
        if template is None:
            template = compiled.templates[name] = rewrite(
                compiled.canonical, Form("delta", (WEIGHT,), len(compiled.leaves), changed)
            )
        build, key = compiled.statement(ctx, run, name, template)
        if key is not None and ctx.appends_only(compiled.canonical, changed):
            # (a fact table appended to beside unchanged dimensions, through inner or LEFT
            # joins): nothing to consolidate or delete, the change is inserted as it comes
            inserted = insert_appended(
                run, ctx.commit, ctx.target_oid, ctx.columns, build, f"join:appended:{key}"
            )
            return inserted, 0
        return bag.apply_change(
            run,
            ctx.commit,
            ctx.target_oid,
            ctx.columns,
            build,
            key,
            "join",
            engine=ctx.store.engine,
        )


class WindowRule:
    """Windows with PARTITION BY, QUALIFY, and stacks of windows/aggregates sharing a key
    (``window``): affected-partition recompute."""

    name = "window"

    def plan(self, canonical: exp.Expr, leaves: list[ObjectName]) -> Planned | None:
        stack = window.analyze(canonical)
        if stack is None:
            return None
        return Planned("partition-recompute", window.state_columns(stack), {"row_ids": False})

    def compile(self, oid: int, plan: dict[str, Any]) -> Compiled:
        canonical, leaves = parse(plan)
        stack = window.analyze(canonical)
        assert stack is not None
        return Compiled(
            self.name,
            plan,
            canonical,
            leaves,
            data=stack,
            builder=lambda: window.templates(stack, canonical, f"_sm_ivm_{oid}_"),
        )

    def materialize(self, compiled: Compiled) -> exp.Expr:
        return window.augment(compiled.canonical, compiled.data)[0]

    def refresh(self, ctx: Any, compiled: Compiled, run: Runner) -> tuple[int, int]:
        changed = changed_leaves(ctx, compiled)
        return window.refresh(
            ctx, compiled, run, changed, Form("delta", (WEIGHT,), len(compiled.leaves), changed)
        )

    def keys(self, compiled: Compiled, columns: list[str]) -> list[str]:
        return window.key_columns(compiled.data, columns)


RULES: tuple[Rule, ...] = (WindowRule(), AggregateRule(), JoinRule(), LinearRule())
BY_NAME: dict[str, Rule] = {rule.name: rule for rule in RULES}
