"""The differential oracle: incremental refresh against from-scratch evaluation.

Hypothesis draws a pipeline of dynamic tables (one query shape from every strategy, alone or
chained), base tables and a stream of changes — inserts with duplicates and NULLs, updates
moving rows between groups, deletes emptying groups, deleting the current MIN/MAX, late rows,
the clock moving time windows. After every refresh round, each dynamic table must equal its
SQL evaluated from scratch over the base tables as of its data version (``Solo.expected``:
upstream dynamic tables expanded into their own SQL, no refresh machinery involved),
compared as bags (EXCEPT ALL both ways); and its physical rows, hidden state included, must
equal its plan evaluated from scratch.

``SNOWMELT_ORACLE_EXAMPLES=N`` runs N cases (default 300). A failure prints the replayable
script (CREATE, DML and refresh statements in order).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, note
from hypothesis import strategies as st

from .conftest import NOW, Solo, is_, lit, oracle_settings, run_pipeline, shared_harness

EXAMPLES = int(os.environ.get("SNOWMELT_ORACLE_EXAMPLES", "300"))
TABLES = ("T1", "T2")
COLUMNS = "K INT, G VARCHAR, V INT, D NUMBER(10, 2), TS TIMESTAMP_NTZ"

# -- the query family ------------------------------------------------------------------------
# Each entry: name -> (pipeline builder taking parameters c, h, where). A pipeline is a list
# of (dynamic table name, SQL template); later tables may read earlier ones. {NOW} stands for
# CURRENT_TIMESTAMP().
WHERES = ("", "WHERE V > {c}", "WHERE G IS NOT NULL AND (V < {c} OR V IS NULL)")


def _single(sql: str) -> Any:
    return lambda p: [("Q", sql.format(**p))]


FAMILY: dict[str, Any] = {
    "linear": _single(
        "SELECT K, V + 1 AS V1, UPPER(G) AS UG, IFF(V > {c}, 'hi', 'lo') AS BAND "
        "FROM T1 WHERE V > {c2} OR G IS NULL"
    ),
    "linear-functions": _single(
        "SELECT K, CAST(D AS VARCHAR) AS DS, DATE_TRUNC('hour', TS) AS H, "
        "COALESCE(G, 'none') AS G2, CASE WHEN K IS NULL THEN -1 ELSE K * 10 END AS K10, "
        "OBJECT_CONSTRUCT('v', V):v::INT AS JV FROM T1"
    ),
    "linear-star": _single("SELECT * FROM T1 {where}"),
    "union-all": _single(
        "SELECT K, V FROM T1 WHERE V >= {c} UNION ALL SELECT K, V FROM T2 WHERE K IS NOT NULL"
    ),
    "self-union": _single(
        "SELECT K, V, 'x' AS SIDE FROM T1 UNION ALL SELECT K, V, 'y' AS SIDE FROM T1 WHERE V > {c}"
    ),
    "cte-subquery": _single(
        "WITH C AS (SELECT K, V * 2 AS W, G FROM T1 WHERE V IS NOT NULL) "
        "SELECT K, W FROM (SELECT * FROM C WHERE W > {c}) AS Q"
    ),
    "time-window": _single("SELECT K, V, TS FROM T1 WHERE TS > DATEADD(hour, -{h}, {NOW})"),
    "group-by": _single(
        "SELECT K, COUNT(*) AS N, COUNT(V) AS CV, SUM(V) AS S, AVG(V) AS A, "
        "MIN(V) AS MN, MAX(V) AS MX, SUM(D) AS SD FROM T1 {where} GROUP BY K"
    ),
    "group-by-expressions": _single(
        "SELECT K, COALESCE(G, '?') AS G2, COUNT(*) AS N, MAX(D) AS MD, "
        "SUM(V) - MIN(V) AS SPREAD FROM T1 GROUP BY K, COALESCE(G, '?')"
    ),
    "group-key-hidden": _single(
        "SELECT SUM(V) AS S, COUNT_IF(V > {c}) AS BIG, MIN(TS) AS T0 FROM T1 GROUP BY G"
    ),
    "scalar": _single(
        "SELECT COUNT(*) AS N, SUM(V) AS S, MIN(V) AS MN, MAX(D) AS MX, "
        "AVG(D) AS AD FROM T1 {where}"
    ),
    "holistic": _single(
        "SELECT K, COUNT(DISTINCT V) AS DV, MEDIAN(V) AS MED, "
        "LISTAGG(G, ',') WITHIN GROUP (ORDER BY G) AS GS FROM T1 GROUP BY K"
    ),
    "having": _single(
        "SELECT G, COUNT(*) AS N, SUM(V) AS S FROM T1 GROUP BY G HAVING COUNT(*) > {c1}"
    ),
    "time-having": _single(
        "SELECT K, COUNT(*) AS N, MAX(TS) AS LAST FROM T1 GROUP BY K "
        "HAVING MAX(TS) > DATEADD(hour, -{h}, {NOW})"
    ),
    "time-group-by": _single(
        "SELECT G, COUNT(*) AS N, SUM(V) AS S FROM T1 "
        "WHERE TS > DATEADD(hour, -{h}, {NOW}) GROUP BY G"
    ),
    "scalar-holistic": _single("SELECT COUNT(DISTINCT K) AS DK, MAX(V) AS MX FROM T1 {where}"),
    "group-over-union": _single(
        "SELECT K, COUNT(*) AS N, SUM(V) AS S FROM (SELECT K, V FROM T1 UNION ALL "
        "SELECT K, V FROM T2) AS U GROUP BY K"
    ),
    "distinct": _single("SELECT DISTINCT K, G FROM T1 {where}"),
    "union": _single("SELECT K FROM T1 UNION SELECT K FROM T2"),
    "chain-linear-aggregate": lambda p: [
        ("SILVER", "SELECT K, G, V + 1 AS V1 FROM T1 WHERE V > {c2} OR V IS NULL".format(**p)),
        ("GOLD", "SELECT K, COUNT(*) AS N, SUM(V1) AS S, MIN(V1) AS MN FROM SILVER GROUP BY K"),
    ],
    "chain-aggregate-linear": lambda p: [
        ("AGG", "SELECT K, COUNT(*) AS N, SUM(V) AS S, MAX(V) AS MX FROM T1 GROUP BY K"),
        ("TOP", "SELECT K, N, S FROM AGG WHERE N > 1"),
    ],
    "chain-distinct": lambda p: [
        ("SILVER", "SELECT K, G FROM T1 {where}".format(**p)),
        ("DIST", "SELECT DISTINCT K FROM SILVER"),
        ("CNT", "SELECT COUNT(*) AS N, COUNT(K) AS NK FROM DIST"),
    ],
    "chain-time": lambda p: [
        ("RECENT", "SELECT K, G, V FROM T1 WHERE TS > DATEADD(hour, -{h}, {NOW})".format(**p)),
        ("BYG", "SELECT G, COUNT(*) AS N, SUM(V) AS S FROM RECENT GROUP BY G"),
    ],
}


# -- data and changes ------------------------------------------------------------------------
KEYS = st.one_of(st.none(), st.integers(0, 3))
VALUES = st.one_of(st.none(), st.integers(-3, 12))
ROW = st.tuples(
    KEYS,
    st.sampled_from([None, "a", "b", "c"]),
    VALUES,
    st.one_of(st.none(), st.integers(-500, 500).map(lambda c: Decimal(c) / 100)),
    st.integers(-6, 2),
)
TABLE = st.sampled_from(TABLES)
OP = st.one_of(
    st.tuples(st.just("insert"), TABLE, st.lists(ROW, min_size=1, max_size=4)),
    st.tuples(st.just("duplicate"), TABLE, ROW, st.integers(2, 3)),
    st.tuples(st.just("move"), TABLE, VALUES, KEYS),
    st.tuples(st.just("bump"), TABLE, KEYS, st.integers(-3, 3)),
    st.tuples(st.just("regroup"), TABLE, KEYS, st.sampled_from([None, "a", "b"])),
    st.tuples(st.just("delete-key"), TABLE, KEYS),
    st.tuples(st.just("delete-value"), TABLE, VALUES),
    st.tuples(st.just("delete-min"), TABLE),
    st.tuples(st.just("delete-max"), TABLE),
    st.tuples(st.just("retime"), TABLE, VALUES, st.integers(-5, 1)),
)
STEP = st.tuples(st.lists(OP, min_size=0, max_size=4), st.integers(0, 5400))


@dataclass
class Case:
    family: str
    params: dict[str, Any]
    initial: list[tuple[str, list[Any]]]
    steps: list[Any]


def _rows_sql(table: str, rows: list[Any], harness: Solo) -> str:
    now = harness.clock.now().replace(tzinfo=None)
    values = ", ".join(
        f"({lit(k)}, {lit(g)}, {lit(v)}, {lit(d)}, "
        f"'{(now + timedelta(hours=h)).isoformat(sep=' ')}')"
        for k, g, v, d, h in rows
    )
    return f"INSERT INTO {table} VALUES {values}"


def _op_sql(op: tuple[Any, ...], harness: Solo) -> str | None:
    kind, table = op[0], op[1]
    if kind == "insert":
        return _rows_sql(table, op[2], harness)
    if kind == "duplicate":
        return _rows_sql(table, [op[2]] * op[3], harness)
    if kind == "move":
        return f"UPDATE {table} SET K = {lit(op[3])} WHERE {is_('V', op[2])}"
    if kind == "bump":
        return f"UPDATE {table} SET V = V + {op[3]} WHERE {is_('K', op[2])}"
    if kind == "regroup":
        return f"UPDATE {table} SET G = {lit(op[3])} WHERE {is_('K', op[2])}"
    if kind == "delete-key":
        return f"DELETE FROM {table} WHERE {is_('K', op[2])}"
    if kind == "delete-value":
        return f"DELETE FROM {table} WHERE {is_('V', op[2])}"
    if kind in ("delete-min", "delete-max"):
        fn = "MIN" if kind == "delete-min" else "MAX"
        value = harness.session.sql(f"SELECT {fn}(V) FROM {table}").scalar()
        return None if value is None else f"DELETE FROM {table} WHERE V = {value}"
    if kind == "retime":
        stamp = harness.clock.now().replace(tzinfo=None) + timedelta(hours=op[3])
        return f"UPDATE {table} SET TS = '{stamp.isoformat(sep=' ')}' WHERE {is_('V', op[2])}"
    raise AssertionError(kind)


CASES = st.builds(
    Case,
    family=st.sampled_from(sorted(FAMILY)),
    params=st.fixed_dictionaries(
        {
            "c": st.integers(-1, 8),
            "c1": st.integers(0, 3),
            "c2": st.integers(-2, 6),
            "h": st.integers(1, 4),
            "w": st.integers(0, len(WHERES) - 1),
        }
    ),
    initial=st.lists(st.tuples(TABLE, st.lists(ROW, min_size=1, max_size=5)), max_size=2),
    steps=st.lists(STEP, min_size=1, max_size=5),
)


def _pipeline(case: Case) -> list[tuple[str, str]]:
    params = dict(case.params)
    params["where"] = WHERES[params["w"]].format(**params)
    params["NOW"] = NOW
    return FAMILY[case.family](params)


def run_case(case: Case, report: Any = note) -> None:
    harness = shared_harness(__name__)  # row times are relative to its clock
    setup = [f"CREATE TABLE {table} ({COLUMNS})" for table in TABLES]
    setup += [_rows_sql(table, rows, harness) for table, rows in case.initial]
    run_pipeline(__name__, setup, _pipeline(case), case.steps, _op_sql, report)


# One fixed change stream through every family, so each shape meets each kind of change at
# least once whatever the generated cases draw.
FIXED = Case(
    "",
    {"c": 2, "c1": 1, "c2": 0, "h": 2, "w": 1},
    [
        (
            "T1",
            [
                (1, "a", 1, Decimal("1.50"), -1),
                (1, "b", 5, None, -3),
                (None, "a", 2, Decimal("0.25"), 0),
                (2, None, None, Decimal("-2.00"), -5),
                (2, "a", 7, Decimal("3.10"), 1),
            ],
        ),
        ("T2", [(1, "a", 3, None, -2), (3, "b", 4, Decimal("1.00"), 0)]),
    ],
    [
        (  # appends only: the rules' append-only paths (new MIN and MAX, new groups, NULLs)
            [
                ("insert", "T1", [(1, "a", -4, Decimal("9.99"), 0), (None, "b", 11, None, -2)]),
                ("duplicate", "T1", (1, "b", 5, None, -3), 1),
                ("insert", "T2", [(4, "b", -1, Decimal("0.50"), -1)]),
            ],
            300,
        ),
        (
            [
                ("insert", "T1", [(1, "a", 9, Decimal("0.10"), 0), (3, "c", 0, None, -6)]),
                ("duplicate", "T1", (2, "a", 7, Decimal("3.10"), 1), 2),
                ("move", "T1", 5, 3),
            ],
            600,
        ),
        (
            [
                ("delete-min", "T1"),
                ("bump", "T1", 1, -2),
                ("regroup", "T1", 2, None),
                ("insert", "T2", [(None, None, None, None, -1)]),
            ],
            3600,
        ),
        (
            [
                ("delete-max", "T1"),
                ("delete-key", "T1", 2),
                ("retime", "T1", 0, -4),
                ("delete-value", "T1", None),
                ("insert", "T1", [(2, "b", 1, None, 0)]),
            ],
            5400,
        ),
    ],
)


@pytest.mark.parametrize("family", sorted(FAMILY))
def test_every_family_follows_a_fixed_change_stream(family: str) -> None:
    run_case(dataclasses.replace(FIXED, family=family), report=print)


@oracle_settings(EXAMPLES)
@given(CASES)
def test_incremental_refresh_equals_from_scratch_evaluation(case: Case) -> None:
    run_case(case)
