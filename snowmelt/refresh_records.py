"""What a refresh records: the outcome of one attempt, its history row (the durable record
of where the table now stands, ``DYNAMIC_TABLE_REFRESH_HISTORY``), the table's frontier,
failures and upstream failures. ``Refresher`` (``refresh.py``) decides and runs a refresh;
this is its bookkeeping.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from snowmelt.catalog import CatalogObject, DynamicTable, consumed_json
from snowmelt.errors import RefreshError, SnowmeltError
from snowmelt.names import ObjectName
from snowmelt.runtime import Runtime


@dataclass
class RefreshOutcome:
    oid: int
    name: ObjectName
    state: str  # SUCCEEDED FAILED UPSTREAM_FAILED SKIPPED
    action: str | None
    data_timestamp: datetime
    inserted: int = 0
    deleted: int = 0
    read: int = 0  # source rows consumed (STATISTICS numRowsRead)
    message: str | None = None
    code: str | None = None
    statistics: dict[str, Any] = field(default_factory=dict)


@dataclass
class Attempt:
    """One refresh of one table, as its history row will describe it."""

    obj: CatalogObject
    dt: DynamicTable
    trigger: str
    start: datetime  # on the session clock
    version: int  # the data version refreshed to
    when: datetime  # the data timestamp
    query_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    reinit_reason: str | None = None  # why it reinitializes, when it is not the first refresh
    started: float = field(default_factory=time.perf_counter)

    def outcome(
        self,
        state: str,
        action: str | None,
        inserted: int = 0,
        deleted: int = 0,
        message: str | None = None,
        code: str | None = None,
    ) -> RefreshOutcome:
        return RefreshOutcome(
            self.obj.oid,
            self.obj.name,
            state,
            action,
            self.when,
            inserted=inserted,
            deleted=deleted,
            message=message,
            code=code,
        )


class Records:
    """The bookkeeping half of ``Refresher``: it needs ``rt`` and the two ways the
    refresher reads its inputs' versions."""

    rt: Runtime

    def _consumed(
        self, version: int, inputs: list[tuple[CatalogObject, int | None, int | None]]
    ) -> list[tuple[int, int, int]]:
        raise NotImplementedError

    def _source_version(self, source: CatalogObject) -> int:
        raise NotImplementedError

    def _advance(
        self,
        obj: CatalogObject,
        dt: DynamicTable,
        version: int,
        when: datetime,
        commit_version: int | None,
        inputs: list[tuple[CatalogObject, int | None, int | None]],
        consumed_changed: bool = True,
    ) -> None:
        rt = self.rt
        rt.catalog.update_dynamic_table(
            obj.oid,
            data_version=version,
            data_timestamp=when,
            commit_version=commit_version,
            initialized=True,
            consecutive_failures=0,
        )
        if not consumed_changed:  # NO_DATA: every input is exactly where it was consumed
            return
        for input_oid, consumed, generation in self._consumed(version, inputs):
            rt.catalog.set_consumed(obj.oid, input_oid, consumed, generation)

    def _history(
        self,
        attempt: Attempt,
        outcome: RefreshOutcome,
        commit_version: int | None,
        inputs: list[tuple[CatalogObject, int | None, int | None]] | None,
        frontier: list[tuple[int, int, int]] | None = None,
    ) -> None:
        """The history row of ``attempt``; a success's row records its whole frontier (with
        the ``frontier`` of consumed versions, see ``Catalog.advance_frontier``)."""
        obj, dt, start, version = attempt.obj, attempt.dt, attempt.start, attempt.version
        rt = self.rt
        elapsed_ms = int((time.perf_counter() - attempt.started) * 1000)
        outcome.statistics = {
            "numInsertedRows": outcome.inserted,
            "numDeletedRows": outcome.deleted,
            "numRowsRead": outcome.read,
            "numCopiedRows": 0,
            "numAddedPartitions": 0,
            "numRemovedPartitions": 0,
            "queuedTimeMs": 0,
            "compilationTimeMs": 0,
            "executionTimeMs": elapsed_ms,
        }
        changed = {}
        last_dep = None
        for source, consumed, _ in inputs or []:
            current = self._source_version(source)
            if consumed is None or current > consumed:
                changed[str(source.name)] = {"kind": source.kind.replace(" ", "_")}
            if source.kind == "DYNAMIC TABLE":
                upstream = rt.catalog.dynamic_table(source.oid)
                if upstream.data_timestamp and (
                    last_dep is None or upstream.data_timestamp > last_dep[1]
                ):
                    last_dep = (str(source.name), upstream.data_timestamp)
        completion = (
            dt.data_timestamp + timedelta(seconds=dt.target_lag_sec)
            if dt.data_timestamp and dt.target_lag_sec
            else None
        )
        end = rt.clock.now()
        if end < start:
            end = start
        rt.catalog.add_refresh(
            {
                "refresh_id": rt.catalog.next_refresh_id(),
                "oid": obj.oid,
                "name": obj.name.name,
                "schema_name": obj.name.schema,
                "database_name": obj.name.database,
                "state": outcome.state,
                "state_code": outcome.code,
                "state_message": outcome.message,
                "query_id": attempt.query_id,
                "data_timestamp": outcome.data_timestamp,
                "refresh_start_time": start,
                "refresh_end_time": end,
                "completion_target": completion,
                "last_completed_dependency": {
                    "qualified_name": last_dep[0],
                    "data_timestamp": last_dep[1].isoformat(),
                }
                if last_dep
                else None,
                "statistics": outcome.statistics,
                "refresh_action": outcome.action,
                "refresh_trigger": attempt.trigger,
                "target_lag_sec": dt.target_lag_sec,
                "graph_history_valid_from": rt.catalog.graph_valid_from(obj.oid),
                "inputs_with_changed_data": changed or None,
                "warehouse": dt.warehouse,
                "reinit_reason": (
                    "initial refresh"
                    if not dt.initialized
                    else attempt.reinit_reason or "a source was replaced or its schema changed"
                )
                if outcome.action == "REINITIALIZE"
                else None,
                "data_version": version,
                "commit_version": commit_version,
                "consumed": None if frontier is None else consumed_json(frontier),
            }
        )

    def _record_failure(self, attempt: Attempt, err: Exception) -> RefreshOutcome:
        obj, dt = attempt.obj, attempt.dt
        code = getattr(err, "code", None) or "REFRESH_FAILED"
        message = f"{type(err).__name__}: {err}" if not isinstance(err, SnowmeltError) else str(err)
        outcome = attempt.outcome("FAILED", None, message=message, code=code)
        if self.rt.store.open_commit is not None:  # inside CREATE: the CREATE fails whole
            raise RefreshError(
                f"Initial refresh of {obj.name} failed: {message}", name=str(obj.name), code=code
            ) from err
        with self.rt.engine.transaction():
            failures = dt.consecutive_failures + (1 if attempt.trigger == "SCHEDULED" else 0)
            self.rt.catalog.update_dynamic_table(obj.oid, consecutive_failures=failures)
            self._history(attempt, outcome, None, None)
        return outcome

    def _record_upstream_failed(
        self,
        obj: CatalogObject,
        dt: DynamicTable,
        trigger: str,
        when: datetime,
        version: int,
        upstream: int,
    ) -> RefreshOutcome:
        attempt = Attempt(obj, dt, trigger, self.rt.clock.now(), version, when)
        name = self.rt.catalog.get(upstream).name
        outcome = attempt.outcome(
            "UPSTREAM_FAILED",
            None,
            message=f"Upstream dynamic table {name} failed to refresh",
            code="UPSTREAM_FAILED",
        )
        with self.rt.engine.transaction():
            self._history(attempt, outcome, None, None)
        return outcome
