"""Table status for ``/health`` and the listing, and Prometheus text for ``/metrics``.

Everything here is read from the catalog in a few aggregate queries (never a per-refresh
loop in Python), so it stays cheap as refresh history grows. Counters kept in memory by the
server (rows ingested, requests) are passed in.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from snowmelt.names import META_SCHEMA
from snowmelt.runtime import Runtime

M = META_SCHEMA


@dataclass
class Counters:
    """In-memory counters since server start (thread-safe)."""

    rows_ingested: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    batches: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    requests: dict[tuple[str, int], int] = field(default_factory=lambda: defaultdict(int))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def ingested(self, table: str, rows: int, outcome: str) -> None:
        with self.lock:
            self.rows_ingested[table] += rows
            self.batches[(table, outcome)] += 1

    def request(self, route: str, status: int) -> None:
        with self.lock:
            self.requests[(route, status)] += 1


def table_status(rt: Runtime, now: datetime) -> list[dict[str, Any]]:
    """One entry per dynamic table: state, lag, target lag and the last completed refresh."""
    with rt.store.lock:
        tables = rt.engine.rows(
            f"SELECT o.oid, o.database, o.schema, o.name, d.state, d.state_reason_code,"
            f" d.target_lag_type, d.target_lag_sec, d.scheduler, d.data_timestamp,"
            f" d.consecutive_failures, d.refresh_mode, d.initialized"
            f' FROM "{M}".objects o JOIN "{M}".dynamic_tables d USING (oid)'
            " WHERE NOT o.dropped ORDER BY o.database, o.schema, o.name"
        )
        last = {
            r[0]: r[1:]
            for r in rt.engine.rows(
                f'SELECT oid, state, state_code, state_message, refresh_end_time FROM "{M}".'
                "refresh_history WHERE state <> 'SKIPPED' QUALIFY row_number() OVER "
                "(PARTITION BY oid ORDER BY refresh_id DESC) = 1"
            )
        }
    found = []
    for (
        oid,
        database,
        schema,
        name,
        state,
        reason,
        lag_type,
        lag_sec,
        scheduler,
        data_ts,
        failures,
        mode,
        initialized,
    ) in tables:
        data_ts = rt.catalog.dynamic_table(oid).data_timestamp  # includes NO_DATA frontiers
        lag = (now - data_ts).total_seconds() if data_ts is not None else None
        last_state, last_code, last_message, last_end = last.get(oid, (None,) * 4)
        found.append(
            {
                "name": f"{database}.{schema}.{name}",
                "scheduling_state": state,
                "reason_code": reason,
                "target_lag_type": lag_type,
                "target_lag_sec": lag_sec,
                "scheduler": scheduler or "ENABLE",
                "refresh_mode": mode,
                "initialized": bool(initialized),
                "data_timestamp": data_ts,
                "lag_sec": lag,
                "behind": bool(
                    lag_type == "USER_DEFINED"
                    and lag_sec
                    and state == "ACTIVE"
                    and scheduler != "DISABLE"
                    and (lag is None or lag > lag_sec)
                ),
                "consecutive_failures": failures or 0,
                "last_refresh_state": last_state,
                "last_refresh_code": last_code,
                "last_refresh_message": last_message,
                "last_refresh_end": last_end,
            }
        )
    return found


def health(status: list[dict[str, Any]]) -> dict[str, Any]:
    failing = [
        t["name"] for t in status if t["last_refresh_state"] in ("FAILED", "UPSTREAM_FAILED")
    ]
    suspended = [t["name"] for t in status if t["scheduling_state"] == "SUSPENDED"]
    behind = [t["name"] for t in status if t["behind"]]
    return {
        "status": "ok" if not (failing or suspended or behind) else "degraded",
        "tables": len(status),
        "failing": failing,
        "suspended": suspended,
        "behind": behind,
    }


def _label(value: object) -> str:
    text = str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
    return f'"{text}"'


def _number(value: float | int | None) -> str:
    if value is None:
        return "NaN"
    return repr(float(value)) if isinstance(value, float) else str(value)


def prometheus(
    rt: Runtime, now: datetime, counters: Counters, extra: dict[str, float] | None = None
) -> str:
    """The Prometheus text exposition (format 0.0.4)."""
    status = table_status(rt, now)
    with rt.store.lock:
        history = rt.engine.rows(
            f"SELECT database_name, schema_name, name, coalesce(refresh_action, 'NONE'), state,"
            " count(*), sum(epoch(refresh_end_time) - epoch(refresh_start_time))"
            f' FROM "{M}".refresh_history GROUP BY ALL ORDER BY ALL'
        )
    lines: list[str] = []

    def family(name: str, kind: str, help_text: str) -> None:
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} {kind}")

    family("snowmelt_up", "gauge", "1 while the server is running")
    lines.append("snowmelt_up 1")
    for key, value in (extra or {}).items():
        family(f"snowmelt_{key}", "gauge", key.replace("_", " "))
        lines.append(f"snowmelt_{key} {_number(value)}")
    family(
        "snowmelt_dynamic_table_lag_seconds",
        "gauge",
        "now minus the data timestamp of the last successful refresh",
    )
    for t in status:
        if t["lag_sec"] is not None:
            lines.append(
                f"snowmelt_dynamic_table_lag_seconds{{table={_label(t['name'])}}} "
                f"{_number(round(t['lag_sec'], 3))}"
            )
    family("snowmelt_dynamic_table_target_lag_seconds", "gauge", "TARGET_LAG in seconds")
    for t in status:
        if t["target_lag_sec"]:
            lines.append(
                f"snowmelt_dynamic_table_target_lag_seconds{{table={_label(t['name'])}}}"
                f" {t['target_lag_sec']}"
            )
    family("snowmelt_dynamic_table_suspended", "gauge", "1 when the table is suspended")
    for t in status:
        lines.append(
            f"snowmelt_dynamic_table_suspended{{table={_label(t['name'])},"
            f"reason={_label(t['reason_code'] or '')}}} "
            f"{int(t['scheduling_state'] == 'SUSPENDED')}"
        )
    family(
        "snowmelt_dynamic_table_consecutive_failures",
        "gauge",
        "consecutive failed scheduled refreshes (5 suspend the table)",
    )
    for t in status:
        lines.append(
            f"snowmelt_dynamic_table_consecutive_failures{{table={_label(t['name'])}}} "
            f"{t['consecutive_failures']}"
        )
    family("snowmelt_refreshes_total", "counter", "refreshes by action and state")
    durations: dict[str, tuple[int, float]] = {}
    for database, schema, name, action, state, count, seconds in history:
        table = f"{database}.{schema}.{name}"
        lines.append(
            f"snowmelt_refreshes_total{{table={_label(table)},action={_label(action)},"
            f"state={_label(state)}}} {count}"
        )
        if state == "SUCCEEDED":
            n, s = durations.get(table, (0, 0.0))
            durations[table] = (n + int(count), s + float(seconds or 0.0))
    family("snowmelt_refresh_duration_seconds", "summary", "durations of successful refreshes")
    for table, (n, s) in sorted(durations.items()):
        lines.append(
            f"snowmelt_refresh_duration_seconds_sum{{table={_label(table)}}} {_number(round(s, 6))}"
        )
        lines.append(f"snowmelt_refresh_duration_seconds_count{{table={_label(table)}}} {n}")
    with counters.lock:
        rows = dict(counters.rows_ingested)
        batches = dict(counters.batches)
        requests = dict(counters.requests)
    family("snowmelt_ingested_rows_total", "counter", "rows appended over HTTP since start")
    for table, n in sorted(rows.items()):
        lines.append(f"snowmelt_ingested_rows_total{{table={_label(table)}}} {n}")
    family(
        "snowmelt_ingest_batches_total",
        "counter",
        "ingest requests by outcome (committed, duplicate, rejected)",
    )
    for (table, outcome), n in sorted(batches.items()):
        lines.append(
            f"snowmelt_ingest_batches_total{{table={_label(table)},outcome={_label(outcome)}}} {n}"
        )
    family("snowmelt_http_requests_total", "counter", "HTTP requests by route and status")
    for (route, code), n in sorted(requests.items()):
        lines.append(
            f"snowmelt_http_requests_total{{route={_label(route)},status={_label(code)}}} {n}"
        )
    return "\n".join(lines) + "\n"
