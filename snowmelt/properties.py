"""The properties of CREATE DYNAMIC TABLE: TARGET_LAG (parsed and formatted as Snowflake
shows it), WAREHOUSE, REFRESH_MODE, INITIALIZE, SCHEDULER, CLUSTER BY and COMMENT, read
into ``Options`` with an error naming each bad or missing property. Used by ``dynamic``
(CREATE, ALTER ... SET) and by ``monitoring`` (SHOW's target_lag)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from snowmelt.errors import DynamicTableError, SqlError, UnsupportedError

MODES = ("AUTO", "FULL", "INCREMENTAL", "ADAPTIVE")
UNSUPPORTED_MODES = ("CUSTOM_INCREMENTAL",)
_LAG = re.compile(
    r"^\s*(\d+)\s*(second|seconds|sec|secs|s|minute|minutes|min|mins|m|hour|hours"
    r"|h|hr|hrs|day|days|d)\s*$",
    re.IGNORECASE,
)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass
class Options:
    target_lag_sec: int | None = None
    target_lag_type: str | None = None
    warehouse: str | None = None
    refresh_mode: str = "AUTO"
    initialize: str = "ON_CREATE"
    scheduler: str | None = None
    cluster_by: str | None = None
    comment: str | None = None
    frozen_where: str | None = None  # FROZEN WHERE (condition): the frozen region


def parse_lag(value: Any) -> tuple[int | None, str]:
    """``'5 minutes'`` -> (300, USER_DEFINED); ``DOWNSTREAM`` -> (None, DOWNSTREAM)."""
    text = str(value).strip()
    if text.upper() == "DOWNSTREAM":
        return None, "DOWNSTREAM"
    match = _LAG.match(text)
    if not match:
        raise SqlError(
            f"Invalid TARGET_LAG {text!r}: use '<n> seconds|minutes|hours|days' or DOWNSTREAM"
        )
    unit = match.group(2).lower()
    seconds = (
        int(match.group(1))
        * _UNIT_SECONDS["m" if unit.startswith("min") or unit == "m" else unit[0]]
    )
    if seconds < 1:
        raise SqlError(f"TARGET_LAG {text!r} is too short: snowmelt allows down to 1 second")
    return seconds, "USER_DEFINED"


def format_lag(seconds: int | None, kind: str) -> str:
    if kind == "DOWNSTREAM" or seconds is None:
        return "DOWNSTREAM"
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds % size == 0:
            n = seconds // size
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return f"{seconds} second{'s' if seconds != 1 else ''}"


def options_from(create: exp.Create) -> Options:
    options = Options()
    props = create.args.get("properties")
    for prop in props.expressions if props else []:
        if isinstance(prop, exp.DynamicProperty | exp.TransientProperty | exp.CopyGrantsProperty):
            continue
        if isinstance(prop, exp.ClusterProperty):
            options.cluster_by = ", ".join(e.sql("snowflake") for e in prop.expressions)
            continue
        if isinstance(prop, exp.SchemaCommentProperty):
            options.comment = prop.this.name
            continue
        if isinstance(prop, exp.SequenceProperties):  # START AT (...)
            raise UnsupportedError(
                "START AT",
                "START AT is not supported by snowmelt (it belongs to CUSTOM_INCREMENTAL "
                "tables with BACKFILL); remove it from the statement",
            )
        key = (
            prop.name.upper()
            if isinstance(prop, exp.Property) and prop.name
            else prop.sql("snowflake")
        )
        value = prop.args.get("value") if isinstance(prop, exp.Property) else None
        text = (
            value.name
            if isinstance(value, exp.Literal | exp.Var | exp.Identifier)
            else (value.sql("snowflake") if value is not None else "")
        )
        if key == "TARGET_LAG":
            options.target_lag_sec, options.target_lag_type = parse_lag(text)
        elif key == "WAREHOUSE":
            options.warehouse = text.upper() if isinstance(value, exp.Var) else text
        elif key == "REFRESH_MODE":
            mode = text.upper()
            if mode in UNSUPPORTED_MODES:
                raise SqlError(
                    f"REFRESH_MODE = {mode} is not supported by snowmelt yet; use "
                    "AUTO, FULL, INCREMENTAL or ADAPTIVE"
                )
            if mode not in MODES:
                raise SqlError(
                    f"Invalid REFRESH_MODE {text!r}: use AUTO, FULL, INCREMENTAL or ADAPTIVE"
                )
            options.refresh_mode = mode
        elif key == "INITIALIZE":
            if text.upper() not in ("ON_CREATE", "ON_SCHEDULE"):
                raise SqlError(f"Invalid INITIALIZE {text!r}: use ON_CREATE or ON_SCHEDULE")
            options.initialize = text.upper()
        elif key == "SCHEDULER":
            if text.upper() not in ("ENABLE", "DISABLE"):
                raise SqlError(f"Invalid SCHEDULER {text!r}: use ENABLE or DISABLE")
            options.scheduler = text.upper()
        elif key == "REQUIRE_USER":
            options.initialize = "ON_SCHEDULE"
        elif key in (
            "INITIALIZATION_WAREHOUSE",
            "DATA_RETENTION_TIME_IN_DAYS",
            "MAX_DATA_EXTENSION_TIME_IN_DAYS",
            "COPY_GRANTS",
            "COPY_TAGS",
            "ROW_TIMESTAMP",
            "IMMUTABLE",
            "FROZEN",
        ):
            continue
        else:
            raise SqlError(f"Dynamic table property {key} is not supported by snowmelt")
    if options.scheduler == "DISABLE" and options.target_lag_type is not None:
        raise DynamicTableError(
            "TARGET_LAG cannot be set when SCHEDULER = DISABLE: a table "
            "outside the scheduler is refreshed only manually. Remove "
            "TARGET_LAG or set SCHEDULER = ENABLE."
        )
    if options.scheduler != "DISABLE" and options.target_lag_type is None:
        raise DynamicTableError(
            "TARGET_LAG is required: add TARGET_LAG = '<n> minutes' (or "
            "DOWNSTREAM), or SCHEDULER = DISABLE for manual refresh only."
        )
    if options.warehouse is None:
        raise DynamicTableError(
            "WAREHOUSE is required for a dynamic table (it is recorded; "
            "snowmelt refreshes on its own engine). Add WAREHOUSE = <name>."
        )
    return options
