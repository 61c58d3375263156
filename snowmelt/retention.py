"""Retention: forget what nobody can need any more.

* Refresh and graph history older than ``HISTORY_RETENTION`` (7 days, what Snowflake's
  ``DYNAMIC_TABLE_REFRESH_HISTORY()`` keeps).
* Delete-log entries of a tracked table that every consumer's frontier has passed and that
  are older than the time-travel window (``TIME_TRAVEL_RETENTION``, Snowflake's default
  ``DATA_RETENTION_TIME_IN_DAYS = 1``): a snapshot at version v needs only entries deleted
  after v, and no consumer or time-travel query reads below those versions.
* The rows of dropped base tables (kept for UNDROP TABLE) dropped longer ago than the
  time-travel window, and the schemas and databases dropped then (kept for UNDROP SCHEMA
  and DATABASE, with the engine state of their sequences).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlglot import exp

from snowmelt import streams
from snowmelt.names import DATA_SCHEMA, META_SCHEMA, sequence_table
from snowmelt.runtime import Runtime

HISTORY_RETENTION = timedelta(days=7)
TIME_TRAVEL_RETENTION = timedelta(days=1)


def prune(rt: Runtime, now: datetime) -> dict[str, int]:
    """Delete expired history and change-log entries; returns how many of each."""
    counts = {"refresh_history": 0, "graph_history": 0, "delete_log": 0, "dropped_tables": 0}
    history_cutoff = now - HISTORY_RETENTION
    with rt.store.lock, rt.engine.transaction():
        rt.catalog.fold_frontiers()  # NO_DATA frontiers live in history rows until folded
        counts["refresh_history"] = _deleted(
            rt,
            f'DELETE FROM "{META_SCHEMA}".refresh_history WHERE refresh_end_time < ?',
            [history_cutoff],
        )
        counts["graph_history"] = _deleted(
            rt, f'DELETE FROM "{META_SCHEMA}".graph_history WHERE valid_to < ?', [history_cutoff]
        )
        travel = rt.catalog.version_at(now - TIME_TRAVEL_RETENTION)
        unread = streams.offsets(rt)  # a stream's table keeps what it has not consumed
        for obj in rt.catalog.objects():
            if not obj.tracked:
                continue
            frontiers = rt.engine.rows(
                f'SELECT min(consumed_version) FROM "{META_SCHEMA}".dependencies d JOIN '
                f'"{META_SCHEMA}".objects o ON o.oid = d.oid WHERE d.input_oid = ? AND NOT '
                "o.dropped AND consumed_version IS NOT NULL",
                [obj.oid],
            )[0][0]
            below = travel if frontiers is None else min(travel, int(frontiers))
            below = min(below, unread.get(obj.oid, below))
            if below > 0:
                counts["delete_log"] += rt.store.vacuum(obj.oid, below)
        counts["dropped_tables"] = purge_dropped(rt, now)
    return counts


def purge_dropped(rt: Runtime, now: datetime) -> int:
    """Drop the rows of the tables and dynamic tables dropped longer ago than the
    time-travel window (no UNDROP can reach them); run by ``prune`` and when a database is
    opened."""
    purged = 0
    with rt.store.lock, rt.engine.transaction():
        for oid in rt.catalog.purgeable(now - TIME_TRAVEL_RETENTION):
            rt.store.drop_tracked(oid)
            rt.catalog.mark_purged(oid)
            purged += 1
        for oid in rt.catalog.purge_dropped_containers(now - TIME_TRAVEL_RETENTION):
            obj = rt.catalog.get(oid)
            if obj.kind == "SEQUENCE" and not rt.engine.sequence_in_use(DATA_SCHEMA, f"seq_{oid}"):
                rt.engine.execute(f"DROP SEQUENCE IF EXISTS {sequence_table(oid)}")
    return purged


def _deleted(rt: Runtime, statement: exp.Expression | str, params: list | None = None) -> int:
    rows = rt.engine.rows(statement, params)
    return int(rows[0][0]) if rows and rows[0][0] is not None else 0
