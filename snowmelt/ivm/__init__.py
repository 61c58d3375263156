"""The incremental compiler: decides how a dynamic table can be refreshed and builds the
SQL (sqlglot expressions) that refreshes it from the net changes of its sources.

Inputs: the dynamic table's query — normalized (upper-case identifiers), every table
reference a three-part name of a tracked source — and the sources' column names. Outputs: an
``Analysis`` (resolved mode, the reference's ``refresh_mode_reason``, the construct that
forces FULL and where it is, the strategy, hidden state columns, the persisted plan) and, at
refresh time, the statements that move the table from its old state to its new one.

Modules, one concern each:

* ``api`` — the interface used by ``dynamic`` (analyze), ``refresh`` (materialize,
  refresh_incremental) and ``session`` (explain);
* ``analysis`` — unsupported constructs with line/column, then which rule claims the query;
* ``canonical`` — the canonical query (qualified, CTEs inlined), placeholders, time binding;
* ``normalize`` — joins under aggregates/windows moved into subqueries, RIGHT → LEFT joins;
* ``rules`` — the rule registry;
* ``linear`` — Δσπ(R) = σπ(ΔR), UNION ALL, time-dependent filters; also the input
  differentiator every other rule uses;
* ``join`` — inner and cross joins of any number of inputs (telescoping over the FROM
  items), LATERAL FLATTEN; ``outer`` — LEFT/RIGHT/FULL equi-joins (the NULL-extended rows);
* ``aggregate`` — GROUP BY / scalar aggregates merged into hidden per-group state;
  ``count_distinct`` — COUNT(DISTINCT x) from the change and a probe of the new state;
* ``recompute`` — affected-key recompute (MIN/MAX after deletes, holistic aggregates, HAVING)
  and the aggregate rule's executor;
* ``window`` — windows with PARTITION BY, QUALIFY, stacks of windows and aggregates on one
  key (sessionization): affected-partition recompute; ``pushdown`` — the key filter pushed
  down to the source scans;
* ``distinct`` — DISTINCT and UNION by counting;
* ``bag`` — applying a weighted change by value (rules whose rows carry no identity);
* ``writes`` — writes that keep the storage contract (delete log, versions, row ids);
* ``program`` / ``runner`` — compiled-plan cache, statement rendering, execution or EXPLAIN.

The refresh executor (``snowmelt.refresh``) owns transactions, versions and history; this
package owns only the algebra.
"""

from __future__ import annotations

from snowmelt.ivm.api import (
    Analysis,
    IncrementalContext,
    Source,
    SourceInfo,
    analyze,
    refresh_incremental,
)

__all__ = [
    "Analysis",
    "IncrementalContext",
    "Source",
    "SourceInfo",
    "analyze",
    "refresh_incremental",
]
