"""Frozen regions (``FROZEN WHERE``, formerly ``IMMUTABLE WHERE``; ``snowmelt/frozen.py``).

The oracle: after each refresh, the table's rows for which the condition holds (read at the
refresh's data timestamp) are exactly those it held before, and the others are exactly the
query's rows outside the region — compared as bags over random change streams, with a region
fixed and one that grows as the clock moves."""

from __future__ import annotations

import random
from collections import Counter
from datetime import date, timedelta

import pytest

from snowmelt.errors import DynamicTableError, SqlError
from snowmelt.testing import bag_difference

QUERY = "SELECT DAY, SUM(V) AS S, COUNT(*) AS N FROM T GROUP BY DAY"
FIRST = date(2026, 1, 1)


def _days(n: int) -> date:
    return FIRST + timedelta(days=n)


def _change(s, rng: random.Random) -> None:
    """Rows arrive for any of ten days (late ones too), some are deleted or updated."""
    for _ in range(rng.randint(1, 5)):
        what = rng.random()
        day = _days(rng.randint(0, 9))
        if what < 0.6:
            s.sql(f"INSERT INTO T VALUES ('{day}', {rng.randint(1, 9)})")
        elif what < 0.8:
            s.sql(f"DELETE FROM T WHERE DAY = '{day}' AND V = {rng.randint(1, 9)}")
        else:
            s.sql(f"UPDATE T SET V = V + 1 WHERE DAY = '{day}'")


def _refresh(s, name: str) -> str:
    """Refresh ``name`` (and what it reads); the action it took."""
    rows = s.sql(f"ALTER DYNAMIC TABLE {name} REFRESH").dicts()
    assert all(r["STATE"] == "SUCCEEDED" for r in rows), rows
    (row,) = [r for r in rows if r["NAME"] == f"D.S.{name}"]
    return str(row["REFRESH_ACTION"])


@pytest.mark.parametrize(
    ("condition", "frozen_before"),
    [
        # a fixed region: the first four days
        ("DAY < '2026-01-05'", lambda now: _days(4)),
        # a region that grows with the clock: days more than two days before the data timestamp
        ("DAY < DATEADD(day, -2, CURRENT_DATE())", lambda now: now.date() - timedelta(days=2)),
    ],
)
def test_frozen_rows_stay_and_the_active_rows_follow_the_query(
    session, clock, condition, frozen_before
):
    s = session
    s.sql("USE SCHEMA D.S; CREATE TABLE T (DAY DATE, V INT)")
    rng = random.Random(condition)
    _change(s, rng)
    s.sql(
        "CREATE DYNAMIC TABLE A TARGET_LAG = '1 minute' WAREHOUSE = WH"
        f" FROZEN WHERE ({condition}) AS {QUERY}"
    )
    # a table reading it refreshes incrementally from its changes
    s.sql(
        "CREATE DYNAMIC TABLE TOTAL TARGET_LAG = '1 minute' WAREHOUSE = WH"
        " REFRESH_MODE = INCREMENTAL AS SELECT SUM(S) AS S, SUM(N) AS N FROM A"
    )
    assert s.sql(f"SELECT * FROM A EXCEPT ALL {QUERY}").rows() == []  # the first: all of it
    froze = 0
    for _ in range(15):
        clock.set(clock.now().replace(hour=0) + timedelta(days=1))  # the region may grow
        before = Counter(s.sql("SELECT * FROM A").rows())
        _change(s, rng)
        assert _refresh(s, "A") in ("FULL", "NO_DATA")
        cutoff = frozen_before(clock.now())
        after = Counter(s.sql("SELECT * FROM A").rows())
        query = Counter(s.sql(QUERY).rows())
        kept = Counter({r: n for r, n in before.items() if r[0] < cutoff})
        active = Counter({r: n for r, n in query.items() if r[0] >= cutoff})
        assert after == kept + active
        # the query moved on in the frozen region (changed, new or deleted rows there)
        froze += kept != Counter({r: n for r, n in query.items() if r[0] < cutoff})
        _refresh(s, "TOTAL")
        assert bag_difference(s, "SELECT * FROM TOTAL", "SELECT SUM(S), SUM(N) FROM A") == (0, 0)
    assert froze, "no frozen row ever differed from the query: the stream tested nothing"


def test_changing_the_region_recomputes_what_it_thaws(session):
    s = session
    s.sql(
        "USE SCHEMA D.S; CREATE TABLE T (DAY DATE, V INT);"
        "INSERT INTO T VALUES ('2026-01-01', 1), ('2026-01-03', 3);"
        "CREATE DYNAMIC TABLE A TARGET_LAG = '1 minute' WAREHOUSE = WH"
        f" IMMUTABLE WHERE (DAY < '2026-01-02') AS {QUERY}"
    )
    shown = s.sql("SHOW DYNAMIC TABLES LIKE 'A'").dicts()[0]
    assert shown["immutable_where"] == "DAY < '2026-01-02'"
    assert (shown["refresh_mode"], shown["refresh_mode_reason"]) == ("FULL", "FROZEN_REGION")
    assert "frozen where (DAY < '2026-01-02')" in s.sql("SELECT GET_DDL('TABLE', 'A')").scalar()
    s.sql("INSERT INTO T VALUES ('2026-01-01', 10), ('2026-01-03', 30)")
    _refresh(s, "A")
    assert sorted(s.sql("SELECT DAY, S FROM A").rows()) == [(_days(0), 1), (_days(2), 33)]
    s.sql("ALTER DYNAMIC TABLE A SET FROZEN WHERE (DAY < '2026-01-10')")  # all of it, as is
    s.sql("INSERT INTO T VALUES ('2026-01-03', 300)")
    _refresh(s, "A")
    assert sorted(s.sql("SELECT DAY, S FROM A").rows()) == [(_days(0), 1), (_days(2), 33)]
    s.sql("ALTER DYNAMIC TABLE A UNSET FROZEN")  # no source changed: still recomputed
    assert _refresh(s, "A") == "FULL"
    assert sorted(s.sql("SELECT DAY, S FROM A").rows()) == [(_days(0), 11), (_days(2), 333)]
    assert s.sql("SHOW DYNAMIC TABLES LIKE 'A'").dicts()[0]["immutable_where"] is None


def test_create_or_alter_without_the_region_plans_the_table_again(session):
    s = session
    s.sql(
        "USE SCHEMA D.S; CREATE TABLE T (DAY DATE, V INT);"
        "INSERT INTO T VALUES ('2026-01-01', 1);"
        "CREATE DYNAMIC TABLE A TARGET_LAG = '1 minute' WAREHOUSE = WH"
        f" FROZEN WHERE (DAY < '2026-01-02') AS {QUERY}"
    )
    s.sql(f"CREATE OR ALTER DYNAMIC TABLE A TARGET_LAG = '1 minute' WAREHOUSE = WH AS {QUERY}")
    shown = s.sql("SHOW DYNAMIC TABLES LIKE 'A'").dicts()[0]
    assert (shown["refresh_mode"], shown["immutable_where"]) == ("ADAPTIVE", None)


@pytest.mark.parametrize(
    ("clauses", "error", "message"),
    [
        (
            "REFRESH_MODE = INCREMENTAL FROZEN WHERE (DAY < '2026-01-02')",
            DynamicTableError,
            r"frozen region \(FROZEN WHERE\), which snowmelt refreshes in FULL mode only",
        ),
        (
            "FROZEN WHERE (V < 3)",
            SqlError,
            r"FROZEN WHERE reads V, which is not one of the table's columns \(DAY, S, N\)",
        ),
        ("FROZEN WHERE (S > (SELECT 1))", SqlError, "FROZEN WHERE cannot hold a subquery"),
        ("FROZEN WHERE (DAY + )", SqlError, "Cannot read the FROZEN WHERE condition"),
        ("FROZEN WHERE (DAY < TRUE)", SqlError, r"FROZEN WHERE \(DAY < TRUE\) does not bind"),
    ],
)
def test_a_bad_region_is_an_error_naming_it_and_creates_nothing(session, clauses, error, message):
    session.sql("USE SCHEMA D.S; CREATE TABLE T (DAY DATE, V INT)")
    with pytest.raises(error, match=message):
        session.sql(
            f"CREATE DYNAMIC TABLE A TARGET_LAG = '1 minute' WAREHOUSE = WH {clauses} AS {QUERY}"
        )
    assert session.sql("SHOW DYNAMIC TABLES").rows() == []


def test_an_incremental_table_takes_no_region_by_alter(session):
    session.sql(
        "USE SCHEMA D.S; CREATE TABLE T (DAY DATE, V INT);"
        f"CREATE DYNAMIC TABLE A TARGET_LAG = '1 minute' WAREHOUSE = WH AS {QUERY}"
    )
    with pytest.raises(DynamicTableError, match="keeps a frozen region .* on FULL tables only"):
        session.sql("ALTER DYNAMIC TABLE A SET FROZEN WHERE (DAY < '2026-01-02')")


def test_metadata_is_frozen_tells_each_row(session, clock):
    s = session
    s.sql(
        "USE SCHEMA D.S; CREATE TABLE T (DAY DATE, V INT);"
        "INSERT INTO T VALUES ('2025-12-30', 1), ('2026-01-01', 2);"
        "CREATE DYNAMIC TABLE A TARGET_LAG = '1 minute' WAREHOUSE = WH"
        f" FROZEN WHERE (DAY < CURRENT_DATE()) AS {QUERY};"
        f"CREATE DYNAMIC TABLE PLAIN TARGET_LAG = '1 minute' WAREHOUSE = WH AS {QUERY}"
    )
    query = "SELECT DAY, METADATA$IS_FROZEN, a.METADATA$IS_IMMUTABLE FROM A a ORDER BY DAY"
    assert s.sql(query).rows() == [(_days(-2), True, True), (_days(0), False, False)]
    assert s.sql(query).arrow().column_names == [
        "DAY",
        "METADATA$IS_FROZEN",
        "METADATA$IS_IMMUTABLE",
    ]
    clock.advance(86400)  # the region grows with the clock, read now
    assert [r[1] for r in s.sql(query).rows()] == [True, True]
    assert s.sql("SELECT DISTINCT METADATA$IS_FROZEN FROM PLAIN").rows() == [(False,)]
    with pytest.raises(SqlError, match="METADATA\\$IS_FROZEN is a column of dynamic tables"):
        s.sql("SELECT METADATA$IS_FROZEN FROM T")
    with pytest.raises(SqlError, match="name the dynamic table it is a column of"):
        s.sql("SELECT METADATA$IS_FROZEN FROM A JOIN PLAIN USING (DAY)")
