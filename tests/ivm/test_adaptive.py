"""REFRESH_MODE = ADAPTIVE, and AUTO resolving to it (``../shared/reference/DYNAMIC_TABLES.md``
b.1): refreshed incrementally, reinitialized instead when the inputs changed by a bulk load
or an INSERT OVERWRITE (``refresh.Refresher._rebuild_is_cheaper``), then incremental again.

The differential test lowers the heuristic's row floor so that small generated streams cross
it; the thresholds themselves are exercised at their real values by the bulk-load test.
"""

from __future__ import annotations

import random

import pytest

from snowmelt import refresh as refresh_module
from snowmelt.ivm import Analysis
from snowmelt.planning import resolved_mode
from snowmelt.session import Session

from .conftest import physical_diff
from .test_analysis import show
from .test_refresh import create, refresh

GROUPED = "SELECT G, COUNT(*) AS N, SUM(V) AS S, MAX(V) AS M FROM T GROUP BY G"


def _equal_to_query(s: Session, name: str, query: str) -> None:
    for a, b in ((name, f"({query})"), (f"({query})", name)):
        assert s.sql(f"SELECT * FROM {a} EXCEPT ALL SELECT * FROM {b}").rows() == [], (a, b)


def _load(s: Session, rows: int, start: int = 0, groups: int = 10) -> None:
    s.sql(
        f"INSERT INTO T SELECT {start} + SEQ4(), 'g' || (SEQ4() % {groups}), UNIFORM(1, 9, "
        f"RANDOM()) FROM TABLE(GENERATOR(ROWCOUNT => {rows}))"
    )


@pytest.fixture
def s(session: Session) -> Session:
    session.sql("CREATE TABLE T (ID INT, G VARCHAR, V INT)")
    return session


def test_adaptive_and_auto_resolve_to_adaptive_and_unsupported_queries_say_why(
    s: Session,
) -> None:
    create(s, "X", GROUPED, mode="ADAPTIVE")
    create(s, "Y", GROUPED, mode="AUTO")
    create(s, "Z", GROUPED, mode="INCREMENTAL")
    assert [show(s, n)["refresh_mode"] for n in "XYZ"] == ["ADAPTIVE", "ADAPTIVE", "INCREMENTAL"]
    with pytest.raises(Exception, match=r"cannot be refreshed incrementally: LIMIT.*ADAPTIVE"):
        create(s, "W", "SELECT * FROM T LIMIT 3", mode="ADAPTIVE")
    create(s, "W", "SELECT * FROM T LIMIT 3", mode="AUTO")
    assert show(s, "W")["refresh_mode"] == "FULL"
    row = s.sql("SELECT REFRESH_MODE FROM TABLE(INFORMATION_SCHEMA.DYNAMIC_TABLES(NAME => 'X'))")
    assert row.scalar() == "ADAPTIVE"
    with pytest.raises(Exception, match="CUSTOM_INCREMENTAL is not supported"):
        create(s, "V", GROUPED, mode="CUSTOM_INCREMENTAL")


def test_an_auto_table_that_resolved_to_incremental_keeps_it_when_planned_again() -> None:
    """Snowflake: tables that resolved AUTO before 2026-11-20 keep INCREMENTAL."""
    incremental, full = Analysis(mode="INCREMENTAL"), Analysis(mode="FULL")
    assert resolved_mode("AUTO", incremental) == "ADAPTIVE"
    assert resolved_mode("AUTO", incremental, kept="INCREMENTAL") == "INCREMENTAL"
    assert resolved_mode("AUTO", incremental, kept="FULL") == "ADAPTIVE"
    assert resolved_mode("AUTO", full, kept="INCREMENTAL") == "FULL"
    assert resolved_mode("INCREMENTAL", incremental) == "INCREMENTAL"


def test_a_bulk_load_reinitializes_and_small_changes_stay_incremental(s: Session) -> None:
    _load(s, 150_000)
    create(s, "X", GROUPED, mode="ADAPTIVE")
    create(s, "Z", GROUPED, mode="INCREMENTAL")
    create(s, "P", "SELECT ID, V * 2 AS W FROM T WHERE V > 3", mode="ADAPTIVE")  # linear
    create(s, "DOWN", "SELECT G, N FROM X WHERE N > 0", mode="ADAPTIVE")
    s.sql("INSERT INTO T VALUES (-1, 'g1', 5)")
    assert [refresh(s, n)["action"] for n in ("X", "Z", "P")] == ["INCREMENTAL"] * 3
    _load(s, 200_000, start=1_000_000)  # the table grows by more than it held
    assert [refresh(s, n)["action"] for n in ("X", "Z", "P")] == [
        "REINITIALIZE",  # ADAPTIVE: rebuilt
        "INCREMENTAL",  # INCREMENTAL never rebuilds
        "INCREMENTAL",  # a linear plan's cost follows the change: no rebuild
    ]
    reasons = s.sql(
        "SELECT REINIT_REASON FROM TABLE(INFORMATION_SCHEMA.DYNAMIC_TABLE_REFRESH_HISTORY("
        "NAME => 'X')) WHERE REFRESH_ACTION = 'REINITIALIZE'"
    ).rows()
    assert sorted(r for (r,) in reasons) == [
        "ADAPTIVE: the inputs changed by 200,000 rows, 57% of the 350,001 they hold; a full "
        "recompute costs less",
        "initial refresh",
    ]
    assert refresh(s, "DOWN")["action"] == "INCREMENTAL"  # it reads X's net change as ever
    s.sql("UPDATE T SET V = V + 1 WHERE ID < 1000")  # below the floor: incremental again
    assert refresh(s, "X")["action"] == "INCREMENTAL"
    s.sql("INSERT OVERWRITE INTO T SELECT ID, G, V FROM T WHERE ID % 3 = 0")
    assert refresh(s, "X")["action"] == "REINITIALIZE"
    assert refresh(s, "Z")["action"] == "INCREMENTAL"
    assert refresh(s, "P")["action"] == "INCREMENTAL"
    for name in ("X", "Z"):
        _equal_to_query(s, name, GROUPED)
        assert physical_diff(s, name) == (0, 0)  # the hidden state rebuilt with the rows
    refresh(s, "DOWN")
    _equal_to_query(s, "DOWN", f"SELECT G, N FROM ({GROUPED}) WHERE N > 0")
    _equal_to_query(s, "P", "SELECT ID, V * 2 AS W FROM T WHERE V > 3")


QUERIES = {
    "aggregate": GROUPED,
    "distinct": "SELECT DISTINCT G, V FROM T",
    "window": "SELECT ID, G, ROW_NUMBER() OVER (PARTITION BY G ORDER BY V, ID) AS R FROM T",
}


@pytest.mark.parametrize("shape", sorted(QUERIES))
@pytest.mark.parametrize("seed", [1, 2])
def test_adaptive_equals_its_query_through_rebuilds_and_incremental_refreshes(
    s: Session, monkeypatch: pytest.MonkeyPatch, shape: str, seed: int
) -> None:
    """Random streams of small changes and bulk ones (inserts, updates, deletes, overwrites):
    after every refresh the table equals its query as bags, whichever action it took."""
    monkeypatch.setattr(refresh_module, "ADAPTIVE_MIN_ROWS", 5)
    rng, query = random.Random(seed), QUERIES[shape]
    _load(s, 40, groups=4)
    create(s, "X", query, mode="ADAPTIVE")
    create(s, "DOWN", "SELECT * FROM X", mode="ADAPTIVE")
    actions, start = set(), 1000
    for _ in range(16):
        roll = rng.random()
        if roll < 0.25:
            start += 1000
            _load(s, rng.randint(30, 120), start=start, groups=rng.randint(2, 6))
        elif roll < 0.35:
            s.sql(f"INSERT OVERWRITE INTO T SELECT * FROM T WHERE ID % {rng.randint(2, 4)} = 0")
        elif roll < 0.6:
            s.sql(f"UPDATE T SET V = V + 1 WHERE ID % 17 = {rng.randint(0, 16)}")
        elif roll < 0.8:
            s.sql(f"DELETE FROM T WHERE ID % 19 = {rng.randint(0, 18)}")
        else:
            s.sql(f"INSERT INTO T VALUES ({rng.randint(0, 99)}, 'g{rng.randint(0, 5)}', 1)")
        actions.add(refresh(s, "X")["action"])
        _equal_to_query(s, "X", query)
        refresh(s, "DOWN")
        _equal_to_query(s, "DOWN", query)
    assert actions >= {"INCREMENTAL", "REINITIALIZE"}, actions
    assert physical_diff(s, "X") == (0, 0)
