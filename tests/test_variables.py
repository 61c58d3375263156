"""Session variables (SET / UNSET / $name / SHOW VARIABLES) and IDENTIFIER()
(``snowmelt.variables``)."""

from __future__ import annotations

import datetime

import pytest

from snowmelt.errors import SqlError


@pytest.fixture
def s(session):
    session.sql(
        "USE SCHEMA D.S; CREATE TABLE T (A INT, B VARCHAR); INSERT INTO T VALUES (1, 'x'), (5, 'y')"
    )
    return session


def test_variables_are_values_in_every_statement(s):
    s.sql("SET X = 5; SET (LO, HI) = (0, $x * 2)")  # names are case-insensitive
    assert s.sql("SELECT $X, $X + 1").rows() == [(5, 6)]
    assert s.sql("SELECT COUNT(*) FROM T WHERE A BETWEEN $LO AND $HI").scalar() == 2
    s.sql("SET TBL = 'D.S.T'; INSERT INTO IDENTIFIER($TBL) (A, B) VALUES ($X + 10, 'z')")
    assert s.sql("SELECT IDENTIFIER('B') FROM IDENTIFIER('T') WHERE A = 15").rows() == [("z",)]
    s.sql("SET D0 = CURRENT_DATE() - 1; SET TOP = (SELECT MAX(A) FROM T)")
    assert s.sql("SELECT $D0, $TOP").rows() == [(datetime.date.today() - datetime.timedelta(1), 15)]
    assert s.sql("EXPLAIN SELECT * FROM IDENTIFIER($TBL) WHERE A = $TOP").rows()  # EXPLAIN too
    s.sql("CREATE TABLE C AS SELECT $TBL AS N")
    assert s.sql("SELECT N FROM C").rows() == [("D.S.T",)]
    shown = {r["name"]: (r["value"], r["type"]) for r in s.sql("SHOW VARIABLES").dicts()}
    assert shown["X"] == ("5", "FIXED") and shown["TBL"] == ("D.S.T", "TEXT")
    assert set(shown) == {"X", "LO", "HI", "TBL", "D0", "TOP"}
    s.sql("UNSET X; UNSET (LO, HI)")
    assert set(r["name"] for r in s.sql("SHOW VARIABLES").dicts()) == {"TBL", "D0", "TOP"}
    with pytest.raises(SqlError, match=r"Session variable '\$X' does not exist"):
        s.sql("SELECT $X")
    with pytest.raises(SqlError, match="Session variable 'NOPE' does not exist"):
        s.sql("UNSET NOPE")


def test_kept_definitions_cannot_use_variables_but_identifier_literals_are_fine(s):
    s.sql("SET TBL = 'T'")
    for statement in (
        "CREATE VIEW V AS SELECT * FROM T WHERE B = $TBL",
        "CREATE DYNAMIC TABLE DT TARGET_LAG = '1 minute' WAREHOUSE = WH "
        "AS SELECT * FROM IDENTIFIER($TBL)",
    ):
        with pytest.raises(SqlError, match="cannot use session variables"):
            s.sql(statement)
    s.sql(
        "CREATE DYNAMIC TABLE DT TARGET_LAG = '1 minute' WAREHOUSE = WH "
        "AS SELECT A FROM IDENTIFIER('T')"
    )
    s.sql("INSERT INTO T VALUES (9, 'n'); ALTER DYNAMIC TABLE DT REFRESH")
    assert sorted(s.sql("SELECT A FROM DT").rows()) == [(1,), (5,), (9,)]
