"""BEGIN / COMMIT / ROLLBACK: the statements between join one commit (one version), visible
to readers and dynamic tables at COMMIT, undone whole at ROLLBACK or when one fails; DDL
commits the open transaction first, as in Snowflake."""

from __future__ import annotations

import pytest

from snowmelt.errors import ObjectNotFound


@pytest.fixture
def s(session):
    session.sql(
        "USE SCHEMA D.S; CREATE TABLE T (A INT); CREATE TABLE U (A INT);"
        "CREATE DYNAMIC TABLE DT TARGET_LAG = '1 minute' WAREHOUSE = WH "
        "REFRESH_MODE = INCREMENTAL AS SELECT A FROM T"
    )
    return session


def rows(s, table):
    return sorted(s.sql(f"SELECT A FROM {table}").rows())


def test_commit_makes_the_statements_one_version(s):
    before = s.rt.store.version
    s.sql("BEGIN; INSERT INTO T VALUES (1); USE SCHEMA D.S; INSERT INTO U VALUES (2)")
    s.sql("UPDATE T SET A = 10")  # USE does not end the transaction
    assert s.in_transaction and rows(s, "T") == [(10,)]  # the transaction sees its writes
    s.insert("U", [{"A": 3}])  # the API joins it too
    s.sql("COMMIT")
    assert not s.in_transaction
    assert s.rt.store.version == before + 1  # one version for all of it
    assert rows(s, "T") == [(10,)] and rows(s, "U") == [(2,), (3,)]
    s.sql("ALTER DYNAMIC TABLE DT REFRESH")
    assert rows(s, "DT") == [(10,)]


def test_rollback_and_a_failing_statement_undo_everything(s):
    s.sql("INSERT INTO T VALUES (1)")
    s.sql("START TRANSACTION; DELETE FROM T; INSERT INTO U VALUES (3); ROLLBACK")
    assert rows(s, "T") == [(1,)] and rows(s, "U") == []
    with pytest.raises(ObjectNotFound, match="NOPE.*the open transaction was rolled back"):
        s.sql("BEGIN; INSERT INTO T VALUES (5); INSERT INTO NOPE VALUES (1)")
    assert not s.in_transaction and rows(s, "T") == [(1,)]
    s.sql("BEGIN; INSERT INTO T VALUES (6)")
    s.close()  # a transaction left open is rolled back


def test_ddl_commits_the_open_transaction_first(s):
    s.sql("BEGIN; INSERT INTO T VALUES (6); CREATE TABLE X (A INT); INSERT INTO T VALUES (7)")
    assert s.notices[-1] == (
        "CREATE TABLE committed the open transaction first, as DDL does in Snowflake."
    )
    assert not s.in_transaction  # the INSERT after the DDL ran on its own
    s.sql("ROLLBACK; COMMIT")  # nothing open: both do nothing
    assert rows(s, "T") == [(6,), (7,)]
    s.sql("BEGIN; BEGIN")  # transactions do not nest: the second is ignored
    assert s.notices[-1] == "BEGIN inside an open transaction is ignored."
    s.sql("INSERT INTO T VALUES (8); ROLLBACK")
    assert rows(s, "T") == [(6,), (7,)]
