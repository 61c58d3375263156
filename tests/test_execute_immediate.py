"""``EXECUTE IMMEDIATE``: SQL from a string, a ``$$`` block or a session variable, with
``USING`` binds — run in the session as if written in its place (context, variables,
transaction), errors positioned at the statement, Snowflake Scripting refused by name."""

from __future__ import annotations

import pytest

from snowmelt.errors import SqlError, UnsupportedError


@pytest.fixture
def s(session):
    session.sql("CREATE TABLE T (ID INT, NAME STRING); INSERT INTO T VALUES (1, 'a'), (7, 'b')")
    return session


def test_sql_built_in_a_variable_runs_with_binds(s):
    assert s.sql("EXECUTE IMMEDIATE 'SELECT COUNT(*) AS N FROM T'").rows() == [(2,)]
    s.sql("SET TBL = 'T'; SET Q = 'SELECT MAX(ID) AS M FROM ' || $TBL")
    assert s.sql("EXECUTE IMMEDIATE $Q").rows() == [(7,)]
    s.sql("SET NM = 'b'")
    bound = s.sql("EXECUTE IMMEDIATE 'SELECT ID FROM T WHERE ID > ? AND NAME = ?' USING (1, $NM)")
    assert bound.rows() == [(7,)]
    # a block of statements: the last one's result; they ran in this session's schema
    last = s.sql("EXECUTE IMMEDIATE $$ INSERT INTO T VALUES (9, 'c'); SELECT COUNT(*) FROM T $$")
    assert last.rows() == [(3,)]
    s.sql("EXECUTE IMMEDIATE 'SET FROM_INSIDE = 42'")
    assert s.sql("SELECT $FROM_INSIDE").scalar() == 42  # its variables are the session's


def test_it_joins_the_open_transaction(s):
    s.sql("BEGIN")
    s.sql("EXECUTE IMMEDIATE 'INSERT INTO T VALUES (10, ''d'')'")
    assert s.sql("SELECT COUNT(*) FROM T").scalar() == 3  # seen inside the transaction
    s.sql("ROLLBACK")
    assert s.sql("SELECT COUNT(*) FROM T").scalar() == 2  # and undone with it
    assert not any("committed the open transaction" in n for n in s.notices)


@pytest.mark.parametrize(
    ("sql", "error", "message"),
    [
        (
            "SELECT 1;\nEXECUTE IMMEDIATE 'SELECT 1;\n SELECT NOPE FROM T'",
            SqlError,
            r"EXECUTE IMMEDIATE: .*NOPE.* at line 2, column \d+ of its SQL \(line 2, column 1\)",
        ),
        ("EXECUTE IMMEDIATE $MISSING", SqlError, r"Session variable '\$MISSING' does not exist"),
        ("EXECUTE IMMEDIATE SELECT 1", SqlError, r"takes a string .* or a session variable"),
        ("EXECUTE IMMEDIATE 'SELECT ?' USING (ID)", SqlError, r"USING takes literals"),
        (
            "EXECUTE IMMEDIATE $$ DECLARE X INT; BEGIN RETURN 1; END $$",
            UnsupportedError,
            r"Snowflake Scripting block",
        ),
        ("EXECUTE IMMEDIATE 'BEGIN SELECT 1; END'", UnsupportedError, r"Scripting block"),
    ],
)
def test_what_cannot_run_is_named(s, sql, error, message):
    with pytest.raises(error, match=message):
        s.sql(sql)
