"""The compiler's interface to the rest of snowmelt.

``analyze`` runs at CREATE time; ``refresh_incremental`` at every INCREMENTAL refresh.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp

from snowmelt.catalog import Column
from snowmelt.names import ObjectName
from snowmelt.storage import Commit, Store

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
    strategy: str | None = None  # e.g. "linear", "aggregate", "key-recompute"
    state_columns: list[Column] = field(default_factory=list)  # hidden, named _sm_*
    plan: dict[str, Any] = field(default_factory=dict)  # JSON-serializable, persisted


def analyze(query: exp.Expression, sources: dict[ObjectName, SourceInfo]) -> Analysis:
    """Decide whether ``query`` can be refreshed incrementally.

    The delta rules are not built yet, so every query resolves to FULL with the reference
    reason; REFRESH_MODE = INCREMENTAL is refused at CREATE with this message.
    """
    return Analysis(mode=FULL, reason=QUERY_NOT_SUPPORTED,
                    construct="incremental refresh",
                    message="incremental refresh is not implemented in this build of snowmelt")


@dataclass
class Source:
    """A source of one refresh: readers over its old and new states and its net change."""

    name: ObjectName
    oid: int
    columns: list[str]
    old: Callable[[], exp.Expression]  # snapshot at the version last consumed
    new: Callable[[], exp.Expression]  # snapshot at this refresh's version
    change: Callable[[], exp.Expression]  # net change: columns + _sm_rowid + _sm_weight
    changed: bool  # False when the source has no change in the window (decided from versions)


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


def refresh_incremental(context: IncrementalContext) -> tuple[int, int]:
    """Apply the change since the last refresh; returns (rows inserted, rows deleted)."""
    raise NotImplementedError("incremental refresh is not implemented in this build")


def materialize(query: exp.Expression, analysis: Analysis) -> exp.Expression:
    """The query computing the full physical contents (user columns then state columns)."""
    return query
