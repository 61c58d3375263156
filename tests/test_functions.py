"""SQL user-defined functions (``snowmelt/functions.py``): created, called in queries, DML,
views and dynamic tables (inlined: a dynamic table calling one stays incremental), shown,
described, dropped; what is not supported says so."""

from __future__ import annotations

import pytest

from snowmelt.errors import ObjectExists, ObjectNotFound, SqlError, UnsupportedError

CLEAN = (
    "CREATE OR REPLACE FUNCTION CLEAN(S VARCHAR, FILL VARCHAR DEFAULT 'n/a') RETURNS VARCHAR "
    "LANGUAGE SQL COMMENT = 'trimmed, or FILL when empty' "
    "AS $$ COALESCE(NULLIF(TRIM(S), ''), FILL) $$"
)


@pytest.fixture
def s(session):
    session.sql("USE SCHEMA D.S")
    session.sql(CLEAN)
    session.sql("CREATE FUNCTION TWICE(X NUMBER) RETURNS NUMBER AS 'X * 2'")
    session.sql("CREATE TABLE T (ID INT, NAME VARCHAR); INSERT INTO T VALUES (1, ' a '), (2, '')")
    return session


def test_a_function_is_called_like_a_builtin_with_defaults_and_qualified_names(s):
    assert s.sql("SELECT CLEAN(' x '), CLEAN(''), CLEAN(NULL, '-')").rows() == [("x", "n/a", "-")]
    assert s.sql("SELECT D.S.TWICE(2), S.TWICE(3), twice(4)").rows() == [(4, 6, 8)]
    # functions calling functions, and the argument's type applied (NUMBER: 2.6 -> 3)
    s.sql("CREATE FUNCTION QUAD(X NUMBER) RETURNS NUMBER AS 'TWICE(TWICE(X))'")
    assert s.sql("SELECT QUAD(2.6)").scalar() == 12
    assert s.sql("SELECT ID, CLEAN(NAME) FROM T ORDER BY ID").rows() == [(1, "a"), (2, "n/a")]
    s.sql("UPDATE T SET NAME = CLEAN(NAME, 'none') WHERE ID = 2")
    s.sql("INSERT INTO T SELECT TWICE(ID) + 10, CLEAN(NAME) FROM T WHERE ID = 1")
    assert s.sql("SELECT * FROM T ORDER BY ID").rows() == [(1, " a "), (2, "none"), (12, "a")]
    s.sql("CREATE VIEW V AS SELECT ID, QUAD(ID) AS Q FROM T")
    assert s.sql("SELECT Q FROM V ORDER BY ID").rows() == [(4,), (8,), (48,)]
    # a query as the body: a scalar subquery, its argument in place
    s.sql("CREATE FUNCTION ABOVE(X INT) RETURNS INT AS 'SELECT COUNT(*) FROM T WHERE ID > X'")
    assert s.sql("SELECT ABOVE(0), ABOVE(2)").rows() == [(3, 1)]


def test_a_dynamic_table_calling_functions_refreshes_incrementally(s):
    s.sql(
        "CREATE DYNAMIC TABLE DT TARGET_LAG = '1 minute' WAREHOUSE = WH "
        "REFRESH_MODE = INCREMENTAL AS SELECT CLEAN(NAME) AS N, SUM(TWICE(ID)) AS S "
        "FROM T GROUP BY CLEAN(NAME)"
    )
    s.sql("INSERT INTO T VALUES (3, 'a'), (4, NULL); DELETE FROM T WHERE ID = 2")
    action = s.sql("ALTER DYNAMIC TABLE DT REFRESH").rows()[0][2]
    assert action == "INCREMENTAL"
    expected = "SELECT COALESCE(NULLIF(TRIM(NAME), ''), 'n/a'), SUM(ID * 2) FROM T GROUP BY 1"
    assert sorted(s.sql("SELECT * FROM DT").rows()) == sorted(s.sql(expected).rows())
    assert sorted(s.sql("SELECT * FROM DT").rows()) == [("a", 8), ("n/a", 8)]
    # the table keeps the body it was created with; SHOW keeps the text as written
    assert "CLEAN(NAME)" in s.sql("SHOW DYNAMIC TABLES LIKE 'DT'").dicts()[0]["text"]


def test_a_replaced_or_dropped_function_fails_the_tables_calling_it_until_recreated(s):
    """Reference b.8: replacing a UDF a dynamic table uses makes its later refreshes fail
    until the table is recreated; the rows stay as they were."""
    s.sql("CREATE FUNCTION QUAD(X NUMBER) RETURNS NUMBER AS 'TWICE(TWICE(X))'")
    for name, body in (
        ("Q", "SELECT ID, QUAD(ID) AS V FROM T"),
        ("C", "SELECT CLEAN(NAME) AS V FROM T"),
    ):
        s.sql(f"CREATE DYNAMIC TABLE {name} TARGET_LAG = '1 minute' WAREHOUSE = WH AS {body}")
    before = sorted(s.sql("SELECT * FROM Q").rows())
    s.sql("CREATE OR REPLACE FUNCTION TWICE(X NUMBER) RETURNS NUMBER AS 'X * 3'")  # called by QUAD
    s.sql("INSERT INTO T VALUES (5, 'e')")
    with pytest.raises(Exception, match=r"calls function D\.S\.TWICE, which was replaced"):
        s.sql("ALTER DYNAMIC TABLE Q REFRESH")
    assert sorted(s.sql("SELECT * FROM Q").rows()) == before  # the last good version
    code = s.sql(
        "SELECT STATE_CODE FROM TABLE(INFORMATION_SCHEMA.DYNAMIC_TABLE_REFRESH_HISTORY("
        "NAME => 'D.S.Q', ERROR_ONLY => TRUE))"
    ).scalar()
    assert code == "FUNCTION_CHANGED"
    assert s.sql("ALTER DYNAMIC TABLE C REFRESH").rows()[0][1] == "SUCCEEDED"  # not affected
    s.sql(
        "CREATE OR REPLACE DYNAMIC TABLE Q TARGET_LAG = '1 minute' WAREHOUSE = WH AS "
        "SELECT ID, QUAD(ID) AS V FROM T"
    )
    assert (5, 45) in s.sql("SELECT * FROM Q").rows()  # the new body: 5 * 3 * 3
    s.sql("DROP FUNCTION CLEAN(VARCHAR, VARCHAR)")
    with pytest.raises(Exception, match=r"calls function D\.S\.CLEAN, which was dropped"):
        s.sql("ALTER DYNAMIC TABLE C REFRESH")
    # the same body again: CREATE OR ALTER takes the function as it is now, keeping the rows
    s.sql(CLEAN)
    s.sql(
        "CREATE OR ALTER DYNAMIC TABLE C TARGET_LAG = '1 minute' WAREHOUSE = WH AS "
        "SELECT CLEAN(NAME) AS V FROM T"
    )
    assert s.sql("ALTER DYNAMIC TABLE C REFRESH").rows()[0][1] == "SUCCEEDED"


def test_show_describe_and_drop(s):
    shown = {r["name"]: r for r in s.sql("SHOW USER FUNCTIONS").dicts()}
    assert sorted(shown) == ["CLEAN", "TWICE"]
    clean = shown["CLEAN"]
    assert (
        clean["arguments"] == "CLEAN(VARCHAR(16777216), VARCHAR(16777216)) RETURN VARCHAR(16777216)"
    )
    assert (clean["min_num_arguments"], clean["max_num_arguments"]) == (1, 2)
    assert (clean["description"], clean["language"]) == ("trimmed, or FILL when empty", "SQL")
    described = dict(s.sql("DESCRIBE FUNCTION TWICE(NUMBER)").rows())
    assert described == {
        "signature": "(NUMBER(38,0))",
        "returns": "NUMBER(38,0)",
        "language": "SQL",
        "body": "X * 2",
    }
    with pytest.raises(ObjectNotFound, match=r"it takes \(NUMBER\(38,0\)\)"):
        s.sql("DROP FUNCTION TWICE(NUMBER, NUMBER)")
    s.sql("DROP FUNCTION TWICE(NUMBER)")
    with pytest.raises(SqlError):
        s.sql("SELECT TWICE(1)")
    with pytest.raises(ObjectNotFound, match="Function 'D.S.TWICE' does not exist"):
        s.sql("DROP FUNCTION TWICE(NUMBER)")
    s.sql("DROP FUNCTION IF EXISTS TWICE(NUMBER)")
    assert [r["name"] for r in s.sql("SHOW TABLES").dicts()] == ["T"]  # not a relation


def test_what_cannot_be_a_function_is_named(s):
    with pytest.raises(SqlError, match=r"reads Y, which is not one of its arguments \(X\)"):
        s.sql("CREATE FUNCTION BAD(X INT) RETURNS INT AS 'Y + 1'")
    with pytest.raises(SqlError, match="(?i)does not compile: .*nosuch"):
        s.sql("CREATE FUNCTION BAD(X INT) RETURNS INT AS 'NOSUCH(X)'")
    with pytest.raises(SqlError, match="its body does not parse"):
        s.sql("CREATE FUNCTION BAD(X INT) RETURNS INT AS 'X +'")
    with pytest.raises(UnsupportedError, match="Functions in PYTHON are not supported"):
        s.sql(
            "CREATE FUNCTION P(X INT) RETURNS INT LANGUAGE PYTHON RUNTIME_VERSION = '3.11' "
            "HANDLER = 'h' AS 'def h(x): return x'"
        )
    with pytest.raises(UnsupportedError, match=r"Table functions \(RETURNS TABLE\)"):
        s.sql("CREATE FUNCTION TB(X INT) RETURNS TABLE (A INT) AS 'SELECT X'")
    with pytest.raises(SqlError, match="takes 1 to 2 arguments, 3 given"):
        s.sql("SELECT CLEAN('a', 'b', 'c')")
    with pytest.raises(ObjectExists, match="already exists as a function"):
        s.sql("CREATE FUNCTION CLEAN(S VARCHAR) RETURNS VARCHAR AS 'S'")
    assert (
        "already exists"
        in s.sql("CREATE FUNCTION IF NOT EXISTS CLEAN(S VARCHAR) RETURNS VARCHAR AS 'S'").scalar()
    )
    assert s.sql("SELECT CLEAN('')").scalar() == "n/a"  # the first definition kept
