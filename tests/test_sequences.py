"""Sequences as on Snowflake: CREATE / ALTER / DROP / SHOW / DESCRIBE SEQUENCE and
``s.NEXTVAL`` in queries, DML and column defaults (``snowmelt/sequences.py``)."""

from __future__ import annotations

import pytest

import snowmelt
from snowmelt.errors import ObjectExists, ObjectNotFound, SqlError


@pytest.fixture
def s(session):
    session.sql("USE SCHEMA D.S")
    return session


def test_nextval_gives_one_value_per_row_from_start_by_increment(s):
    s.sql("CREATE SEQUENCE SQ START WITH 100 INCREMENT BY 10 COMMENT = 'tens'")
    assert s.sql("SELECT SQ.NEXTVAL, D.S.SQ.NEXTVAL").rows() == [(100, 110)]
    s.sql("CREATE TABLE T (ID INT, NAME VARCHAR); INSERT INTO T VALUES (0, 'a'), (0, 'b')")
    s.sql("INSERT INTO T SELECT SQ.NEXTVAL, NAME FROM T")  # one value per row
    assert sorted(s.sql("SELECT ID FROM T WHERE ID > 0").rows()) == [(120,), (130,)]
    s.sql("UPDATE T SET ID = SQ.NEXTVAL WHERE ID = 0")
    assert sorted(s.sql("SELECT ID FROM T").rows()) == [(120,), (130,), (140,), (150,)]
    shown = s.sql("SHOW SEQUENCES").dicts()
    assert [(r["name"], r["next_value"], r["interval"], r["comment"]) for r in shown] == [
        ("SQ", 160, 10, "tens")
    ]
    assert s.sql("DESCRIBE SEQUENCE SQ").dicts()[0]["next_value"] == 160  # reading draws none
    # any start, either direction, as Snowflake's 64-bit sequences
    s.sql("CREATE SEQUENCE DOWN START = 0 INCREMENT = -5")
    assert s.sql("SELECT DOWN.NEXTVAL, DOWN.NEXTVAL").rows() == [(0, -5)]


def test_a_columns_default_draws_from_a_sequence_and_shows_its_name(s):
    s.sql("CREATE SEQUENCE IDS; CREATE TABLE T (ID INT DEFAULT IDS.NEXTVAL, NAME VARCHAR)")
    s.sql("INSERT INTO T (NAME) VALUES ('a'), ('b')")
    s.insert("T", [{"NAME": "c"}])
    assert s.sql("SELECT ID, NAME FROM T ORDER BY ID").rows() == [(1, "a"), (2, "b"), (3, "c")]
    assert s.sql("DESCRIBE TABLE T").dicts()[0]["default"] == "D.S.IDS.NEXTVAL"
    assert (
        "ID NUMBER(38,0) DEFAULT D.S.IDS.NEXTVAL" in s.sql("SELECT GET_DDL('TABLE', 'T')").scalar()
    )
    column = "SELECT COLUMN_DEFAULT FROM INFORMATION_SCHEMA.COLUMNS WHERE COLUMN_NAME = 'ID'"
    assert s.sql(column).scalar() == "D.S.IDS.NEXTVAL"
    # dropped while the column draws from it: the name is gone, the column keeps numbering
    s.sql("DROP SEQUENCE IDS")
    with pytest.raises(SqlError):
        s.sql("SELECT IDS.NEXTVAL")
    s.sql("INSERT INTO T (NAME) VALUES ('d')")
    assert s.sql("SELECT MAX(ID) FROM T").scalar() == 4
    s.sql("DROP SCHEMA D.S")  # and the schema goes, sequence and all


def test_alter_sequence_changes_increment_comment_and_name(s):
    s.sql("CREATE SEQUENCE SQ START = 1 INCREMENT = 2")
    assert s.sql("SELECT SQ.NEXTVAL").scalar() == 1
    s.sql("ALTER SEQUENCE SQ SET INCREMENT = -1")  # from the value it would have given next
    assert s.sql("SELECT SQ.NEXTVAL, SQ.NEXTVAL").rows() == [(3, 2)]
    s.sql("ALTER SEQUENCE SQ SET COMMENT = 'countdown'; ALTER SEQUENCE SQ RENAME TO CD")
    row = s.sql("DESCRIBE SEQUENCE CD").dicts()[0]
    assert (row["name"], row["interval"], row["comment"], row["next_value"]) == (
        "CD",
        -1,
        "countdown",
        1,
    )
    s.sql("ALTER SEQUENCE CD UNSET COMMENT")
    assert s.sql("SHOW SEQUENCES LIKE 'C%'").dicts()[0]["comment"] == ""
    with pytest.raises(ObjectNotFound, match="Sequence 'D.S.SQ' does not exist"):
        s.sql("ALTER SEQUENCE SQ SET INCREMENT = 1")
    s.sql("ALTER SEQUENCE IF EXISTS SQ SET INCREMENT = 1")
    with pytest.raises(SqlError, match="INCREMENT cannot be 0"):
        s.sql("ALTER SEQUENCE CD SET INCREMENT = 0")
    with pytest.raises(SqlError, match="Expected SET INCREMENT"):
        s.sql("ALTER SEQUENCE CD RESTART")


def test_create_and_drop_say_what_is_wrong(s):
    s.sql("CREATE SEQUENCE SQ; CREATE TABLE T (NEXTVAL INT); INSERT INTO T VALUES (7)")
    with pytest.raises(ObjectExists, match="already exists as a sequence"):
        s.sql("CREATE SEQUENCE SQ")
    assert "already exists" in s.sql("CREATE SEQUENCE IF NOT EXISTS SQ").scalar()
    with pytest.raises(SqlError, match="cannot be used together"):
        s.sql("CREATE OR REPLACE SEQUENCE IF NOT EXISTS SQ")
    with pytest.raises(ObjectExists, match="already exists as a table"):
        s.sql("CREATE OR REPLACE SEQUENCE T")
    assert s.sql("SELECT T.NEXTVAL FROM T").rows() == [(7,)]  # a column named NEXTVAL
    s.sql("SELECT SQ.NEXTVAL")
    s.sql("CREATE OR REPLACE SEQUENCE SQ")  # starts over
    assert s.sql("SELECT SQ.NEXTVAL").scalar() == 1
    with pytest.raises(ObjectNotFound, match="Sequence 'D.S.NOPE' does not exist"):
        s.sql("DROP SEQUENCE NOPE")
    s.sql("DROP SEQUENCE IF EXISTS NOPE")
    # sequences are not relations: SHOW TABLES / OBJECTS and INFORMATION_SCHEMA skip them
    assert [r["name"] for r in s.sql("SHOW OBJECTS").dicts()] == ["T"]
    assert s.sql("SELECT TABLE_NAME FROM INFORMATION_SCHEMA.TABLES").rows() == [("T",)]


def test_a_dynamic_table_drawing_nextval_refreshes_full_and_says_why(s):
    s.sql("CREATE SEQUENCE SQ; CREATE TABLE T (X INT); INSERT INTO T VALUES (1), (2)")
    with pytest.raises(Exception, match="sequence NEXTVAL is not supported by incremental"):
        s.sql(
            "CREATE DYNAMIC TABLE DT TARGET_LAG = '1 minute' WAREHOUSE = WH "
            "REFRESH_MODE = INCREMENTAL AS SELECT X, SQ.NEXTVAL AS N FROM T"
        )
    s.sql(
        "CREATE DYNAMIC TABLE DT TARGET_LAG = '1 minute' WAREHOUSE = WH "
        "AS SELECT X, SQ.NEXTVAL AS N FROM T"
    )
    row = s.sql("SHOW DYNAMIC TABLES LIKE 'DT'").dicts()[0]
    assert (row["refresh_mode"], row["refresh_mode_reason"]) == (
        "FULL",
        "QUERY_NOT_SUPPORTED_FOR_INCREMENTAL",
    )
    assert sorted(n for (n,) in s.sql("SELECT N FROM DT").rows()) == [1, 2]


def test_a_sequence_continues_after_the_database_is_reopened(db_path):
    s = snowmelt.connect(str(db_path))
    s.sql("CREATE DATABASE D; CREATE SCHEMA D.S; CREATE SEQUENCE D.S.SQ INCREMENT = 3")
    assert s.sql("SELECT D.S.SQ.NEXTVAL, D.S.SQ.NEXTVAL").rows() == [(1, 4)]
    s.close()
    s = snowmelt.connect(str(db_path))
    assert s.sql("SELECT D.S.SQ.NEXTVAL").scalar() == 7
    s.close()
