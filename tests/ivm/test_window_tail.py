"""Recomputing only the tails of the affected partitions (``window_tail``): which windows
qualify, and refreshes over partitions long enough for a tail to differ from the whole.

The generated oracle (``test_oracle_joins``, families ``window-tail-*``) draws small
partitions; here each partition holds dozens of rows and every round mixes appends in order,
late rows, deletions, rows whose order value becomes NULL and rows moving to another
partition, so a tail that starts too late, or context rows too few, changes a value that
the comparison with the from-scratch result catches.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlglot

from snowmelt.ivm import window
from snowmelt.session import Session

from .conftest import sent_statements
from .test_analysis import plan_of
from .test_refresh import create, refresh

BASE = datetime(2026, 1, 1, 0, 0)


@pytest.fixture
def s(session: Session) -> Session:
    session.sql("CREATE TABLE E (ID INT, K INT, V INT, TS TIMESTAMP_NTZ)")
    session.sql("CREATE TABLE E2 (ID INT, K INT, V INT, TS TIMESTAMP_NTZ)")
    return session


def tail_of(s: Session, name: str) -> Any:
    stack = window.analyze(sqlglot.parse_one(plan_of(s, name)["query"], read="snowflake"))
    assert stack is not None
    return stack.tail


@pytest.mark.parametrize(
    ("query", "desc", "lookback"),
    [
        ("SELECT ID, K, TS, LAG(V) OVER (PARTITION BY K ORDER BY TS, ID) AS P FROM E", False, 1),
        (
            "SELECT ID, K, TS, LAG(V) OVER (PARTITION BY K ORDER BY TS, ID) AS P, "
            "LAG(V, 3) OVER (PARTITION BY K ORDER BY TS) AS P3 FROM E",
            False,
            3,
        ),
        (  # a moving frame looks back its n rows
            "SELECT ID, K, TS, LAG(V) OVER (PARTITION BY K ORDER BY TS) AS P, AVG(V) OVER "
            "(PARTITION BY K ORDER BY TS ROWS BETWEEN 4 PRECEDING AND CURRENT ROW) AS A4 FROM E",
            False,
            4,
        ),
        (
            "SELECT ID, K, TS, ROW_NUMBER() OVER (PARTITION BY K ORDER BY TS) AS RN, "
            "SUM(V) OVER (PARTITION BY K ORDER BY TS) AS RS FROM E",
            False,
            None,
        ),
        (  # a window partitioned more finely than the key: its k rows may lie further back
            "SELECT ID, K, V, TS, LAG(V) OVER (PARTITION BY K ORDER BY TS) AS P, "
            "ROW_NUMBER() OVER (PARTITION BY K, V ORDER BY TS) AS RN FROM E",
            False,
            None,
        ),
        (
            "SELECT ID, K, TS FROM E QUALIFY ROW_NUMBER() OVER (PARTITION BY K ORDER BY TS DESC) = 1",
            True,
            None,
        ),
        (
            "SELECT X.ID, X.TS, X.P FROM (SELECT ID, K, TS, LAG(V) OVER (PARTITION BY K "
            "ORDER BY TS) AS P FROM E) X WHERE X.P > 0",
            False,
            1,
        ),
    ],
)
def test_windows_that_look_back_and_show_their_order_recompute_tails(
    s: Session, query: str, desc: bool, lookback: int | None
) -> None:
    create(s, "W", query)
    tail = tail_of(s, "W")
    assert tail is not None and (tail.desc, tail.lookback) == (desc, lookback)


@pytest.mark.parametrize(
    "query",
    [
        # LEAD and frames reaching forward read rows after the change
        "SELECT ID, K, TS, LEAD(V) OVER (PARTITION BY K ORDER BY TS) AS N FROM E",
        "SELECT ID, K, TS, SUM(V) OVER (PARTITION BY K ORDER BY TS ROWS BETWEEN CURRENT ROW "
        "AND 1 FOLLOWING) AS S FROM E",
        "SELECT ID, K, TS, COUNT(*) OVER (PARTITION BY K) AS N FROM E",
        # the order column is not shown, so the stored rows cannot be told apart
        "SELECT ID, K, LAG(V) OVER (PARTITION BY K ORDER BY TS) AS P FROM E",
        # two orders
        "SELECT ID, K, TS, V, LAG(V) OVER (PARTITION BY K ORDER BY TS) AS P, "
        "ROW_NUMBER() OVER (PARTITION BY K ORDER BY V) AS RN FROM E",
        # an aggregate above the window folds rows together
        "SELECT K, MAX(P) AS M FROM (SELECT K, TS, LAG(V) OVER (PARTITION BY K ORDER BY TS) "
        "AS P FROM E) GROUP BY K",
    ],
)
def test_other_windows_recompute_whole_partitions(s: Session, query: str) -> None:
    create(s, "W", query)
    assert tail_of(s, "W") is None


SHAPES = {
    # bounded look-back, partitions by a time key (the ids scan's NULL-time branch)
    "lag-hour": (
        "SELECT ID, K, TS, DATE_TRUNC('hour', TS) AS H, V, "
        "LAG(V) OVER (PARTITION BY K, DATE_TRUNC('hour', TS) ORDER BY TS, ID, V) AS P1, "
        "LAG(V, 2) OVER (PARTITION BY K, DATE_TRUNC('hour', TS) ORDER BY TS, ID, V) AS P2 FROM E"
    ),
    "lag-union": (
        "SELECT ID, K, TS, V, LAG(V, 3) OVER (PARTITION BY K ORDER BY TS, ID, V) AS P3 FROM "
        "(SELECT ID, K, V, TS FROM E UNION ALL SELECT ID, K, V, TS FROM E2)"
    ),
    "moving": (  # a moving frame: the tails and the 3 rows before them
        "SELECT ID, K, TS, V, SUM(V) OVER (PARTITION BY K ORDER BY TS, ID, V "
        "ROWS BETWEEN 3 PRECEDING AND CURRENT ROW) AS S4, "
        "MIN(V) OVER (PARTITION BY K ORDER BY TS, ID, V ROWS BETWEEN 2 PRECEDING AND "
        "1 PRECEDING) AS M2 FROM E"
    ),
    "lag-filtered": (  # a filter below the window: whole partitions read, tails compared
        "SELECT ID, K, TS, V, LAG(V) OVER (PARTITION BY K ORDER BY TS, ID, V) AS P "
        "FROM E WHERE V <> 5"
    ),
    "running": (
        "SELECT ID, K, TS, V, ROW_NUMBER() OVER (PARTITION BY K ORDER BY TS, ID, V) AS RN, "
        "SUM(V) OVER (PARTITION BY K ORDER BY TS, ID, V) AS RS, "
        "FIRST_VALUE(V) OVER (PARTITION BY K ORDER BY TS, ID, V) AS FV FROM E"
    ),
    "latest-two": (
        "SELECT ID, K, TS, V FROM E "
        "QUALIFY ROW_NUMBER() OVER (PARTITION BY K ORDER BY TS DESC, ID DESC, V) <= 2"
    ),
}


def _row(rng: random.Random, ident: int, minute: int) -> str:
    ts = "NULL" if rng.random() < 0.05 else f"'{BASE + timedelta(minutes=minute)}'"
    v = "NULL" if rng.random() < 0.05 else str(rng.randint(0, 9))
    return f"({ident}, {rng.choice(['NULL', '1', '2', '3'])}, {v}, {ts})"


def _round(s: Session, rng: random.Random, clock: list[int], ident: list[int]) -> None:
    """Mostly appends in time order; some late rows, deletions, NULL times, moves."""
    rows = []
    for _ in range(rng.randint(1, 8)):
        clock[0] += rng.randint(0, 4)
        late = rng.random() < 0.15
        ident[0] += 1
        rows.append(_row(rng, ident[0], clock[0] - (rng.randint(5, 150) if late else 0)))
    s.sql(f"INSERT INTO {rng.choice(['E', 'E', 'E2'])} VALUES {', '.join(rows)}")
    pick = rng.random()
    if pick < 0.2:
        s.sql(f"DELETE FROM E WHERE ID = {rng.randint(1, ident[0])}")
    elif pick < 0.3:
        s.sql(f"UPDATE E SET TS = NULL WHERE ID = {rng.randint(1, ident[0])}")
    elif pick < 0.4:
        s.sql(f"UPDATE E SET K = {rng.randint(1, 3)} WHERE ID = {rng.randint(1, ident[0])}")
    elif pick < 0.5:
        moved = BASE + timedelta(minutes=rng.randint(0, clock[0]))
        s.sql(f"UPDATE E SET TS = '{moved}' WHERE ID = {rng.randint(1, ident[0])}")


@pytest.mark.parametrize("shape", sorted(SHAPES))
@pytest.mark.parametrize("seed", [1, 2])
def test_tails_refresh_equal_from_scratch_evaluation(s: Session, shape: str, seed: int) -> None:
    rng = random.Random(seed)
    clock, ident = [0], [0]
    for _ in range(4):  # long partitions before the table exists
        _round(s, rng, clock, ident)
    query = SHAPES[shape]
    create(s, "W", query)
    assert tail_of(s, "W") is not None
    for _ in range(25):
        _round(s, rng, clock, ident)
        with sent_statements(s) as sent:
            action = refresh(s, "W")["action"]
        assert action in ("INCREMENTAL", "NO_DATA")
        assert action == "NO_DATA" or any('"_sm_f"' in sql for sql in sent)
        for a, b in (("W", f"({query})"), (f"({query})", "W")):
            extra = s.sql(f"SELECT * FROM {a} EXCEPT ALL SELECT * FROM {b}").rows()
            assert extra == [], (shape, a, extra)
        recomputed = [sql for sql in sent if '_net" AS' in sql]
        bound = {"lag-hour": 2, "lag-union": 3, "moving": 3}.get(shape)
        if bound is not None and recomputed:  # the scan keeps k rows before each tail
            assert f'"_sm_rank" <= {bound}' in recomputed[0]
