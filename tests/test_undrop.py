"""UNDROP SCHEMA and UNDROP DATABASE (``snowmelt/undrop.py``): a dropped schema comes back
with what it held — tables with their rows, dynamic tables, views, sequences going on from
their next value, functions — and the dynamic tables elsewhere that read it refresh again;
a dropped database with its schemas; within the time-travel window only."""

from __future__ import annotations

from datetime import timedelta

import pytest

from snowmelt import retention
from snowmelt.errors import ObjectExists, ObjectNotFound, RefreshError
from snowmelt.testing import assert_matches_query


@pytest.fixture
def s(session):
    session.sql(
        "USE SCHEMA D.S;"
        "CREATE SEQUENCE Q START 10; CREATE FUNCTION PLUS1(X INT) RETURNS INT AS 'X + 1';"
        "CREATE TABLE T (ID INT DEFAULT Q.NEXTVAL, V INT); INSERT INTO T (V) VALUES (1), (2);"
        "CREATE VIEW W AS SELECT PLUS1(V) AS V1 FROM T;"
        "CREATE DYNAMIC TABLE A TARGET_LAG = '1 minute' WAREHOUSE = WH AS SELECT SUM(V) AS S FROM T;"
        "CREATE SCHEMA D.OTHER;"
        "CREATE DYNAMIC TABLE D.OTHER.B TARGET_LAG = '1 minute' WAREHOUSE = WH"
        " REFRESH_MODE = INCREMENTAL AS SELECT S * 10 AS S10 FROM D.S.A"
    )
    return session


def _names(s, scope: str) -> set[str]:
    return {r["name"] for r in s.sql(f"SHOW OBJECTS IN {scope}").dicts()}


def test_a_dropped_schema_comes_back_with_what_it_held(s):
    s.sql("DROP SCHEMA D.S")
    with pytest.raises(RefreshError, match=r"reads D\.S\.A, which was dropped"):
        s.sql("ALTER DYNAMIC TABLE D.OTHER.B REFRESH")
    s.sql("UNDROP SCHEMA D.S")
    assert _names(s, "SCHEMA D.S") == {"T", "W", "A"}
    assert sorted(s.sql("SELECT * FROM D.S.T").rows()) == [(10, 1), (11, 2)]
    assert sorted(s.sql("SELECT * FROM D.S.W").rows()) == [(2,), (3,)]  # the function too
    assert s.sql("SELECT D.S.PLUS1(1)").scalar() == 2
    s.sql("INSERT INTO D.S.T (V) VALUES (5)")
    assert s.sql("SELECT MAX(ID) FROM D.S.T").scalar() == 12  # the sequence went on
    actions = {
        r["NAME"]: r["REFRESH_ACTION"]
        for r in s.sql("ALTER DYNAMIC TABLE D.OTHER.B REFRESH").dicts()
    }
    assert actions == {"D.S.A": "REINITIALIZE", "D.OTHER.B": "INCREMENTAL"}
    assert_matches_query(s, "D.OTHER.B")
    with pytest.raises(ObjectExists, match=r"Schema 'D\.S' already exists"):
        s.sql("UNDROP SCHEMA D.S")


def test_a_dropped_database_comes_back_with_its_schemas(s):
    s.sql("DROP DATABASE D")
    assert s.sql("SHOW DATABASES").rows() == []
    s.sql("UNDROP DATABASE D")
    assert {r["name"] for r in s.sql("SHOW SCHEMAS IN DATABASE D").dicts()} == {
        "PUBLIC",
        "S",
        "OTHER",
    }
    assert _names(s, "DATABASE D") == {"T", "W", "A", "B"}
    s.sql("INSERT INTO D.S.T (V) VALUES (4); ALTER DYNAMIC TABLE D.OTHER.B REFRESH")
    assert_matches_query(s, "D.OTHER.B")
    assert s.sql("SELECT S10 FROM D.OTHER.B").scalar() == 70


def test_the_latest_drop_comes_back_and_none_after_the_window(s, clock):
    s.sql("DROP SCHEMA D.S; CREATE SCHEMA D.S; CREATE TABLE D.S.NEWER (X INT); DROP SCHEMA D.S")
    s.sql("UNDROP SCHEMA D.S")
    assert _names(s, "SCHEMA D.S") == {"NEWER"}
    s.sql("DROP SCHEMA D.S")
    retention.prune(s.rt, clock.now() + timedelta(days=2))
    with pytest.raises(ObjectNotFound, match=r"Schema 'D\.S' did not exist or was purged"):
        s.sql("UNDROP SCHEMA D.S")
    s.sql("DROP DATABASE D")
    retention.prune(s.rt, clock.now() + timedelta(days=2))
    with pytest.raises(ObjectNotFound, match="Database 'D' did not exist or was purged"):
        s.sql("UNDROP DATABASE D")


def test_undrop_names_what_is_missing(s):
    with pytest.raises(ObjectNotFound, match=r"Database 'NOPE' does not exist \(UNDROP DATABASE"):
        s.sql("UNDROP SCHEMA NOPE.S")
    with pytest.raises(ObjectExists, match="Database 'D' already exists"):
        s.sql("UNDROP DATABASE D")
    with pytest.raises(ObjectNotFound, match=r"Schema 'D\.NEVER' did not exist"):
        s.sql("UNDROP SCHEMA D.NEVER")
