"""The rule registry: which rule claims a query, and the glue from a persisted plan to that
rule's templates, full contents and refresh.

A rule is a small object with ``plan`` (claim and plan a canonical query at CREATE, or return
None to let the next rule try), ``compile`` (persisted plan → templates), ``materialize``
(the full contents, user columns then state columns) and ``refresh``. ``RULES`` is tried in
order; a new strategy (windows, outer joins, FLATTEN in issue 4) is a new module plus an
entry here, placed before the rules it is more specific than.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import sqlglot
from sqlglot import exp

from snowmelt.catalog import Column
from snowmelt.ivm import aggregate, recompute
from snowmelt.ivm.aggregate import Unsupported, aggregates_of, decompose
from snowmelt.ivm.canonical import SRC, WEIGHT
from snowmelt.ivm.linear import Form, is_linear, number_leaves, rewrite
from snowmelt.ivm.program import Compiled
from snowmelt.ivm.runner import Runner
from snowmelt.ivm.writes import apply_linear
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
    return bool(query.args.get("group") or query.args.get("having") or
                query.args.get("distinct") or any(aggregates_of(e) for e in query.expressions))


class LinearRule:
    """Projections, filters, UNION ALL, subqueries in FROM (``linear``)."""

    name = "linear"

    def plan(self, canonical: exp.Expr, leaves: list[ObjectName]) -> Planned | None:
        broken = is_linear(canonical)
        if broken is not None:
            name = aggregate._name_of(broken)
            raise Unsupported(name, f"{name} inside a subquery or UNION ALL branch is not "
                              "supported by incremental refresh; move it into its own "
                              "dynamic table and read that", broken)
        return Planned("linear", [Column(SRC, "BIGINT")], {"row_ids": True})

    def compile(self, oid: int, plan: dict[str, Any]) -> Compiled:
        canonical, leaves = parse(plan)
        delta = rewrite(canonical, Form("delta", (SRC, WEIGHT), len(leaves)))
        return Compiled(self.name, plan, canonical, leaves, {"delta": delta})

    def materialize(self, compiled: Compiled) -> exp.Expr:
        return rewrite(compiled.canonical, Form("full", (SRC,), len(compiled.leaves)))

    def refresh(self, ctx: Any, compiled: Compiled, run: Runner) -> tuple[int, int]:
        delta, key = compiled.statement(ctx, run, "delta")
        return apply_linear(run, ctx.commit, ctx.target_oid, ctx.columns, delta, key)


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
        state += [Column(c.name, "BIGINT" if c.kind in ("COUNT", "COUNT_IF") else
                         PLACEHOLDER_TYPE) for c in g.components]
        return Planned(g.strategy, state, {"row_ids": False})

    def compile(self, oid: int, plan: dict[str, Any]) -> Compiled:
        canonical, leaves = parse(plan)
        assert isinstance(canonical, exp.Select)
        g = decompose(canonical, len(canonical.expressions))
        templates = recompute.templates(g, len(leaves), f"_sm_ivm_{oid}_")
        return Compiled(self.name, plan, canonical, leaves, templates, data=g)

    def materialize(self, compiled: Compiled) -> exp.Expr:
        return aggregate.materialize(compiled.data, len(compiled.leaves))

    def refresh(self, ctx: Any, compiled: Compiled, run: Runner) -> tuple[int, int]:
        return recompute.refresh(ctx, compiled, run)


RULES: tuple[Rule, ...] = (AggregateRule(), LinearRule())
BY_NAME: dict[str, Rule] = {rule.name: rule for rule in RULES}
