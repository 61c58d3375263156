"""The JSON Schemas (draft 2020-12) of ``snowmelt monitor``'s machine-readable output.

Role: describe the documents built by :mod:`snowmelt.monitor.status`: ``STATUS_SCHEMA`` for
``collect()`` (``--mode json``) and ``HEALTH_SCHEMA`` for ``health_report()``
(``--mode health``), plus the schemas of their parts. Inputs: none. Outputs: plain dicts, for
validators and for documentation; nothing here reads a database.
"""

from __future__ import annotations

from typing import Any

SCHEMA_VERSION = 1
NEAR_TARGET = 0.8  # lag above this fraction of the target shows as a warning


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
        "refresh_mode": _enum("INCREMENTAL", "ADAPTIVE", "FULL", description="the resolved mode"),
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
