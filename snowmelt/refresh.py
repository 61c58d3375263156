"""The refresh executor: brings dynamic tables up to one shared data timestamp.

A round picks the data version V (the latest committed version) and a wall-clock data
timestamp, then refreshes the requested tables and, unless a table has
``SCHEDULER = DISABLE``, their upstream dynamic tables first, in dependency order. Each
table's refresh is one commit: its new contents, its own change log, its frontier and its
history row land together or not at all. A failure leaves the table at its last good
version, records a FAILED row, and marks its consumers in the round ``UPSTREAM_FAILED``.

Actions (REFRESH_ACTION): ``REINITIALIZE`` for the first refresh or after a source was
replaced or altered; ``NO_DATA`` when no source changed since the table's frontier (decided
from versions alone, no data scanned); ``FULL`` or ``INCREMENTAL`` by the resolved mode.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from sqlglot import exp

from snowmelt import frozen, ivm, planning
from snowmelt.catalog import CatalogObject, DynamicTable
from snowmelt.errors import RefreshError, SnowmeltError
from snowmelt.names import ObjectName, data_table, quoted
from snowmelt.refresh_records import Attempt, Records, RefreshOutcome
from snowmelt.runtime import Runtime
from snowmelt.sql.parse import parse_padded

# ADAPTIVE tables reinitialize instead of refreshing incrementally when their inputs' net
# change is at least this many rows and this share of the rows the inputs hold, unless
# their plan is linear (its cost follows the change, whatever its size). Measured on the
# medallion DAG at N = 1M (``python -m bench.refresh --sizes 1e6 --fractions
# 0.05,0.2,0.5``): with the sources grown by 20%, incremental was still 1-5x faster per
# table; grown by 50% (a third of what they then hold) the key-recompute and aggregate
# tables were at parity or slower (CUSTOMER_SESSIONS 0.67 s against 0.59 s full). The
# share is set past that: a bulk load that doubles a table, an INSERT OVERWRITE (which
# changes twice the rows the table holds).
ADAPTIVE_MIN_ROWS = 100_000
ADAPTIVE_SHARE = 0.5


class Refresher(Records):
    def __init__(self, rt: Runtime):
        self.rt = rt
        self.running: set[int] = set()
        self._counted: dict[tuple[int, int, int], int] = {}  # net changes counted this refresh

    # -- planning ---------------------------------------------------------------------------
    def upstream_closure(self, oids: list[int]) -> list[int]:
        """``oids`` plus the dynamic tables they read (transitively), upstream first.

        A table with SCHEDULER = DISABLE is an isolation boundary: refreshing it does not
        refresh what it reads.
        """
        ordered: list[int] = []
        seen: set[int] = set()

        def visit(oid: int, root: bool) -> None:
            if oid in seen:
                return
            seen.add(oid)
            dt = self.rt.catalog.dynamic_table(oid)
            if root and dt.scheduler == "DISABLE" or not root:
                pass
            if not (root and dt.scheduler == "DISABLE"):
                for input_oid, _, _ in self.rt.catalog.inputs(oid):
                    if self._is_dynamic(input_oid):
                        visit(input_oid, False)
            ordered.append(oid)

        for oid in oids:
            visit(oid, True)
        return ordered

    def _is_dynamic(self, oid: int) -> bool:
        try:
            obj = self.rt.catalog.get(oid)
        except SnowmeltError:
            return False
        return obj.kind == "DYNAMIC TABLE" and self.rt.catalog.find(obj.name) is not None

    # -- rounds -------------------------------------------------------------------------------
    def refresh(
        self,
        oids: list[int],
        trigger: str,
        include_upstream: bool = True,
        data_timestamp: datetime | None = None,
    ) -> list[RefreshOutcome]:
        order = self.upstream_closure(oids) if include_upstream else list(oids)
        with self.rt.store.lock:
            version = self.rt.store.version
            if self.rt.store.open_commit is not None:  # CREATE ... INITIALIZE = ON_CREATE
                version = self.rt.store.open_commit.version - 1
            when = data_timestamp or self.rt.clock.now()
            failed: set[int] = set()
            outcomes = []
            for oid in order:
                dt = self.rt.catalog.dynamic_table(oid)
                obj = self.rt.catalog.get(oid)
                upstream_bad = [i for i, _, _ in self.rt.catalog.inputs(oid) if i in failed]
                if upstream_bad:
                    failed.add(oid)
                    outcomes.append(
                        self._record_upstream_failed(
                            obj, dt, trigger, when, version, upstream_bad[0]
                        )
                    )
                    continue
                outcome = self.refresh_one(obj, dt, version, when, trigger)
                if outcome.state != "SUCCEEDED":
                    failed.add(oid)
                outcomes.append(outcome)
            return outcomes

    def refresh_one(
        self, obj: CatalogObject, dt: DynamicTable, version: int, when: datetime, trigger: str
    ) -> RefreshOutcome:
        rt = self.rt
        attempt = Attempt(obj, dt, trigger, rt.clock.now(), version, when)
        self.running.add(obj.oid)
        self._counted.clear()
        try:
            planning.check_functions(rt, obj, dt)
            changed = planning.changed_sources(rt, obj, dt)
            inputs = [] if changed else self._inputs(obj)
            action = "REINITIALIZE" if changed else self._action(attempt, inputs)
            if changed:
                attempt.reinit_reason = "planned again: " + "; ".join(
                    f"{name} {how}" for name, how in changed.items()
                )
            if action == "NO_DATA":
                return self._no_data(attempt, inputs)
            with rt.store.write("REFRESH") as commit:
                if changed:  # planned again, in this commit: a failure keeps the old plan
                    dt = planning.replan(rt, obj, dt, changed)
                    inputs = self._inputs(obj)
                if action == "INCREMENTAL":
                    inserted, deleted = ivm.refresh_incremental(
                        self._context(obj, dt, commit, version, inputs)
                    )
                else:
                    query = self.query_at(dt, version)
                    if action == "FULL" and dt.frozen_where:  # its frozen rows stay
                        query = frozen.refresh_query(
                            rt,
                            obj.oid,
                            obj.column_names,
                            dt.frozen_where,
                            query,
                            _statement_time(rt, version),
                        )
                    inserted, deleted = rt.store.replace_contents(
                        commit,
                        obj.oid,
                        obj.column_names + [c.name for c in _state(dt)],
                        query,
                        self._cluster(obj, dt) if action == "REINITIALIZE" else (),
                    )
                commit_version = (
                    commit.version
                    if (inserted or deleted or not dt.initialized)
                    else dt.commit_version
                )
                steady = dt.initialized and not dt.consecutive_failures
                if not steady:  # the table's own rows; else its history row says it all
                    self._advance(obj, dt, version, when, commit_version, inputs)
                outcome = attempt.outcome("SUCCEEDED", action, inserted, deleted)
                outcome.read = self._rows_read(action, version, inputs)
                consumed = self._consumed(version, inputs)
                self._history(attempt, outcome, commit_version, inputs, consumed)
            if steady:
                rt.catalog.advance_frontier(obj.oid, version, when, commit_version, consumed)
            return outcome
        except Exception as err:  # an engine error is a refresh failure, not a crash
            return self._record_failure(attempt, err)
        finally:
            self.running.discard(obj.oid)

    def _no_data(
        self, attempt: Attempt, inputs: list[tuple[CatalogObject, int | None, int | None]]
    ) -> RefreshOutcome:
        """No input changed: only the frontier moves. Usually one statement, the history
        row, which is also the durable record of the new frontier (the catalog reads it
        back); a table with failures to clear updates its row in the same transaction."""
        obj, dt = attempt.obj, attempt.dt
        outcome = attempt.outcome("SUCCEEDED", "NO_DATA")
        if dt.consecutive_failures:
            with self.rt.engine.transaction():
                self._advance(
                    obj,
                    dt,
                    attempt.version,
                    attempt.when,
                    dt.commit_version,
                    inputs,
                    consumed_changed=False,
                )
                self._history(attempt, outcome, dt.commit_version, inputs)
            return outcome
        consumed = [(s.oid, v, g) for s, v, g in inputs if v is not None and g is not None]
        self._history(attempt, outcome, dt.commit_version, inputs, consumed)
        self.rt.catalog.advance_frontier(
            obj.oid, attempt.version, attempt.when, dt.commit_version, consumed
        )
        return outcome

    # -- pieces ----------------------------------------------------------------------------------
    def _inputs(self, obj: CatalogObject) -> list[tuple[CatalogObject, int | None, int | None]]:
        """(source, consumed version, consumed generation) for each source of ``obj``; the
        caller has checked that each still exists (``planning.changed_sources``)."""
        return [
            (self.rt.catalog.get(input_oid), consumed, generation)
            for input_oid, consumed, generation in self.rt.catalog.inputs(obj.oid)
        ]

    def _action(
        self,
        attempt: Attempt,
        inputs: list[tuple[CatalogObject, int | None, int | None]],
    ) -> str:
        dt, version = attempt.dt, attempt.version
        if not dt.initialized:
            return "REINITIALIZE"
        if any(generation != source.generation for source, _, generation in inputs):
            return "REINITIALIZE"
        if not _reads_the_clock(dt) and all(
            consumed is not None and self._source_version(source) <= consumed
            for source, consumed, _ in inputs
        ):
            return "NO_DATA"
        if dt.refresh_mode == "ADAPTIVE" and dt.plan.get("strategy") != "linear":
            attempt.reinit_reason = self._rebuild_is_cheaper(inputs, version)
            if attempt.reinit_reason is not None:
                return "REINITIALIZE"
        return "INCREMENTAL" if dt.incremental else "FULL"

    def _rebuild_is_cheaper(
        self, inputs: list[tuple[CatalogObject, int | None, int | None]], version: int
    ) -> str | None:
        """ADAPTIVE's heuristic, with the reason it gives: the inputs' net change is at
        least ``ADAPTIVE_MIN_ROWS`` rows and ``ADAPTIVE_SHARE`` of the rows they now hold (a
        bulk load, an INSERT OVERWRITE). Appends are counted from the append log; other
        changes and the inputs' sizes by a count each, only when the change could be that
        large."""
        store, changed, unknown = self.rt.store, 0, []
        for source, consumed, _ in inputs:
            upto = self._read_upto(source, version)
            if consumed is None or upto <= consumed:
                continue
            appended = store.appends.appended(source.oid, consumed, upto)
            if appended is None:
                unknown.append((source.oid, consumed, upto))
            else:
                changed += appended
        changed += sum(self._count_change(*interval) for interval in unknown)
        if changed < ADAPTIVE_MIN_ROWS:
            return None
        held = sum(store.count_rows(source.oid) for source, _, _ in inputs)
        if changed < ADAPTIVE_SHARE * held:
            return None
        return (
            f"ADAPTIVE: the inputs changed by {changed:,} rows, {changed / max(held, 1):.0%} of "
            f"the {held:,} they hold; a full recompute costs less"
        )

    def _cluster(self, obj: CatalogObject, dt: DynamicTable) -> list[str]:
        """The time-typed columns the first contents of incremental table ``obj`` are
        written in the order of: the time-typed keys a refresh looks its stored rows up by
        (an hour of a GROUP BY, a day of a PARTITION BY), else its first time-typed column,
        which the tables reading it look up by (a GROUP BY day downstream, a COUNT(DISTINCT)
        probe by date). The lookup of the changed keys then skips row groups by their zone maps;
        later writes append in arrival order, which keeps recent times together."""
        if not dt.incremental or not dt.plan:
            return []
        types = dict(self.rt.engine.columns_of(exp.select("*").from_(data_table(obj.oid))))

        def timed(name: str) -> bool:
            return types.get(name, "").upper().startswith(("DATE", "TIMESTAMP"))

        keys = [k for k in ivm.api.key_columns(dt.plan, obj.oid, obj.column_names) if timed(k)]
        return keys or next(([c] for c in obj.column_names if timed(c)), [])

    def _consumed(
        self, version: int, inputs: list[tuple[CatalogObject, int | None, int | None]]
    ) -> list[tuple[int, int, int]]:
        """(input oid, version, generation) each input is consumed up to after a refresh to
        ``version``."""
        return [
            (
                source.oid,
                self._read_upto(source, version),
                source.generation,
            )
            for source, _, _ in inputs
        ]

    def _rows_read(
        self, action: str, version: int, inputs: list[tuple[CatalogObject, int | None, int | None]]
    ) -> int:
        """STATISTICS numRowsRead: the source rows the refresh consumed — every input's
        snapshot for a full evaluation, the inputs' net changes for an incremental one
        (rows that joins, windows and recomputed groups look up by key are not counted)."""
        store, total = self.rt.store, 0
        for source, consumed, _ in inputs:
            upto = self._read_upto(source, version)
            if action != "INCREMENTAL":
                total += store.count(store.snapshot(source.oid, [], upto, with_row_id=True))
            elif consumed is not None and upto > consumed:
                total += self._count_change(source.oid, consumed, upto)
        return total

    def _count_change(self, oid: int, after: int, upto: int) -> int:
        """``Store.count_change``, counted once per refresh (ADAPTIVE's heuristic and the
        statistics both ask)."""
        key = (oid, after, upto)
        if key not in self._counted:
            self._counted[key] = self.rt.store.count_change(oid, after, upto)
        return self._counted[key]

    def _source_version(self, source: CatalogObject) -> int:
        """The version a consumer should record as consumed for ``source`` right now."""
        if source.kind == "DYNAMIC TABLE":
            return self.rt.catalog.dynamic_table(source.oid).commit_version or 0
        return source.last_change_version

    def _read_upto(self, source: CatalogObject, version: int) -> int:
        """The version a refresh to ``version`` reads ``source`` up to: a dynamic table's
        latest commit, a base table's snapshot at ``version``."""
        return self._source_version(source) if source.kind == "DYNAMIC TABLE" else version

    def query_at(self, dt: DynamicTable, version: int, *, state: bool = True) -> exp.Expression:
        """The table's query over its sources as of ``version``, for the engine.

        For an incremental table this is its plan's full contents (user columns then hidden
        state, as the physical table holds them), reading source row ids when the plan
        carries them; ``state=False`` keeps only the user columns (what users see).
        ``CURRENT_TIMESTAMP`` is the statement time of ``version`` (see ``_statement_time``).
        Inside a refresh commit the hidden state columns are (re)typed to what the query
        produces.
        """
        rt = self.rt
        incremental = dt.incremental
        with_ids = ivm.api.reads_row_ids(dt.plan) and incremental

        def snapshot(source: CatalogObject, table: exp.Table) -> exp.Expression:
            if source.kind == "DYNAMIC TABLE":
                if not rt.catalog.dynamic_table(source.oid).initialized:
                    raise RefreshError(
                        f"Upstream dynamic table {source.name} is not initialized",
                        name=str(source.name),
                        code="UPSTREAM_NOT_INITIALIZED",
                    )
                return rt.store.live(source.oid, source.column_names, with_row_id=with_ids)
            return rt.store.snapshot(source.oid, source.column_names, version, with_row_id=with_ids)

        if incremental and not dt.plan.get("time_dependent") and rt.dialect == "snowflake":
            # the plan's full contents, translated once per process; only the sources
            # (plain storage readers) are bound here. An incremental plan reads no views.
            template = _translated(dt.plan.get("materialize") or dt.query_sql)
            engine_query = rt.resolver.bind(template.copy(), snapshot, inline_views=True)
        else:
            analysis = ivm.Analysis(mode="INCREMENTAL" if incremental else "FULL", plan=dt.plan)
            query = ivm.api.materialize(parse_padded(dt.query_sql), analysis)
            bound = rt.resolver.bind(query, snapshot, inline_views=True)
            bound = ivm.api.bind_time(bound, _statement_time(rt, version))
            engine_query = rt.to_engine(bound)
        hidden = [c.name for c in _state(dt)] if incremental else []
        if not hidden:
            return engine_query
        users = rt.catalog.get(dt.oid).column_names
        if state and rt.store.open_commit is not None:
            ivm.api.fit_state_types(rt.store, dt.oid, engine_query, len(users), hidden)
        return _named(engine_query, users + hidden, users if not state else None)

    def _context(
        self,
        obj: CatalogObject,
        dt: DynamicTable,
        commit: Any,
        version: int,
        inputs: list[tuple[CatalogObject, int | None, int | None]],
    ) -> ivm.IncrementalContext:
        rt = self.rt
        sources: dict[ObjectName, ivm.Source] = {}
        for source, consumed, _ in inputs:
            old_version = consumed or 0
            new_version = self._read_upto(source, version)
            cols = source.column_names

            def old(s: CatalogObject = source, v: int = old_version) -> exp.Expression:
                return rt.store.snapshot(s.oid, s.column_names, v, with_row_id=True)

            def new(s: CatalogObject = source, v: int = new_version) -> exp.Expression:
                return rt.store.snapshot(s.oid, s.column_names, v, with_row_id=True)

            def change(
                s: CatalogObject = source, a: int = old_version, b: int = new_version
            ) -> exp.Expression:
                return rt.store.change(s.oid, s.column_names, a, b)

            sources[source.name] = ivm.Source(
                source.name,
                source.oid,
                cols,
                old,
                new,
                change,
                changed=self._source_version(source) > old_version,
                old_version=old_version,
                new_version=new_version,
                appended=rt.store.appends.appended(source.oid, old_version, new_version)
                is not None,
            )
        return ivm.IncrementalContext(
            rt.store,
            commit,
            obj.oid,
            obj.column_names,
            _state(dt),
            _parsed(dt.query_sql),
            dt.plan,
            sources,
            rt.to_engine,
            now=_statement_time(rt, version) if dt.plan.get("time_dependent") else None,
            then=_evaluated_time(rt, dt),
        )


def _state(dt: DynamicTable) -> list[Any]:
    from snowmelt.catalog import Column

    return [Column(**c) for c in dt.plan.get("state_columns", [])]


def quote_all(names: list[str]) -> list[exp.Identifier]:
    return [quoted(n) for n in names]


def _statement_time(rt: Runtime, version: int | None) -> datetime | None:
    """The value of ``CURRENT_TIMESTAMP`` in a refresh reading ``version``: the commit time of
    that version, so that a table equals its query over the snapshot *and* the clock of its
    data version, and the previous refresh's value can be recovered exactly.

    (The round's data timestamp would be closer to the reference, but it is not handed to
    ``query_at``/``_context``; switching is a change here plus passing it in.)
    """
    if version is None:
        return None
    return rt.catalog.version_time(version)


def _named(query: exp.Expression, names: list[str], keep: list[str] | None) -> exp.Expression:
    """``query``'s columns renamed positionally to ``names`` (then only ``keep``, if given)."""
    from snowmelt.names import col

    relation = exp.Subquery(
        this=query, alias=exp.TableAlias(this=quoted("_sm_q"), columns=[quoted(n) for n in names])
    )
    return exp.select(*[col(n, "_sm_q") for n in (keep or names)]).from_(relation)


def _evaluated_time(rt: Runtime, dt: DynamicTable) -> datetime | None:
    """The statement time the table's contents were last computed at, for plans that read
    the current time: the data version of its last refresh that was not NO_DATA (a NO_DATA
    refresh advances the data version without evaluating anything)."""
    if not dt.plan.get("time_dependent") or not dt.initialized:
        return None
    from snowmelt.names import meta_table

    history = meta_table("refresh_history")
    rows = rt.engine.rows(
        exp.select("data_version")
        .from_(history)
        .where("oid = ? AND state = 'SUCCEEDED' AND refresh_action <> 'NO_DATA'")
        .order_by("refresh_id DESC")
        .limit(1),
        [dt.oid],
    )
    if not rows:
        raise RefreshError(
            f"Dynamic table id {dt.oid} reads the current time but its last "
            "evaluation is no longer in the refresh history; re-create it "
            "(CREATE OR REPLACE) to reinitialize it.",
            name=str(dt.oid),
            code="INCREMENTAL_INVARIANT",
        )
    return _statement_time(rt, int(rows[0][0]))


@functools.lru_cache(maxsize=256)
def _translated(sql: str) -> exp.Expression:
    """An incremental plan's full-contents query (Snowflake SQL) translated for the engine,
    once per process (shared: callers copy it before binding its sources)."""
    from snowmelt.sql.translate import to_duckdb

    return to_duckdb(parse_padded(sql))


@functools.lru_cache(maxsize=256)
def _parsed(sql: str) -> exp.Expression:
    """A dynamic table's query, parsed once per process (shared: callers must not mutate
    it; the incremental compiler works from its own persisted plan)."""
    return parse_padded(sql)


def _reads_the_clock(dt: DynamicTable) -> bool:
    """Whether the table's contents can change with time alone (CURRENT_TIMESTAMP in a
    filter): such a table is never NO_DATA. The text test may over-approximate (a column
    named CURRENT_X), which only costs a refresh, never correctness."""
    if dt.plan.get("time_dependent"):
        return True
    text = dt.query_sql.upper()
    return any(
        word in text
        for word in (
            "CURRENT_TIMESTAMP",
            "CURRENT_DATE",
            "CURRENT_TIME",
            "SYSDATE",
            "GETDATE",
            "LOCALTIMESTAMP",
        )
    )
