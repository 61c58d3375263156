"""COUNT(DISTINCT) kept per (group, value): the counts follow every change, are rebuilt when
they are not at the change's start, go with their table, and refuse impossible state."""

from __future__ import annotations

import random
from typing import Any

import pytest

from snowmelt.names import ObjectName
from snowmelt.session import Session

from .test_refresh import create, refresh, rows

QUERY = (
    "SELECT K, COUNT(DISTINCT G) AS DG, COUNT(DISTINCT V) AS DV, COUNT(*) AS N "
    "FROM T WHERE V > 0 GROUP BY K"
)


@pytest.fixture
def s(session: Session) -> Session:
    session.sql("CREATE TABLE T (ID INT, K INT, G VARCHAR, V INT)")
    session.sql(
        "INSERT INTO T VALUES (1, 1, 'a', 1), (2, 1, 'b', 1), (3, 2, NULL, 4), (4, NULL, 'a', 2)"
    )
    return session


def _oid(s: Session, name: str) -> int:
    found = s.rt.catalog.find(ObjectName("D", "S", name))
    assert found is not None
    return int(found.oid)


def _kept(s: Session, oid: int, index: int) -> list[tuple[Any, ...]]:
    return sorted(
        s.rt.engine.rows(f'SELECT * EXCLUDE (_sm_h) FROM "_snowmelt_data"."t{oid}_dc{index}"'),
        key=repr,
    )


def _recount(s: Session, value: str) -> list[tuple[Any, ...]]:
    return rows(
        s, f"SELECT K, {value}, COUNT(*) FROM T WHERE V > 0 AND {value} IS NOT NULL GROUP BY ALL"
    )


@pytest.mark.parametrize("seed", range(4))
def test_kept_counts_follow_random_changes(s: Session, seed: int) -> None:
    """After every refresh the table equals its query from scratch, and each component's
    kept counts equal a recount of the input: rows moving between groups, values changing,
    rows leaving through the filter, NULL values and keys."""
    rng = random.Random(seed)
    create(s, "Q", QUERY)
    oid = _oid(s, "Q")
    next_id = 10
    for _ in range(12):
        for _ in range(rng.randint(1, 4)):
            kind = rng.random()
            if kind < 0.45:
                k = rng.choice([1, 2, 3, None])
                g = rng.choice(["a", "b", "c", None])
                s.sql(
                    f"INSERT INTO T VALUES ({next_id}, {k or 'NULL'}, "
                    f"{repr(g) if g else 'NULL'}, {rng.randint(-1, 5)})"
                )
                next_id += 1
            elif kind < 0.75:
                s.sql(
                    f"UPDATE T SET G = '{rng.choice('abc')}', K = {rng.choice([1, 2, 3])} "
                    f"WHERE ID % 3 = {rng.randint(0, 2)}"
                )
            else:
                s.sql(f"DELETE FROM T WHERE ID % 5 = {rng.randint(0, 4)}")
        outcome = refresh(s, "Q")["action"]
        assert outcome in ("INCREMENTAL", "NO_DATA")
        assert rows(s, "SELECT * FROM Q") == rows(s, QUERY)
        if outcome == "INCREMENTAL":
            assert _kept(s, oid, 0) == _recount(s, "G")
            assert _kept(s, oid, 1) == _recount(s, "V")


def test_counts_at_other_versions_are_rebuilt_from_the_input(s: Session) -> None:
    """Counts recorded at versions the change does not start from — a reinitialization in
    between, or a lost record — are rebuilt before use, in the refresh's transaction."""
    create(s, "Q", QUERY)
    oid = _oid(s, "Q")
    s.sql("INSERT INTO T VALUES (5, 1, 'c', 3)")
    assert refresh(s, "Q")["action"] == "INCREMENTAL"
    s.sql("ALTER TABLE T ADD COLUMN EXTRA INT")  # the next refresh reinitializes
    s.sql("INSERT INTO T VALUES (6, 1, 'd', 3, NULL)")
    assert refresh(s, "Q")["action"] == "REINITIALIZE"
    s.sql("DELETE FROM T WHERE G = 'a'")
    assert refresh(s, "Q")["action"] == "INCREMENTAL"
    assert rows(s, "SELECT * FROM Q") == rows(s, QUERY)
    assert _kept(s, oid, 0) == _recount(s, "G")
    # a wrong record and emptied counts: rebuilt, not trusted
    s.rt.engine.execute(f'DELETE FROM "_snowmelt_data"."t{oid}_dc0"')
    s.rt.engine.execute(
        f"UPDATE \"_snowmelt_data\".distinct_counts SET state = 'x' WHERE oid = {oid}"
    )
    s.sql("UPDATE T SET G = 'b' WHERE ID = 5")
    assert refresh(s, "Q")["action"] == "INCREMENTAL"
    assert rows(s, "SELECT * FROM Q") == rows(s, QUERY)
    assert _kept(s, oid, 0) == _recount(s, "G")


def test_counts_that_cannot_be_right_fail_the_refresh(s: Session) -> None:
    """A deleted value the kept counts never saw would leave a count below zero: the refresh
    fails and the table keeps its last version."""
    create(s, "Q", QUERY)
    oid = _oid(s, "Q")
    s.sql("INSERT INTO T VALUES (5, 1, 'c', 3)")
    refresh(s, "Q")
    before = rows(s, "SELECT * FROM Q")
    s.rt.engine.execute(f'DELETE FROM "_snowmelt_data"."t{oid}_dc0"')
    s.sql("DELETE FROM T WHERE ID = 5")
    with pytest.raises(Exception, match="row count went below zero"):
        s.sql("ALTER DYNAMIC TABLE Q REFRESH")
    assert rows(s, "SELECT * FROM Q") == before


def test_dropping_the_table_drops_its_counts(s: Session) -> None:
    create(s, "Q", QUERY)
    oid = _oid(s, "Q")
    s.sql("INSERT INTO T VALUES (5, 1, 'c', 3)")
    refresh(s, "Q")
    s.sql("DROP DYNAMIC TABLE Q")
    left = s.rt.engine.rows(
        "SELECT table_name FROM duckdb_tables() WHERE starts_with(table_name, ?)", [f"t{oid}_"]
    )
    assert left == []
    assert (
        s.rt.engine.rows('SELECT * FROM "_snowmelt_data".distinct_counts WHERE oid = ?', [oid])
        == []
    )


def test_counts_are_kept_across_reopening(db_path: Any) -> None:
    """The counts live in the database file: a reopened file refreshes on from them (a count
    planted in them shows they are read, not rebuilt)."""
    import snowmelt

    s = snowmelt.connect(str(db_path))
    s.sql(
        "CREATE DATABASE D; CREATE SCHEMA D.S; CREATE WAREHOUSE WH; "
        "CREATE TABLE T (ID INT, K INT, G VARCHAR, V INT); "
        "INSERT INTO T VALUES (1, 1, 'a', 1), (2, 1, 'b', 1)"
    )
    create(s, "Q", QUERY)
    oid = _oid(s, "Q")
    s.sql("INSERT INTO T VALUES (3, 1, 'c', 2)")
    refresh(s, "Q")
    s.close()
    s = snowmelt.connect(str(db_path))
    s.sql("USE SCHEMA D.S")
    s.rt.engine.execute(
        f'UPDATE "_snowmelt_data"."t{oid}_dc0" SET _sm_n = _sm_n + 1 WHERE _sm_k1 = \'c\''
    )
    s.sql("DELETE FROM T WHERE ID = 3")
    assert refresh(s, "Q")["action"] == "INCREMENTAL"
    # the planted row keeps 'c' counted: the refresh read the kept counts
    assert rows(s, "SELECT K, DG FROM Q") == [(1, 3)]
    s.close()
