"""The compiler's interface to the rest of snowmelt.

``analyze`` runs at CREATE; ``materialize`` at every FULL or REINITIALIZE refresh of an
incremental table (through ``Refresher.query_at``); ``refresh_incremental`` at every
INCREMENTAL refresh; ``explain`` for EXPLAIN DYNAMIC TABLE.
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlglot
from sqlglot import exp

from snowmelt.catalog import Column
from snowmelt.commits import Commit
from snowmelt.ivm.canonical import monotone
from snowmelt.names import ObjectName, data_table
from snowmelt.storage import Store

FULL = "FULL"
INCREMENTAL = "INCREMENTAL"
QUERY_NOT_SUPPORTED = "QUERY_NOT_SUPPORTED_FOR_INCREMENTAL"


@dataclass
class SourceInfo:
    """What the compiler may know about a source at CREATE time."""

    name: ObjectName
    kind: str  # TABLE | DYNAMIC TABLE
    columns: list[str]
    refresh_mode: str | None = None  # for dynamic tables: the resolved mode


@dataclass
class Analysis:
    mode: str  # INCREMENTAL | FULL
    reason: str | None = None  # refresh_mode_reason (reference values), None when incremental
    construct: str | None = None  # the construct that forces FULL, e.g. "LIMIT"
    message: str | None = None  # human explanation naming the construct
    line: int | None = None
    column: int | None = None
    strategy: str | None = None  # linear | aggregate | key-recompute | distinct
    state_columns: list[Column] = field(default_factory=list)  # hidden, named _sm_*
    plan: dict[str, Any] = field(default_factory=dict)  # JSON-serializable, persisted


def analyze(query: exp.Expression, sources: dict[ObjectName, SourceInfo]) -> Analysis:
    """Decide whether ``query`` can be refreshed incrementally, and how.

    INCREMENTAL when a rule maintains every construct (``analysis``); otherwise FULL with
    ``QUERY_NOT_SUPPORTED_FOR_INCREMENTAL``, the construct and its line and column.
    """
    from snowmelt.ivm import analysis

    return Analysis(**analysis.analyze(query, sources))


@dataclass
class Source:
    """A source of one refresh: readers over its old and new states and its net change."""

    name: ObjectName
    oid: int
    columns: list[str]
    old: Callable[[], exp.Expression]  # snapshot at the version last consumed (+ _sm_rowid)
    new: Callable[[], exp.Expression]  # snapshot at this refresh's version (+ _sm_rowid)
    change: Callable[[], exp.Expression]  # net change: columns + _sm_rowid + _sm_weight
    changed: bool  # False when the source has no change in the window (decided from versions)
    old_version: int | None = None
    new_version: int | None = None
    appended: bool = False  # its change only adds rows (known from the store's commits)


@dataclass
class IncrementalContext:
    store: Store
    commit: Commit
    target_oid: int
    columns: list[str]  # user columns of the dynamic table, in order
    state_columns: list[Column]
    query: exp.Expression  # the normalized query (three-part names)
    plan: dict[str, Any]
    sources: dict[ObjectName, Source]
    to_engine: Callable[[exp.Expression], exp.Expression]
    now: datetime | None = None  # CURRENT_TIMESTAMP of this refresh
    then: datetime | None = None  # CURRENT_TIMESTAMP of the previous refresh

    def appends_only(self, node: exp.Expression, leaves: frozenset[int] | None = None) -> bool:
        """Whether this refresh's change of ``node`` only adds rows (every weight +1): every
        changed source was only appended to and ``node`` is monotone (``canonical``) — given
        the source references that changed (``leaves``), monotone in those — and does not
        read the clock. A rule may then skip what only deletions need."""
        changed = [s for s in self.sources.values() if s.changed]
        return (
            self.now is None
            and bool(changed)
            and all(s.appended for s in changed)
            and monotone(node, leaves)
        )


def _rule(plan: dict[str, Any]) -> Any:
    from snowmelt.ivm.rules import BY_NAME
    from snowmelt.ivm.runner import IncrementalInvariantError

    rule = BY_NAME.get(plan.get("rule", ""))
    if rule is None:
        raise IncrementalInvariantError(
            "this dynamic table has no incremental plan (it was created by an older snowmelt);"
            " re-create it with CREATE OR REPLACE"
        )
    return rule


def _compiled(context: IncrementalContext) -> Any:
    from snowmelt.ivm.program import cached

    rule = _rule(context.plan)
    return rule, cached(context, lambda p: rule.compile(context.target_oid, p))


def refresh_incremental(context: IncrementalContext) -> tuple[int, int]:
    """Apply the change since the last refresh; returns (rows inserted, rows deleted).

    Never writes a result it cannot vouch for: an unexpected state raises, the refresh fails
    and the table keeps its last good version.
    """
    from snowmelt.ivm.runner import Runner

    rule, compiled = _compiled(context)
    run = Runner(
        context.store.engine,
        f"_sm_ivm_{context.target_oid}_",
        compiled.memo,
        params={"v": context.commit.version, **compiled.change_params(context)},
    )
    return rule.refresh(context, compiled, run)  # type: ignore[no-any-return]


def key_columns(plan: dict[str, Any], oid: int, columns: list[str]) -> list[str]:
    """The physical columns holding the keys an incremental refresh looks rows up by (the
    GROUP BY keys of an aggregate, the partition keys of a window); none for other rules."""
    rule = _rule(plan)
    keys = getattr(rule, "keys", None)
    return list(keys(rule.compile(oid, plan), columns)) if keys is not None else []


def explain(context: IncrementalContext) -> list[tuple[str, str]]:
    """The statements an incremental refresh runs, as (step, engine SQL)."""
    import dataclasses

    from snowmelt.ivm.runner import Runner

    rule, compiled = _compiled(context)
    if context.then is None:  # not initialized yet: show the statements at one time
        context = dataclasses.replace(context, then=context.now)
    # every statement a refresh can run, the ones only deletions need too
    sources = {n: dataclasses.replace(s, appended=False) for n, s in context.sources.items()}
    context = dataclasses.replace(context, sources=sources)
    run = Runner(
        context.store.engine,
        f"_sm_ivm_{context.target_oid}_",
        execute=False,
        params={"v": context.commit.version, **compiled.change_params(context)},
    )
    rule.refresh(context, compiled, run)
    return run.statements


def materialize(query: exp.Expression, analysis: Analysis) -> exp.Expression:
    """The query computing the full physical contents (user columns then state columns).

    For an incremental table it is the plan's ``materialize`` query over the *unbound*
    sources (three-part names): the caller binds it to snapshots — with row ids when
    ``reads_row_ids`` says so.
    """
    text = analysis.plan.get("materialize") if analysis.mode == INCREMENTAL else None
    return typing.cast(exp.Expression, sqlglot.parse_one(text, read="snowflake")) if text else query


def reads_row_ids(plan: dict[str, Any]) -> bool:
    """Whether ``materialize`` reads each source's ``_sm_rowid``."""
    return bool(plan.get("row_ids"))


def bind_time(expression: exp.Expression, now: datetime | None) -> exp.Expression:
    """CURRENT_TIMESTAMP and friends → literals of ``now`` (the statement time)."""
    from snowmelt.ivm.canonical import bind_time as bind

    return typing.cast(exp.Expression, bind(expression, now)) if now is not None else expression


def fit_state_types(
    store: Store, oid: int, query: exp.Expression, user_columns: int, state: list[str]
) -> None:
    """Give the hidden state columns of ``t{oid}`` the types ``query`` produces.

    At CREATE the compiler knows the sources' column names but not their types, so state
    columns are declared VARCHAR; the first full refresh (always a REINITIALIZE, in the same
    transaction) retypes them before writing. Later calls find nothing to change.
    """
    if not state:
        return
    produced = store.engine.columns_of(query)
    stored = dict(store.engine.columns_of(exp.select("*").from_(data_table(oid))))
    for (_, wanted), name in zip(produced[user_columns:], state, strict=False):
        if stored.get(name) == wanted:
            continue
        from snowmelt.ivm.program import forget

        forget(store, oid)  # cached statements cast to the old types
        store.retype_column(oid, name, wanted)
