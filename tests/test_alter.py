"""ALTER TABLE column changes and COMMENT ON (``snowmelt.alter``): data, history and
dynamic tables downstream survive them, and what Snowflake refuses is refused by name."""

from __future__ import annotations

from decimal import Decimal

import pytest

from snowmelt.errors import ObjectNotFound, RefreshError, SqlError, UnsupportedError


@pytest.fixture
def s(session, clock):
    session.sql(
        "USE SCHEMA D.S; CREATE TABLE T (ID INT, NAME VARCHAR, V NUMBER(10, 2));"
        "INSERT INTO T VALUES (1, 'a', 1.50), (2, NULL, 2.25)"
    )
    return session


def describe(s, table="T"):
    return {r[0]: (r[1], r[3], r[9]) for r in s.sql(f"DESCRIBE TABLE {table}").rows()}


def test_rename_column_keeps_values_history_and_downstream_tables(s, clock):
    s.sql(
        "CREATE DYNAMIC TABLE KEEPS TARGET_LAG = '1 minute' WAREHOUSE = WH "
        "AS SELECT ID, V FROM T;"
        "CREATE DYNAMIC TABLE BREAKS TARGET_LAG = '1 minute' WAREHOUSE = WH "
        "AS SELECT ID, NAME FROM T"
    )
    clock.advance(60)
    s.sql("ALTER TABLE T RENAME COLUMN NAME TO LABEL")
    clock.advance(60)
    s.sql("UPDATE T SET LABEL = 'b' WHERE ID = 2")
    assert s.sql("SELECT ID, LABEL FROM T ORDER BY ID").rows() == [(1, "a"), (2, "b")]
    # time travel reads the old rows under the new name
    assert s.sql("SELECT ID, LABEL FROM T AT(OFFSET => -30) ORDER BY ID").rows() == [
        (1, "a"),
        (2, None),
    ]
    assert list(describe(s)) == ["ID", "LABEL", "V"]
    s.sql("ALTER DYNAMIC TABLE KEEPS REFRESH")  # reinitializes over the new columns
    assert s.sql("SELECT * FROM KEEPS ORDER BY ID").rows() == [
        (1, Decimal("1.50")),
        (2, Decimal("2.25")),
    ]
    with pytest.raises(RefreshError, match='query no longer works: .*"NAME".*last good version'):
        s.sql("ALTER DYNAMIC TABLE BREAKS REFRESH")
    assert s.sql("SELECT * FROM BREAKS ORDER BY ID").rows() == [(1, "a"), (2, None)]
    for bad, message in (
        ("RENAME COLUMN ID TO V", "Column 'V' already exists in D.S.T"),
        ("RENAME COLUMN NOPE TO X", "Column 'NOPE' does not exist in D.S.T"),
        ("RENAME COLUMN ID TO _SM_X", "reserved by snowmelt"),
    ):
        with pytest.raises(SqlError, match=message):
            s.sql(f"ALTER TABLE T {bad}")
    assert list(describe(s)) == ["ID", "LABEL", "V"]


def test_set_data_type_allows_what_snowflake_allows(s):
    s.sql("ALTER TABLE T MODIFY COLUMN V SET DATA TYPE NUMBER(12, 2)")
    s.sql("ALTER TABLE T ALTER COLUMN NAME TYPE VARCHAR(500)")
    s.sql("INSERT INTO T VALUES (3, 'c', 1234567890.12)")  # needs the wider precision
    assert describe(s)["V"][0] == "NUMBER(12,2)"
    assert s.sql("SELECT SUM(V) FROM T").scalar() == Decimal("1234567893.87")
    for change, reason in (
        ("V SET DATA TYPE NUMBER(12, 3)", "changing the scale of a number"),
        ("V SET DATA TYPE NUMBER(8, 2)", "decreasing the precision of a number"),
        ("V SET DATA TYPE VARCHAR", "only a text length or a number's precision may change"),
        ("NAME SET DATA TYPE NUMBER", "only a text length or a number's precision may change"),
    ):
        with pytest.raises(SqlError, match=reason):
            s.sql(f"ALTER TABLE T ALTER COLUMN {change}")
    assert describe(s)["V"][0] == "NUMBER(12,2)"


def test_not_null_is_set_only_when_no_value_is_null(s):
    with pytest.raises(SqlError, match="Column NAME of D.S.T holds NULL values"):
        s.sql("ALTER TABLE T ALTER COLUMN NAME SET NOT NULL")
    s.sql("ALTER TABLE T ALTER COLUMN ID SET NOT NULL")
    assert describe(s)["ID"][1] == "N" and describe(s)["NAME"][1] == "Y"
    with pytest.raises(SqlError, match="NOT NULL constraint failed: D.S.T.ID"):
        s.sql("INSERT INTO T VALUES (NULL, 'x', 1)")
    s.sql("ALTER TABLE T ALTER COLUMN ID DROP NOT NULL")
    s.sql("INSERT INTO T VALUES (NULL, 'x', 1)")
    assert s.sql("SELECT COUNT(*) FROM T WHERE ID IS NULL").scalar() == 1


def test_comments_are_stored_and_shown(s):
    s.sql(
        "CREATE VIEW W AS SELECT ID FROM T;"
        "CREATE DYNAMIC TABLE DT TARGET_LAG = '1 minute' WAREHOUSE = WH AS SELECT ID FROM T"
    )
    s.sql("COMMENT ON TABLE T IS 'the facts'")
    s.sql("COMMENT ON COLUMN T.NAME IS 'who'")
    s.sql("ALTER TABLE T ALTER COLUMN V COMMENT 'how much'")
    s.sql("COMMENT ON VIEW W IS 'a view'")
    s.sql("COMMENT ON DYNAMIC TABLE DT IS 'it''s derived'")
    assert {k: v[2] for k, v in describe(s).items()} == {"ID": None, "NAME": "who", "V": "how much"}
    tables = {d["name"]: d["comment"] for d in s.sql("SHOW TABLES").dicts()}
    assert tables["T"] == "the facts"
    assert s.sql("SHOW VIEWS").dicts()[0]["comment"] == "a view"
    assert s.sql("SHOW DYNAMIC TABLES").dicts()[0]["comment"] == "it's derived"
    s.sql("ALTER TABLE T SET COMMENT = 'renamed'")
    assert {d["name"]: d["comment"] for d in s.sql("SHOW TABLES").dicts()}["T"] == "renamed"
    s.sql("ALTER TABLE T UNSET COMMENT")
    assert {d["name"]: d["comment"] for d in s.sql("SHOW TABLES").dicts()}["T"] == ""
    s.sql("COMMENT IF EXISTS ON TABLE NOPE IS 'x'")  # nothing to do, no error
    with pytest.raises(ObjectNotFound, match="Table or dynamic table 'D.S.NOPE' does not exist"):
        s.sql("COMMENT ON TABLE NOPE IS 'x'")
    with pytest.raises(UnsupportedError, match="COMMENT ON FUNCTION is not supported"):
        s.sql("COMMENT ON FUNCTION F IS 'x'")


def test_alter_session_is_accepted_with_a_notice_but_utc_stays(s):
    s.sql("ALTER SESSION SET QUERY_TAG = 'etl', USE_CACHED_RESULT = FALSE")
    assert s.notices[-1] == (
        "ALTER SESSION SET QUERY_TAG, USE_CACHED_RESULT accepted; snowmelt has no session "
        "parameters, so it has no effect."
    )
    s.sql("ALTER SESSION SET TIMEZONE = 'UTC'; ALTER SESSION UNSET QUERY_TAG")
    with pytest.raises(UnsupportedError, match="snowmelt computes and shows times in UTC"):
        s.sql("ALTER SESSION SET TIMEZONE = 'America/New_York'")


def test_a_comment_does_not_reinitialize_the_dynamic_tables_reading_the_table(s):
    s.sql(
        "CREATE DYNAMIC TABLE DT TARGET_LAG = '1 minute' WAREHOUSE = WH "
        "REFRESH_MODE = INCREMENTAL AS SELECT ID, V FROM T"
    )
    s.sql("ALTER TABLE T SET COMMENT = 'facts'; ALTER TABLE T ALTER COLUMN V COMMENT 'value'")
    s.sql("INSERT INTO T VALUES (3, 'c', 3.00); ALTER DYNAMIC TABLE DT REFRESH")
    s.sql("ALTER TABLE T ADD COLUMN W INT; ALTER DYNAMIC TABLE DT REFRESH")
    actions = [
        a
        for (a,) in s.sql(
            "SELECT refresh_action FROM TABLE(INFORMATION_SCHEMA.DYNAMIC_TABLE_REFRESH_HISTORY()) "
            "ORDER BY refresh_start_time"
        ).rows()
    ]
    assert actions == ["REINITIALIZE", "INCREMENTAL", "REINITIALIZE"]  # comments: no reinit


def test_keys_are_accepted_unenforced_and_leave_readers_alone(s):
    s.sql(
        "CREATE TABLE P (ID INT); CREATE DYNAMIC TABLE DT TARGET_LAG = '1 minute' "
        "WAREHOUSE = WH REFRESH_MODE = INCREMENTAL AS SELECT ID, V FROM T"
    )
    for action in (
        "ADD CONSTRAINT PK_T PRIMARY KEY (ID)",
        "ADD UNIQUE (NAME, V)",
        "ADD CONSTRAINT FK_P FOREIGN KEY (ID) REFERENCES P (ID)",
        "DROP CONSTRAINT FK_P",
        "DROP PRIMARY KEY",
    ):
        s.sql(f"ALTER TABLE T {action}")
        assert "are not enforced, as on Snowflake's standard tables" in s.notices[-1]
    s.sql("INSERT INTO T VALUES (1, 'a', 1.50)")  # a duplicate key: not enforced, as there
    assert s.sql("SELECT COUNT(*) FROM T WHERE ID = 1").scalar() == 2
    (row,) = s.sql("ALTER DYNAMIC TABLE DT REFRESH").dicts()
    assert row["REFRESH_ACTION"] == "INCREMENTAL"  # the keys did not change its input
    with pytest.raises(SqlError, match=r"Column 'NOPE' does not exist in table D\.S\.T"):
        s.sql("ALTER TABLE T ADD PRIMARY KEY (NOPE)")


def test_a_collation_that_changes_comparisons_is_refused_not_ignored(s):
    s.sql("CREATE TABLE B (A VARCHAR COLLATE 'utf8', C STRING COLLATE 'binary')")  # the default
    with pytest.raises(UnsupportedError, match=r"COLLATE 'en-ci' is not supported .* \(line 2"):
        s.sql("CREATE TABLE CI (ID INT,\n A VARCHAR(10) COLLATE 'en-ci')")
    with pytest.raises(UnsupportedError, match=r"COLLATE 'upper'"):
        s.sql("ALTER TABLE T ADD COLUMN U STRING COLLATE 'upper'")
    assert [r[1] for r in s.sql("SHOW TABLES").rows()] == ["B", "T"]


def test_swap_with_trades_names_and_readers_follow_the_name(session):
    session.sql(
        "USE SCHEMA D.S; CREATE TABLE PROD (A INT); CREATE TABLE STAGING (A INT);"
        "INSERT INTO PROD VALUES (1); INSERT INTO STAGING VALUES (2), (3);"
        "CREATE DYNAMIC TABLE DT TARGET_LAG = '1 minute' WAREHOUSE = WH "
        "REFRESH_MODE = INCREMENTAL AS SELECT A FROM PROD"
    )
    session.sql("ALTER TABLE STAGING SWAP WITH PROD")
    assert sorted(session.sql("SELECT A FROM PROD").rows()) == [(2,), (3,)]
    assert session.sql("SELECT A FROM STAGING").rows() == [(1,)]
    session.sql("ALTER DYNAMIC TABLE DT REFRESH")  # reads PROD: the swapped-in rows
    session.sql("INSERT INTO PROD VALUES (4); ALTER DYNAMIC TABLE DT REFRESH")
    assert sorted(session.sql("SELECT A FROM DT").rows()) == [(2,), (3,), (4,)]
    actions = [
        a
        for (a,) in session.sql(
            "SELECT refresh_action FROM TABLE(INFORMATION_SCHEMA.DYNAMIC_TABLE_REFRESH_HISTORY()) "
            "ORDER BY refresh_start_time"
        ).rows()
    ]
    assert actions == ["REINITIALIZE", "REINITIALIZE", "INCREMENTAL"]
    with pytest.raises(SqlError, match="Cannot swap D.S.PROD with itself"):
        session.sql("ALTER TABLE PROD SWAP WITH PROD")


def test_comment_on_database_and_schema(session):
    session.sql("USE SCHEMA D.S; COMMENT ON SCHEMA S IS 'the work'; COMMENT ON DATABASE D IS 'db'")
    session.sql("COMMENT ON SCHEMA D.PUBLIC IS 'default'")
    schemas = {d["name"]: d["comment"] for d in session.sql("SHOW SCHEMAS").dicts()}
    assert schemas == {"PUBLIC": "default", "S": "the work"}
    assert {d["name"]: d["comment"] for d in session.sql("SHOW DATABASES").dicts()}["D"] == "db"
    schemata = dict(
        session.sql("SELECT SCHEMA_NAME, COMMENT FROM INFORMATION_SCHEMA.SCHEMATA").rows()
    )
    assert schemata["S"] == "the work"
    session.sql("COMMENT IF EXISTS ON SCHEMA NOPE IS 'x'")
    with pytest.raises(ObjectNotFound, match="Schema 'D.NOPE' does not exist"):
        session.sql("COMMENT ON SCHEMA NOPE IS 'x'")


def test_table_parameters_scripts_set_are_accepted_with_what_snowmelt_does(s):
    s.sql("ALTER TABLE T SET CHANGE_TRACKING = TRUE, DATA_RETENTION_TIME_IN_DAYS = 7")
    assert s.notices[-2:] == [
        "D.S.T: CHANGE_TRACKING accepted; snowmelt tracks every table's changes (dynamic "
        "tables read them).",
        "D.S.T: DATA_RETENTION_TIME_IN_DAYS accepted; snowmelt keeps one day of time travel "
        "for every table.",
    ]
    s.sql("ALTER TABLE T CLUSTER BY (ID); ALTER TABLE T UNSET DATA_RETENTION_TIME_IN_DAYS")
    assert s.notices[-1] == "D.S.T: clustering keys have no effect in snowmelt (accepted)."
    with pytest.raises(UnsupportedError, match="ENABLE_SCHEMA_EVOLUTION"):
        s.sql("ALTER TABLE T SET ENABLE_SCHEMA_EVOLUTION = TRUE")


def test_create_database_and_schema_keep_their_comment_and_managed_access_is_accepted(session):
    session.sql(
        "CREATE DATABASE C COMMENT = 'dd'; CREATE SCHEMA C.X COMMENT = 'xx';"
        "CREATE OR REPLACE SCHEMA C.M WITH MANAGED ACCESS COMMENT = 'mm'"
    )
    assert session.notices[-1] == "WITH MANAGED ACCESS accepted; snowmelt has no access control."
    schemas = {d["name"]: d["comment"] for d in session.sql("SHOW SCHEMAS IN DATABASE C").dicts()}
    assert schemas == {"M": "mm", "PUBLIC": "", "X": "xx"}
    assert {d["name"]: d["comment"] for d in session.sql("SHOW DATABASES").dicts()}["C"] == "dd"
