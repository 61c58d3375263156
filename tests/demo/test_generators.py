"""Tests for the demo data generators: determinism, bronze schema agreement, realism."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
import sqlglot
from sqlglot import exp

from snowmelt import demo
from snowmelt.demo import catalogue as cat
from snowmelt.demo import reference
from snowmelt.demo.generators import BRONZE_SCHEMAS, KINDS, DemoGenerator, GeneratorConfig

SQL_PATH = Path(demo.__file__).parent / "sql" / "01_setup_dynamic_tables.sql"


def _statements() -> list[exp.Expr]:
    return [
        s
        for s in sqlglot.parse(SQL_PATH.read_text(), read="snowflake")
        if s is not None and not isinstance(s, exp.Semicolon)
    ]


def _create_table(name: str) -> exp.Create:
    for s in _statements():
        if isinstance(s, exp.Create) and s.kind == "TABLE" and s.this.this.name == name:
            return s
    raise AssertionError(f"no CREATE TABLE for {name} in {SQL_PATH.name}")


def _arrow_type(dtype: exp.DataType) -> pa.DataType:
    """The arrow type a generator must use for a bronze column of this Snowflake type."""
    t = exp.DataType.Type
    if dtype.this in (t.VARCHAR, t.TEXT, t.VARIANT):  # VARIANT travels as JSON text
        return pa.string()
    if dtype.this in (t.TIMESTAMP, t.TIMESTAMPNTZ):
        return pa.timestamp("us")
    if dtype.this in (t.INT, t.BIGINT):
        return pa.int64()
    if dtype.this == t.DECIMAL:
        precision, scale = (int(p.name) for p in dtype.expressions)
        return pa.int64() if scale == 0 else pa.decimal128(precision, scale)
    raise AssertionError(f"unmapped bronze type {dtype.sql('snowflake')}")


def _rounds(gen: DemoGenerator, rounds: int, sizes: dict[str, int]) -> dict[str, pd.DataFrame]:
    out: dict[str, list[pa.Table]] = {kind: [] for kind in sizes}
    for _ in range(rounds):
        for kind, n in sizes.items():
            out[kind].append(gen.batch(kind, n))
    return {kind: pa.concat_tables(tables).to_pandas() for kind, tables in out.items()}


@pytest.fixture(scope="module")
def feeds() -> dict[str, pd.DataFrame]:
    """Three simulated hours (36 rounds of 5 minutes) of all three feeds."""
    gen = DemoGenerator(GeneratorConfig(seed=11))
    return _rounds(gen, 36, {"sensors": 150, "transactions": 40, "events": 60})


# ----------------------------------------------------------------------------- determinism
def test_same_seed_yields_identical_batches() -> None:
    a, b = DemoGenerator(GeneratorConfig(seed=3)), DemoGenerator(GeneratorConfig(seed=3))
    for _ in range(4):
        for kind in KINDS:
            assert a.batch(kind, 120).equals(b.batch(kind, 120))


def test_different_seeds_yield_different_batches() -> None:
    a, b = DemoGenerator(GeneratorConfig(seed=1)), DemoGenerator(GeneratorConfig(seed=2))
    assert not a.sensor_batch(100).equals(b.sensor_batch(100))


def test_feeds_draw_from_independent_random_streams() -> None:
    only_sensors, mixed = DemoGenerator(), DemoGenerator()
    first = [only_sensors.sensor_batch(80) for _ in range(3)]
    second = []
    for _ in range(3):
        second.append(mixed.sensor_batch(80))
        mixed.transaction_batch(30)
        mixed.event_batch(50)
    assert all(x.equals(y) for x, y in zip(first, second, strict=True))


def test_batch_dispatches_by_kind_and_rejects_unknown_kinds() -> None:
    gen = DemoGenerator()
    assert gen.batch("transactions", 7).num_rows == 7
    with pytest.raises(ValueError, match="Unknown generator kind"):
        gen.batch("tweets", 1)


def test_clock_is_simulated_and_shared_by_the_feeds_of_a_round() -> None:
    cfg = GeneratorConfig()
    gen = DemoGenerator(cfg)
    for round_no in range(1, 4):
        loaded = {
            gen.batch(kind, 25).column("_LOADED_AT").unique().to_pylist()[0] for kind in KINDS
        }
        assert loaded == {gen.start + round_no * cfg.batch_interval + cfg.load_delay}
    assert gen.now == gen.start + 3 * cfg.batch_interval


@pytest.mark.parametrize("n", [0, 1, 17, 500])
def test_batches_have_exactly_the_requested_rows(n: int) -> None:
    gen = DemoGenerator()
    assert [gen.batch(kind, n).num_rows for kind in KINDS] == [n, n, n]


# ----------------------------------------------------------------------------- schema
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_batches_match_the_bronze_ddl(kind: str) -> None:
    table = KINDS[kind]
    ddl = _create_table(table)
    columns = [
        (c.name, _arrow_type(c.args["kind"]))
        for c in ddl.this.expressions
        if isinstance(c, exp.ColumnDef)
    ]
    batch = DemoGenerator().batch(kind, 50)
    assert batch.schema.names == [name for name, _ in columns]
    assert [f.type for f in batch.schema] == [t for _, t in columns]
    assert batch.schema == BRONZE_SCHEMAS[table]


def test_catalogue_constants_equal_the_sql_insert_values() -> None:
    expected = {
        "DIM_STORES": (cat.DIM_STORES_COLUMNS, cat.STORES),
        "DIM_PRODUCTS": (cat.DIM_PRODUCTS_COLUMNS, cat.PRODUCTS),
    }
    seen = set()
    for s in _statements():
        if not isinstance(s, exp.Insert):
            continue
        name = s.this.this.name
        columns, rows = expected[name]
        assert tuple(c.name for c in s.this.expressions) == columns
        values = [
            tuple(Decimal(v.name) if not v.is_string else v.name for v in t.expressions)
            for t in s.expression.expressions
        ]
        assert values == [tuple(r) for r in rows]
        seen.add(name)
    assert seen == set(expected)


# ----------------------------------------------------------------------------- realism
def test_sensor_feed_has_late_rows_duplicates_and_dirty_values(feeds) -> None:
    s = feeds["sensors"]
    late = s["_LOADED_AT"] - s["READING_TS"] > timedelta(hours=1)
    assert 0.02 < late.mean() < 0.10
    assert (s["READING_TS"].dt.date < s["_LOADED_AT"].dt.date).any()  # previous day
    assert s.duplicated(keep=False).sum() >= 2  # exact duplicate rows
    values = set(s["READING_VALUE"].dropna())
    assert {"", "NaN", "ERR"} <= values and s["READING_VALUE"].isna().any()
    assert {"-999", "9999"} & values
    assert {"C", "F", "%", "kPa", "psi", "mm/s", "in/s"} <= set(s["UNIT"])
    assert s["METADATA"].isna().any() and s["METADATA"].notna().mean() > 0.5


def test_sensor_feed_produces_every_anomaly_kind(feeds) -> None:
    cleaned = reference.sensor_readings_cleaned(feeds["sensors"])
    kinds = set(cleaned["ANOMALY_TYPE"].dropna())
    assert kinds == {"MISSING_VALUE", "OUT_OF_RANGE", "SPIKE", "STUCK"}
    assert 0.01 < cleaned["IS_ANOMALY"].mean() < 0.15
    # plausible canonical values for valid readings
    valid = cleaned[cleaned["IS_VALID"]]
    temps = valid.loc[valid["SENSOR_TYPE"] == "temperature", "NORMALIZED_VALUE"]
    assert 10 < temps.median() < 35


def test_transaction_feed_has_baskets_discounts_and_invalid_lines(feeds) -> None:
    t = feeds["transactions"]
    lines_per_basket = t.groupby("TRANSACTION_ID").size()
    assert lines_per_basket.max() >= 4 and (lines_per_basket == 1).any()
    assert (t["QUANTITY"] == 0).any() and (t["QUANTITY"] < 0).any()
    assert (t["UNIT_PRICE"].map(float) < 0).any()
    unknown = ~t["PRODUCT_ID"].isin(cat.PRODUCT_IDS)
    assert unknown.any() and set(t.loc[unknown, "PRODUCT_ID"]) <= set(cat.UNKNOWN_PRODUCT_IDS)
    assert set(t["STORE_ID"]) <= cat.STORE_IDS
    assert t["DISCOUNT_PCT"].isna().any() and (t["DISCOUNT_PCT"].dropna().map(float) > 0).any()
    assert set(t["PAYMENT_METHOD"]) == {m for m, _ in cat.PAYMENT_METHODS}
    assert t["CUSTOMER_ID"].isna().any()  # anonymous shoppers
    late = t["_LOADED_AT"] - t["TRANSACTION_TS"] > timedelta(hours=1)
    assert late.any() and (t["TRANSACTION_TS"].dt.date < t["_LOADED_AT"].dt.date).any()


def test_event_feed_has_funnels_drop_offs_gaps_and_late_events(feeds) -> None:
    e = feeds["events"]
    assert set(e["EVENT_TYPE"]) == {"page_view", "search", "add_to_cart", "checkout", "purchase"}
    assert set(e["DEVICE_TYPE"]) == {"desktop", "mobile", "tablet"}
    late = e["_LOADED_AT"] - e["EVENT_TS"] > timedelta(hours=1)
    assert 0.02 < late.mean() < 0.10
    ordered = e.sort_values(["CUSTOMER_ID", "EVENT_TS", "EVENT_ID"])
    gaps = ordered.groupby("CUSTOMER_ID")["EVENT_TS"].diff()
    assert (gaps > timedelta(minutes=30)).sum() > 20
    sessions = reference.customer_sessions(e)
    stages = sessions["FUNNEL_STAGE"].value_counts()
    assert set(stages.index) == {"view", "cart", "checkout", "purchase"}
    # drop-offs: each stage is reached by fewer sessions than the one before
    assert stages["view"] > stages["cart"] > stages["checkout"]
    assert sessions["EVENT_COUNT"].max() >= 5 and sessions["IS_BOUNCE"].any()
    assert (sessions["PURCHASE_AMOUNT"] > 0).sum() == sessions["IS_CONVERTED"].sum()
    # several sessions per returning customer
    assert sessions.groupby("CUSTOMER_ID").size().max() >= 3
