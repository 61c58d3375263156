"""The medallion DAG of the demo, incremental vs full, side by side.

    python -m bench.refresh --dag medallion                    # N = 10M, changes of 0.1% and 1%
    python -m bench.refresh --dag medallion --sizes 1e6        # a quicker run

One in-memory database gets the demo's bronze tables (``snowmelt/demo/sql``) filled with N
rows of history — half sensor readings (1,000 devices, one reading a minute), a quarter
point-of-sale lines (baskets of three over the 24-product, 8-store catalogue, 1% unknown
products or stores), a quarter clickstream events (sessions of five events over N/20
customers) — and two copies of the demo's seven dynamic tables over them, created with the
demo's own SQL: one ``REFRESH_MODE = INCREMENTAL`` (schemas SILVER and GOLD), one ``FULL``
(SILVER_F and GOLD_F):

    SENSOR_READINGS_CLEANED  typing, unit normalisation, LAG windows per device and hour
    TRANSACTIONS_ENRICHED    two LEFT joins to the product and store dimensions
    CUSTOMER_SESSIONS        LAG gap → running SUM → GROUP BY customer and session
    DEVICE_HEALTH_HOURLY, DAILY_SALES_SUMMARY, PRODUCT_PERFORMANCE, CUSTOMER_BEHAVIOR_METRICS

Per change fraction, four times (``bench.refresh.measure``): fraction·N new bronze rows
arrive in the same proportions (the next minutes of every feed, 2% of them late by 1 to 26
hours, revising earlier hours, days and sessions), then the incremental DAG refreshes table
by table, upstream first, then the full DAG, each DAG followed by a timed CHECKPOINT (its
deferred upkeep, ``bench.refresh.deferred_checkpoints``). The first batch samples peak
memory (every 20 ms); the other three are timed bare. Reported: the median incremental time, the median
full time and their ratio per table, and their sums for the whole DAG; rows written are the
last batch's. Both DAGs are compared at the end (EXCEPT ALL both ways), so the timings are
of correct refreshes.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from bench.refresh import ROUNDS, Row, measure, no_data_ms, timed_refresh
from snowmelt.demo.status import GOLD, SILVER

DATABASE = "DATA_ENGINEERING_DEMO"
TABLES = SILVER + GOLD  # the demo's dynamic tables, upstream first
SHARES = {"sensors": 0.5, "transactions": 0.25, "events": 0.25}
DEVICES = 1000
LATE = 0.02
MINUTE_US = 60_000_000
BASE_US = 1_767_225_600_000_000  # 2026-01-01 00:00 UTC in microseconds
SPAN_DAYS = 30  # history of the transactions and events feeds


# -- data ---------------------------------------------------------------------------------------
def _strings(prefix: str, numbers: Any, width: int = 0) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pc.cast(pa.array(numbers), pa.string())
    if width:
        text = pc.utf8_lpad(text, width, "0")
    return pc.binary_join_element_wise(prefix, text, "")


def _pick(options: list[Any], index: Any) -> Any:
    import numpy as np

    return np.array(options, dtype=object)[index]


def _late(rng: Any, ts: Any, late: float) -> Any:
    import numpy as np

    if not late:
        return ts
    back = rng.random(len(ts)) < late
    return np.where(back, ts - rng.integers(60, 26 * 60, len(ts)) * MINUTE_US, ts)


def _timestamps(values: Any) -> Any:
    import pyarrow as pa

    return pa.array(values, pa.timestamp("us"))


def sensors(start: int, count: int, late: float, seed: int) -> Any:
    """Readings ``start`` … ``start + count - 1`` of the series (one per device a minute)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    rng = np.random.default_rng(seed + start)
    i = np.arange(start, start + count, dtype=np.int64)
    device = i % DEVICES
    ts = _late(rng, BASE_US + (i // DEVICES) * MINUTE_US + device * 37_000, late)
    kind = device % 4
    types = ["temperature", "humidity", "pressure", "vibration"]
    imperial = device % 7 == 0
    unit = np.where(
        imperial, _pick(["F", "%", "psi", "in/s"], kind), _pick(["C", "%RH", "kPa", "mm/s"], kind)
    )
    base = np.array([21.0, 45.0, 101.3, 3.0])[kind]
    value = base + rng.normal(0, 1, count) * np.array([2.0, 5.0, 1.5, 1.0])[kind]
    value = np.where(imperial & (kind == 0), value * 9 / 5 + 32, value)
    value = np.where(rng.random(count) < 0.01, value + 40, value)  # spikes
    text = pc.cast(pa.array(np.round(value, 2)), pa.string())
    broken = rng.random(count)
    text = pc.if_else(
        pa.array(broken < 0.01),
        pa.array(_pick(["", "NaN", "ERR"], rng.integers(0, 3, count)), pa.string()),
        text,
    )
    metadata = [
        None
        if d % 50 == 0
        else f'{{"firmware": "v{1 + d % 3}.{d % 10}", "battery_pct": {5 + d * 7 % 96}, '
        f'"rssi_dbm": {-40 - d % 50}, "location": {{"site": "SITE-{d % 12:02d}", '
        f'"zone": "Z{d % 5}"}}}}'
        for d in range(DEVICES)
    ]
    return pa.table(
        {
            "READING_ID": _strings("R", i, 10),
            "DEVICE_ID": _strings("DEV-", device, 4),
            "SENSOR_TYPE": pa.array(_pick(types, kind), pa.string()),
            "READING_VALUE": text,
            "UNIT": pa.array(unit, pa.string()),
            "READING_TS": _timestamps(ts),
            "METADATA": pa.array(_pick(metadata, device), pa.string()),
            "_LOADED_AT": _timestamps(ts + 30_000_000),
        }
    )


def transactions(start: int, count: int, total: int, late: float, seed: int) -> Any:
    """POS lines ``start`` … (three lines a basket, ``total`` lines over the history)."""
    import numpy as np
    import pyarrow as pa

    from snowmelt.demo import catalogue

    rng = np.random.default_rng(seed + start + 1)
    i = np.arange(start, start + count, dtype=np.int64)
    basket = i // 3
    step = SPAN_DAYS * 24 * 60 * MINUTE_US * 3 // max(total, 3)
    ts = _late(rng, BASE_US + basket * step, late)
    stores = [s[0] for s in catalogue.STORES] + ["S999"]
    products = [p[0] for p in catalogue.PRODUCTS] + ["P999"]
    prices = [float(p[4]) for p in catalogue.PRODUCTS] + [9.99]
    store = np.where(rng.random(count) < 0.01, len(stores) - 1, basket % (len(stores) - 1))
    product = np.where(
        rng.random(count) < 0.01, len(products) - 1, rng.integers(0, len(products) - 1, count)
    )
    customer = _strings("C", rng.integers(0, max(total // 20, 100), count), 7)
    anonymous = rng.random(count) < 0.25
    quantity = np.where(rng.random(count) < 0.01, 0, rng.integers(1, 4, count))
    price = np.array(prices)[product]
    return pa.table(
        {
            "TRANSACTION_ID": _strings("TX", basket, 9),
            "LINE_NUMBER": pa.array(i % 3 + 1),
            "TRANSACTION_TS": _timestamps(ts),
            "STORE_ID": pa.array(_pick(stores, store), pa.string()),
            "CUSTOMER_ID": pa.array(
                np.where(anonymous, None, customer.to_numpy(zero_copy_only=False)), pa.string()
            ),
            "PRODUCT_ID": pa.array(_pick(products, product), pa.string()),
            "QUANTITY": pa.array(quantity),
            "UNIT_PRICE": pa.array(np.round(price, 2)).cast(pa.decimal128(10, 2)),
            "DISCOUNT_PCT": pa.array(
                _pick([0.0, 0.0, 10.0, 20.0], rng.integers(0, 4, count)).astype(float)
            ).cast(pa.decimal128(5, 2)),
            "PAYMENT_METHOD": pa.array(
                _pick(["card", "cash", " Mobile "], rng.integers(0, 3, count)), pa.string()
            ),
            "_LOADED_AT": _timestamps(ts + 60_000_000),
        }
    )


def events(start: int, count: int, total: int, late: float, seed: int) -> Any:
    """Clickstream events ``start`` … (sessions of five events, three minutes apart, each
    session a random customer's; ``total`` events over the history)."""
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(seed + start + 2)
    i = np.arange(start, start + count, dtype=np.int64)
    session = i // 5
    position = i % 5
    customers = max(total // 20, 100)
    customer = (session * 2_654_435_761) % customers
    step = SPAN_DAYS * 24 * 60 * MINUTE_US * 5 // max(total, 5)
    ts = _late(rng, BASE_US + session * step + position * 3 * MINUTE_US, late)
    depth = (session * 40_503) % 10  # how far down the funnel this session goes
    kinds = np.array(["page_view", "search", "add_to_cart", "checkout", "purchase"], dtype=object)
    kind = np.where(position <= np.minimum(depth, 4), kinds[position], "page_view")
    props = np.where(
        kind == "purchase",
        '{"order_total": 42.50, "currency": "USD"}',
        np.where(
            kind == "page_view",
            '{"page": "/home", "referrer": "search"}',
            '{"product_id": "P001", "price": 79.99}',
        ),
    )
    return pa.table(
        {
            "EVENT_ID": _strings("E", i, 10),
            "CUSTOMER_ID": _strings("C", customer, 7),
            "EVENT_TYPE": pa.array(kind, pa.string()),
            "EVENT_TS": _timestamps(ts),
            "DEVICE_TYPE": pa.array(
                _pick(["mobile", "desktop", "tablet"], session % 3), pa.string()
            ),
            "PROPERTIES": pa.array(props, pa.string()),
            "_LOADED_AT": _timestamps(ts + 5_000_000),
        }
    )


class Feeds:
    """The three bronze feeds of one run, continuing where the last batch stopped."""

    def __init__(self, size: int, seed: int = 7):
        self.totals = {k: int(size * share) for k, share in SHARES.items()}
        self.next = dict.fromkeys(SHARES, 0)
        self.seed = seed

    def batch(self, kind: str, count: int, late: float) -> Any:
        start = self.next[kind]
        self.next[kind] += count
        if kind == "sensors":
            return sensors(start, count, late, self.seed)
        maker = transactions if kind == "transactions" else events
        return maker(start, count, self.totals[kind], late, self.seed)


TABLE_OF = {
    "sensors": "BRONZE.RAW_SENSOR_READINGS",
    "transactions": "BRONZE.RAW_TRANSACTIONS",
    "events": "BRONZE.RAW_CUSTOMER_EVENTS",
}


# -- the DAGs -------------------------------------------------------------------------------------
def statements() -> tuple[list[str], list[str]]:
    """The demo setup split into (setup without dynamic tables and views, dynamic tables)."""
    from snowmelt.demo.pipeline import setup_sql

    text = re.sub(r"--[^\n]*", "", setup_sql())
    parts = [p.strip() for p in text.split(";") if p.strip()]
    dynamic = [p for p in parts if p.upper().startswith("CREATE OR REPLACE DYNAMIC TABLE")]
    plain = [p for p in parts if p not in dynamic and "CREATE OR REPLACE VIEW" not in p.upper()]
    return plain, dynamic


def dynamic_sql(statement: str, mode: str, suffix: str) -> str:
    """One demo dynamic table, in schemas SILVER{suffix}/GOLD{suffix}, with ``mode``."""
    text = re.sub(r"\bSILVER\.", f"SILVER{suffix}.", statement)
    text = re.sub(r"\bGOLD\.", f"GOLD{suffix}.", text)
    return text.replace(
        "WAREHOUSE = WH_DATA_ENG", f"WAREHOUSE = WH_DATA_ENG REFRESH_MODE = {mode}", 1
    )


def build(
    size: int, say: Callable[[str], None], modes: tuple[str, ...] = ("INCREMENTAL", "FULL")
) -> tuple[Any, Feeds]:
    """An in-memory database with N rows of bronze history and the demo's dynamic tables,
    once per mode: INCREMENTAL in SILVER/GOLD, FULL in SILVER_F/GOLD_F."""
    import snowmelt

    s = snowmelt.connect()
    plain, dynamic = statements()
    for statement in plain:
        s.sql(statement)
    s.sql(f"CREATE SCHEMA {DATABASE}.SILVER_F; CREATE SCHEMA {DATABASE}.GOLD_F")
    feeds = Feeds(size)
    started = time.perf_counter()
    for kind, total in feeds.totals.items():
        for first in range(0, total, 2_000_000):
            s.insert(
                f"{DATABASE}.{TABLE_OF[kind]}",
                feeds.batch(kind, min(2_000_000, total - first), late=0.0),
            )
    say(f"N = {size:,}: loaded the bronze history in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    for mode, suffix in (("INCREMENTAL", ""), ("FULL", "_F")):
        if mode not in modes:
            continue
        for statement in dynamic:
            s.sql(dynamic_sql(statement, mode, suffix))
    say(f"N = {size:,}: created and initialized the DAGs in {time.perf_counter() - started:.1f} s")
    return s, feeds


def _oid(s: Any, name: str) -> int:
    from snowmelt.names import ObjectName

    schema, table = name.split(".")
    obj = s.rt.catalog.find(ObjectName(DATABASE, schema, table))
    assert obj is not None, name
    return int(obj.oid)


def _full_name(name: str) -> str:
    schema, table = name.split(".")
    return f"{schema}_F.{table}"


def timed(s: Any, name: str, expect: tuple[str, ...]) -> tuple[float, tuple[int, int], Any]:
    return timed_refresh(s, _oid(s, name), expect)


def ingest(s: Any, feeds: Feeds, size: int, fraction: float) -> None:
    for kind, share in SHARES.items():
        count = max(1, int(size * fraction * share))
        s.insert(f"{DATABASE}.{TABLE_OF[kind]}", feeds.batch(kind, count, late=LATE))


def compare(s: Any) -> list[str]:
    """The incremental and the full DAG hold the same rows: every non-DOUBLE column exactly
    (as bags), DOUBLE columns within a relative 1e-9 of each other (a sum of doubles
    maintained by adding and subtracting drifts in its last bits)."""
    problems = []
    for name in TABLES:
        fields = s.sql(f"SELECT * FROM {DATABASE}.{name} LIMIT 0").arrow().schema
        exact = [f'"{f.name}"' for f in fields if str(f.type) != "double"]
        doubles = [f'"{f.name}"' for f in fields if str(f.type) == "double"]
        a, b = f"{DATABASE}.{name}", f"{DATABASE}.{_full_name(name)}"
        cols = ", ".join(exact)
        diff = s.sql(
            f"SELECT (SELECT COUNT(*) FROM (SELECT {cols} FROM {a} EXCEPT ALL "
            f"SELECT {cols} FROM {b})) + (SELECT COUNT(*) FROM (SELECT {cols} FROM "
            f"{b} EXCEPT ALL SELECT {cols} FROM {a}))"
        ).scalar()
        if diff:
            problems.append(f"{name}: {diff} rows differ between incremental and full")
            continue
        if not doubles:
            continue
        on = " AND ".join(f"x.{c} IS NOT DISTINCT FROM y.{c}" for c in exact)
        far = " OR ".join(
            f"NOT (x.{c} IS NOT DISTINCT FROM y.{c} OR ABS(x.{c} - y.{c}) <= "
            f"1e-9 * GREATEST(1, ABS(y.{c})))"
            for c in doubles
        )
        unique = s.sql(f"SELECT COUNT(*) = COUNT(DISTINCT ({cols})) FROM {b}").scalar()
        if (
            unique
            and s.sql(f"SELECT COUNT(*) FROM {a} AS x JOIN {b} AS y ON {on} WHERE {far}").scalar()
        ):
            problems.append(f"{name}: DOUBLE columns differ beyond 1e-9 (relative)")
    return problems


def run_size(
    size: int, fractions: list[float], repeat: int, say: Callable[[str], None]
) -> list[Row]:
    s, feeds = build(size, say)
    # Warm-up: the first incremental refresh of a plan compiles it; measure the steady state.
    ingest(s, feeds, 2000, 0.01)
    for name in TABLES:
        timed(s, name, ("INCREMENTAL",))
        timed(s, _full_name(name), ("FULL",))
    rows: list[Row] = []
    for fraction in fractions:
        done = [
            (Row(size, fraction, name.split(".")[1]), _oid(s, name), _oid(s, _full_name(name)))
            for name in TABLES
        ]

        def change(fraction: float = fraction) -> None:
            ingest(s, feeds, size, fraction)

        upkeep = measure(s, done, change)
        for row, incremental, _ in done:
            row.no_data_ms = no_data_ms(s, incremental, repeat)
        rows += [row for row, _, _ in done] + [upkeep]
        say(
            f"N = {size:,}, change {fraction:.1%} (median of {ROUNDS} rounds): "
            f"{sum(r.incremental_s for r, _, _ in done):.2f} s incremental, "
            f"{sum(r.full_s for r, _, _ in done):.2f} s full"
        )
    for problem in compare(s):
        say("MISMATCH " + problem)
    s.close()
    return rows
