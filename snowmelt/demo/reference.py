"""Independent pandas implementation of the demo pipeline's business logic (a test oracle).

Role: compute every silver and gold dynamic table of ``sql/01_setup_dynamic_tables.sql``
from bronze data *without* running that SQL, so tests can check any engine's result
(plain DuckDB today, snowmelt's incremental refreshes tomorrow) against it.

Inputs: pandas DataFrames with the bronze columns (e.g. ``DemoGenerator().batch(...)
.to_pandas()``, VARIANT columns as JSON text or already-parsed dicts). Outputs: DataFrames
with the dynamic tables' upper-case columns in the SQL's order (row order is
unspecified). ``compare_frames`` compares two such frames as bags, floats with a
tolerance. Snowflake semantics mirrored on purpose: NULLs skip aggregates, ``DIV0``
returns 0, ``DATEDIFF('second', a, b)`` counts second boundaries, ``LPAD`` truncates.

Example::

    sessions = customer_sessions(raw_events)
    metrics = customer_behavior_metrics(sessions)
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from snowmelt.demo import catalogue as cat

# Business rules, stated once here and once (independently) in the SQL.
SENSOR_RULES: dict[str, tuple[str, float, float, float]] = {
    # sensor type: (canonical unit, min valid, max valid, spike threshold) in canonical units
    "temperature": ("C", -40.0, 85.0, 8.0),
    "humidity": ("%", 0.0, 100.0, 20.0),
    "pressure": ("kPa", 0.0, 1000.0, 80.0),
    "vibration": ("mm/s", 0.0, 100.0, 15.0),
}
MISSING_TOKENS = frozenset({"", "NAN", "NULL"})
LOW_BATTERY_PCT = 20
SESSION_GAP_SECONDS = 1800
FUNNEL_STEPS = {"page_view": 1, "search": 1, "add_to_cart": 2, "checkout": 3, "purchase": 4}
FUNNEL_STAGES = {4: "purchase", 3: "checkout", 2: "cart", 1: "view"}

_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


# ---------------------------------------------------------------------------- helpers
def _is_null(v: Any) -> bool:
    return v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and math.isnan(v))


def _try_to_double(v: Any) -> float | None:
    """Snowflake TRY_TO_DOUBLE on a trimmed string, with missing tokens mapped to NULL."""
    if _is_null(v):
        return None
    s = str(v).strip(" ")
    if s.upper() in MISSING_TOKENS or not _NUMBER.fullmatch(s):
        return None
    return float(s)


def _json(v: Any) -> dict[str, Any] | None:
    if _is_null(v):
        return None
    return v if isinstance(v, dict) else json.loads(v)


def _path(doc: dict[str, Any] | None, path: str) -> Any:
    for key in path.split("."):
        if not isinstance(doc, dict):
            return None
        doc = doc.get(key)
    return doc


def _as_string(v: Any) -> str | None:
    """VARIANT ``::STRING``: strings unquoted, JSON null and missing keys become NULL."""
    if _is_null(v):
        return None
    return v if isinstance(v, str) else json.dumps(v)


def _json_column(values: pd.Series, path: str, kind: str) -> pd.Series:
    docs = values.map(_json)
    raw = docs.map(lambda d: _path(d, path))
    if kind == "string":
        return raw.map(_as_string).astype(object)
    if kind == "int":
        return raw.map(lambda v: None if _is_null(v) else int(round(float(v)))).astype("Int64")
    return raw.map(lambda v: np.nan if _is_null(v) else float(v)).astype(float)


def _datediff_seconds(start: pd.Series, end: pd.Series) -> pd.Series:
    """DATEDIFF('second', start, end): the number of second boundaries crossed."""
    return (end.dt.floor("s") - start.dt.floor("s")).dt.total_seconds()


def _div0(num: pd.Series, den: pd.Series) -> pd.Series:
    num, den = num.astype(float), den.astype(float)
    return pd.Series(np.where(den == 0, 0.0, num / den.where(den != 0, 1.0)), index=num.index)


def _to_float(s: pd.Series) -> pd.Series:
    return s.map(lambda v: np.nan if _is_null(v) else float(v)).astype(float)


def _max_ignore_null(s: pd.Series) -> Any:
    values = [v for v in s if not _is_null(v)]
    return max(values) if values else None


def _first_label(conditions: list[pd.Series], labels: list[str]) -> pd.Series:
    """CASE WHEN c1 THEN l1 WHEN c2 THEN l2 ... END (NULL when nothing matches)."""
    out = pd.Series(None, index=conditions[0].index, dtype=object)
    for condition, label in reversed(list(zip(conditions, labels, strict=True))):
        out[condition.to_numpy(dtype=bool)] = label
    return out


def _sum(s: pd.Series) -> float:
    return s.sum(min_count=1)


# ---------------------------------------------------------------------------- dims
def dims() -> dict[str, pd.DataFrame]:
    """``BRONZE.DIM_STORES`` and ``BRONZE.DIM_PRODUCTS`` as DataFrames (prices as float)."""
    stores = pd.DataFrame([s._asdict() for s in cat.STORES], columns=cat.DIM_STORES_COLUMNS)
    products = pd.DataFrame([p._asdict() for p in cat.PRODUCTS], columns=cat.DIM_PRODUCTS_COLUMNS)
    for col in ("LIST_PRICE", "UNIT_COST"):
        products[col] = products[col].astype(float)
    return {"DIM_STORES": stores, "DIM_PRODUCTS": products}


# ---------------------------------------------------------------------------- silver
def sensor_readings_cleaned(raw: pd.DataFrame) -> pd.DataFrame:
    """``SILVER.SENSOR_READINGS_CLEANED`` from ``BRONZE.RAW_SENSOR_READINGS``."""
    df = pd.DataFrame(
        {
            "READING_ID": raw["READING_ID"].astype(object),
            "DEVICE_ID": raw["DEVICE_ID"].astype(object),
            "SENSOR_TYPE": raw["SENSOR_TYPE"].astype(object),
            "SITE_ID": _json_column(raw["METADATA"], "location.site", "string"),
            "ZONE_ID": _json_column(raw["METADATA"], "location.zone", "string"),
            "READING_TS": pd.to_datetime(raw["READING_TS"]),
        }
    )
    df["READING_HOUR"] = df["READING_TS"].dt.floor("h")
    df["RAW_VALUE"] = raw["READING_VALUE"].astype(object)
    df["RAW_UNIT"] = raw["UNIT"].astype(object)
    parsed = raw["READING_VALUE"].map(_try_to_double).astype(float)
    df["PARSED_VALUE"] = parsed
    unit = raw["UNIT"].map(lambda u: None if _is_null(u) else str(u).upper())
    normalized = parsed.copy()
    fahrenheit = unit.isin(["F", "DEGF"])
    normalized[fahrenheit] = (parsed[fahrenheit] - 32) * 5 / 9
    psi = unit == "PSI"
    normalized[psi] = parsed[psi] * 6.894757
    inch = unit == "IN/S"
    normalized[inch] = parsed[inch] * 25.4
    df["NORMALIZED_VALUE"] = normalized
    rules = df["SENSOR_TYPE"].map(SENSOR_RULES)
    df["NORMALIZED_UNIT"] = rules.map(lambda r: r[0] if isinstance(r, tuple) else None)
    low = rules.map(lambda r: r[1] if isinstance(r, tuple) else np.nan).astype(float)
    high = rules.map(lambda r: r[2] if isinstance(r, tuple) else np.nan).astype(float)
    spike = rules.map(lambda r: r[3] if isinstance(r, tuple) else np.nan).astype(float)

    # Previous readings of the same device within the same hour (LAG 1 and 2).
    order = df.sort_values(
        ["DEVICE_ID", "READING_HOUR", "READING_TS", "READING_ID"], kind="mergesort"
    ).index
    grouped = df.loc[order].groupby(["DEVICE_ID", "READING_HOUR"], sort=False)
    previous = grouped["NORMALIZED_VALUE"].shift(1).reindex(df.index)
    previous_2 = grouped["NORMALIZED_VALUE"].shift(2).reindex(df.index)
    df["PREVIOUS_VALUE"] = previous
    df["FIRMWARE_VERSION"] = _json_column(raw["METADATA"], "firmware", "string")
    df["BATTERY_PCT"] = _json_column(raw["METADATA"], "battery_pct", "int")
    df["SIGNAL_RSSI_DBM"] = _json_column(raw["METADATA"], "rssi_dbm", "int")

    missing = parsed.isna()
    out_of_range = (normalized < low) | (normalized > high)
    is_spike = (normalized - previous).abs() > spike
    is_stuck = (normalized == previous) & (previous == previous_2)
    df["IS_MISSING_VALUE"] = missing
    df["IS_OUT_OF_RANGE"] = out_of_range
    df["IS_SPIKE"] = is_spike
    df["IS_STUCK"] = is_stuck
    df["IS_LOW_BATTERY"] = (df["BATTERY_PCT"] < LOW_BATTERY_PCT).fillna(False).astype(bool)
    df["IS_ANOMALY"] = missing | out_of_range | is_spike | is_stuck
    df["ANOMALY_TYPE"] = _first_label(
        [missing, out_of_range, is_spike, is_stuck],
        ["MISSING_VALUE", "OUT_OF_RANGE", "SPIKE", "STUCK"],
    )
    df["IS_VALID"] = ~missing & ~out_of_range
    df["_LOADED_AT"] = pd.to_datetime(raw["_LOADED_AT"])
    return df.reset_index(drop=True)


def transactions_enriched(
    raw: pd.DataFrame, products: pd.DataFrame, stores: pd.DataFrame
) -> pd.DataFrame:
    """``SILVER.TRANSACTIONS_ENRICHED`` from ``RAW_TRANSACTIONS`` and the two dimensions."""
    t = raw.reset_index(drop=True)
    p = products[["PRODUCT_ID", "PRODUCT_NAME", "CATEGORY", "BRAND", "LIST_PRICE", "UNIT_COST"]]
    s = stores[["STORE_ID", "STORE_NAME", "CITY", "REGION", "STORE_TYPE"]]
    known_products = set(p["PRODUCT_ID"])
    known_stores = set(s["STORE_ID"])
    m = t.merge(p, on="PRODUCT_ID", how="left").merge(s, on="STORE_ID", how="left")
    qty = _to_float(m["QUANTITY"])
    price = _to_float(m["UNIT_PRICE"])
    cost = _to_float(m["UNIT_COST"])
    discount = _to_float(m["DISCOUNT_PCT"]).fillna(0.0)
    out = pd.DataFrame(
        {
            "TRANSACTION_ID": m["TRANSACTION_ID"],
            "LINE_NUMBER": m["LINE_NUMBER"],
            "TRANSACTION_TS": pd.to_datetime(m["TRANSACTION_TS"]),
        }
    )
    out["TRANSACTION_DATE"] = out["TRANSACTION_TS"].dt.date
    for col in (
        "STORE_ID",
        "STORE_NAME",
        "CITY",
        "REGION",
        "STORE_TYPE",
        "CUSTOMER_ID",
        "PRODUCT_ID",
        "PRODUCT_NAME",
        "CATEGORY",
        "BRAND",
    ):
        out[col] = m[col].astype(object).where(m[col].notna(), None)
    out["QUANTITY"] = m["QUANTITY"]
    out["UNIT_PRICE"] = price
    out["LIST_PRICE"] = _to_float(m["LIST_PRICE"])
    out["DISCOUNT_PCT"] = discount
    out["GROSS_AMOUNT"] = qty * price
    out["DISCOUNT_AMOUNT"] = qty * price * discount / 100
    net = qty * price * (1 - discount / 100)
    out["NET_AMOUNT"] = net
    out["COST_AMOUNT"] = qty * cost
    out["MARGIN_AMOUNT"] = net - qty * cost
    out["PAYMENT_METHOD"] = m["PAYMENT_METHOD"].map(
        lambda v: None if _is_null(v) else str(v).strip(" ").upper()
    )
    non_positive = qty.fillna(0) <= 0
    unknown_product = ~m["PRODUCT_ID"].isin(known_products)
    unknown_store = ~m["STORE_ID"].isin(known_stores)
    negative_price = price.fillna(0) < 0
    out["IS_NON_POSITIVE_QUANTITY"] = non_positive
    out["IS_UNKNOWN_PRODUCT"] = unknown_product
    out["IS_UNKNOWN_STORE"] = unknown_store
    out["IS_NEGATIVE_PRICE"] = negative_price
    out["IS_VALID"] = ~(non_positive | unknown_product | unknown_store | negative_price)
    out["VALIDATION_ERROR"] = _first_label(
        [unknown_product, unknown_store, non_positive, negative_price],
        ["UNKNOWN_PRODUCT", "UNKNOWN_STORE", "NON_POSITIVE_QUANTITY", "NEGATIVE_PRICE"],
    )
    out["_LOADED_AT"] = pd.to_datetime(m["_LOADED_AT"])
    return out


def customer_sessions(raw: pd.DataFrame) -> pd.DataFrame:
    """``SILVER.CUSTOMER_SESSIONS``: 30-minute-gap sessions folded to one row each."""
    ev = pd.DataFrame(
        {
            "EVENT_ID": raw["EVENT_ID"],
            "CUSTOMER_ID": raw["CUSTOMER_ID"],
            "EVENT_TYPE": raw["EVENT_TYPE"],
            "EVENT_TS": pd.to_datetime(raw["EVENT_TS"]),
            "DEVICE_TYPE": raw["DEVICE_TYPE"],
            "REFERRER": _json_column(raw["PROPERTIES"], "referrer", "string"),
        }
    ).reset_index(drop=True)
    ev["FUNNEL_STEP"] = ev["EVENT_TYPE"].map(FUNNEL_STEPS).fillna(0).astype(int)
    total = _json_column(raw["PROPERTIES"], "order_total", "float").reset_index(drop=True)
    ev["ORDER_TOTAL"] = np.where(ev["EVENT_TYPE"] == "purchase", total.fillna(0.0), 0.0)
    ev = ev.sort_values(["CUSTOMER_ID", "EVENT_TS", "EVENT_ID"], kind="mergesort")
    previous = ev.groupby("CUSTOMER_ID", sort=False)["EVENT_TS"].shift(1)
    gap = _datediff_seconds(previous, ev["EVENT_TS"])
    ev["IS_SESSION_START"] = (previous.isna() | (gap > SESSION_GAP_SECONDS)).astype(int)
    ev["SESSION_NUMBER"] = ev.groupby("CUSTOMER_ID", sort=False)["IS_SESSION_START"].cumsum()
    start = ev["IS_SESSION_START"] == 1
    ev["_START_DEVICE"] = ev["DEVICE_TYPE"].where(start)
    ev["_START_REFERRER"] = ev["REFERRER"].where(start)
    ev["_IS_VIEW"] = ev["FUNNEL_STEP"] == 1
    ev["_IS_CART"] = ev["EVENT_TYPE"] == "add_to_cart"
    ev["_IS_CHECKOUT"] = ev["EVENT_TYPE"] == "checkout"
    ev["_IS_PURCHASE"] = ev["EVENT_TYPE"] == "purchase"

    g = ev.groupby(["CUSTOMER_ID", "SESSION_NUMBER"], sort=False)
    s = g.agg(
        SESSION_START=("EVENT_TS", "min"),
        SESSION_END=("EVENT_TS", "max"),
        DEVICE_TYPE=("_START_DEVICE", _max_ignore_null),
        ENTRY_REFERRER=("_START_REFERRER", _max_ignore_null),
        EVENT_COUNT=("EVENT_ID", "size"),
        VIEW_EVENT_COUNT=("_IS_VIEW", "sum"),
        ADD_TO_CART_COUNT=("_IS_CART", "sum"),
        CHECKOUT_COUNT=("_IS_CHECKOUT", "sum"),
        PURCHASE_COUNT=("_IS_PURCHASE", "sum"),
        FUNNEL_STEP=("FUNNEL_STEP", "max"),
        PURCHASE_AMOUNT=("ORDER_TOTAL", "sum"),
    ).reset_index()
    out = pd.DataFrame(
        {
            "SESSION_ID": [
                f"{c}-{str(n).rjust(4, '0')[:4]}"
                for c, n in zip(s["CUSTOMER_ID"], s["SESSION_NUMBER"], strict=True)
            ],
            "CUSTOMER_ID": s["CUSTOMER_ID"],
            "SESSION_NUMBER": s["SESSION_NUMBER"],
            "SESSION_START": s["SESSION_START"],
            "SESSION_END": s["SESSION_END"],
            "SESSION_DATE": s["SESSION_START"].dt.date,
            "SESSION_DURATION_SEC": _datediff_seconds(s["SESSION_START"], s["SESSION_END"]),
        }
    )
    for col in (
        "DEVICE_TYPE",
        "ENTRY_REFERRER",
        "EVENT_COUNT",
        "VIEW_EVENT_COUNT",
        "ADD_TO_CART_COUNT",
        "CHECKOUT_COUNT",
        "PURCHASE_COUNT",
        "FUNNEL_STEP",
    ):
        out[col] = s[col]
    out["FUNNEL_STAGE"] = s["FUNNEL_STEP"].map(FUNNEL_STAGES).fillna("none")
    out["PURCHASE_AMOUNT"] = s["PURCHASE_AMOUNT"]
    out["IS_CONVERTED"] = s["FUNNEL_STEP"] == 4
    out["IS_BOUNCE"] = s["EVENT_COUNT"] == 1
    return out


# ---------------------------------------------------------------------------- gold
def device_health_hourly(cleaned: pd.DataFrame) -> pd.DataFrame:
    """``GOLD.DEVICE_HEALTH_HOURLY`` from ``SENSOR_READINGS_CLEANED``."""
    c = cleaned.copy()
    valid = c["IS_VALID"].astype(bool)
    c["_VALID_VALUE"] = _to_float(c["NORMALIZED_VALUE"]).where(valid)
    for col in (
        "IS_VALID",
        "IS_MISSING_VALUE",
        "IS_OUT_OF_RANGE",
        "IS_SPIKE",
        "IS_STUCK",
        "IS_ANOMALY",
    ):
        c[col] = c[col].astype(bool)
    c["BATTERY_PCT"] = _to_float(c["BATTERY_PCT"])
    keys = ["DEVICE_ID", "SENSOR_TYPE", "NORMALIZED_UNIT", "READING_HOUR"]
    g = (
        c.groupby(keys, dropna=False, sort=False)
        .agg(
            SITE_ID=("SITE_ID", _max_ignore_null),
            READING_COUNT=("READING_ID", "size"),
            VALID_READING_COUNT=("IS_VALID", "sum"),
            AVG_VALUE=("_VALID_VALUE", "mean"),
            MIN_VALUE=("_VALID_VALUE", "min"),
            MAX_VALUE=("_VALID_VALUE", "max"),
            MISSING_COUNT=("IS_MISSING_VALUE", "sum"),
            OUT_OF_RANGE_COUNT=("IS_OUT_OF_RANGE", "sum"),
            SPIKE_COUNT=("IS_SPIKE", "sum"),
            STUCK_COUNT=("IS_STUCK", "sum"),
            ANOMALY_COUNT=("IS_ANOMALY", "sum"),
            MIN_BATTERY_PCT=("BATTERY_PCT", "min"),
            FIRST_READING_TS=("READING_TS", "min"),
            LAST_READING_TS=("READING_TS", "max"),
        )
        .reset_index()
    )
    rate = _div0(g["ANOMALY_COUNT"], g["READING_COUNT"])
    g.insert(g.columns.get_loc("MIN_BATTERY_PCT"), "ANOMALY_RATE", rate)
    g["HEALTH_STATUS"] = np.select(
        [rate >= 0.25, rate >= 0.05], ["CRITICAL", "DEGRADED"], default="HEALTHY"
    )
    return g


def daily_sales_summary(enriched: pd.DataFrame) -> pd.DataFrame:
    """``GOLD.DAILY_SALES_SUMMARY``: per day and store, invalid lines counted not summed."""
    e = enriched.copy()
    valid = e["IS_VALID"].astype(bool)
    e["_VALID_TXN"] = e["TRANSACTION_ID"].where(valid)
    e["_VALID_CUSTOMER"] = e["CUSTOMER_ID"].where(valid)
    e["_VALID"] = valid
    e["_INVALID"] = ~valid
    for col in ("QUANTITY", "GROSS_AMOUNT", "DISCOUNT_AMOUNT", "NET_AMOUNT"):
        e["_V_" + col] = _to_float(e[col]).where(valid, 0.0)
    keys = ["TRANSACTION_DATE", "STORE_ID", "STORE_NAME", "REGION"]
    g = (
        e.groupby(keys, dropna=False, sort=False)
        .agg(
            TRANSACTION_COUNT=("_VALID_TXN", "nunique"),
            LINE_COUNT=("_VALID", "sum"),
            UNITS_SOLD=("_V_QUANTITY", _sum),
            GROSS_REVENUE=("_V_GROSS_AMOUNT", _sum),
            DISCOUNT_TOTAL=("_V_DISCOUNT_AMOUNT", _sum),
            NET_REVENUE=("_V_NET_AMOUNT", _sum),
            UNIQUE_CUSTOMERS=("_VALID_CUSTOMER", "nunique"),
            INVALID_LINE_COUNT=("_INVALID", "sum"),
            ROWS=("_VALID", "size"),
        )
        .reset_index()
    )
    g.insert(
        g.columns.get_loc("UNIQUE_CUSTOMERS"),
        "AVG_BASKET_VALUE",
        _div0(g["NET_REVENUE"], g["TRANSACTION_COUNT"]),
    )
    g.insert(
        g.columns.get_loc("UNIQUE_CUSTOMERS"),
        "AVG_BASKET_UNITS",
        _div0(g["UNITS_SOLD"], g["TRANSACTION_COUNT"]),
    )
    g["INVALID_LINE_RATE"] = _div0(g["INVALID_LINE_COUNT"], g["ROWS"])
    return g.drop(columns=["ROWS"])


def product_performance(enriched: pd.DataFrame) -> pd.DataFrame:
    """``GOLD.PRODUCT_PERFORMANCE``: per product over valid lines."""
    e = enriched[enriched["IS_VALID"].astype(bool)].copy()
    for col in ("QUANTITY", "GROSS_AMOUNT", "NET_AMOUNT", "MARGIN_AMOUNT", "DISCOUNT_PCT"):
        e[col] = _to_float(e[col])
    keys = ["PRODUCT_ID", "PRODUCT_NAME", "CATEGORY", "BRAND"]
    g = (
        e.groupby(keys, dropna=False, sort=False)
        .agg(
            UNITS_SOLD=("QUANTITY", _sum),
            LINE_COUNT=("TRANSACTION_ID", "size"),
            TRANSACTION_COUNT=("TRANSACTION_ID", "nunique"),
            UNIQUE_CUSTOMERS=("CUSTOMER_ID", "nunique"),
            GROSS_REVENUE=("GROSS_AMOUNT", _sum),
            NET_REVENUE=("NET_AMOUNT", _sum),
            MARGIN=("MARGIN_AMOUNT", _sum),
            AVG_DISCOUNT_PCT=("DISCOUNT_PCT", "mean"),
            FIRST_SALE_TS=("TRANSACTION_TS", "min"),
            LAST_SALE_TS=("TRANSACTION_TS", "max"),
        )
        .reset_index()
    )
    g.insert(
        g.columns.get_loc("AVG_DISCOUNT_PCT"), "MARGIN_PCT", _div0(g["MARGIN"], g["NET_REVENUE"])
    )
    g.insert(
        g.columns.get_loc("FIRST_SALE_TS"),
        "AVG_SELLING_PRICE",
        _div0(g["NET_REVENUE"], g["UNITS_SOLD"]),
    )
    return g


def customer_behavior_metrics(sessions: pd.DataFrame) -> pd.DataFrame:
    """``GOLD.CUSTOMER_BEHAVIOR_METRICS``: funnel conversion per day and device type."""
    s = sessions.copy()
    step = s["FUNNEL_STEP"].astype(int)
    s["_VIEW"], s["_CART"] = step >= 1, step >= 2
    s["_CHECKOUT"], s["_PURCHASE"] = step >= 3, step >= 4
    s["_BOUNCE"] = s["IS_BOUNCE"].astype(bool)
    s["SESSION_DURATION_SEC"] = _to_float(s["SESSION_DURATION_SEC"])
    s["EVENT_COUNT"] = _to_float(s["EVENT_COUNT"])
    s["PURCHASE_AMOUNT"] = _to_float(s["PURCHASE_AMOUNT"])
    g = (
        s.groupby(["SESSION_DATE", "DEVICE_TYPE"], dropna=False, sort=False)
        .agg(
            SESSION_COUNT=("SESSION_ID", "size"),
            UNIQUE_CUSTOMERS=("CUSTOMER_ID", "nunique"),
            VIEW_SESSIONS=("_VIEW", "sum"),
            CART_SESSIONS=("_CART", "sum"),
            CHECKOUT_SESSIONS=("_CHECKOUT", "sum"),
            PURCHASE_SESSIONS=("_PURCHASE", "sum"),
            BOUNCE_SESSIONS=("_BOUNCE", "sum"),
            AVG_SESSION_DURATION_SEC=("SESSION_DURATION_SEC", "mean"),
            AVG_EVENTS_PER_SESSION=("EVENT_COUNT", "mean"),
            TOTAL_REVENUE=("PURCHASE_AMOUNT", _sum),
        )
        .reset_index()
    )
    at = g.columns.get_loc("AVG_SESSION_DURATION_SEC")
    rates = {
        "VIEW_TO_CART_RATE": _div0(g["CART_SESSIONS"], g["VIEW_SESSIONS"]),
        "CART_TO_CHECKOUT_RATE": _div0(g["CHECKOUT_SESSIONS"], g["CART_SESSIONS"]),
        "CHECKOUT_TO_PURCHASE_RATE": _div0(g["PURCHASE_SESSIONS"], g["CHECKOUT_SESSIONS"]),
        "CONVERSION_RATE": _div0(g["PURCHASE_SESSIONS"], g["SESSION_COUNT"]),
        "BOUNCE_RATE": _div0(g["BOUNCE_SESSIONS"], g["SESSION_COUNT"]),
    }
    for offset, (name, values) in enumerate(rates.items()):
        g.insert(at + offset, name, values)
    g["REVENUE_PER_SESSION"] = _div0(g["TOTAL_REVENUE"], g["SESSION_COUNT"])
    return g


# ---------------------------------------------------------------------------- comparison
def _canonical_value(v: Any) -> Any:
    if _is_null(v):
        return None
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, float, Decimal, np.integer, np.floating)):
        return float(v)
    if isinstance(v, dt.datetime):
        return pd.Timestamp(v).as_unit("us")
    if isinstance(v, dt.date):
        return pd.Timestamp(v).as_unit("us")
    return v


def canonical(df: pd.DataFrame) -> list[tuple[Any, ...]]:
    """Rows as tuples of comparable values (numbers as float, dates as timestamps, NULL as
    None), sorted so that two frames holding the same bag of rows line up."""
    rows = [
        tuple(_canonical_value(v) for v in row)
        for row in df.astype(object).itertuples(index=False, name=None)
    ]

    def key(row: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(
            (0, 0) if v is None else (1, round(v, 6) if isinstance(v, float) else str(v))
            for v in row
        )

    return sorted(rows, key=key)


def compare_frames(
    actual: pd.DataFrame,
    expected: pd.DataFrame,
    rel_tol: float = 1e-9,
    abs_tol: float = 1e-6,
    limit: int = 10,
) -> list[str]:
    """Differences between two frames compared as bags; an empty list means equal."""
    if list(actual.columns) != list(expected.columns):
        return [f"columns differ: {list(actual.columns)} != {list(expected.columns)}"]
    if len(actual) != len(expected):
        return [f"row counts differ: {len(actual)} != {len(expected)}"]
    problems: list[str] = []
    for a_row, e_row in zip(canonical(actual), canonical(expected), strict=True):
        for col, a, e in zip(actual.columns, a_row, e_row, strict=True):
            same = (
                (a is None and e is None)
                or (
                    isinstance(a, float)
                    and isinstance(e, float)
                    and math.isclose(a, e, rel_tol=rel_tol, abs_tol=abs_tol)
                )
                or a == e
            )
            if not same:
                problems.append(f"{col}: {a!r} != {e!r} in row {e_row[:3]}")
                if len(problems) >= limit:
                    return problems
    return problems
