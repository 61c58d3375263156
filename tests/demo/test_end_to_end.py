"""The medallion pipeline end to end on a real database file.

Several rounds of generated data (10% of it late, up to 26 hours) are ingested through the
pipeline and the dynamic tables refreshed after each round, on a manual clock that moves 5
minutes per round like the generator's simulated clock. At two checkpoints every silver and
gold table must equal an independent pandas implementation of the same business logic
(``snowmelt/demo/reference.py``) computed over the bronze rows in the database -- never by
re-running the dynamic tables' own SQL. Once the incremental compiler lands, the same test
checks incremental refreshes that revise earlier hours, days and sessions.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

import snowmelt
from snowmelt.clock import ManualClock
from snowmelt.demo import pipeline as core
from snowmelt.demo import reference
from snowmelt.demo.generators import KINDS, DemoGenerator, GeneratorConfig
from snowmelt.session import Session

pytestmark = pytest.mark.slow

SEED, LATE = 11, 0.10
SIZES = {"sensors": 300, "transactions": 120, "events": 200}
ROUNDS, CHECKPOINTS = 6, (2, 6)
START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)  # the generator's simulated start
SILVER = ("SENSOR_READINGS_CLEANED", "TRANSACTIONS_ENRICHED", "CUSTOMER_SESSIONS")
GOLD = (
    "DEVICE_HEALTH_HOURLY",
    "DAILY_SALES_SUMMARY",
    "PRODUCT_PERFORMANCE",
    "CUSTOMER_BEHAVIOR_METRICS",
)
ALL_DT = tuple(f"SILVER.{t}" for t in SILVER) + tuple(f"GOLD.{t}" for t in GOLD)

# The seed README's "Monitoring Queries", verbatim.
SEED_STATUS = "SELECT * FROM GOLD.V_DYNAMIC_TABLE_STATUS;"
SEED_FRESHNESS = "SELECT * FROM GOLD.V_PIPELINE_FRESHNESS;"
SEED_HISTORY = """SELECT * FROM TABLE(INFORMATION_SCHEMA.DYNAMIC_TABLE_REFRESH_HISTORY(
    NAME_PREFIX => 'DATA_ENGINEERING_DEMO'
))
ORDER BY REFRESH_END_TIME DESC
LIMIT 20;"""
SEED_STALE = """SELECT 
    NAME,
    TIMESTAMPDIFF('minute', LAST_COMPLETED_REFRESH, CURRENT_TIMESTAMP()) AS minutes_since_refresh
FROM TABLE(INFORMATION_SCHEMA.DYNAMIC_TABLES())
WHERE DATABASE_NAME = 'DATA_ENGINEERING_DEMO'
  AND TIMESTAMPDIFF('minute', LAST_COMPLETED_REFRESH, CURRENT_TIMESTAMP()) > 10;"""
SEED_CLEANUP = """-- Drop database (removes all schemas, tables, dynamic tables)
DROP DATABASE IF EXISTS DATA_ENGINEERING_DEMO;

-- Drop warehouse
DROP WAREHOUSE IF EXISTS WH_DATA_ENG;"""


@dataclass
class Run:
    db: Path
    session: Session
    clock: ManualClock
    snapshots: dict[int, dict[str, pd.DataFrame]]  # checkpoint -> table -> contents


def _read(s: Session, name: str) -> pd.DataFrame:
    return s.sql(f"SELECT * FROM {core.DATABASE}.{name}").df()


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    db = tmp_path_factory.mktemp("e2e") / "pipeline.duckdb"
    clock = ManualClock(START)
    session = snowmelt.connect(db, clock=clock)
    core.setup(session)
    pipeline = core.Pipeline(session, seed=SEED, late_fraction=LATE)
    snapshots: dict[int, dict[str, pd.DataFrame]] = {}
    for number in range(1, ROUNDS + 1):
        clock.advance(300)
        for kind, rows in SIZES.items():
            pipeline.ingest(kind, rows)
        pipeline.refresh()
        if number in CHECKPOINTS:
            names = [f"BRONZE.{t}" for t in KINDS.values()] + list(ALL_DT)
            snapshots[number] = {n.split(".")[1]: _read(session, n) for n in names}
    yield Run(db, session, clock, snapshots)
    session.close()


_expected: dict[int, dict[str, pd.DataFrame]] = {}


def expected(run: Run, checkpoint: int) -> dict[str, pd.DataFrame]:
    """The reference implementation over the bronze rows the database held at a checkpoint."""
    if checkpoint not in _expected:
        raw = run.snapshots[checkpoint]
        dims = reference.dims()
        out = {
            "SENSOR_READINGS_CLEANED": reference.sensor_readings_cleaned(
                raw["RAW_SENSOR_READINGS"]
            ),
            "TRANSACTIONS_ENRICHED": reference.transactions_enriched(
                raw["RAW_TRANSACTIONS"], dims["DIM_PRODUCTS"], dims["DIM_STORES"]
            ),
            "CUSTOMER_SESSIONS": reference.customer_sessions(raw["RAW_CUSTOMER_EVENTS"]),
        }
        out["DEVICE_HEALTH_HOURLY"] = reference.device_health_hourly(out["SENSOR_READINGS_CLEANED"])
        out["DAILY_SALES_SUMMARY"] = reference.daily_sales_summary(out["TRANSACTIONS_ENRICHED"])
        out["PRODUCT_PERFORMANCE"] = reference.product_performance(out["TRANSACTIONS_ENRICHED"])
        out["CUSTOMER_BEHAVIOR_METRICS"] = reference.customer_behavior_metrics(
            out["CUSTOMER_SESSIONS"]
        )
        _expected[checkpoint] = out
    return _expected[checkpoint]


# ----------------------------------------------------------------------------- bronze
def test_bronze_holds_every_generated_row_exactly_once_with_late_rows(run: Run) -> None:
    gen = DemoGenerator(GeneratorConfig(seed=SEED, late_fraction=LATE))
    made: dict[str, list[pa.Table]] = {kind: [] for kind in KINDS}
    for _ in range(ROUNDS):
        for kind, rows in SIZES.items():
            made[kind].append(gen.batch(kind, rows))
    final = run.snapshots[ROUNDS]
    for kind, table in KINDS.items():
        problems = reference.compare_frames(final[table], pa.concat_tables(made[kind]).to_pandas())
        assert not problems, (kind, problems)
    sensors = final["RAW_SENSOR_READINGS"]
    late = sensors["_LOADED_AT"] - sensors["READING_TS"] > timedelta(hours=1)
    assert late.sum() > 50
    assert (sensors.loc[late, "READING_TS"].dt.date < START.date()).any()  # the previous day


# ----------------------------------------------------------------------------- the oracle
@pytest.mark.parametrize("checkpoint", CHECKPOINTS)
@pytest.mark.parametrize("table", SILVER)
def test_silver_table_equals_the_reference_computation(
    run: Run, table: str, checkpoint: int
) -> None:
    actual = run.snapshots[checkpoint][table]
    assert len(actual) > 0
    problems = reference.compare_frames(actual, expected(run, checkpoint)[table])
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("checkpoint", CHECKPOINTS)
@pytest.mark.parametrize("table", GOLD)
def test_gold_table_equals_the_reference_computation(run: Run, table: str, checkpoint: int) -> None:
    actual = run.snapshots[checkpoint][table]
    assert len(actual) > 0
    problems = reference.compare_frames(actual, expected(run, checkpoint)[table])
    assert not problems, "\n".join(problems)


def test_late_rows_revised_hours_days_and_sessions_that_had_closed(run: Run) -> None:
    """Between the checkpoints, refreshes changed rows of hours, days and sessions long gone."""
    early, final = run.snapshots[CHECKPOINTS[0]], run.snapshots[CHECKPOINTS[1]]
    closed = START.replace(tzinfo=None) + CHECKPOINTS[0] * timedelta(minutes=5) - timedelta(hours=1)

    def changed(table: str, keys: list[str], value: str, when: str, before: Any) -> int:
        both = early[table].merge(final[table], on=keys, suffixes=("_E", "_F"))
        old = both[when + ("_E" if when not in keys else "")] < before
        return int(((both[value + "_E"] != both[value + "_F"]) & old).sum())

    assert (
        changed(
            "DEVICE_HEALTH_HOURLY",
            ["DEVICE_ID", "READING_HOUR"],
            "READING_COUNT",
            "READING_HOUR",
            closed,
        )
        > 3
    )
    assert (
        changed(
            "DAILY_SALES_SUMMARY",
            ["TRANSACTION_DATE", "STORE_ID"],
            "LINE_COUNT",
            "TRANSACTION_DATE",
            START.date(),
        )
        > 0
    )
    assert (
        changed(
            "CUSTOMER_BEHAVIOR_METRICS",
            ["SESSION_DATE", "DEVICE_TYPE"],
            "SESSION_COUNT",
            "SESSION_DATE",
            START.date(),
        )
        > 0
    )
    # sessions that had ended (30 minutes idle) an hour before the first checkpoint were
    # extended or created by late events
    final_old = final["CUSTOMER_SESSIONS"][final["CUSTOMER_SESSIONS"]["SESSION_END"] < closed]
    both = final_old.merge(
        early["CUSTOMER_SESSIONS"],
        on=["CUSTOMER_ID", "SESSION_START"],
        how="left",
        suffixes=("", "_E"),
        indicator=True,
    )
    revised = (both["_merge"] == "left_only") | (both["EVENT_COUNT"] != both["EVENT_COUNT_E"])
    assert revised.sum() > 0


# ----------------------------------------------------------------------------- refreshes
def test_every_refresh_succeeded_and_reports_what_it_touched(run: Run) -> None:
    history = run.session.sql(
        "SELECT NAME, SCHEMA_NAME, STATE, REFRESH_ACTION, REFRESH_TRIGGER, "
        "STATISTICS:numInsertedRows::INTEGER AS INSERTED, "
        "STATISTICS:numDeletedRows::INTEGER AS DELETED "
        f"FROM TABLE({core.DATABASE}.INFORMATION_SCHEMA.DYNAMIC_TABLE_REFRESH_HISTORY("
        f"NAME_PREFIX => '{core.DATABASE}.')) ORDER BY REFRESH_START_TIME"
    ).df()
    manual = history[history["REFRESH_TRIGGER"] == "MANUAL"]
    assert set(history["STATE"]) == {"SUCCEEDED"}
    assert manual.groupby("NAME").size().to_dict() == {t: ROUNDS for t in SILVER + GOLD}
    assert set(manual["REFRESH_ACTION"]) <= {"FULL", "INCREMENTAL", "NO_DATA"}
    assert manual["INSERTED"].notna().all() and manual["DELETED"].notna().all()
    # late rows make refreshes retract earlier gold rows, not only append
    assert manual.loc[manual["NAME"] == "DEVICE_HEALTH_HOURLY", "DELETED"].iloc[1:].gt(0).all()
    modes = {
        r["name"]: r["refresh_mode"]
        for r in run.session.sql(f"SHOW DYNAMIC TABLES IN DATABASE {core.DATABASE}").dicts()
    }
    for name, mode in modes.items():
        if mode in ("INCREMENTAL", "ADAPTIVE"):  # after the initial refresh, incremental
            actions = set(manual.loc[manual["NAME"] == name, "REFRESH_ACTION"])
            assert actions <= {"INCREMENTAL", "NO_DATA"}, (name, actions)


def test_all_seven_dynamic_tables_resolve_to_adaptive(run: Run) -> None:
    """REFRESH_MODE = AUTO (the demo's) resolves to ADAPTIVE for a query that can refresh
    incrementally, as on Snowflake since 2026-11-20."""
    shown = run.session.sql(f"SHOW DYNAMIC TABLES IN DATABASE {core.DATABASE}").dicts()
    assert {r["name"]: r["refresh_mode"] for r in shown} == {t: "ADAPTIVE" for t in SILVER + GOLD}


# ----------------------------------------------------------------------------- monitoring
def test_monitoring_views_and_the_seed_readme_queries_run_as_written(run: Run) -> None:
    s = run.session
    s.sql("USE DATABASE DATA_ENGINEERING_DEMO")
    status = s.sql(SEED_STATUS).df()
    assert sorted(status["NAME"]) == sorted(SILVER + GOLD)
    assert set(status["SCHEDULING_STATE"]) == {"ACTIVE"}
    assert set(status["LAST_COMPLETED_REFRESH_STATE"]) == {"SUCCEEDED"}
    fresh = s.sql(SEED_FRESHNESS).df()
    assert set(fresh["FRESHNESS_STATUS"]) == {"FRESH"}
    assert dict(zip(fresh["NAME"], fresh["TARGET_LAG_SEC"], strict=True)) == {
        **{t: 60 for t in SILVER},
        **{t: 300 for t in GOLD},
    }
    history = s.sql(SEED_HISTORY).df()
    assert len(history) == 20 and history["REFRESH_END_TIME"].is_monotonic_decreasing
    assert s.sql(SEED_STALE).rows() == []  # everything refreshed just now
    now = run.clock.now()
    try:
        run.clock.advance(11 * 60)
        stale = s.sql(SEED_STALE).dicts()
        assert sorted(r["NAME"] for r in stale) == sorted(SILVER + GOLD)
        assert {r["MINUTES_SINCE_REFRESH"] for r in stale} == {11}
        assert set(s.sql(SEED_FRESHNESS).df()["FRESHNESS_STATUS"]) == {"STALE"}
        status = core.collect_status(s, str(run.db))
        assert {t.freshness for t in status.tables if t.layer != "BRONZE"} == {"STALE"}
    finally:
        run.clock.set(now)


def test_seed_cleanup_statements_remove_every_demo_object(tmp_path: Path) -> None:
    with snowmelt.connect(tmp_path / "cleanup.duckdb") as s:
        core.setup(s)
        core.Pipeline(s).ingest_round(KINDS, 20)
        s.sql(SEED_CLEANUP)
        assert s.sql("SHOW DATABASES LIKE 'DATA_ENGINEERING_DEMO'").rows() == []
        assert "WH_DATA_ENG" not in {r[0] for r in s.sql("SHOW WAREHOUSES").rows()}
        assert s.sql("SHOW DYNAMIC TABLES IN ACCOUNT").rows() == []
        s.sql(SEED_CLEANUP)  # IF EXISTS: a second run is a no-op
        core.setup(s)  # and the demo can start over, generator included
        assert core.Pipeline(s).resume() == 0
