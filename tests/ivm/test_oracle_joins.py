"""The differential oracle, part 2: joins, outer joins, LATERAL FLATTEN and SPLIT_TO_TABLE,
windows, QUALIFY, sessionization, stacked aggregates and chains mixing them.

Same harness as ``test_oracle`` (``conftest.Solo``): hypothesis draws a pipeline of dynamic
tables, base tables (two facts and a dimension) and a change stream; after every refresh
round each table must equal its SQL evaluated from scratch over the base tables as of its
data version, compared as bags (EXCEPT ALL both ways), and after the last round its
physical rows, hidden state included, must equal its plan evaluated from scratch. The change streams include
changes on both sides of a join in one refresh, rows whose join key changes, dimension rows
appearing, disappearing and duplicating (outer-join rows flipping between matched and
NULL-extended), events moving in time (late data splitting and merging sessions, reordering
partitions) and partitions emptied and refilled.

Window queries order by every column, so their result is determined (rows equal in every
ordering column are equal rows). ``SNOWMELT_ORACLE_JOIN_EXAMPLES=N`` runs N cases (default
300). A failure prints the replayable script.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, note
from hypothesis import strategies as st

from .conftest import NOW, Solo, is_, lit, oracle_settings, run_pipeline, shared_harness

EXAMPLES = int(os.environ.get("SNOWMELT_ORACLE_JOIN_EXAMPLES", "300"))
FACTS = ("F", "F2")
FACT_COLUMNS = "ID INT, K INT, G VARCHAR, V INT, TS TIMESTAMP_NTZ, J VARCHAR"
DIM_COLUMNS = "K INT, NAME VARCHAR, W INT"
ORDER = "TS, ID, K, G, V, J"  # every column: a total order up to equal rows
ORDER_DESC = "TS DESC, ID DESC, K, G, V, J"
JOINED_ORDER = "F.TS, F.ID, F.K, F.G, F.V, F.J, D.NAME, D.W"


def _one(sql: str) -> Any:
    return lambda p: [("Q", sql.format(**p))]


SESSIONS = (
    "WITH E AS (SELECT ID, K, G, TS, V, LAG(TS) OVER (PARTITION BY K ORDER BY {sorder}) AS PTS "
    "FROM F), "
    "S AS (SELECT ID, K, G, TS, V, IFF(PTS IS NULL OR DATEDIFF('second', PTS, TS) > 1800, 1, 0) "
    "AS START FROM E), "
    "N AS (SELECT ID, K, G, TS, V, START, SUM(START) OVER (PARTITION BY K ORDER BY {sorder} "
    "ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS SESSION FROM S) "
    "SELECT K, SESSION, MIN(TS) AS T0, MAX(TS) AS T1, COUNT(*) AS EVENTS, SUM(V) AS TOTAL, "
    "MAX(IFF(START = 1, G, NULL)) AS FIRST_G, DATEDIFF('second', MIN(TS), MAX(TS)) AS SECS "
    "FROM N GROUP BY K, SESSION"
)

FAMILY: dict[str, Any] = {
    # -- inner and cross joins ----------------------------------------------------------------
    "inner": _one(
        "SELECT F.ID, F.V, D.NAME, D.W FROM F JOIN DIM D ON F.K = D.K "
        "WHERE F.V > {c2} OR D.W IS NULL"
    ),
    "three-way": _one(
        "SELECT F.ID, D.NAME, E.V AS EV FROM F JOIN DIM D ON F.K = D.K "
        "JOIN F2 E ON E.K = D.K AND E.G = F.G"
    ),
    "self-join": _one(
        "SELECT A.ID AS A_ID, B.ID AS B_ID, A.V + B.V AS VV FROM F A "
        "JOIN F B ON A.K = B.K AND A.ID < B.ID"
    ),
    "cross": _one("SELECT F.ID, D.NAME FROM F CROSS JOIN DIM D WHERE F.V > {c} AND D.W < 3"),
    "comma-join": _one(
        "SELECT F.ID, F2.ID AS ID2, D.NAME FROM F, F2, DIM D "
        "WHERE F.K = D.K AND F2.G = F.G AND D.W IS NOT NULL"
    ),
    "join-subquery": _one(
        "SELECT X.ID, X.V2, D.NAME FROM (SELECT ID, K, V * 2 AS V2 FROM F "
        "WHERE V IS NOT NULL UNION ALL SELECT ID, K, V FROM F2) AS X "
        "JOIN (SELECT K, NAME FROM DIM WHERE W > {c1}) AS D ON X.K = D.K"
    ),
    # -- outer joins --------------------------------------------------------------------------
    "left": _one("SELECT F.ID, F.K, D.NAME, D.W FROM F LEFT JOIN DIM D ON F.K = D.K"),
    "left-chain": _one(
        "SELECT F.ID, D.NAME, E.NAME AS NAME2 FROM F "
        "LEFT JOIN DIM D ON F.K = D.K LEFT JOIN DIM E ON E.W = F.V"
    ),
    "left-conditions": _one(
        "SELECT F.ID, F.V, D.NAME FROM F LEFT JOIN DIM D "
        "ON F.K = D.K AND D.W > {c1} AND F.V > {c2} "
        "WHERE F.G IS NOT NULL OR D.NAME IS NULL"
    ),
    "left-then-inner": _one(
        "SELECT F.ID, D.NAME, E.ID AS E_ID FROM F LEFT JOIN DIM D "
        "ON F.K = D.K JOIN F2 E ON E.G = F.G"
    ),
    "right": _one("SELECT D.K AS DK, D.NAME, F.ID FROM F RIGHT JOIN DIM D ON F.K = D.K"),
    "full": _one("SELECT F.ID, F.K, D.K AS DK, D.NAME FROM F FULL OUTER JOIN DIM D ON F.K = D.K"),
    "full-then-inner": _one(
        "SELECT F.ID, D.NAME, E.V AS EV FROM F FULL JOIN DIM D "
        "ON F.K = D.K AND D.W > {c1} JOIN F2 E ON E.G = F.G"
    ),
    "full-self": _one("SELECT A.ID AS A_ID, B.ID AS B_ID FROM F A FULL JOIN F B ON A.K = B.K + 1"),
    # -- aggregates over joins, UNION, FLATTEN ----------------------------------------------------
    "group-over-join": _one(
        "SELECT D.NAME, COUNT(*) AS N, SUM(F.V) AS S, MIN(F.V) AS MN "
        "FROM F JOIN DIM D ON F.K = D.K GROUP BY D.NAME"
    ),
    "group-over-left": _one(
        "SELECT F.K, COUNT(D.NAME) AS ND, COUNT(*) AS N, MAX(D.W) AS MW "
        "FROM F LEFT JOIN DIM D ON F.K = D.K GROUP BY F.K"
    ),
    "count-distinct": _one(
        "SELECT K, COUNT(DISTINCT G) AS DG, COUNT(DISTINCT V) AS DV, "
        "COUNT(*) AS N FROM F {where} GROUP BY K"
    ),
    "count-distinct-over-join": _one(
        "SELECT D.NAME, COUNT(DISTINCT F.K) AS DK, "
        "COUNT(DISTINCT IFF(F.V > {c}, F.ID, NULL)) AS DI "
        "FROM F LEFT JOIN DIM D ON F.K = D.K GROUP BY D.NAME"
    ),
    "union-of-joins": _one(
        "SELECT F.K, D.NAME FROM F JOIN DIM D ON F.K = D.K UNION SELECT K, G FROM F2"
    ),
    "flatten": _one(
        "SELECT F.ID, X.VALUE::INT AS E, X.INDEX AS I FROM F, "
        "LATERAL FLATTEN(input => PARSE_JSON(F.J)) X"
    ),
    "flatten-outer": _one(
        "SELECT F.ID, F.K, X.VALUE::INT AS E FROM F, "
        "LATERAL FLATTEN(input => PARSE_JSON(F.J), OUTER => TRUE) X "
        "WHERE F.V > {c2} OR F.V IS NULL"
    ),
    "flatten-join": _one(
        "SELECT F.ID, D.NAME, X.VALUE::INT AS E FROM F "
        "JOIN DIM D ON F.K = D.K, LATERAL FLATTEN(input => PARSE_JSON(F.J)) X"
    ),
    "flatten-group": _one(
        "SELECT F.K, COUNT(*) AS N, SUM(X.VALUE::INT) AS S FROM F, "
        "LATERAL FLATTEN(input => PARSE_JSON(F.J)) X GROUP BY F.K"
    ),
    "split": _one(
        "SELECT F.ID, S.INDEX AS I, S.VALUE AS P FROM F, LATERAL SPLIT_TO_TABLE(F.J, ',') S"
    ),
    "split-group": _one(
        "SELECT S.VALUE AS P, COUNT(*) AS N, SUM(F.V) AS SV FROM F, "
        "TABLE(SPLIT_TO_TABLE(F.G, 'a')) S GROUP BY S.VALUE"
    ),
    # -- windows and QUALIFY ----------------------------------------------------------------------
    "window-rank": _one(
        "SELECT ID, K, V, ROW_NUMBER() OVER (PARTITION BY K ORDER BY {order}) "
        "AS RN, RANK() OVER (PARTITION BY K ORDER BY V) AS RK, "
        "DENSE_RANK() OVER (PARTITION BY K ORDER BY V DESC) AS DR "
        "FROM F {where}"
    ),
    "window-lag": _one(
        "SELECT ID, K, G, V, LAG(V) OVER (PARTITION BY K ORDER BY {order}) AS PV, "
        "LEAD(V, 2) OVER (PARTITION BY K ORDER BY {order}) AS NV2 FROM F"
    ),
    "window-running": _one(
        "SELECT ID, G, V, SUM(V) OVER (PARTITION BY G ORDER BY {order} "
        "ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS RS, "
        "COUNT(*) OVER (PARTITION BY G) AS CNT, "
        "SUM(V) OVER (PARTITION BY G, K) AS GS FROM F"
    ),
    "window-first-last": _one(
        "SELECT ID, K, FIRST_VALUE(V) OVER (PARTITION BY K ORDER BY {order}) AS FV, "
        "LAST_VALUE(V) OVER (PARTITION BY K ORDER BY {order} ROWS BETWEEN UNBOUNDED "
        "PRECEDING AND UNBOUNDED FOLLOWING) AS LV, COUNT(V) OVER (PARTITION BY K "
        "ORDER BY {order}) AS CV FROM F"
    ),
    "window-conditional": _one(
        "SELECT ID, K, V, CONDITIONAL_TRUE_EVENT(V > {c}) OVER (PARTITION BY K ORDER BY {order}) "
        "AS CTE, CONDITIONAL_CHANGE_EVENT(G) OVER (PARTITION BY K ORDER BY {order}) AS CCE "
        "FROM F"
    ),
    "window-hidden-key": _one(
        "SELECT ID, V, ROW_NUMBER() OVER (PARTITION BY K, G ORDER BY {order}) AS RN FROM F"
    ),
    "window-expression-key": _one(
        "SELECT ID, V, DATE_TRUNC('hour', TS) AS H, LAG(V) OVER (PARTITION BY K, "
        "DATE_TRUNC('hour', TS) ORDER BY {order}) AS PV FROM F"
    ),
    "window-time-keys": _one(
        "SELECT ID, V, ROW_NUMBER() OVER (PARTITION BY DATE_TRUNC('minute', TS), "
        "DATE_TRUNC('day', TS) ORDER BY {order}) AS RN FROM F {where}"
    ),
    # windows that look back, their order column shown: only the partitions' tails are
    # recomputed (``window_tail``), with k rows of context when LAG bounds the look-back
    "window-tail-lag": _one(
        "SELECT ID, K, TS, V, LAG(V) OVER (PARTITION BY K ORDER BY {order}) AS PV, "
        "LAG(V, 2) OVER (PARTITION BY K ORDER BY {order}) AS PV2, IFF(V > {c}, 1, 0) AS BIG "
        "FROM F {where}"
    ),
    "window-tail-hour": _one(
        "SELECT ID, K, TS, DATE_TRUNC('hour', TS) AS H, V, LAG(V) OVER (PARTITION BY K, "
        "DATE_TRUNC('hour', TS) ORDER BY {order}) AS PV FROM F"
    ),
    "window-tail-union": _one(
        "SELECT ID, K, TS, V, LAG(V, 2) OVER (PARTITION BY K ORDER BY TS, ID, V) AS PV FROM "
        "(SELECT ID, K, TS, V FROM F UNION ALL SELECT ID, K, TS, V FROM F2 WHERE V > {c2})"
    ),
    "window-tail-running": _one(
        "SELECT ID, K, TS, RN, RS, FG, C3 FROM (SELECT ID, K, G, TS, V, ROW_NUMBER() OVER "
        "(PARTITION BY K ORDER BY "
        "{order}) AS RN, SUM(V) OVER (PARTITION BY K ORDER BY {order}) AS RS, "
        "FIRST_VALUE(G) OVER (PARTITION BY K ORDER BY {order}) AS FG, COUNT(V) OVER "
        "(PARTITION BY K, G ORDER BY {order} ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS C3 "
        "FROM F) WHERE RN <= 3 OR V > {c}"
    ),
    "window-tail-desc": _one(
        "SELECT ID, K, TS, V FROM F QUALIFY ROW_NUMBER() OVER (PARTITION BY K ORDER BY "
        "{order_desc}) <= 2"
    ),
    "group-by-hour": _one(
        "SELECT DATE_TRUNC('hour', TS) AS H, K, COUNT(*) AS N, MAX(V) AS MX, "
        "MIN(TS) AS T0, COUNT(DISTINCT G) AS DG FROM F GROUP BY "
        "DATE_TRUNC('hour', TS), K"
    ),
    "window-filter-above": _one(
        "SELECT * FROM (SELECT ID, K, V, ROW_NUMBER() OVER (PARTITION "
        "BY K ORDER BY {order}) AS RN FROM F) WHERE RN <= 2"
    ),
    "window-union-input": _one(
        "SELECT ID, K, ROW_NUMBER() OVER (PARTITION BY K ORDER BY ID, V) "
        "AS RN, V FROM (SELECT ID, K, V FROM F UNION ALL "
        "SELECT ID, K, V FROM F2 WHERE V > {c2})"
    ),
    "qualify-dedup": _one(
        "SELECT ID, K, G, V FROM F QUALIFY ROW_NUMBER() OVER "
        "(PARTITION BY K ORDER BY {order_desc}) = 1"
    ),
    "qualify-rank": _one(
        "SELECT K, G, V FROM F WHERE V IS NOT NULL "
        "QUALIFY RANK() OVER (PARTITION BY G ORDER BY V DESC) <= 2"
    ),
    "window-over-join": _one(
        "SELECT F.ID, D.NAME, ROW_NUMBER() OVER (PARTITION BY F.K "
        "ORDER BY " + JOINED_ORDER + ") AS RN FROM F JOIN DIM D "
        "ON F.K = D.K"
    ),
    "join-time-window": _one(
        "SELECT F.ID, D.NAME, F.TS FROM F JOIN DIM D ON F.K = D.K "
        "WHERE F.TS > DATEADD(minute, -{m}, {NOW})"
    ),
    "qualify-time": _one(
        "SELECT ID, K, TS FROM F QUALIFY MAX(TS) OVER (PARTITION BY K) > "
        "DATEADD(minute, -{m}, {NOW})"
    ),
    "window-over-flatten": _one(
        "SELECT F.ID, X.VALUE::INT AS E, ROW_NUMBER() OVER (PARTITION BY "
        "F.K ORDER BY F.ID, X.INDEX, F.TS, F.G, F.V, F.J) AS RN FROM F, "
        "LATERAL FLATTEN(input => PARSE_JSON(F.J)) X"
    ),
    "window-by-null-side": _one(
        "SELECT F.ID, D.NAME, COUNT(*) OVER (PARTITION BY D.NAME) AS N "
        "FROM F LEFT JOIN DIM D ON F.K = D.K"
    ),
    "window-over-left-join": _one(
        "SELECT F.ID, F.K, D.NAME, COUNT(*) OVER (PARTITION BY F.K) "
        "AS N FROM F LEFT JOIN DIM D ON F.K = D.K"
    ),
    # -- stacks on one key --------------------------------------------------------------------------
    "sessions": _one(SESSIONS),
    "window-then-aggregate": _one(
        "SELECT K, MAX(RN) AS M, SUM(PV) AS S FROM (SELECT K, ROW_NUMBER() OVER (PARTITION BY K "
        "ORDER BY {order}) AS RN, LAG(V) OVER (PARTITION BY K ORDER BY {order}) AS PV FROM F) "
        "GROUP BY K"
    ),
    "aggregate-then-window": _one(
        "SELECT K, G, SUM(V) AS S, RANK() OVER (PARTITION BY K "
        "ORDER BY SUM(V)) AS R FROM F GROUP BY K, G"
    ),
    "nested-aggregate": _one(
        "SELECT K, COUNT(*) AS NG, MAX(S) AS MS FROM (SELECT K, G, "
        "SUM(V) AS S FROM F GROUP BY K, G) GROUP BY K"
    ),
    "aggregate-filtered": _one(
        "SELECT K, N FROM (SELECT K, COUNT(*) AS N FROM F GROUP BY K) WHERE N > {c1}"
    ),
    "distinct-over-window": _one(
        "SELECT DISTINCT K, RN FROM (SELECT K, RANK() OVER "
        "(PARTITION BY K ORDER BY V) AS RN FROM F)"
    ),
    # -- chains ---------------------------------------------------------------------------------
    "chain-join-window": lambda p: [
        ("SILVER", "SELECT F.ID, F.V, F.TS, D.NAME FROM F JOIN DIM D ON F.K = D.K"),
        (
            "GOLD",
            "SELECT NAME, ID, LAG(V) OVER (PARTITION BY NAME ORDER BY TS, ID, V) AS PV FROM SILVER",
        ),
    ],
    "chain-window-aggregate": lambda p: [
        (
            "W",
            "SELECT ID, K, V, LAG(V) OVER (PARTITION BY K ORDER BY {order}) AS PV FROM F".format(
                **p
            ),
        ),
        ("A", "SELECT K, COUNT(*) AS N, SUM(PV) AS S, MAX(PV) AS MX FROM W GROUP BY K"),
    ],
    "chain-aggregate-join": lambda p: [
        ("S", "SELECT K, SUM(V) AS S, COUNT(*) AS N FROM F GROUP BY K"),
        ("J", "SELECT S.K, S.S, D.NAME FROM S LEFT JOIN DIM D ON S.K = D.K"),
    ],
    "chain-left-join-aggregate": lambda p: [
        (
            "E",
            "SELECT F.ID, F.K, F.V, D.NAME, D.NAME IS NULL AS UNKNOWN FROM F "
            "LEFT JOIN DIM D ON F.K = D.K",
        ),
        (
            "G",
            "SELECT NAME, COUNT(*) AS N, COUNT_IF(UNKNOWN) AS U, SUM(V) AS S FROM E GROUP BY NAME",
        ),
    ],
    "chain-sessions": lambda p: [
        ("SESS", SESSIONS.format(**p)),
        (
            "DAILY",
            "SELECT T0::DATE AS DAY, COUNT(*) AS N, AVG(EVENTS) AS E, SUM(TOTAL) AS T "
            "FROM SESS GROUP BY T0::DATE",
        ),
    ],
}


# -- data and changes ------------------------------------------------------------------------
KEYS = st.one_of(st.none(), st.integers(0, 3))
VALUES = st.one_of(st.none(), st.integers(-3, 9))
IDS = st.integers(0, 12)
ARRAYS = st.sampled_from([None, "[]", "[1]", "[1, 2]", "[3, 3, 4]"])
NAMES = st.sampled_from([None, "a", "b", "c"])
# gaps of 10 to 120 minutes around 30, sometimes no time at all
MINUTES = st.sampled_from([None] + [m * 10 for m in range(13)])
FACT_ROW = st.tuples(IDS, KEYS, st.sampled_from([None, "a", "b"]), VALUES, MINUTES, ARRAYS)
DIM_ROW = st.tuples(KEYS, NAMES, st.one_of(st.none(), st.integers(0, 4)))
FACT = st.sampled_from(FACTS)
OP = st.one_of(
    st.tuples(st.just("insert"), FACT, st.lists(FACT_ROW, min_size=1, max_size=3)),
    st.tuples(st.just("duplicate"), FACT, FACT_ROW),
    st.tuples(st.just("move"), FACT, IDS, KEYS),
    st.tuples(st.just("bump"), FACT, KEYS, st.integers(-3, 3)),
    st.tuples(st.just("retime"), FACT, IDS, MINUTES),
    st.tuples(st.just("regroup"), FACT, KEYS, st.sampled_from([None, "a", "b"])),
    st.tuples(st.just("delete-key"), FACT, KEYS),
    st.tuples(st.just("delete-id"), FACT, IDS),
    st.tuples(st.just("dim-insert"), st.lists(DIM_ROW, min_size=1, max_size=2)),
    st.tuples(st.just("dim-delete"), KEYS),
    st.tuples(st.just("dim-rename"), KEYS, NAMES),
    st.tuples(st.just("dim-rekey"), NAMES, KEYS),
)
STEP = st.tuples(st.lists(OP, min_size=0, max_size=4), st.integers(0, 3600))  # ops, seconds


@dataclass
class Case:
    family: str
    params: dict[str, Any]
    facts: list[tuple[str, list[Any]]]
    dim: list[Any]
    steps: list[Any]


def _stamp(harness: Solo, minutes: int | None) -> str:
    if minutes is None:
        return "NULL"
    base = harness.clock.now().replace(tzinfo=None, minute=0, second=0, microsecond=0)
    return f"'{(base - timedelta(hours=2) + timedelta(minutes=minutes)).isoformat(sep=' ')}'"


def _fact_sql(table: str, rows: list[Any], harness: Solo) -> str:
    values = ", ".join(
        f"({lit(i)}, {lit(k)}, {lit(g)}, {lit(v)}, {_stamp(harness, m)}, {lit(j)})"
        for i, k, g, v, m, j in rows
    )
    return f"INSERT INTO {table} VALUES {values}"


def _dim_sql(rows: list[Any]) -> str:
    return "INSERT INTO DIM VALUES " + ", ".join(
        f"({lit(k)}, {lit(n)}, {lit(w)})" for k, n, w in rows
    )


def _op_sql(op: tuple[Any, ...], harness: Solo) -> str:
    kind = op[0]
    if kind == "insert":
        return _fact_sql(op[1], op[2], harness)
    if kind == "duplicate":
        return _fact_sql(op[1], [op[2], op[2]], harness)
    if kind == "move":
        return f"UPDATE {op[1]} SET K = {lit(op[3])} WHERE {is_('ID', op[2])}"
    if kind == "bump":
        return f"UPDATE {op[1]} SET V = V + {op[3]} WHERE {is_('K', op[2])}"
    if kind == "retime":
        return f"UPDATE {op[1]} SET TS = {_stamp(harness, op[3])} WHERE {is_('ID', op[2])}"
    if kind == "regroup":
        return f"UPDATE {op[1]} SET G = {lit(op[3])} WHERE {is_('K', op[2])}"
    if kind == "delete-key":
        return f"DELETE FROM {op[1]} WHERE {is_('K', op[2])}"
    if kind == "delete-id":
        return f"DELETE FROM {op[1]} WHERE {is_('ID', op[2])}"
    if kind == "dim-insert":
        return _dim_sql(op[1])
    if kind == "dim-delete":
        return f"DELETE FROM DIM WHERE {is_('K', op[1])}"
    if kind == "dim-rename":
        return f"UPDATE DIM SET NAME = {lit(op[2])} WHERE {is_('K', op[1])}"
    if kind == "dim-rekey":
        return f"UPDATE DIM SET K = {lit(op[2])} WHERE {is_('NAME', op[1])}"
    raise AssertionError(kind)


WHERES = ("", "WHERE V > {c}", "WHERE G IS NOT NULL AND (V < {c} OR V IS NULL)")
CASES = st.builds(
    Case,
    family=st.sampled_from(sorted(FAMILY)),
    params=st.fixed_dictionaries(
        {
            "c": st.integers(-1, 8),
            "c1": st.integers(0, 3),
            "c2": st.integers(-2, 6),
            "w": st.integers(0, 2),
        }
    ),
    facts=st.lists(st.tuples(FACT, st.lists(FACT_ROW, min_size=1, max_size=5)), max_size=2),
    dim=st.lists(DIM_ROW, max_size=4),
    steps=st.lists(STEP, min_size=1, max_size=3),
)


def pipeline(case: Case) -> list[tuple[str, str]]:
    params = dict(
        case.params,
        order=ORDER,
        order_desc=ORDER_DESC,
        sorder=ORDER[:-3],
        NOW=NOW,
        m=30 * (1 + case.params["c1"]),
    )
    params["where"] = WHERES[params["w"]].format(**params)
    return FAMILY[case.family](params)


def run_case(case: Case, report: Any = note) -> None:
    harness = shared_harness(__name__)  # row times are relative to its clock
    setup = [f"CREATE TABLE {table} ({FACT_COLUMNS})" for table in FACTS]
    setup.append(f"CREATE TABLE DIM ({DIM_COLUMNS})")
    setup += [_fact_sql(table, rows, harness) for table, rows in case.facts]
    setup += [_dim_sql(case.dim)] if case.dim else []
    run_pipeline(__name__, setup, pipeline(case), case.steps, _op_sql, report)


# One fixed change stream through every family, so each shape meets each kind of change at
# least once whatever the generated cases draw: NULL keys and times, changes in the latest
# and the earliest hour, both sides of the joins in one round, rows changing key and time.
FIXED = Case(
    "",
    {"c": 1, "c1": 1, "c2": 2, "w": 1},
    [
        (
            "F",
            [
                (1, 1, "a", 1, 30, "[1, 2]"),
                (2, 1, "b", 5, 40, None),
                (3, None, "a", 2, None, "[]"),
                (4, 2, None, None, 110, "[3, 3, 4]"),
                (5, 2, "a", 7, 120, "[1]"),
            ],
        ),
        ("F2", [(6, 1, "a", 3, 50, None), (7, 3, "b", 4, 0, "[1]")]),
    ],
    [(1, "a", 1), (2, "b", None), (None, "c", 2)],
    [
        (  # appends only, on both sides of the joins: the rules' append-only paths
            [
                ("insert", "F", [(12, 1, "a", 0, 130, "[2]"), (13, None, "b", 8, 5, None)]),
                ("insert", "F2", [(14, 2, "b", 9, 20, "[4]")]),
                ("dim-insert", [(4, "e", 1)]),
            ],
            300,
        ),
        (
            [
                ("insert", "F", [(8, 1, "a", 4, 120, "[1]"), (9, 2, "b", 9, 0, None)]),
                ("dim-insert", [(3, "d", 4)]),
                ("move", "F", 2, 3),
            ],
            600,
        ),
        (
            [
                ("retime", "F", 1, None),
                ("retime", "F", 3, 60),
                ("delete-key", "F", 2),
                ("dim-rename", 1, "z"),
                ("insert", "F2", [(10, None, "a", 1, 120, "[]")]),
            ],
            1200,
        ),
        (
            [
                ("insert", "F", [(11, 1, "b", 2, 0, None), (1, 3, "a", 3, 10, "[1, 2]")]),
                ("delete-id", "F", 5),
                ("bump", "F", 1, 2),
                ("dim-delete", 2),
                ("dim-rekey", "c", 1),
            ],
            1800,
        ),
    ],
)


@pytest.mark.parametrize("family", sorted(FAMILY))
def test_every_family_follows_a_fixed_change_stream(family: str) -> None:
    run_case(dataclasses.replace(FIXED, family=family), report=print)


def test_every_family_resolves_to_incremental() -> None:
    """Each shape of the family is maintained incrementally (not silently FULL)."""
    harness = shared_harness(__name__)
    harness.begin()
    try:
        for table in FACTS:
            harness.run(f"CREATE TABLE {table} ({FACT_COLUMNS})")
        harness.run(f"CREATE TABLE DIM ({DIM_COLUMNS})")
        case = Case("", {"c": 1, "c1": 1, "c2": 1, "w": 1}, [], [], [])
        for number, family in enumerate(sorted(FAMILY)):
            case.family = family
            for name, query in pipeline(case):
                for other, _ in pipeline(case):
                    query = re.sub(rf"\bFROM {other}\b", f"FROM {other}_{number} AS {other}", query)
                harness.create(f"{name}_{number}", query)
                shown = harness.session.sql(f"SHOW DYNAMIC TABLES LIKE '{name}_{number}'").dicts()
                assert shown[0]["refresh_mode"] == "INCREMENTAL", (family, shown[0])
    finally:
        harness.end()


@oracle_settings(EXAMPLES)
@given(CASES)
def test_joins_and_windows_refresh_equal_from_scratch_evaluation(case: Case) -> None:
    run_case(case)
