"""The monitoring surface Snowflake users know, computed from the catalog.

The table functions
``INFORMATION_SCHEMA.DYNAMIC_TABLES()``, ``DYNAMIC_TABLE_REFRESH_HISTORY()`` and
``DYNAMIC_TABLE_GRAPH_HISTORY()`` with the reference's argument names and output columns.
Lag metrics are time aggregates of the lag sawtooth: at time t the lag is t minus the data
timestamp of the last refresh that had completed by t. ``SHOW`` and ``DESCRIBE`` are
``snowmelt.show``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa
from sqlglot import exp

from snowmelt.catalog import CatalogObject, DynamicTable
from snowmelt.errors import SqlError
from snowmelt.names import META_SCHEMA
from snowmelt.runtime import Runtime
from snowmelt.sql.resolve import object_name, parse_object_name

STATE_ORDER = {"FAILED": 0, "UPSTREAM_FAILED": 1, "SKIPPED": 2, "SUCCEEDED": 3, "CANCELLED": 4}


def kwargs_of(rt: Runtime, function: exp.Expression) -> dict[str, Any]:
    """Named arguments (``NAME => 'x'``) of a table function call, evaluated."""
    values: dict[str, Any] = {}
    for arg in function.expressions if hasattr(function, "expressions") else []:
        if not isinstance(arg, exp.Kwarg):
            raise SqlError(f"Use named arguments (NAME => value) in {function.sql('snowflake')}")
        key = arg.this.name.upper()
        value = arg.expression
        if isinstance(value, exp.Literal | exp.Boolean):
            values[key] = value.to_py()
        else:
            values[key] = rt.engine.rows("SELECT " + rt.to_engine(value).sql("duckdb"))[0][0]
    return values


def dynamic_table_objects(rt: Runtime) -> list[tuple[CatalogObject, DynamicTable]]:
    return [
        (obj, rt.catalog.dynamic_table(obj.oid)) for obj in rt.catalog.objects(kind="DYNAMIC TABLE")
    ]


def _matches_name(rt: Runtime, obj: CatalogObject, name: str) -> bool:
    target = object_name(_name_expr(name), rt.context)
    return obj.name == target


def _name_expr(text: str) -> exp.Expression:
    return parse_object_name(str(text))


def _history(rt: Runtime, oid: int | None = None) -> list[dict[str, Any]]:
    sql = f'SELECT * FROM "{META_SCHEMA}".refresh_history'
    params: list[Any] = []
    if oid is not None:
        sql += " WHERE oid = ?"
        params.append(oid)
    table = rt.engine.query(sql + " ORDER BY refresh_id", params)
    return table.to_pylist()


# -- lag metrics -------------------------------------------------------------------------------------
def lag_metrics(
    dt: DynamicTable,
    history: list[dict[str, Any]],
    now: datetime,
    window_start: datetime | None = None,
) -> dict[str, Any]:
    done = sorted(
        (h for h in history if h["state"] == "SUCCEEDED" and h["refresh_end_time"]),
        key=lambda h: h["refresh_end_time"],
    )
    if not done:
        return {
            "MEAN_LAG_SEC": None,
            "MAXIMUM_LAG_SEC": None,
            "TIME_ABOVE_TARGET_LAG_SEC": None,
            "TIME_WITHIN_TARGET_LAG_RATIO": None,
        }
    start = max(
        x
        for x in (done[0]["refresh_end_time"], window_start, dt.config_changed_at)
        if x is not None
    )
    target = dt.target_lag_sec
    total = area = above = 0.0
    maximum = 0.0
    # segments: [end_i, end_{i+1}) with data timestamp d_i
    current = None
    points = [(h["refresh_end_time"], h["data_timestamp"]) for h in done]
    for i, (end, data_ts) in enumerate(points):
        if current is None or data_ts > current:
            current = data_ts
        seg_end = points[i + 1][0] if i + 1 < len(points) else now
        a, b = max(end, start), max(seg_end, start)
        if b <= a:
            continue
        la, lb = (a - current).total_seconds(), (b - current).total_seconds()
        length = (b - a).total_seconds()
        total += length
        area += (la + lb) / 2 * length
        maximum = max(maximum, lb)
        if target:
            threshold = current + timedelta(seconds=target)
            above += max(0.0, (b - max(a, threshold)).total_seconds())
    if total == 0:
        lag_now = (now - current).total_seconds() if current else None
        return {
            "MEAN_LAG_SEC": lag_now,
            "MAXIMUM_LAG_SEC": lag_now,
            "TIME_ABOVE_TARGET_LAG_SEC": 0,
            "TIME_WITHIN_TARGET_LAG_RATIO": 1.0,
        }
    return {
        "MEAN_LAG_SEC": round(area / total),
        "MAXIMUM_LAG_SEC": round(maximum),
        "TIME_ABOVE_TARGET_LAG_SEC": round(above),
        "TIME_WITHIN_TARGET_LAG_RATIO": (1 - above / total) if target else None,
    }


# -- table functions ----------------------------------------------------------------------------------
def dynamic_tables(rt: Runtime, args: dict[str, Any]) -> pa.Table:
    _check_args(
        "DYNAMIC_TABLES",
        args,
        {"NAME", "REFRESH_DATA_TIMESTAMP_START", "RESULT_LIMIT", "INCLUDE_CONNECTED"},
    )
    now = rt.clock.now()
    start = args.get("REFRESH_DATA_TIMESTAMP_START") or now - timedelta(days=7)
    limit = _limit(args)
    rows = []
    selected = dynamic_table_objects(rt)
    if args.get("NAME"):
        named = [p for p in selected if _matches_name(rt, p[0], args["NAME"])]
        if args.get("INCLUDE_CONNECTED") and named:
            from snowmelt.dynamic import downstream

            keep = {named[0][0].oid}
            keep.update(downstream(rt, named[0][0].oid))
            frontier = [named[0][0].oid]
            while frontier:  # upstream too
                for i, _, _ in rt.catalog.inputs(frontier.pop()):
                    if rt.catalog.get(i).kind == "DYNAMIC TABLE" and i not in keep:
                        keep.add(i)
                        frontier.append(i)
            named = [p for p in selected if p[0].oid in keep]
        selected = named
    elif args.get("INCLUDE_CONNECTED"):
        raise SqlError("INCLUDE_CONNECTED requires NAME")
    for obj, dt in selected:
        history = _history(rt, obj.oid)
        completed = [h for h in history if h["state"] in STATE_ORDER]
        last = completed[-1] if completed else None
        metrics = lag_metrics(dt, history, now, start)
        rows.append(
            {
                "NAME": obj.name.name,
                "SCHEMA_NAME": obj.name.schema,
                "DATABASE_NAME": obj.name.database,
                "QUALIFIED_NAME": str(obj.name),
                "TARGET_LAG_SEC": dt.target_lag_sec,
                "TARGET_LAG_TYPE": dt.target_lag_type,
                "SCHEDULING_STATE": json.dumps(scheduling_state(dt)),
                **metrics,
                "LATEST_DATA_TIMESTAMP": dt.data_timestamp,
                "LAST_COMPLETED_REFRESH_STATE": last["state"] if last else None,
                "LAST_COMPLETED_REFRESH_STATE_CODE": last["state_code"] if last else None,
                "LAST_COMPLETED_REFRESH_STATE_MESSAGE": last["state_message"] if last else None,
                "LAST_COMPLETED_REFRESH": last["refresh_end_time"] if last else None,
                "EXECUTING_REFRESH_QUERY_ID": None,
                "SCHEDULER": dt.scheduler or "ENABLE",
                "REFRESH_MODE": dt.refresh_mode,
            }
        )
    rows.sort(
        key=lambda r: (
            STATE_ORDER.get(r["LAST_COMPLETED_REFRESH_STATE"] or "", 5),
            r["QUALIFIED_NAME"],
        )
    )
    return _table(rows[:limit], DYNAMIC_TABLES_SCHEMA)


def record_graph(rt: Runtime, oid: int) -> None:
    obj = rt.catalog.get(oid)
    dt = rt.catalog.dynamic_table(oid)
    inputs = [
        {"name": str(rt.catalog.get(i).name), "kind": rt.catalog.get(i).kind.replace(" ", "_")}
        for i, _, _ in rt.catalog.inputs(oid)
    ]
    rt.catalog.add_graph_version(
        {
            "oid": oid,
            "name": obj.name.name,
            "schema_name": obj.name.schema,
            "database_name": obj.name.database,
            "inputs": inputs,
            "target_lag_type": dt.target_lag_type,
            "target_lag_sec": dt.target_lag_sec,
            "query_text": dt.query_text,
            "scheduling_state": scheduling_state(dt),
            "scheduler": dt.scheduler,
        },
        rt.clock.now(),
    )


def scheduling_state(dt: DynamicTable) -> dict[str, Any]:
    return {
        "state": dt.state,
        "reason_code": dt.state_reason_code,
        "reason_message": dt.state_reason_message,
        "suspended_on": dt.suspended_on.isoformat() if dt.suspended_on else None,
        "resumed_on": dt.resumed_on.isoformat() if dt.resumed_on else None,
    }


def refresh_history(rt: Runtime, args: dict[str, Any]) -> pa.Table:
    _check_args(
        "DYNAMIC_TABLE_REFRESH_HISTORY",
        args,
        {
            "NAME",
            "NAME_PREFIX",
            "RESULT_LIMIT",
            "ERROR_ONLY",
            "DATA_TIMESTAMP_START",
            "DATA_TIMESTAMP_END",
        },
    )
    now = rt.clock.now()
    end = args.get("DATA_TIMESTAMP_END") or now
    start = args.get("DATA_TIMESTAMP_START") or end - timedelta(days=1)
    limit = _limit(args)
    rows = []
    for h in _history(rt):
        qualified = f"{h['database_name']}.{h['schema_name']}.{h['name']}"
        if args.get("NAME") and qualified != _qualify(rt, args["NAME"]):
            continue
        if args.get("NAME_PREFIX") and not qualified.startswith(str(args["NAME_PREFIX"])):
            continue
        if args.get("ERROR_ONLY") and h["state"] not in ("FAILED", "CANCELLED"):
            continue
        if h["data_timestamp"] is not None and not (start <= h["data_timestamp"] <= end):
            continue
        rows.append(
            {
                "NAME": h["name"],
                "SCHEMA_NAME": h["schema_name"],
                "DATABASE_NAME": h["database_name"],
                "QUALIFIED_NAME": qualified,
                "STATE": h["state"],
                "STATE_CODE": h["state_code"],
                "STATE_MESSAGE": h["state_message"],
                "QUERY_ID": h["query_id"],
                "DATA_TIMESTAMP": h["data_timestamp"],
                "REFRESH_START_TIME": h["refresh_start_time"],
                "REFRESH_END_TIME": h["refresh_end_time"],
                "COMPLETION_TARGET": h["completion_target"],
                "LAST_COMPLETED_DEPENDENCY": h["last_completed_dependency"],
                "STATISTICS": h["statistics"],
                "REFRESH_ACTION": h["refresh_action"],
                "REFRESH_TRIGGER": h["refresh_trigger"],
                "TARGET_LAG_SEC": h["target_lag_sec"],
                "GRAPH_HISTORY_VALID_FROM": h["graph_history_valid_from"],
                "INPUTS_WITH_CHANGED_DATA": h["inputs_with_changed_data"],
                "WAREHOUSE": h["warehouse"],
                "REINIT_REASON": h["reinit_reason"],
            }
        )
    rows.sort(key=lambda r: r["REFRESH_END_TIME"] or now, reverse=True)
    return _table(rows[:limit], REFRESH_HISTORY_SCHEMA)


def graph_history(rt: Runtime, args: dict[str, Any]) -> pa.Table:
    _check_args("DYNAMIC_TABLE_GRAPH_HISTORY", args, {"AS_OF", "HISTORY_START", "HISTORY_END"})
    table = rt.engine.query(f'SELECT * FROM "{META_SCHEMA}".graph_history ORDER BY valid_from')
    rows = []
    as_of, h_start, h_end = args.get("AS_OF"), args.get("HISTORY_START"), args.get("HISTORY_END")
    for g in table.to_pylist():
        if h_start is not None:
            if (g["valid_to"] is not None and g["valid_to"] < h_start) or (
                h_end is not None and g["valid_from"] > h_end
            ):
                continue
        else:
            at = as_of or rt.clock.now()
            if g["valid_from"] > at or (g["valid_to"] is not None and g["valid_to"] <= at):
                continue
        rows.append(
            {
                "NAME": g["name"],
                "SCHEMA_NAME": g["schema_name"],
                "DATABASE_NAME": g["database_name"],
                "QUALIFIED_NAME": f"{g['database_name']}.{g['schema_name']}.{g['name']}",
                "INPUTS": g["inputs"],
                "TARGET_LAG_TYPE": g["target_lag_type"],
                "TARGET_LAG_SEC": g["target_lag_sec"],
                "QUERY_TEXT": g["query_text"],
                "VALID_FROM": g["valid_from"],
                "VALID_TO": g["valid_to"],
                "SCHEDULING_STATE": g["scheduling_state"],
                "SCHEDULER": g["scheduler"] or "ENABLE",
            }
        )
    return _table(rows, GRAPH_HISTORY_SCHEMA)


def _qualify(rt: Runtime, name: str) -> str:
    return str(object_name(_name_expr(name), rt.context))


def _limit(args: dict[str, Any]) -> int:
    limit = int(args["RESULT_LIMIT"]) if args.get("RESULT_LIMIT") is not None else 100
    if not 1 <= limit <= 10000:
        raise SqlError(f"RESULT_LIMIT must be between 1 and 10000, got {limit}")
    return limit


def _check_args(function: str, args: dict[str, Any], allowed: set[str]) -> None:
    unknown = set(args) - allowed
    if unknown:
        raise SqlError(
            f"{function}() has no argument {sorted(unknown)[0]}; arguments: "
            f"{', '.join(sorted(allowed))}"
        )


TS = pa.timestamp("us", tz="UTC")
DYNAMIC_TABLES_SCHEMA = pa.schema(
    [
        ("NAME", pa.string()),
        ("SCHEMA_NAME", pa.string()),
        ("DATABASE_NAME", pa.string()),
        ("QUALIFIED_NAME", pa.string()),
        ("TARGET_LAG_SEC", pa.int64()),
        ("TARGET_LAG_TYPE", pa.string()),
        ("SCHEDULING_STATE", pa.string()),
        ("MEAN_LAG_SEC", pa.float64()),
        ("MAXIMUM_LAG_SEC", pa.float64()),
        ("TIME_ABOVE_TARGET_LAG_SEC", pa.float64()),
        ("TIME_WITHIN_TARGET_LAG_RATIO", pa.float64()),
        ("LATEST_DATA_TIMESTAMP", TS),
        ("LAST_COMPLETED_REFRESH_STATE", pa.string()),
        ("LAST_COMPLETED_REFRESH_STATE_CODE", pa.string()),
        ("LAST_COMPLETED_REFRESH_STATE_MESSAGE", pa.string()),
        ("LAST_COMPLETED_REFRESH", TS),
        ("EXECUTING_REFRESH_QUERY_ID", pa.string()),
        ("SCHEDULER", pa.string()),
        ("REFRESH_MODE", pa.string()),
    ]
)
REFRESH_HISTORY_SCHEMA = pa.schema(
    [
        ("NAME", pa.string()),
        ("SCHEMA_NAME", pa.string()),
        ("DATABASE_NAME", pa.string()),
        ("QUALIFIED_NAME", pa.string()),
        ("STATE", pa.string()),
        ("STATE_CODE", pa.string()),
        ("STATE_MESSAGE", pa.string()),
        ("QUERY_ID", pa.string()),
        ("DATA_TIMESTAMP", TS),
        ("REFRESH_START_TIME", TS),
        ("REFRESH_END_TIME", TS),
        ("COMPLETION_TARGET", TS),
        ("LAST_COMPLETED_DEPENDENCY", pa.string()),
        ("STATISTICS", pa.string()),
        ("REFRESH_ACTION", pa.string()),
        ("REFRESH_TRIGGER", pa.string()),
        ("TARGET_LAG_SEC", pa.int64()),
        ("GRAPH_HISTORY_VALID_FROM", TS),
        ("INPUTS_WITH_CHANGED_DATA", pa.string()),
        ("WAREHOUSE", pa.string()),
        ("REINIT_REASON", pa.string()),
    ]
)
GRAPH_HISTORY_SCHEMA = pa.schema(
    [
        ("NAME", pa.string()),
        ("SCHEMA_NAME", pa.string()),
        ("DATABASE_NAME", pa.string()),
        ("QUALIFIED_NAME", pa.string()),
        ("INPUTS", pa.string()),
        ("TARGET_LAG_TYPE", pa.string()),
        ("TARGET_LAG_SEC", pa.int64()),
        ("QUERY_TEXT", pa.string()),
        ("VALID_FROM", TS),
        ("VALID_TO", TS),
        ("SCHEDULING_STATE", pa.string()),
        ("SCHEDULER", pa.string()),
    ]
)
# Columns holding Snowflake OBJECT/ARRAY values: exposed as JSON so `col:key` paths work.
JSON_COLUMNS = {
    "SCHEDULING_STATE",
    "LAST_COMPLETED_DEPENDENCY",
    "STATISTICS",
    "INPUTS_WITH_CHANGED_DATA",
    "INPUTS",
}


def _table(rows: list[dict[str, Any]], schema: pa.Schema) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=schema)


TABLE_FUNCTIONS: dict[str, Callable[[Runtime, dict[str, Any]], pa.Table]] = {
    "DYNAMIC_TABLES": dynamic_tables,
    "DYNAMIC_TABLE_REFRESH_HISTORY": refresh_history,
    "DYNAMIC_TABLE_GRAPH_HISTORY": graph_history,
}
