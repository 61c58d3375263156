"""The pandas reference must agree with the demo SQL.

snowmelt's engine is not needed: each dynamic table's query is transpiled from Snowflake
to DuckDB with sqlglot and run on plain DuckDB as ``CREATE TABLE ... AS`` in dependency
order, over bronze tables loaded from generator batches (late rows included), then
compared as bags with ``reference.compare_frames``. The same file also pins which SQL
constructs the dynamic tables use, since the incremental engine supports only a subset.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pytest
import sqlglot
from sqlglot import exp

from snowmelt import demo
from snowmelt.demo import reference
from snowmelt.demo.generators import KINDS, DemoGenerator, GeneratorConfig

SQL_PATH = Path(demo.__file__).parent / "sql" / "01_setup_dynamic_tables.sql"

SILVER = ("SENSOR_READINGS_CLEANED", "TRANSACTIONS_ENRICHED", "CUSTOMER_SESSIONS")
GOLD = (
    "DEVICE_HEALTH_HOURLY",
    "DAILY_SALES_SUMMARY",
    "PRODUCT_PERFORMANCE",
    "CUSTOMER_BEHAVIOR_METRICS",
)
SIZES = {"sensors": 150, "transactions": 40, "events": 60}
CHECKPOINTS = (3, 12, 36)  # rounds of 5 simulated minutes


def _statements() -> list[exp.Expr]:
    return [
        s
        for s in sqlglot.parse(SQL_PATH.read_text(), read="snowflake")
        if s is not None and not isinstance(s, exp.Semicolon)
    ]


def _is_dynamic(s: exp.Expr) -> bool:
    props = s.args.get("properties")
    return (
        isinstance(s, exp.Create)
        and props is not None
        and any(isinstance(p, exp.DynamicProperty) for p in props.expressions)
    )


def _dynamic_tables() -> dict[str, exp.Create]:
    return {s.this.name: s for s in _statements() if _is_dynamic(s)}  # type: ignore[misc]


def _to_duckdb(node: exp.Expression) -> str:
    """Transpile Snowflake -> DuckDB, with two minimal, test-only fixes to sqlglot's output."""
    node = node.copy()
    for dtype in list(node.find_all(exp.DataType)):
        # FIX 1: VARIANT columns are stored as DuckDB JSON (the brief's mapping).
        if dtype.this == exp.DataType.Type.VARIANT:
            dtype.replace(exp.DataType.build("JSON"))
    for cast in list(node.find_all(exp.Cast)):
        # FIX 2: sqlglot renders `payload:key::STRING` as CAST(payload -> '$.key' AS TEXT),
        # which in DuckDB keeps the JSON quotes ('"abc"') and turns JSON null into 'null'.
        # Snowflake yields the bare string, which DuckDB's `->>` returns.
        if isinstance(cast.this, exp.JSONExtract) and cast.to.is_type(*exp.DataType.TEXT_TYPES):
            cast.replace(
                exp.JSONExtractScalar(this=cast.this.this, expression=cast.this.expression)
            )
    return node.sql(dialect="duckdb")


def _load_and_build(batches: dict[str, list[pa.Table]]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    for schema in ("BRONZE", "SILVER", "GOLD"):
        con.execute(f"CREATE SCHEMA {schema}")
    for s in _statements():
        if isinstance(s, exp.Create) and s.kind == "TABLE" and not _is_dynamic(s):
            ddl = s.copy()
            ddl.set("properties", None)  # CHANGE_TRACKING / COMMENT: no DuckDB equivalent
            con.execute(_to_duckdb(ddl))
        elif isinstance(s, exp.Insert):
            con.execute(_to_duckdb(s))
    for kind, tables in batches.items():
        for table in tables:
            con.register("incoming", table)
            con.execute(f"INSERT INTO BRONZE.{KINDS[kind]} SELECT * FROM incoming")
            con.unregister("incoming")
    for s in _dynamic_tables().values():  # file order is dependency order
        con.execute(f"CREATE TABLE {s.this.sql()} AS {_to_duckdb(s.expression)}")
    return con


def _reference(batches: dict[str, list[pa.Table]]) -> dict[str, pd.DataFrame]:
    raw = {kind: pa.concat_tables(tables).to_pandas() for kind, tables in batches.items()}
    dims = reference.dims()
    out = {
        "SENSOR_READINGS_CLEANED": reference.sensor_readings_cleaned(raw["sensors"]),
        "TRANSACTIONS_ENRICHED": reference.transactions_enriched(
            raw["transactions"], dims["DIM_PRODUCTS"], dims["DIM_STORES"]
        ),
        "CUSTOMER_SESSIONS": reference.customer_sessions(raw["events"]),
    }
    out["DEVICE_HEALTH_HOURLY"] = reference.device_health_hourly(out["SENSOR_READINGS_CLEANED"])
    out["DAILY_SALES_SUMMARY"] = reference.daily_sales_summary(out["TRANSACTIONS_ENRICHED"])
    out["PRODUCT_PERFORMANCE"] = reference.product_performance(out["TRANSACTIONS_ENRICHED"])
    out["CUSTOMER_BEHAVIOR_METRICS"] = reference.customer_behavior_metrics(out["CUSTOMER_SESSIONS"])
    return out


@pytest.fixture(scope="module")
def results() -> dict[int, tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame]]]:
    """Per checkpoint: (DuckDB result, pandas reference) for every dynamic table."""
    gen = DemoGenerator(GeneratorConfig(seed=5, late_fraction=0.08))
    batches: dict[str, list[pa.Table]] = {kind: [] for kind in SIZES}
    out = {}
    for round_no in range(1, max(CHECKPOINTS) + 1):
        for kind, n in SIZES.items():
            batches[kind].append(gen.batch(kind, n))
        if round_no in CHECKPOINTS:
            con = _load_and_build(batches)
            duck = {
                name: con.sql(f"SELECT * FROM {s.this.sql()}").df()
                for name, s in _dynamic_tables().items()
            }
            out[round_no] = (duck, _reference(batches))
    return out


# ----------------------------------------------------------------------------- agreement
@pytest.mark.parametrize("checkpoint", CHECKPOINTS)
@pytest.mark.parametrize("table", SILVER + GOLD)
def test_reference_agrees_with_sql_on_duckdb(results, table: str, checkpoint: int) -> None:
    duck, ref = results[checkpoint]
    assert len(duck[table]) > 0
    problems = reference.compare_frames(duck[table], ref[table])
    assert not problems, "\n".join(problems)


def test_late_rows_revise_hours_days_and_sessions_that_had_closed(results) -> None:
    """Between two checkpoints late rows change aggregates of periods long gone."""
    early, final = results[12][1], results[36][1]
    early_clock = DemoGenerator().start + 12 * GeneratorConfig().batch_interval

    def changed(
        table: str, keys: list[str], value: str, old: Callable[[pd.DataFrame], pd.Series]
    ) -> int:
        both = early[table].merge(final[table], on=keys, suffixes=("_EARLY", "_FINAL"))
        moved = both[value + "_EARLY"] != both[value + "_FINAL"]
        return int((moved & old(both)).sum())

    hours = changed(
        "DEVICE_HEALTH_HOURLY",
        ["DEVICE_ID", "READING_HOUR"],
        "READING_COUNT",
        lambda df: df["READING_HOUR"] < early_clock - timedelta(hours=1),
    )
    days = changed(
        "DAILY_SALES_SUMMARY",
        ["TRANSACTION_DATE", "STORE_ID"],
        "LINE_COUNT",
        lambda df: df["TRANSACTION_DATE"] < early_clock.date(),
    )
    sessions = changed(
        "CUSTOMER_SESSIONS",
        ["CUSTOMER_ID", "SESSION_START"],
        "EVENT_COUNT",
        lambda df: df["SESSION_END_EARLY"] < early_clock - timedelta(minutes=30),
    )
    assert hours > 5 and days > 0 and sessions > 0, (hours, days, sessions)


def test_reference_accepts_empty_bronze_tables() -> None:
    gen = DemoGenerator()
    empty = {kind: [gen.batch(kind, 0)] for kind in SIZES}
    ref = _reference(empty)
    con = _load_and_build(empty)
    for name, s in _dynamic_tables().items():
        assert list(ref[name].columns) == [
            c[0] for c in con.sql(f"SELECT * FROM {s.this.sql()}").description
        ]
        assert len(ref[name]) == 0


# ----------------------------------------------------------------------------- the SQL itself
def test_dynamic_tables_declare_lag_warehouse_and_layer() -> None:
    lags = {}
    for name, s in _dynamic_tables().items():
        props = {
            p.name.upper(): p.args["value"].name
            for p in s.args["properties"].expressions
            if type(p) is exp.Property
        }
        assert props["WAREHOUSE"] == "WH_DATA_ENG"
        lags[(s.this.db, name)] = props["TARGET_LAG"]
    assert lags == {
        **{("SILVER", n): "1 minute" for n in SILVER},
        **{("GOLD", n): "5 minutes" for n in GOLD},
    }


@pytest.mark.parametrize("table", SILVER + GOLD)
def test_dynamic_tables_use_only_incrementally_supported_constructs(table: str) -> None:
    query = _dynamic_tables()[table].expression
    forbidden = (
        exp.Limit,
        exp.Rollup,
        exp.Cube,
        exp.GroupingSets,
        exp.Exists,
        exp.Rand,
        exp.CurrentTimestamp,
        exp.CurrentDate,
        exp.Except,
        exp.Intersect,
        exp.Union,
    )
    assert not [
        n.sql("snowflake")
        for n in query.find_all(*forbidden)
        if not (isinstance(n, exp.Union) and not n.args.get("distinct"))
    ]
    for node in query.find_all(exp.Select):
        if node is not query:
            assert isinstance(node.parent, (exp.CTE, exp.Subquery, exp.Union)), (
                f"subquery outside FROM in {table}: {node.sql('snowflake')}"
            )
            if isinstance(node.parent, exp.Subquery):
                assert isinstance(node.parent.parent, (exp.From, exp.Join)), table
    for order in query.find_all(exp.Order):
        assert isinstance(order.parent, exp.Window), f"ORDER BY outside a window in {table}"
    for window in query.find_all(exp.Window):
        assert window.args.get("partition_by"), f"window without PARTITION BY in {table}"
    for ident in query.find_all(exp.Identifier):  # Snowflake style: unquoted upper case
        assert not ident.quoted and ident.name == ident.name.upper(), ident.name


def test_monitoring_views_read_the_information_schema_functions() -> None:
    views = {
        s.this.name: s for s in _statements() if isinstance(s, exp.Create) and s.kind == "VIEW"
    }
    assert {"V_DYNAMIC_TABLE_STATUS", "V_PIPELINE_FRESHNESS", "V_REFRESH_HISTORY"} <= set(views)
    for name in ("V_DYNAMIC_TABLE_STATUS", "V_PIPELINE_FRESHNESS"):
        text = views[name].sql("snowflake")
        assert "INFORMATION_SCHEMA.DYNAMIC_TABLES()" in text
        assert "DATABASE_NAME = 'DATA_ENGINEERING_DEMO'" in text
    assert "DYNAMIC_TABLE_REFRESH_HISTORY" in views["V_REFRESH_HISTORY"].sql("snowflake")
