"""``snowmelt monitor``: the status model, health exit codes, JSON schema and rendering."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner
from monitor_fixtures import COUNTS, PARSED, build
from rich.console import Console

import snowmelt
from snowmelt.clock import ManualClock
from snowmelt.monitor import (
    HEALTH_SCHEMA,
    STATUS_SCHEMA,
    collect,
    health_report,
    layer_of,
    monitor,
    render_dashboard,
    watch,
)


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(monitor, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def validate(document: dict, schema: dict) -> None:
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    ).validate(document)


def by_name(status: dict) -> dict[str, dict]:
    return {t["qualified_name"]: t for t in status["dynamic_tables"] + status["base_tables"]}


# -- health exit codes, one per state -------------------------------------------------------------
def test_health_is_0_and_lists_nothing_when_every_table_is_fresh(pipeline: Callable) -> None:
    code, out = run("--db", str(pipeline("healthy")), "--mode", "health")
    report = json.loads(out)
    validate(report, HEALTH_SCHEMA)
    assert code == 0
    assert report["status"] == "HEALTHY"
    assert (report["dynamic_tables"], report["healthy"]) == (2, 2)
    assert report["failing"] == report["suspended"] == report["over_lag"] == []


def test_health_is_1_and_names_the_error_when_a_refresh_failed(pipeline: Callable) -> None:
    code, out = run("--db", str(pipeline("failing")), "--mode", "health")
    report = json.loads(out)
    validate(report, HEALTH_SCHEMA)
    assert code == 1
    assert report["status"] == "UNHEALTHY"
    [failing] = report["failing"]
    assert failing["name"] == PARSED and failing["state"] == "FAILED"
    assert "not a number" in failing["message"]
    assert report["suspended"] == [] and report["over_lag"] == []


def test_health_is_1_for_a_suspended_table_and_its_suspended_consumer(pipeline: Callable) -> None:
    code, out = run("--db", str(pipeline("suspended")), "--mode", "health")
    report = json.loads(out)
    validate(report, HEALTH_SCHEMA)
    assert code == 1
    reasons = {s["name"]: s["reason_code"] for s in report["suspended"]}
    assert reasons == {PARSED: "USER_SUSPENDED", COUNTS: "UPSTREAM_USER_SUSPENDED"}
    assert report["failing"] == [] and report["over_lag"] == []


def test_health_is_1_when_lag_exceeds_the_target(pipeline: Callable) -> None:
    code, out = run("--db", str(pipeline("over_lag")), "--mode", "health")
    report = json.loads(out)
    validate(report, HEALTH_SCHEMA)
    assert code == 1
    over = {o["name"]: o for o in report["over_lag"]}
    assert set(over) == {PARSED, COUNTS}
    assert over[PARSED]["current_lag_sec"] > over[PARSED]["target_lag_sec"] == 3600
    assert report["failing"] == [] and report["suspended"] == []


def test_health_is_2_with_a_one_line_error_when_there_is_no_database(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        monitor, ["--db", str(tmp_path / "missing.duckdb"), "--mode", "health"]
    )
    assert result.exit_code == 2
    assert "No database at" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "missing.duckdb").exists()  # looking must not create it


def test_a_refresh_after_the_status_clock_is_read_is_no_lag_not_a_negative_one(
    tmp_path: Path,
) -> None:
    """The status reads the time, then the tables: a refresh that commits in between has a
    data timestamp after that time (here, the clock set back stands for it)."""
    clock = ManualClock(datetime(2026, 3, 1, tzinfo=UTC))
    path = build(tmp_path / "ahead.duckdb", clock=clock)
    with snowmelt.connect(path, clock=clock) as s:
        clock.set(datetime(2026, 2, 28, 23, 59, 59, tzinfo=UTC))
        status = collect(s)
        validate(status, STATUS_SCHEMA)
        parsed = by_name(status)[PARSED]
        assert (parsed["current_lag_sec"], parsed["lag_ratio"]) == (0.0, 0.0)


def test_lag_is_measured_on_the_session_clock(tmp_path: Path) -> None:
    clock = ManualClock(datetime(2026, 3, 1, tzinfo=UTC))
    path = build(tmp_path / "clock.duckdb", clock=clock)
    with snowmelt.connect(path, clock=clock) as s:
        clock.advance(1800)
        fresh = by_name(collect(s))[PARSED]
        assert fresh["current_lag_sec"] == pytest.approx(1800, abs=1)
        assert (fresh["freshness"], fresh["health"]) == ("FRESH", "HEALTHY")
        clock.advance(1200)  # 50 minutes: within the hour, above 80 % of it
        assert by_name(collect(s))[PARSED]["freshness"] == "NEAR_TARGET"
        clock.advance(1200)
        status = collect(s)
    late = by_name(status)[PARSED]
    assert (late["freshness"], late["health"]) == ("OVER_TARGET", "OVER_LAG")
    assert late["lag_ratio"] == pytest.approx(4200 / 3600, rel=1e-3)
    assert by_name(status)[COUNTS]["health"] == "HEALTHY"  # 70 min < its 2 hours
    assert health_report(status)["over_lag"][0]["name"] == PARSED


# -- the status model ---------------------------------------------------------------------------------
def test_status_has_layers_modes_lags_last_refresh_and_rows(pipeline: Callable) -> None:
    with snowmelt.connect(pipeline("healthy")) as s:
        s.sql("INSERT INTO D.RAW.CODES VALUES ('3')")
        s.sql(f"ALTER DYNAMIC TABLE {COUNTS} REFRESH")
        status = collect(s)
    validate(status, STATUS_SCHEMA)
    tables = by_name(status)
    parsed, counts, raw = tables[PARSED], tables[COUNTS], tables["D.RAW.CODES"]
    assert (raw["kind"], raw["layer"], raw["rows"], raw["consumers"]) == (
        "TABLE",
        "BRONZE",
        4,
        [PARSED],
    )
    assert raw["comment"] == "codes as they arrive"
    assert (parsed["layer"], counts["layer"]) == ("SILVER", "GOLD")
    assert parsed["inputs"] == ["D.RAW.CODES"] and parsed["consumers"] == [COUNTS]
    assert counts["refresh_mode"] in ("FULL", "ADAPTIVE")
    assert (counts["target_lag"], counts["target_lag_sec"], counts["target_lag_type"]) == (
        "2 hours",
        7200,
        "USER_DEFINED",
    )
    assert counts["rows"] == 3 and parsed["rows"] == 4
    last = counts["last_refresh"]
    assert (last["state"], last["trigger"]) == ("SUCCEEDED", "MANUAL")
    assert last["action"] in ("INCREMENTAL", "FULL")
    assert last["duration_ms"] >= 0 and last["rows_inserted"] >= 1
    assert 0 <= counts["current_lag_sec"] < 60 and counts["freshness"] == "FRESH"
    assert status["summary"] == {
        "status": "HEALTHY",
        "dynamic_tables": 2,
        "base_tables": 1,
        "healthy": 2,
        "failing": 0,
        "suspended": 0,
        "over_lag": 0,
    }


@pytest.mark.parametrize(
    "schema, layer",
    [
        ("BRONZE", "BRONZE"),
        ("RAW", "BRONZE"),
        ("RAW_EVENTS", "BRONZE"),
        ("STAGING", "BRONZE"),
        ("SILVER", "SILVER"),
        ("CURATED", "SILVER"),
        ("GOLD", "GOLD"),
        ("MARTS", "GOLD"),
        ("SALES_GOLD", "GOLD"),
        ("PUBLIC", "PUBLIC"),
        ("finance", "FINANCE"),
    ],
)
def test_layer_comes_from_the_schema_name(schema: str, layer: str) -> None:
    assert layer_of(schema) == layer


@pytest.mark.parametrize("state", ["healthy", "failing", "suspended", "over_lag"])
def test_json_mode_matches_the_documented_schema_in_every_state(
    pipeline: Callable, state: str
) -> None:
    code, out = run("--db", str(pipeline(state)), "--mode", "json")
    assert code == 0  # json reports; only health judges
    status = json.loads(out)
    validate(status, STATUS_SCHEMA)
    expected = {
        "healthy": "HEALTHY",
        "failing": "FAILING",
        "suspended": "SUSPENDED",
        "over_lag": "OVER_LAG",
    }[state]
    assert by_name(status)[PARSED]["health"] == expected
    assert status["source"] == {"kind": "local", "target": str(pipeline(state))}


def test_schema_rejects_a_status_missing_a_documented_field(pipeline: Callable) -> None:
    _, out = run("--db", str(pipeline("healthy")), "--mode", "json")
    status = json.loads(out)
    del status["dynamic_tables"][0]["current_lag_sec"]
    with pytest.raises(jsonschema.ValidationError):
        validate(status, STATUS_SCHEMA)


# -- terminal output --------------------------------------------------------------------------------
def test_dashboard_shows_every_table_by_layer_with_problems(pipeline: Callable) -> None:
    code, out = run("--db", str(pipeline("failing")))
    assert code == 0
    for text in (
        "PARSED",
        "COUNTS",
        "RAW.CODES",
        "SILVER",
        "GOLD",
        "UNHEALTHY",
        "FAILING",
        "1 failing",
        "not a number",
        "Base tables",
        "1h",
        "2h",
    ):
        assert text in out, text
    assert out.index("SILVER") < out.index("PARSED") < out.index("GOLD") < out.index("COUNTS")


def test_dashboard_drops_columns_rather_than_names_on_a_narrow_terminal(pipeline: Callable) -> None:
    with snowmelt.connect(pipeline("healthy")) as s:
        status = collect(s)
    console = Console(width=60, record=True, color_system=None)
    console.print(render_dashboard(status))
    text = console.export_text()
    assert "PARSED" in text and "COUNTS" in text and "Lag" in text
    assert "Took" not in text
    assert max(len(line) for line in text.splitlines()) <= 60


def test_history_mode_lists_recent_refreshes_newest_first(pipeline: Callable) -> None:
    path = pipeline("failing")
    code, out = run("--db", str(path), "--mode", "history", "--limit", "5")
    assert code == 0
    assert "Recent refreshes" in out
    assert out.index("FAILED") < out.index("CREATION")  # the failed manual refresh is newer
    assert "Conversion Error" in out and "MANUAL" in out


def test_watch_redraws_in_place_and_stops_after_the_iterations(pipeline: Callable) -> None:
    code, out = run(
        "--db", str(pipeline("healthy")), "--watch", "--interval", "0.1", "--iterations", "3"
    )
    assert code == 0
    assert "PARSED" in out and "HEALTHY" in out


def test_watch_takes_one_snapshot_per_iteration() -> None:
    snapshots, sleeps = [], []

    def snapshot() -> str:
        snapshots.append(1)
        return f"frame {len(snapshots)}"

    console = Console(record=True, width=40)
    assert watch(console, snapshot, 7.0, 4, sleep=sleeps.append) == 4
    assert len(snapshots) == 4 and sleeps == [7.0, 7.0, 7.0]
    assert "frame 4" in console.export_text()
