"""Collecting pipeline status: what ``snowmelt monitor`` and the dashboard show.

Role: ``collect(session)`` gathers the status of every dynamic table and base table using only
``session.sql()`` (SHOW, ``INFORMATION_SCHEMA`` table functions, ``CURRENT_TIMESTAMP()``), so
it works the same on a local ``Session`` and on a ``RemoteSession`` talking to a running
server, and "now" is always the session's clock. ``health_report`` condenses the status for
cron jobs and container health checks; ``recent_refreshes`` lists the latest refreshes.

Inputs: a session (anything with ``.sql()``). Outputs: plain JSON-ready dicts described by
``STATUS_SCHEMA`` and ``HEALTH_SCHEMA`` (:mod:`snowmelt.monitor.schema`); no rendering here.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from snowmelt.monitor.schema import NEAR_TARGET, SCHEMA_VERSION

MEDALLION = ("BRONZE", "SILVER", "GOLD")
# Schema-name words that place a schema in a medallion layer (checked in this order).
LAYER_HINTS = {
    "BRONZE": "BRONZE RAW LANDING STAGE STAGING SOURCE SOURCES SRC INGEST INGESTION",
    "SILVER": "SILVER CLEAN CLEANED CURATED REFINED INTERMEDIATE ENRICHED CONFORMED",
    "GOLD": "GOLD MART MARTS REPORT REPORTING ANALYTICS SERVING AGGREGATES BI",
}
FAILED_STATES = ("FAILED", "UPSTREAM_FAILED")

_HISTORY_SQL = (
    "SELECT QUALIFIED_NAME, STATE, STATE_CODE, STATE_MESSAGE, REFRESH_ACTION, REFRESH_TRIGGER,"
    " DATA_TIMESTAMP, REFRESH_START_TIME, REFRESH_END_TIME,"
    " DATEDIFF(MILLISECOND, REFRESH_START_TIME, REFRESH_END_TIME) AS DURATION_MS,"
    " STATISTICS:numInsertedRows::INT AS ROWS_INSERTED,"
    " STATISTICS:numDeletedRows::INT AS ROWS_DELETED"
    " FROM TABLE(INFORMATION_SCHEMA.DYNAMIC_TABLE_REFRESH_HISTORY("
    "DATA_TIMESTAMP_START => DATEADD(DAY, -7, CURRENT_TIMESTAMP()), RESULT_LIMIT => 10000))"
)


def _iso(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _parse_ts(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def _json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def layer_of(schema: str) -> str:
    """BRONZE/SILVER/GOLD when the schema name says so (``RAW`` -> BRONZE), else the schema."""
    upper = schema.upper()
    words = set(upper.replace("-", "_").split("_"))
    for layer, hints in LAYER_HINTS.items():
        if layer in upper or words & set(hints.split()):
            return layer
    return upper


def source_of(session: Any) -> dict[str, Any]:
    url = getattr(session, "url", None)
    if url is not None:
        return {"kind": "remote", "target": str(url)}
    path = getattr(session, "path", None)
    return {"kind": "local", "target": str(path) if path is not None else None}


def _refresh_entry(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "qualified_name": row["QUALIFIED_NAME"],
        "state": row["STATE"],
        "action": row["REFRESH_ACTION"],
        "trigger": row["REFRESH_TRIGGER"],
        "data_timestamp": _iso(row["DATA_TIMESTAMP"]),
        "start_time": _iso(row["REFRESH_START_TIME"]),
        "end_time": _iso(row["REFRESH_END_TIME"]),
        "duration_ms": row["DURATION_MS"],
        "rows_inserted": row["ROWS_INSERTED"],
        "rows_deleted": row["ROWS_DELETED"],
        "state_code": row["STATE_CODE"],
        "state_message": row["STATE_MESSAGE"],
    }


def recent_refreshes(
    session: Any, limit: int = 20, name: str | None = None
) -> list[dict[str, Any]]:
    """The latest refreshes (newest first) of every dynamic table, or of ``name``."""
    sql = _HISTORY_SQL
    if name is not None:
        from sqlglot import exp

        sql += f" WHERE QUALIFIED_NAME = {exp.Literal.string(name).sql('snowflake')}"
    sql += (
        " ORDER BY COALESCE(REFRESH_END_TIME, REFRESH_START_TIME) DESC, QUALIFIED_NAME"
        f" LIMIT {int(limit)}"
    )
    return [_refresh_entry(r) for r in session.sql(sql).dicts()]


def collect(session: Any) -> dict[str, Any]:
    """The status of every dynamic table and base table (see ``STATUS_SCHEMA``)."""
    now = session.sql("SELECT CURRENT_TIMESTAMP() AS NOW").scalar()
    tables = session.sql("SHOW TABLES IN ACCOUNT").dicts()
    shown = {
        (r["database_name"], r["schema_name"], r["name"]): r
        for r in session.sql("SHOW DYNAMIC TABLES IN ACCOUNT").dicts()
    }
    info = {
        r["QUALIFIED_NAME"]: r
        for r in session.sql(
            "SELECT * FROM TABLE(INFORMATION_SCHEMA.DYNAMIC_TABLES(RESULT_LIMIT => 10000))"
        ).dicts()
    }
    inputs = {
        r["QUALIFIED_NAME"]: [i["name"] for i in _json(r["INPUTS"]) or []]
        for r in session.sql(
            "SELECT QUALIFIED_NAME, INPUTS FROM TABLE("
            "INFORMATION_SCHEMA.DYNAMIC_TABLE_GRAPH_HISTORY())"
        ).dicts()
    }
    # Newest refresh per table, and newest that was not SKIPPED (that one says "failing").
    latest: dict[str, dict[str, Any]] = {}
    completed: dict[str, dict[str, Any]] = {}
    for row in session.sql(
        _HISTORY_SQL + " QUALIFY ROW_NUMBER() OVER (PARTITION BY QUALIFIED_NAME, STATE ="
        " 'SKIPPED' ORDER BY COALESCE(REFRESH_END_TIME, REFRESH_START_TIME) DESC) = 1"
    ).dicts():
        name = row["QUALIFIED_NAME"]
        if row["STATE"] != "SKIPPED":
            completed[name] = row
        end = row["REFRESH_END_TIME"] or row["REFRESH_START_TIME"]
        if name not in latest or end > (
            latest[name]["REFRESH_END_TIME"] or latest[name]["REFRESH_START_TIME"]
        ):
            latest[name] = row
    consumers: dict[str, list[str]] = {}
    for name, sources in sorted(inputs.items()):
        for source in sources:
            consumers.setdefault(source, []).append(name)

    dynamic, base = [], []
    for t in sorted(tables, key=lambda r: (r["database_name"], r["schema_name"], r["name"])):
        qualified = f"{t['database_name']}.{t['schema_name']}.{t['name']}"
        common = {
            "name": t["name"],
            "schema": t["schema_name"],
            "database": t["database_name"],
            "qualified_name": qualified,
            "layer": layer_of(t["schema_name"]),
            "rows": t.get("rows"),
            "comment": t.get("comment") or None,
            "created_on": _iso(t.get("created_on")),
        }
        if t.get("is_dynamic") != "Y":
            base.append({**common, "kind": "TABLE", "consumers": consumers.get(qualified, [])})
            continue
        show = shown.get((t["database_name"], t["schema_name"], t["name"]), {})
        dynamic.append(
            _dynamic_status(
                common,
                show,
                info.get(qualified, {}),
                latest.get(qualified),
                completed.get(qualified),
                inputs.get(qualified, []),
                consumers.get(qualified, []),
                now,
            )
        )
    healthy = sum(1 for d in dynamic if d["health"] == "HEALTHY")
    return {
        "schema_version": SCHEMA_VERSION,
        "generated_at": _iso(now),
        "source": source_of(session),
        "summary": {
            "status": "HEALTHY" if healthy == len(dynamic) else "UNHEALTHY",
            "dynamic_tables": len(dynamic),
            "base_tables": len(base),
            "healthy": healthy,  # the three problems below can overlap
            "failing": sum(1 for d in dynamic if _is_failing(d)),
            "suspended": sum(1 for d in dynamic if d["state"] == "SUSPENDED"),
            "over_lag": sum(1 for d in dynamic if _is_over_lag(d)),
        },
        "dynamic_tables": dynamic,
        "base_tables": base,
    }


def _dynamic_status(
    common: dict[str, Any],
    show: dict[str, Any],
    info: dict[str, Any],
    latest: dict[str, Any] | None,
    completed: dict[str, Any] | None,
    inputs: list[str],
    consumers: list[str],
    now: datetime,
) -> dict[str, Any]:
    scheduling = _json(info.get("SCHEDULING_STATE")) or {}
    state = scheduling.get("state") or show.get("scheduling_state") or "ACTIVE"
    scheduler = info.get("SCHEDULER") or show.get("scheduler") or "ENABLE"
    target: int | None = info.get("TARGET_LAG_SEC")
    lag_type = info.get("TARGET_LAG_TYPE")
    data_ts = _parse_ts(info.get("LATEST_DATA_TIMESTAMP") or show.get("data_timestamp"))
    # ``now`` is read before the tables: a refresh that commits in between has a data
    # timestamp after it, which is no lag at all, not a negative one
    lag = round(max((now - data_ts).total_seconds(), 0.0), 3) if data_ts is not None else None
    if not (target and lag_type == "USER_DEFINED" and scheduler != "DISABLE"):
        target_now = None  # no lag to be over: DOWNSTREAM, or the scheduler is disabled
    else:
        target_now = target
    ratio = round(lag / target_now, 4) if target_now and lag is not None else None
    if data_ts is None:
        freshness = "NOT_INITIALIZED"
    elif ratio is None:
        freshness = "NO_TARGET"
    else:
        freshness = (
            "OVER_TARGET" if ratio > 1 else "NEAR_TARGET" if ratio > NEAR_TARGET else "FRESH"
        )
    last_state = completed["STATE"] if completed else info.get("LAST_COMPLETED_REFRESH_STATE")
    message = (
        (completed or {}).get("STATE_MESSAGE")
        if completed
        else info.get("LAST_COMPLETED_REFRESH_STATE_MESSAGE")
    )
    problems = []
    if state == "SUSPENDED":
        problems.append(
            f"suspended ({scheduling.get('reason_code') or 'USER_SUSPENDED'})"
            + (f": {scheduling['reason_message']}" if scheduling.get("reason_message") else "")
        )
    if last_state in FAILED_STATES:
        problems.append(f"last refresh {last_state}" + (f": {message}" if message else ""))
    created = _parse_ts(common.get("created_on"))
    over = (
        state == "ACTIVE"
        and target_now is not None
        and (
            (lag is not None and lag > target_now)  # never refreshed: over once older than it
            or (
                lag is None and created is not None and (now - created).total_seconds() > target_now
            )
        )
    )
    if over:
        problems.append(
            f"lag {_duration(lag)} over target {_duration(target)}"
            if lag is not None
            else f"not initialized after {_duration(target)}"
        )
    health = (
        "SUSPENDED"
        if state == "SUSPENDED"
        else "FAILING"
        if last_state in FAILED_STATES
        else "OVER_LAG"
        if over
        else "HEALTHY"
    )
    return {
        **common,
        "kind": "DYNAMIC TABLE",
        "state": state,
        "state_reason_code": scheduling.get("reason_code"),
        "state_reason_message": scheduling.get("reason_message"),
        "scheduler": scheduler,
        "refresh_mode": show.get("refresh_mode") or info.get("REFRESH_MODE") or "FULL",
        "refresh_mode_reason": show.get("refresh_mode_reason"),
        "target_lag": show.get("target_lag"),
        "target_lag_type": lag_type,
        "target_lag_sec": target,
        "latest_data_timestamp": _iso(data_ts),
        "current_lag_sec": lag,
        "lag_ratio": ratio,
        "freshness": freshness,
        "mean_lag_sec": info.get("MEAN_LAG_SEC"),
        "maximum_lag_sec": info.get("MAXIMUM_LAG_SEC"),
        "time_within_target_lag_ratio": info.get("TIME_WITHIN_TARGET_LAG_RATIO"),
        "last_completed_refresh_state": last_state,
        "last_completed_refresh_message": message,
        "last_refresh": _refresh_entry(latest) if latest else None,
        "inputs": inputs,
        "consumers": consumers,
        "warehouse": show.get("warehouse"),
        "health": health,
        "problems": problems,
    }


def _is_failing(table: dict[str, Any]) -> bool:
    return table["last_completed_refresh_state"] in FAILED_STATES


def _is_over_lag(table: dict[str, Any]) -> bool:
    return any(p.startswith(("lag ", "not initialized")) for p in table["problems"])


def health_report(status: dict[str, Any]) -> dict[str, Any]:
    """Failing, suspended and over-lag tables (see ``HEALTH_SCHEMA``)."""
    tables = status["dynamic_tables"]
    failing = [
        {
            "name": t["qualified_name"],
            "state": t["last_completed_refresh_state"],
            "code": (t["last_refresh"] or {}).get("state_code")
            if (t["last_refresh"] or {}).get("state") in FAILED_STATES
            else None,
            "message": t["last_completed_refresh_message"],
        }
        for t in tables
        if _is_failing(t)
    ]
    suspended = [
        {
            "name": t["qualified_name"],
            "reason_code": t["state_reason_code"],
            "reason_message": t["state_reason_message"],
        }
        for t in tables
        if t["state"] == "SUSPENDED"
    ]
    over = [
        {
            "name": t["qualified_name"],
            "current_lag_sec": t["current_lag_sec"],
            "target_lag_sec": t["target_lag_sec"],
        }
        for t in tables
        if _is_over_lag(t)
    ]
    return {
        "status": "UNHEALTHY" if failing or suspended or over else "HEALTHY",
        "checked_at": status["generated_at"],
        "source": status["source"],
        "dynamic_tables": len(tables),
        "healthy": sum(1 for t in tables if t["health"] == "HEALTHY"),
        "failing": failing,
        "suspended": suspended,
        "over_lag": over,
    }


# Problems are written in words here (e.g. "lag 3m 05s over target 1m"), so the human form of
# a duration lives with the status; the renderer reuses it for the lag column.
def _duration(seconds: float | None) -> str:
    """``42s``, ``3m 05s``, ``2h 10m``, ``3d 4h``."""
    if seconds is None:
        return "—"
    s = abs(seconds)
    sign = "-" if seconds < 0 else ""
    if s < 10:
        return f"{sign}{s:.1f}s"
    if s < 60:
        return f"{sign}{s:.0f}s"
    if s < 3600:
        return f"{sign}{int(s // 60)}m {int(s % 60):02d}s"
    if s < 86400:
        return f"{sign}{int(s // 3600)}h {int(s % 3600 // 60):02d}m"
    return f"{sign}{int(s // 86400)}d {int(s % 86400 // 3600)}h"
