"""CREATE DYNAMIC TABLE ... CLONE: a table of its own with the source's definition and rows,
suspended until resumed, that then refreshes from where the source stood (reference b.1)."""

from __future__ import annotations

import json
import random

import pytest

from snowmelt.errors import DynamicTableError, ObjectNotFound, SqlError
from snowmelt.testing import assert_matches_query

SHAPES = {
    # an aggregate keeps hidden state (counts, sums) beside its rows: the clone needs it
    "aggregate": "SELECT K, SUM(V) AS S, COUNT(*) AS C, MAX(V) AS M FROM T GROUP BY K",
    "join": "SELECT T.K, T.V, U.W FROM T JOIN U ON T.K = U.K",
    "window": "SELECT K, V, ROW_NUMBER() OVER (PARTITION BY K ORDER BY V, ID) AS RN FROM T",
}


def _setup(session, query: str) -> None:
    session.sql(
        "CREATE TABLE T (ID INT, K INT, V INT); CREATE TABLE U (K INT, W STRING);"
        "INSERT INTO T VALUES (1, 1, 10), (2, 1, 20), (3, 2, 5);"
        "INSERT INTO U VALUES (1, 'one'), (2, 'two'), (3, 'three');"
        "CREATE DYNAMIC TABLE A TARGET_LAG = '1 minute' WAREHOUSE = WH"
        f" REFRESH_MODE = INCREMENTAL AS {query}"
    )


def _change(session, rng: random.Random, next_id: list[int]) -> None:
    """A random batch on T: inserts, deletes and updates (keys move between groups)."""
    for _ in range(rng.randint(1, 4)):
        what = rng.random()
        if what < 0.5:
            next_id[0] += 1
            session.sql(
                f"INSERT INTO T VALUES ({next_id[0]}, {rng.randint(1, 4)}, {rng.randint(0, 30)})"
            )
        elif what < 0.75:
            session.sql(f"DELETE FROM T WHERE ID = {rng.randint(1, next_id[0])}")
        else:
            session.sql(
                f"UPDATE T SET K = {rng.randint(1, 4)}, V = V + 1"
                f" WHERE ID = {rng.randint(1, next_id[0])}"
            )
    if rng.random() < 0.3:
        session.sql(f"UPDATE U SET W = W || '!' WHERE K = {rng.randint(1, 3)}")


def _refresh(session, name: str) -> str:
    """ALTER DYNAMIC TABLE name REFRESH; the action it took."""
    (row,) = session.sql(f"ALTER DYNAMIC TABLE {name} REFRESH").arrow().to_pylist()
    assert row["STATE"] == "SUCCEEDED", row
    return str(row["REFRESH_ACTION"])


def _bag(session, name: str) -> list[tuple]:
    return sorted(session.sql(f"SELECT * FROM {name}").rows(), key=repr)


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_a_clone_starts_suspended_with_the_rows_and_refreshes_on_incrementally(session, shape):
    _setup(session, SHAPES[shape])
    session.sql("CREATE DYNAMIC TABLE B CLONE A")
    assert _bag(session, "B") == _bag(session, "A")
    shown = {r["name"]: r for r in session.sql("SHOW DYNAMIC TABLES").arrow().to_pylist()}
    assert (shown["B"]["scheduling_state"], shown["B"]["is_clone"]) == ("SUSPENDED", "true")
    assert (shown["A"]["scheduling_state"], shown["A"]["is_clone"]) == ("ACTIVE", "false")
    assert shown["B"]["data_timestamp"] == shown["A"]["data_timestamp"]
    assert shown["B"]["refresh_mode"] == "INCREMENTAL"
    graph = session.sql(
        "SELECT SCHEDULING_STATE FROM TABLE(INFORMATION_SCHEMA.DYNAMIC_TABLE_GRAPH_HISTORY())"
        " WHERE NAME = 'B' AND VALID_TO IS NULL"
    ).scalar()
    assert json.loads(graph)["reason_code"] == "CLONED_AUTO_SUSPENDED"
    session.sql("ALTER DYNAMIC TABLE B RESUME")

    rng, next_id = random.Random(f"clone-{shape}"), [3]
    for _ in range(12):  # the two tables go their own ways from the same state
        _change(session, rng, next_id)
        assert _refresh(session, "B") in ("INCREMENTAL", "NO_DATA")
        assert_matches_query(session, "D.S.B")
        if rng.random() < 0.5:
            session.sql("ALTER DYNAMIC TABLE A REFRESH")
            assert_matches_query(session, "D.S.A")
    session.sql("ALTER DYNAMIC TABLE A REFRESH")
    assert _bag(session, "A") == _bag(session, "B")
    session.sql("DROP DYNAMIC TABLE A")  # the clone does not need its source
    _change(session, rng, next_id)
    session.sql("ALTER DYNAMIC TABLE B REFRESH")
    assert_matches_query(session, "D.S.B")


def test_a_clone_of_a_past_instant_has_its_rows_then_reinitializes(session, clock):
    _setup(session, SHAPES["aggregate"])
    clock.advance(60)
    before = _bag(session, "A")
    session.sql("INSERT INTO T VALUES (9, 3, 7); ALTER DYNAMIC TABLE A REFRESH")
    past_timestamp = session.sql(
        "SELECT DATA_TIMESTAMP FROM TABLE(INFORMATION_SCHEMA.DYNAMIC_TABLE_REFRESH_HISTORY())"
        " WHERE NAME = 'A' ORDER BY REFRESH_START_TIME LIMIT 1"
    ).scalar()
    clock.advance(60)
    session.sql("CREATE DYNAMIC TABLE OLD CLONE A AT(OFFSET => -90)")
    assert _bag(session, "OLD") == before != _bag(session, "A")
    shown = {r["name"]: r for r in session.sql("SHOW DYNAMIC TABLES").arrow().to_pylist()}
    assert shown["OLD"]["data_timestamp"] == past_timestamp
    session.sql("ALTER DYNAMIC TABLE OLD RESUME")
    assert _refresh(session, "OLD") == "REINITIALIZE"
    reason = session.sql(
        "SELECT REINIT_REASON FROM TABLE(INFORMATION_SCHEMA.DYNAMIC_TABLE_REFRESH_HISTORY("
        "NAME => 'D.S.OLD'))"
    ).scalar()
    assert "what was read of it is not known" in reason
    assert _bag(session, "OLD") == _bag(session, "A")
    session.sql("INSERT INTO T VALUES (10, 1, 1)")
    assert _refresh(session, "OLD") == "INCREMENTAL"
    assert_matches_query(session, "D.S.OLD")


def test_a_clone_of_an_instant_before_the_first_refresh_is_not_initialized(session, clock):
    session.sql("CREATE TABLE T (ID INT, K INT, V INT); INSERT INTO T VALUES (1, 1, 1)")
    clock.advance(60)
    session.sql("CREATE DYNAMIC TABLE A TARGET_LAG = '1 minute' WAREHOUSE = WH AS SELECT K FROM T")
    session.sql("CREATE DYNAMIC TABLE EARLY CLONE A BEFORE(OFFSET => -30)")
    with pytest.raises(Exception, match="is not initialized"):
        session.sql("SELECT * FROM EARLY")
    session.sql("ALTER DYNAMIC TABLE EARLY REFRESH")
    assert session.sql("SELECT * FROM EARLY").rows() == [(1,)]


def test_a_clone_takes_a_lag_and_warehouse_of_its_own(session):
    _setup(session, SHAPES["aggregate"])
    session.sql(
        "CREATE OR REPLACE DYNAMIC TABLE B CLONE A COPY GRANTS TARGET_LAG = '5 minutes'"
        " WAREHOUSE = OTHER"
    )
    shown = {r["name"]: r for r in session.sql("SHOW DYNAMIC TABLES").arrow().to_pylist()}
    assert (shown["B"]["target_lag"], shown["B"]["warehouse"]) == ("5 minutes", "OTHER")
    assert (shown["A"]["target_lag"], shown["A"]["warehouse"]) == ("1 minute", "WH")
    with pytest.raises(SqlError, match="Invalid TARGET_LAG 'soon'"):
        session.sql("CREATE DYNAMIC TABLE C CLONE A TARGET_LAG = 'soon'")
    assert "C" not in {r["name"] for r in session.sql("SHOW DYNAMIC TABLES").arrow().to_pylist()}


def test_bad_clones_say_what_is_wrong_and_create_nothing(session):
    _setup(session, SHAPES["aggregate"])
    with pytest.raises(
        ObjectNotFound, match=r"Dynamic table 'D\.S\.T' does not exist \(it is a table\)"
    ):
        session.sql("CREATE DYNAMIC TABLE X CLONE T")
    with pytest.raises(ObjectNotFound, match=r"'D\.S\.NOPE' does not exist .*column 30"):
        session.sql("CREATE DYNAMIC TABLE X CLONE NOPE")
    with pytest.raises(SqlError, match=r"takes COPY GRANTS, TARGET_LAG and WAREHOUSE.*'QUERY'"):
        session.sql("CREATE DYNAMIC TABLE X CLONE A QUERY = 'SELECT 1'")
    with pytest.raises(DynamicTableError, match="with a clone of itself"):
        session.sql("CREATE OR REPLACE DYNAMIC TABLE A CLONE A")
    with pytest.raises(SqlError, match="cannot be used together"):
        session.sql("CREATE OR REPLACE DYNAMIC TABLE IF NOT EXISTS X CLONE A")
    names = {r["name"] for r in session.sql("SHOW DYNAMIC TABLES").arrow().to_pylist()}
    assert names == {"A"}
    session.sql("CREATE DYNAMIC TABLE IF NOT EXISTS A CLONE A")  # exists: nothing happens
    assert session.sql("SELECT COUNT(*) FROM A").scalar() == 2
