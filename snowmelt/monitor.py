"""Pipeline status for people and machines: ``snowmelt monitor`` and the dashboard's data.

``collect(session)`` gathers the status of every dynamic table and base table using only
``session.sql()`` (SHOW, ``INFORMATION_SCHEMA`` table functions, ``CURRENT_TIMESTAMP()``), so
it works the same on a local ``Session`` and on a ``RemoteSession`` talking to a running
server, and "now" is always the session's clock. The result is plain JSON-ready data
described by ``STATUS_SCHEMA`` (JSON Schema, draft 2020-12); ``health_report`` condenses it
for cron jobs and container health checks (``HEALTH_SCHEMA``).

The rest of the module renders it: a rich dashboard (optionally redrawn in place), recent
refreshes, and two click commands: ``monitor`` (``--mode dashboard|health|history|json``) and
``dashboard`` (prints the web dashboard's URL for a running server, see
``snowmelt.server.dashboard``).

    >>> status = collect(snowmelt.connect("demo.duckdb"))  # doctest: +SKIP
    >>> health_report(status)["status"]  # doctest: +SKIP
    'HEALTHY'
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import date, datetime
from pathlib import Path
from typing import Any

import click
from rich import box
from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

SCHEMA_VERSION = 1
MEDALLION = ("BRONZE", "SILVER", "GOLD")
# Schema-name words that place a schema in a medallion layer (checked in this order).
LAYER_HINTS = {
    "BRONZE": "BRONZE RAW LANDING STAGE STAGING SOURCE SOURCES SRC INGEST INGESTION",
    "SILVER": "SILVER CLEAN CLEANED CURATED REFINED INTERMEDIATE ENRICHED CONFORMED",
    "GOLD": "GOLD MART MARTS REPORT REPORTING ANALYTICS SERVING AGGREGATES BI",
}
NEAR_TARGET = 0.8  # lag above this fraction of the target shows as a warning
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


# -- the JSON schemas (draft 2020-12) -------------------------------------------------------------
def _object(properties: dict[str, Any], optional: tuple[str, ...] = ()) -> dict[str, Any]:
    """A closed object whose properties are all required unless named in ``optional``."""
    return {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
        "required": [k for k in properties if k not in optional],
    }


def _null(kind: str, description: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "type": [kind, "null"],
        **extra,
        **({"description": description} if description else {}),
    }


def _enum(*values: str, description: str | None = None) -> dict[str, Any]:
    return {"enum": list(values), **({"description": description} if description else {})}


_STR, _COUNT = {"type": "string"}, {"type": "integer", "minimum": 0}
_TS, _NAMES = _null("string", format="date-time"), {"type": "array", "items": {"type": "string"}}
_TABLE = {
    "name": _STR,
    "schema": _STR,
    "database": _STR,
    "qualified_name": _STR,
    "layer": {**_STR, "description": "BRONZE, SILVER, GOLD, or else the schema name"},
    "rows": _null("integer", minimum=0),
    "comment": _null("string"),
    "created_on": _TS,
}
_SOURCE = _object(
    {"kind": _enum("local", "remote"), "target": _null("string", "database file, or server URL")}
)
REFRESH_SCHEMA = _object(
    {
        "qualified_name": _STR,
        "state": _enum(
            "SCHEDULED",
            "EXECUTING",
            "SUCCEEDED",
            "FAILED",
            "CANCELLED",
            "UPSTREAM_FAILED",
            "SKIPPED",
        ),
        "action": _null("string", "INCREMENTAL, FULL, NO_DATA or REINITIALIZE"),
        "trigger": _null("string", "SCHEDULED, MANUAL or CREATION"),
        "data_timestamp": _TS,
        "start_time": _TS,
        "end_time": _TS,
        "duration_ms": _null("number", minimum=0),
        "rows_inserted": _null("integer", minimum=0),
        "rows_deleted": _null("integer", minimum=0),
        "state_code": _null("string"),
        "state_message": _null("string", "the error of a failed refresh"),
    }
)
DYNAMIC_TABLE_SCHEMA = _object(
    {
        **_TABLE,
        "kind": {"const": "DYNAMIC TABLE"},
        "state": _enum("ACTIVE", "SUSPENDED", description="scheduling state"),
        "state_reason_code": _null("string", "e.g. USER_SUSPENDED, SUSPENDED_DUE_TO_ERRORS"),
        "state_reason_message": _null("string"),
        "scheduler": _enum("ENABLE", "DISABLE"),
        "refresh_mode": _enum("INCREMENTAL", "FULL", description="the resolved mode"),
        "refresh_mode_reason": _null(
            "string", "why FULL, e.g. QUERY_NOT_SUPPORTED_FOR_INCREMENTAL"
        ),
        "target_lag": _null("string", "as SHOW prints it: '1 minute', 'DOWNSTREAM'"),
        "target_lag_type": _null("string", "USER_DEFINED or DOWNSTREAM"),
        "target_lag_sec": _null("integer", minimum=0),
        "latest_data_timestamp": _TS,
        "current_lag_sec": _null("number", "now - latest_data_timestamp, on the session clock"),
        "lag_ratio": _null("number", "current lag / target lag (null without a target)", minimum=0),
        "freshness": _enum(
            "FRESH",
            "NEAR_TARGET",
            "OVER_TARGET",
            "NO_TARGET",
            "NOT_INITIALIZED",
            description=f"NEAR_TARGET above {NEAR_TARGET:.0%} of the target",
        ),
        "mean_lag_sec": _null("number"),
        "maximum_lag_sec": _null("number"),
        "time_within_target_lag_ratio": _null("number", minimum=0, maximum=1),
        "last_completed_refresh_state": _null("string", "of the newest refresh not SKIPPED"),
        "last_completed_refresh_message": _null("string", "its error message, if any"),
        "last_refresh": {
            "oneOf": [{"type": "null"}, REFRESH_SCHEMA],
            "description": "the newest refresh, whatever its state",
        },
        "inputs": _NAMES,
        "consumers": _NAMES,
        "warehouse": _null("string"),
        "health": _enum(
            "HEALTHY",
            "FAILING",
            "SUSPENDED",
            "OVER_LAG",
            description="the most severe problem (SUSPENDED > FAILING > OVER_LAG), else HEALTHY",
        ),
        "problems": {**_NAMES, "description": "every problem, in words"},
    },
    optional=("comment", "created_on", "warehouse"),
)
BASE_TABLE_SCHEMA = _object(
    {**_TABLE, "kind": {"const": "TABLE"}, "consumers": _NAMES}, optional=("comment", "created_on")
)
STATUS_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://snowmelt.dev/schemas/monitor-status-v1.json",
    "title": "snowmelt monitor --mode json",
    "description": "Status of every dynamic table and base table at one instant of the session "
    "clock. Timestamps are ISO 8601 with an offset; durations are seconds unless "
    "named _ms. The counts in summary can overlap (a table can fail and be "
    "suspended); healthy counts tables with no problem.",
    **_object(
        {
            "schema_version": {"const": SCHEMA_VERSION},
            "generated_at": {**_STR, "format": "date-time"},
            "source": _SOURCE,
            "summary": _object(
                {
                    "status": _enum("HEALTHY", "UNHEALTHY"),
                    **{
                        k: _COUNT
                        for k in (
                            "dynamic_tables",
                            "base_tables",
                            "healthy",
                            "failing",
                            "suspended",
                            "over_lag",
                        )
                    },
                }
            ),
            "dynamic_tables": {"type": "array", "items": DYNAMIC_TABLE_SCHEMA},
            "base_tables": {"type": "array", "items": BASE_TABLE_SCHEMA},
        }
    ),
}
HEALTH_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://snowmelt.dev/schemas/monitor-health-v1.json",
    "title": "snowmelt monitor --mode health",
    "description": "Exit status 0 when HEALTHY, 1 when UNHEALTHY, 2 when the check could not run.",
    **_object(
        {
            "status": _enum("HEALTHY", "UNHEALTHY"),
            "checked_at": {**_STR, "format": "date-time"},
            "source": _SOURCE,
            "dynamic_tables": _COUNT,
            "healthy": _COUNT,
            "failing": {
                "type": "array",
                "items": _object(
                    {
                        "name": _STR,
                        "state": _STR,
                        "code": _null("string"),
                        "message": _null("string"),
                    }
                ),
            },
            "suspended": {
                "type": "array",
                "items": _object(
                    {
                        "name": _STR,
                        "reason_code": _null("string"),
                        "reason_message": _null("string"),
                    }
                ),
            },
            "over_lag": {
                "type": "array",
                "items": _object(
                    {"name": _STR, "current_lag_sec": _null("number"), "target_lag_sec": _COUNT}
                ),
            },
        }
    ),
}


# -- collecting ------------------------------------------------------------------------------------
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
    lag = round((now - data_ts).total_seconds(), 3) if data_ts is not None else None
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


# -- rendering -------------------------------------------------------------------------------------
HEALTH_STYLE = {
    "HEALTHY": "green",
    "FAILING": "bold red",
    "SUSPENDED": "magenta",
    "OVER_LAG": "yellow",
}
FRESHNESS_STYLE = {
    "FRESH": "green",
    "NEAR_TARGET": "yellow",
    "OVER_TARGET": "bold red",
    "NO_TARGET": "cyan",
    "NOT_INITIALIZED": "dim",
}
ACTION_STYLE = {"INCREMENTAL": "green", "FULL": "blue", "NO_DATA": "dim", "REINITIALIZE": "magenta"}
LAYER_STYLE = {"BRONZE": "#cd7f32", "SILVER": "#c0c0c0", "GOLD": "#ffd700"}


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


def _ms(ms: float | None) -> str:
    if ms is None:
        return "—"
    return f"{ms:.0f}ms" if ms < 1000 else _duration(ms / 1000)


def _short(seconds: int) -> str:
    """A target lag compactly: ``90s``, ``5m``, ``2h``, ``1d``."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _clock(value: str | None) -> str:
    ts = _parse_ts(value)
    return ts.strftime("%H:%M:%S") if ts else "—"


def _layer_key(layer: str) -> tuple[int, str]:
    return (MEDALLION.index(layer), "") if layer in MEDALLION else (len(MEDALLION), layer)


def _layer_text(layer: str) -> Text:
    return Text(layer, style=LAYER_STYLE.get(layer, "cyan"))


def _rows_changed(refresh: dict[str, Any] | None) -> Text:
    if not refresh or (refresh["rows_inserted"] is None and refresh["rows_deleted"] is None):
        return Text("—", style="dim")
    text = Text(f"+{refresh['rows_inserted'] or 0:,}", style="green")
    return text.append(f" −{refresh['rows_deleted'] or 0:,}", style="red")


def _last_refresh(refresh: dict[str, Any] | None) -> Text:
    if not refresh:
        return Text("never", style="dim")
    state = refresh["state"]
    mark = {"SUCCEEDED": ("✔", "green"), "SKIPPED": ("↷", "yellow")}.get(state, ("✖", "bold red"))
    text = Text(f"{mark[0]} ", style=mark[1])
    if refresh["action"]:
        text.append(refresh["action"], style=ACTION_STYLE.get(refresh["action"], mark[1]))
    if state != "SUCCEEDED":
        text.append(f" {state}" if refresh["action"] else state, style=mark[1])
    return text.append(f" {_clock(refresh['end_time'])}", style="dim")


class Dashboard:
    """The terminal dashboard: summary, dynamic tables by layer, base tables, problems.

    Rendered for the width available at draw time: on a narrow terminal the least useful
    columns (duration, rows changed, row count) are dropped rather than squeezing names.
    """

    DROP_ORDER = ("Took", "Rows Δ", "Rows", "Mode", "Target")

    def __init__(self, status: dict[str, Any]):
        self.status = status

    def __rich_console__(self, console: Console, options: Any) -> Iterator[RenderableType]:
        status, width = self.status, options.max_width
        yield self._header()
        yield self._dynamic_tables(width)
        if status["base_tables"]:
            yield self._base_tables()
        problems = [(t, p) for t in status["dynamic_tables"] for p in t["problems"]]
        if problems:
            lines = [
                Text.assemble(
                    ("● ", HEALTH_STYLE[t["health"]]),
                    (f"{t['schema']}.{t['name']}", "bold"),
                    f"  {problem}",
                )
                for t, problem in problems
            ]
            yield Panel(Group(*lines), title="Problems", title_align="left", border_style="red")

    def _header(self) -> Panel:
        status, summary = self.status, self.status["summary"]
        head = Text.assemble(
            ("❄ snowmelt", "bold cyan"),
            (" pipeline monitor   ", "bold"),
            (
                f"{status['source']['target'] or 'in-memory'}   "
                f"{(status['generated_at'] or '')[:10]} "
                f"{_clock(status['generated_at'])}",
                "dim",
            ),
        )
        healthy = summary["status"] == "HEALTHY"
        line = Text(
            "● HEALTHY" if healthy else "● UNHEALTHY", style="bold green" if healthy else "bold red"
        )
        line.append(f"   {summary['dynamic_tables']} dynamic · {summary['base_tables']} base")
        for key, label, style in (
            ("failing", "failing", "red"),
            ("suspended", "suspended", "magenta"),
            ("over_lag", "over lag", "yellow"),
        ):
            line.append(" · ").append(
                f"{summary[key]} {label}", style=style if summary[key] else "dim"
            )
        return Panel(Group(head, line), box=box.ROUNDED, border_style="green" if healthy else "red")

    def _dynamic_tables(self, width: int) -> Table:
        columns = [
            "Dynamic table",
            "Health",
            "Mode",
            "Target",
            "Lag",
            "Last refresh",
            "Took",
            "Rows Δ",
            "Rows",
        ]
        groups: list[tuple[str, list[dict[str, Text]]]] = []
        for t in sorted(
            self.status["dynamic_tables"],
            key=lambda t: (_layer_key(t["layer"]), t["qualified_name"]),
        ):
            if not groups or groups[-1][0] != t["layer"]:
                groups.append((t["layer"], []))
            groups[-1][1].append(_dynamic_row(t))
        rows = [r for _, group in groups for r in group]
        natural = {c: max([len(c), *(r[c].cell_len for r in rows)]) + 3 for c in columns}
        for column in self.DROP_ORDER:  # drop columns until the rest fits
            if sum(natural[c] for c in columns) <= width:
                break
            columns.remove(column)
        table = Table(
            box=box.SIMPLE_HEAD,
            header_style="bold",
            expand=True,
            pad_edge=False,
            title="Dynamic tables",
            title_justify="left",
            title_style="bold",
        )
        for column in columns:
            first = column == "Dynamic table"
            table.add_column(
                column,
                no_wrap=not first,
                overflow="fold" if first else "ellipsis",
                justify="right"
                if column in ("Target", "Lag", "Took", "Rows Δ", "Rows")
                else "left",
            )
        for number, (layer, group) in enumerate(groups):
            if number:
                table.add_section()
            table.add_row(_layer_text(layer))
            for row in group:
                table.add_row(*(row[c] for c in columns))
        if not rows:
            table.caption = "No dynamic tables yet."
        return table

    def _base_tables(self) -> Table:
        bases = Table(
            box=box.SIMPLE_HEAD,
            header_style="bold",
            pad_edge=False,
            title="Base tables",
            title_justify="left",
            title_style="bold",
        )
        bases.add_column("Base table", overflow="fold")
        bases.add_column("Layer", no_wrap=True)
        bases.add_column("Rows", justify="right", no_wrap=True)
        bases.add_column("Read by", overflow="fold")
        for b in sorted(
            self.status["base_tables"], key=lambda b: (_layer_key(b["layer"]), b["qualified_name"])
        ):
            readers = ", ".join(c.split(".", 1)[1] for c in b["consumers"]) or "—"
            bases.add_row(
                Text(f"{b['schema']}.{b['name']}", style="bold"),
                _layer_text(b["layer"]),
                f"{b['rows']:,}" if b["rows"] is not None else "—",
                Text(readers, style="dim"),
            )
        return bases


def _dynamic_row(t: dict[str, Any]) -> dict[str, Text]:
    name = Text("  ")
    if t["schema"].upper() != t["layer"]:
        name.append(f"{t['schema']}.", style="dim")
    name.append(t["name"], style="bold")
    style = HEALTH_STYLE[t["health"]]
    health = Text("● ", style=style).append(
        "OK" if t["health"] == "HEALTHY" else t["health"].replace("_", " "),
        style="" if t["health"] == "HEALTHY" else style,
    )
    incremental = t["refresh_mode"] == "INCREMENTAL"
    refresh = t["last_refresh"]
    target = (
        Text(_short(t["target_lag_sec"]))
        if t["target_lag_sec"]
        else Text("DOWNSTREAM" if t["target_lag_type"] == "DOWNSTREAM" else "—", style="cyan")
    )
    return {
        "Dynamic table": name,
        "Health": health,
        "Mode": Text(
            "INCR" if incremental else t["refresh_mode"], style="green" if incremental else "blue"
        ),
        "Target": target,
        "Lag": Text(_duration(t["current_lag_sec"]), style=FRESHNESS_STYLE[t["freshness"]]),
        "Last refresh": _last_refresh(refresh),
        "Took": Text(_ms(refresh["duration_ms"] if refresh else None)),
        "Rows Δ": _rows_changed(refresh),
        "Rows": Text(f"{t['rows']:,}" if t["rows"] is not None else "—"),
    }


def render_dashboard(status: dict[str, Any]) -> RenderableType:
    return Dashboard(status)


def render_history(refreshes: list[dict[str, Any]]) -> Table:
    table = Table(
        box=box.SIMPLE_HEAD,
        header_style="bold",
        title="Recent refreshes",
        title_justify="left",
        title_style="bold",
        expand=True,
    )
    for column in (
        "Finished",
        "Dynamic table",
        "Action",
        "Trigger",
        "State",
        "Took",
        "Rows Δ",
        "Message",
    ):
        table.add_column(
            column,
            justify="right" if column in ("Took", "Rows Δ") else "left",
            no_wrap=column != "Message",
        )
    for r in refreshes:
        end = _parse_ts(r["end_time"] or r["start_time"])
        table.add_row(
            end.strftime("%Y-%m-%d %H:%M:%S") if end else "—",
            Text(r["qualified_name"].split(".", 1)[1], style="bold"),
            Text(r["action"] or "—", style=ACTION_STYLE.get(r["action"] or "", "")),
            r["trigger"] or "—",
            Text(
                r["state"],
                style="green"
                if r["state"] == "SUCCEEDED"
                else "yellow"
                if r["state"] == "SKIPPED"
                else "bold red",
            ),
            _ms(r["duration_ms"]),
            _rows_changed(r),
            Text(r["state_message"] or "", style="dim"),
        )
    if not refreshes:
        table.caption = "No refreshes in the last 7 days."
    return table


# -- the command -----------------------------------------------------------------------------------
def open_session(db: str) -> Any:
    """A ``RemoteSession`` when a server owns ``db``, else a local session on the file."""
    connect_or_remote: Callable[[str], Any] | None
    try:
        from snowmelt.client import connect_or_remote
    except ImportError:  # the server package is optional
        connect_or_remote = None
    server_file = Path(f"{db}.server.json")
    if not Path(db).exists() and not server_file.exists():
        raise click.ClickException(
            f"No database at {db}: pass --db (or set SNOWMELT_DB), or "
            "create one with `snowmelt demo`."
        )
    if connect_or_remote is not None:
        return connect_or_remote(db)
    import snowmelt

    return snowmelt.connect(db)


@contextmanager
def _opened(opener: Callable[[], Any]) -> Iterator[Any]:
    session = opener()
    try:
        yield session
    finally:
        session.close()


def _default_db() -> str:
    return os.environ.get("SNOWMELT_DB", "snowmelt.duckdb")


def watch(
    console: Console,
    snapshot: Callable[[], RenderableType],
    interval: float,
    iterations: int | None,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Redraw ``snapshot()`` in place every ``interval`` s; ``iterations`` stops it."""
    from rich.live import Live

    done = 0
    with Live(
        snapshot(),
        console=console,
        auto_refresh=False,
        screen=False,
        transient=False,
        redirect_stdout=False,
    ) as live:
        done = 1
        while iterations is None or done < iterations:
            sleep(interval)
            live.update(snapshot(), refresh=True)
            done += 1
    return done


@click.command("monitor")
@click.option(
    "--db",
    "db",
    default=_default_db,
    show_default="$SNOWMELT_DB or snowmelt.duckdb",
    help="Database file (its running server is used if any).",
)
@click.option(
    "--mode",
    type=click.Choice(["dashboard", "health", "history", "json"]),
    default="dashboard",
    show_default=True,
    help="dashboard: tables and lag; health: JSON report, exit 1 when unhealthy; "
    "history: recent refreshes; json: the full status.",
)
@click.option("--watch", "watching", is_flag=True, help="Redraw in place every --interval seconds.")
@click.option(
    "--interval",
    default=5.0,
    show_default=True,
    type=click.FloatRange(min=0.1),
    help="Seconds between redraws in --watch.",
)
@click.option(
    "--iterations",
    default=None,
    type=click.IntRange(min=1),
    help="Stop --watch after this many redraws (default: until Ctrl-C).",
)
@click.option(
    "--limit",
    default=20,
    show_default=True,
    type=click.IntRange(1, 10000),
    help="Refreshes shown by --mode history.",
)
def monitor(
    db: str, mode: str, watching: bool, interval: float, iterations: int | None, limit: int
) -> None:
    """Status of every dynamic table: state, mode, lag against target, last refresh.

    `--mode health` prints a JSON report and exits 0 when healthy, 1 when any dynamic table
    is failing, suspended or over its target lag, 2 when the check could not run: use it
    from cron or as a container health check.
    """
    from snowmelt.errors import SnowmeltError

    console = Console(highlight=False)
    if not console.is_terminal:  # piped or captured: don't squeeze to 80 columns
        console = Console(highlight=False, width=max(console.width, 120))
    opener = lambda: open_session(db)  # noqa: E731 - reopened per redraw, see below
    try:
        if mode in ("health", "json"):
            with _opened(opener) as session:
                status = collect(session)
            report = health_report(status) if mode == "health" else status
            click.echo(json.dumps(report, indent=2))
            if mode == "health" and report["status"] != "HEALTHY":
                sys.exit(1)
            return
        if mode == "history":

            def snapshot() -> RenderableType:
                with _opened(opener) as session:
                    return render_history(recent_refreshes(session, limit))
        else:

            def snapshot() -> RenderableType:
                # Open per redraw: a local session holds DuckDB's file lock only briefly, so
                # `snowmelt demo` or a server can start while the dashboard is watching.
                with _opened(opener) as session:
                    return render_dashboard(collect(session))

        if watching:
            with suppress(KeyboardInterrupt):  # Ctrl-C ends watching quietly
                watch(console, snapshot, interval, iterations)
        else:
            console.print(snapshot())
    except (SnowmeltError, click.ClickException) as err:
        ctx = click.get_current_context()
        root = ctx.find_root()
        if root.params.get("debug"):
            raise
        message = err.format_message() if isinstance(err, click.ClickException) else str(err)
        Console(stderr=True).print(f"[red]error:[/red] {message}", highlight=False)
        sys.exit(2 if mode == "health" else 1)


@click.command("dashboard")
@click.option(
    "--db",
    "db",
    default=_default_db,
    show_default="$SNOWMELT_DB or snowmelt.duckdb",
    help="Database file served by `snowmelt serve`.",
)
@click.option("--open", "open_browser", is_flag=True, help="Open it in the default browser.")
def dashboard(db: str, open_browser: bool) -> None:
    """Print the web dashboard's URL (with its access token) for the server owning DB.

    The token travels in the URL fragment (#token=...), which browsers never send to a
    server; the page keeps it for the tab's lifetime only. Treat the URL like a password.
    """
    from snowmelt.server.serverfile import live

    info = live(db)
    if info is None:
        raise click.ClickException(
            f"No running server for {db}: start one with `snowmelt serve --db {db}`."
        )
    url = f"{info.url}/#token={info.token}"
    click.echo(url)
    if open_browser:
        import webbrowser

        webbrowser.open(url)
