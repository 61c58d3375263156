"""Databases, schemas, tables, views, warehouses and grants behave as on Snowflake."""

from __future__ import annotations

import pytest

from snowmelt.errors import (
    ObjectExists,
    ObjectNotFound,
    RefreshError,
    SnowmeltError,
    SqlError,
    UnsupportedError,
)
from snowmelt.names import ObjectName


def test_create_database_sets_it_current_with_public_schema(session):
    session.sql("CREATE DATABASE SALES")
    assert (session.rt.context.database, session.rt.context.schema) == ("SALES", "PUBLIC")
    session.sql("CREATE TABLE T (A INT)")
    assert session.sql("SHOW TABLES IN SCHEMA SALES.PUBLIC").arrow()["name"].to_pylist() == ["T"]


def test_if_not_exists_and_or_replace(session):
    session.sql("CREATE TABLE T (A INT); INSERT INTO T VALUES (1)")
    session.sql("CREATE TABLE IF NOT EXISTS T (B INT)")
    assert session.sql("SELECT * FROM T").columns == ["A"]
    with pytest.raises(ObjectExists, match="already exists"):
        session.sql("CREATE TABLE T (B INT)")
    session.sql("CREATE OR REPLACE TABLE T (B STRING)")
    assert session.sql("SELECT * FROM T").columns == ["B"]
    assert len(session.sql("SELECT * FROM T")) == 0
    with pytest.raises(SqlError, match="cannot be used together"):
        session.sql("CREATE OR REPLACE TABLE IF NOT EXISTS T (C INT)")


def test_three_part_names_and_use(session):
    session.sql("CREATE DATABASE OTHER; CREATE SCHEMA OTHER.RAW; USE SCHEMA D.S")
    session.sql("CREATE TABLE OTHER.RAW.EVENTS (ID INT); INSERT INTO OTHER.RAW.EVENTS VALUES (7)")
    assert session.sql("SELECT ID FROM OTHER.RAW.EVENTS").scalar() == 7
    session.sql("USE DATABASE OTHER")
    assert session.sql("SELECT ID FROM RAW.EVENTS").scalar() == 7
    session.sql("USE OTHER.RAW")
    assert session.sql("SELECT ID FROM EVENTS").scalar() == 7


def test_unquoted_identifiers_fold_to_upper_case_quoted_keep_case(session):
    session.sql('CREATE TABLE mixed (lower_col INT, "Quoted" INT)')
    session.sql("INSERT INTO MIXED VALUES (1, 2)")
    assert session.sql("SELECT * FROM Mixed").columns == ["LOWER_COL", "Quoted"]
    assert session.sql('SELECT "Quoted" FROM mixed').scalar() == 2


def test_drop_database_removes_everything_in_it(session):
    session.sql("CREATE TABLE T (A INT); INSERT INTO T VALUES (1)")
    session.sql("CREATE DYNAMIC TABLE DT TARGET_LAG = '1 minute' WAREHOUSE = WH AS SELECT A FROM T")
    session.sql("CREATE VIEW V AS SELECT A FROM T")
    session.sql("DROP DATABASE D")
    assert session.rt.catalog.objects() == []
    tables = session.rt.engine.rows(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'D.S'"
    )
    assert tables[0][0] == 0
    with pytest.raises(ObjectNotFound):
        session.sql("DROP DATABASE D")
    session.sql("DROP DATABASE IF EXISTS D")


def test_missing_objects_are_named(session):
    with pytest.raises(ObjectNotFound, match=r"'D.S.NOPE' does not exist.*line 1, column 15"):
        session.sql("SELECT * FROM NOPE")
    with pytest.raises(ObjectNotFound, match="schema 'D.MISSING' does not exist"):
        session.sql("SELECT * FROM MISSING.T")
    with pytest.raises(ObjectNotFound, match="Database 'NOPE'"):
        session.sql("USE DATABASE NOPE")


def test_warehouse_and_grant_are_recorded_with_a_notice(session):
    session.sql(
        "CREATE WAREHOUSE IF NOT EXISTS WH_X WITH WAREHOUSE_SIZE = 'XSMALL' "
        "AUTO_SUSPEND = 60 AUTO_RESUME = TRUE"
    )
    session.sql("ALTER WAREHOUSE WH_X SET WAREHOUSE_SIZE = 'SMALL'")
    session.sql("USE WAREHOUSE WH_X")
    session.sql("GRANT USAGE ON DATABASE D TO ROLE ANALYST")
    session.sql("USE ROLE SYSADMIN")
    assert any("WH_X" in n and "no effect" in n for n in session.notices)
    assert any(n.startswith("GRANT recorded") for n in session.notices)
    names = session.sql("SHOW WAREHOUSES").arrow()["name"].to_pylist()
    assert "WH_X" in names
    session.sql("DROP WAREHOUSE IF EXISTS WH_X; DROP WAREHOUSE IF EXISTS NEVER_THERE")
    with pytest.raises(ObjectNotFound):
        session.sql("DROP WAREHOUSE WH_X")


def test_views_are_queryable_and_resolve_names_at_creation(session):
    session.sql("CREATE TABLE T (A INT, B STRING); INSERT INTO T VALUES (1, 'x'), (2, 'y')")
    session.sql("CREATE OR REPLACE VIEW V AS SELECT A * 10 AS A10 FROM T WHERE B = 'y'")
    session.sql("CREATE SCHEMA D.ELSEWHERE")  # changes the current schema
    assert session.sql("SELECT * FROM D.S.V").rows() == [(20,)]


def test_variant_columns_store_json_and_paths_work(session):
    session.sql("CREATE TABLE E (ID INT, PAYLOAD VARIANT, TAGS ARRAY, ATTRS OBJECT)")
    session.sql("""INSERT INTO E SELECT 1, PARSE_JSON('{"device": {"kind": "phone"}, "n": 3}'),
                   ARRAY_CONSTRUCT('a', 'b'), OBJECT_CONSTRUCT('k', 1)""")
    row = session.sql(
        "SELECT PAYLOAD:device.kind::STRING, PAYLOAD:n::INT, ARRAY_SIZE(TAGS), ATTRS:k::INT FROM E"
    ).fetchone()
    assert row == ("phone", 3, 2, 1)
    assert session.sql("DESCRIBE TABLE E").arrow()["type"].to_pylist()[1] == "VARIANT"


def test_alter_table_add_column_and_rename(session):
    session.sql("CREATE TABLE T (A INT); INSERT INTO T VALUES (1)")
    session.sql("ALTER TABLE T ADD COLUMN B STRING")
    assert session.sql("SELECT * FROM T").rows() == [(1, None)]
    session.sql("ALTER TABLE T RENAME TO T2")
    assert session.sql("SELECT A FROM T2").scalar() == 1
    with pytest.raises(ObjectNotFound):
        session.sql("SELECT * FROM T")


def test_alter_table_drop_column(session):
    """DROP COLUMN removes the column and its values (one added again under the same name
    starts empty); dropping an unknown column, or every column, is refused by name."""
    session.sql(
        "CREATE TABLE T (A INT, B STRING, C INT, D INT); INSERT INTO T VALUES (1, 'x', 3, 4)"
    )
    session.sql("ALTER TABLE T DROP COLUMN B")
    assert session.sql("SELECT * FROM T").columns == ["A", "C", "D"]
    session.sql("ALTER TABLE T DROP COLUMN C, D")
    assert session.sql("SELECT * FROM T").rows() == [(1,)]
    session.sql("ALTER TABLE T ADD COLUMN B INT")
    session.sql("INSERT INTO T VALUES (2, 5)")
    assert sorted(session.sql("SELECT * FROM T").rows(), key=repr) == [(1, None), (2, 5)]
    session.sql("DELETE FROM T WHERE A = 1")
    assert session.sql("SELECT * FROM T").rows() == [(2, 5)]
    with pytest.raises(SqlError, match="'NOPE' does not exist"):
        session.sql("ALTER TABLE T DROP COLUMN NOPE")
    with pytest.raises(SqlError, match="Cannot drop all the columns"):
        session.sql("ALTER TABLE T DROP COLUMN A, B")
    assert session.sql("SELECT * FROM T").rows() == [(2, 5)]


def test_hidden_columns_never_show(session):
    session.sql("CREATE TABLE T (A INT); INSERT INTO T VALUES (1)")
    assert session.sql("SELECT * FROM T").columns == ["A"]
    assert [r[0] for r in session.sql("DESCRIBE TABLE T").rows()] == ["A"]
    with pytest.raises(SqlError, match="reserved"):
        session.sql("CREATE TABLE BAD (_sm_rowid INT)")


def test_every_statement_is_atomic(session):
    session.sql("CREATE TABLE T (A INT NOT NULL)")
    with pytest.raises(SnowmeltError):
        session.sql("INSERT INTO T VALUES (1), (NULL)")
    assert session.sql("SELECT COUNT(*) FROM T").scalar() == 0
    session.sql("CREATE TABLE SRC (B STRING); INSERT INTO SRC VALUES ('1'), ('x')")
    version = session.rt.store.version
    with pytest.raises(SnowmeltError, match="x"):
        session.sql("CREATE TABLE T2 AS SELECT CAST(B AS INT) AS X FROM SRC")
    assert session.rt.catalog.find(ObjectName("D", "S", "T2")) is None
    assert session.rt.store.version == version
    with pytest.raises(ObjectNotFound):
        session.sql("SELECT * FROM T2")


def test_views_over_monitoring_functions_are_computed_when_queried(session):
    session.sql("CREATE TABLE T (A INT)")
    session.sql(
        "CREATE VIEW STATUS AS SELECT NAME, SCHEDULING_STATE:state::STRING AS STATE "
        "FROM TABLE(INFORMATION_SCHEMA.DYNAMIC_TABLES())"
    )
    assert session.sql("SELECT * FROM STATUS").rows() == []
    session.sql("CREATE DYNAMIC TABLE DT TARGET_LAG = '1 minute' WAREHOUSE = WH AS SELECT A FROM T")
    assert session.sql("SELECT * FROM D.S.STATUS").rows() == [("DT", "ACTIVE")]
    session.sql("CREATE VIEW NESTED (N) AS SELECT NAME FROM STATUS")
    assert session.sql("SELECT N FROM NESTED").rows() == [("DT",)]


def test_create_table_clone_copies_columns_and_rows_as_of_an_instant(session, clock):
    session.sql("CREATE TABLE T (ID INT NOT NULL, N STRING DEFAULT 'x')")
    clock.advance(10)
    session.sql("INSERT INTO T (ID) VALUES (1)")
    clock.advance(10)
    session.sql("INSERT INTO T (ID) VALUES (2)")
    session.sql("CREATE TABLE NOW_ CLONE T; CREATE TABLE THEN_ CLONE T AT(OFFSET => -5)")
    assert sorted(session.sql("SELECT * FROM NOW_").rows()) == [(1, "x"), (2, "x")]
    assert session.sql("SELECT * FROM THEN_").rows() == [(1, "x")]
    described = session.sql("DESCRIBE TABLE THEN_").rows()
    assert [(r[0], r[3], r[4]) for r in described] == [("ID", "N", None), ("N", "Y", "'x'")]
    with pytest.raises(SqlError, match=r"NOT NULL constraint failed: D\.S\.THEN_\.ID"):
        session.sql("INSERT INTO THEN_ (N) VALUES ('y')")  # the user's name, not t<oid>
    session.sql("INSERT INTO T (ID) VALUES (3)")  # a clone is a table of its own
    assert session.sql("SELECT COUNT(*) FROM NOW_").scalar() == 2


@pytest.mark.parametrize(
    "statement",
    [
        "CREATE VIEW V CLONE T",
        "CREATE SEQUENCE Q CLONE T",
    ],
)
def test_clones_other_than_tables_name_themselves_and_create_nothing(session, statement):
    from snowmelt.errors import UnsupportedError

    session.sql("CREATE TABLE T (A INT)")
    before = session.sql("SHOW SCHEMAS").arrow().num_rows, session.sql("SHOW TABLES").arrow()
    with pytest.raises(UnsupportedError, match=r"CLONE is not supported by snowmelt"):
        session.sql(statement)
    after = session.sql("SHOW SCHEMAS").arrow().num_rows, session.sql("SHOW TABLES").arrow()
    assert before[0] == after[0] and before[1].num_rows == after[1].num_rows
    assert session.sql("SHOW DATABASES").arrow().num_rows == 1


def test_context_functions_return_the_sessions_database_schema_and_warehouse(session):
    """Not DuckDB's ('memory', 'main', 'duckdb'): what USE set, in queries and writes."""
    session.sql("CREATE DATABASE D2; CREATE SCHEMA D2.S2; CREATE WAREHOUSE WH2")
    session.sql("USE SCHEMA D.S; USE WAREHOUSE WH")
    context = "SELECT CURRENT_DATABASE(), CURRENT_SCHEMA(), CURRENT_WAREHOUSE(), CURRENT_ROLE()"
    assert session.sql(context).rows() == [("D", "S", "WH", "SYSADMIN")]
    user = session.sql("SELECT CURRENT_USER()").scalar()
    assert user and user == user.upper() and user != "DUCKDB"
    session.sql("USE SCHEMA D2.S2; USE WAREHOUSE WH2")
    assert session.sql(context).rows() == [("D2", "S2", "WH2", "SYSADMIN")]
    session.sql(
        "CREATE TABLE AUDIT (DB VARCHAR, SCH VARCHAR); INSERT INTO AUDIT "
        "SELECT CURRENT_DATABASE(), CURRENT_SCHEMA()"
    )
    assert session.sql("SELECT * FROM AUDIT").rows() == [("D2", "S2")]


def test_undrop_table_restores_rows_history_and_readers(session, clock):
    session.sql("USE SCHEMA D.S; CREATE TABLE T (ID INT, NAME VARCHAR)")
    session.sql("INSERT INTO T VALUES (1, 'a'), (2, 'b')")
    session.sql(
        "CREATE DYNAMIC TABLE DT TARGET_LAG = '1 minute' WAREHOUSE = WH "
        "REFRESH_MODE = INCREMENTAL AS SELECT ID, UPPER(NAME) AS N FROM T"
    )
    clock.advance(60)
    session.sql("UPDATE T SET NAME = 'z' WHERE ID = 2")
    clock.advance(60)
    session.sql("DROP TABLE T")
    with pytest.raises(RefreshError, match=r"D.S.T, which was dropped. Restore it \(UNDROP"):
        session.sql("ALTER DYNAMIC TABLE DT REFRESH")
    assert session.sql("UNDROP TABLE T").rows() == [("Table T successfully restored.",)]
    assert session.sql("SELECT * FROM T ORDER BY ID").rows() == [(1, "a"), (2, "z")]
    assert session.sql("SELECT NAME FROM T AT(OFFSET => -90) WHERE ID = 2").rows() == [("b",)]
    session.sql("INSERT INTO T VALUES (3, 'c')")
    session.sql("ALTER DYNAMIC TABLE DT REFRESH")
    assert session.sql("SELECT * FROM DT ORDER BY ID").rows() == [(1, "A"), (2, "Z"), (3, "C")]
    actions = [
        a
        for (a,) in session.sql(
            "SELECT refresh_action FROM TABLE(INFORMATION_SCHEMA.DYNAMIC_TABLE_REFRESH_HISTORY()) "
            "WHERE state = 'SUCCEEDED' ORDER BY refresh_start_time"
        ).rows()
    ]
    assert actions == ["REINITIALIZE", "INCREMENTAL"]  # picked up where it was
    # the latest dropped table of the name comes back; a live one blocks it
    session.sql("CREATE OR REPLACE TABLE T (X INT); INSERT INTO T VALUES (7)")
    with pytest.raises(ObjectExists, match="Object 'D.S.T' already exists"):
        session.sql("UNDROP TABLE T")
    session.sql("ALTER TABLE T RENAME TO T_NEW; UNDROP TABLE T")
    assert session.sql("SELECT COUNT(*) FROM T").scalar() == 3
    assert session.sql("SELECT X FROM T_NEW").rows() == [(7,)]
    with pytest.raises(ObjectNotFound, match="Table 'D.S.NOPE' did not exist or was purged"):
        session.sql("UNDROP TABLE NOPE")
    with pytest.raises(ObjectExists, match=r"Schema 'D\.S' already exists"):
        session.sql("UNDROP SCHEMA S")  # tests/test_undrop.py restores dropped ones


def test_undrop_dynamic_table_restores_rows_schedule_and_readers(session, clock):
    session.sql("USE SCHEMA D.S; CREATE TABLE T (ID INT, G VARCHAR)")
    session.sql("INSERT INTO T VALUES (1, 'a'), (2, 'b')")
    session.sql(
        "CREATE DYNAMIC TABLE DT TARGET_LAG = '5 minutes' WAREHOUSE = WH COMMENT = 'per group' "
        "REFRESH_MODE = INCREMENTAL AS SELECT G, COUNT(*) AS N FROM T GROUP BY G"
    )
    session.sql(
        "CREATE DYNAMIC TABLE DOWN TARGET_LAG = DOWNSTREAM WAREHOUSE = WH "
        "AS SELECT G, N * 10 AS M FROM DT"
    )
    session.sql("ALTER DYNAMIC TABLE DT SUSPEND; DROP DYNAMIC TABLE DT")
    with pytest.raises(RefreshError, match=r"D.S.DT, which was dropped. Restore it \(UNDROP DYN"):
        session.sql("ALTER DYNAMIC TABLE DOWN REFRESH")
    session.sql("INSERT INTO T VALUES (3, 'a')")  # while it is gone
    clock.advance(60)
    assert session.sql("UNDROP DYNAMIC TABLE DT").scalar() == (
        "Dynamic table DT successfully restored."
    )
    assert sorted(session.sql("SELECT * FROM DT").rows()) == [("a", 1), ("b", 1)]  # as dropped
    shown = session.sql("SHOW DYNAMIC TABLES LIKE 'DT'").dicts()[0]
    assert (shown["target_lag"], shown["scheduling_state"], shown["comment"]) == (
        "5 minutes",
        "SUSPENDED",
        "per group",
    )
    session.sql("ALTER DYNAMIC TABLE DT RESUME; ALTER DYNAMIC TABLE DOWN REFRESH")
    assert sorted(session.sql("SELECT * FROM DT").rows()) == [("a", 2), ("b", 1)]
    assert sorted(session.sql("SELECT * FROM DOWN").rows()) == [("a", 20), ("b", 10)]
    reason = session.sql(
        "SELECT REINIT_REASON FROM TABLE(INFORMATION_SCHEMA.DYNAMIC_TABLE_REFRESH_HISTORY("
        "NAME => 'DT')) WHERE REFRESH_ACTION = 'REINITIALIZE' AND REINIT_REASON <> "
        "'initial refresh'"
    ).scalar()
    assert reason == "planned again: D.S.T is read from scratch (what was read of it is not known)"
    session.sql("INSERT INTO T VALUES (4, 'b'); ALTER DYNAMIC TABLE DOWN REFRESH")
    actions = session.sql(
        "SELECT REFRESH_ACTION FROM TABLE(INFORMATION_SCHEMA.DYNAMIC_TABLE_REFRESH_HISTORY("
        "NAME => 'DT')) WHERE STATE = 'SUCCEEDED'"
    ).rows()
    assert ("INCREMENTAL",) in actions  # incremental again after the reinitialization
    assert sorted(session.sql("SELECT * FROM DOWN").rows()) == [("a", 20), ("b", 20)]
    with pytest.raises(ObjectExists, match="Object 'D.S.DT' already exists"):
        session.sql("UNDROP DYNAMIC TABLE DT")
    with pytest.raises(ObjectNotFound, match="Dynamic table 'D.S.NOPE' did not exist"):
        session.sql("UNDROP DYNAMIC TABLE NOPE")


def test_a_table_dropped_and_created_again_reinitializes_its_readers(session, clock):
    """Before, a dynamic table over a table dropped and then created again (DROP, CREATE:
    not CREATE OR REPLACE) failed every refresh, its message asking for what was done."""
    session.sql("USE SCHEMA D.S; CREATE TABLE T (ID INT, NAME VARCHAR)")
    session.sql("INSERT INTO T VALUES (1, 'a')")
    for mode in ("INCREMENTAL", "FULL"):
        session.sql(
            f"CREATE DYNAMIC TABLE DT_{mode} TARGET_LAG = '1 minute' WAREHOUSE = WH "
            f"REFRESH_MODE = {mode} AS SELECT ID, UPPER(NAME) AS N FROM T"
        )
    session.sql("DROP TABLE T; CREATE TABLE T (ID INT, NAME VARCHAR, EXTRA INT)")
    session.sql("INSERT INTO T VALUES (2, 'b', 0)")
    result = session.sql("ALTER DYNAMIC TABLE DT_INCREMENTAL REFRESH").rows()
    assert [r[2] for r in result] == ["REINITIALIZE"]
    session.sql("ALTER DYNAMIC TABLE DT_FULL REFRESH")
    for mode in ("INCREMENTAL", "FULL"):
        assert session.sql(f"SELECT * FROM DT_{mode}").rows() == [(2, "B")]
    session.sql("INSERT INTO T VALUES (3, 'c', 0)")
    assert session.sql("ALTER DYNAMIC TABLE DT_INCREMENTAL REFRESH").rows()[0][2] == "INCREMENTAL"
    assert session.sql("SELECT COUNT(*) FROM DT_INCREMENTAL").scalar() == 2
    # created again with another type: the dynamic table's columns are fixed
    session.sql("DROP TABLE T; CREATE TABLE T (ID VARCHAR, NAME VARCHAR)")
    with pytest.raises(
        RefreshError,
        match=r"reads D.S.T, which changed: its query now gives ID "
        r"is VARCHAR\(16777216\) where the table has NUMBER\(38,0\)",
    ):
        session.sql("ALTER DYNAMIC TABLE DT_INCREMENTAL REFRESH")
    assert session.sql("SELECT COUNT(*) FROM DT_INCREMENTAL").scalar() == 2
    # replaced (OR REPLACE) without a column the query reads: named, not an engine error
    session.sql("CREATE OR REPLACE TABLE T (ID INT, LABEL VARCHAR)")
    with pytest.raises(RefreshError, match=r"reads D.S.T, which changed, and its query no "):
        session.sql("ALTER DYNAMIC TABLE DT_FULL REFRESH")
    session.sql("CREATE OR REPLACE TABLE T (ID INT, NAME VARCHAR); INSERT INTO T VALUES (9, 'z')")
    session.sql("ALTER DYNAMIC TABLE DT_FULL REFRESH")
    assert session.sql("SELECT * FROM DT_FULL").rows() == [(9, "Z")]


def test_an_older_database_file_gains_undrop(db_path):
    """A file made before dropped tables were kept opens (migrated) and drops keep rows."""
    import snowmelt
    from snowmelt.catalog import MIGRATIONS

    s = snowmelt.connect(str(db_path))
    s.sql("CREATE DATABASE D; CREATE SCHEMA D.S; USE SCHEMA D.S; CREATE TABLE OLD (A INT)")
    s.sql("DROP TABLE OLD")  # kept (the current version)
    s.rt.engine.execute('ALTER TABLE "_snowmelt".objects DROP COLUMN dropped_on')
    before = next(i for i, m in enumerate(MIGRATIONS) if any("dropped_on" in t for t in m))
    s.rt.engine.execute(  # as a file made before that migration (those after it re-apply)
        "UPDATE \"_snowmelt\".meta SET value = ? WHERE key = 'migration'", [str(before)]
    )
    s.close()
    s = snowmelt.connect(str(db_path))
    s.sql("USE SCHEMA D.S")
    with pytest.raises(ObjectNotFound):  # dropped before the file knew to keep it
        s.sql("UNDROP TABLE OLD")
    s.sql("CREATE TABLE T (A INT); INSERT INTO T VALUES (5); DROP TABLE T; UNDROP TABLE T")
    assert s.sql("SELECT A FROM T").rows() == [(5,)]
    s.close()


def test_get_ddl_recreates_tables_views_and_dynamic_tables(session):
    session.sql(
        "USE SCHEMA D.S; CREATE TRANSIENT TABLE T (A INT NOT NULL, B VARCHAR DEFAULT 'x' "
        "COMMENT 'bee', C NUMBER(10, 2)) COMMENT = 'tee';"
        "CREATE VIEW V COMMENT = 'a view' AS SELECT A, C FROM T;"
        "CREATE DYNAMIC TABLE DT TARGET_LAG = '5 minutes' WAREHOUSE = WH REFRESH_MODE = FULL "
        "AS SELECT A, COUNT(*) AS N FROM T GROUP BY A"
    )
    table = session.sql("SELECT GET_DDL('TABLE', 'D.S.T')").scalar()
    assert table == (
        "create or replace TRANSIENT TABLE T (\n\tA NUMBER(38,0) NOT NULL,\n"
        "\tB VARCHAR(16777216) DEFAULT 'x' COMMENT 'bee',\n\tC NUMBER(10,2)\n) COMMENT='tee';"
    )
    view = session.sql("SELECT GET_DDL('view', 'V')").scalar()
    assert view.startswith("create or replace view V(\n\tA,\n\tC\n) COMMENT='a view'\n as SELECT")
    dynamic = session.sql("SELECT GET_DDL('DYNAMIC_TABLE', 'DT')").scalar()
    assert dynamic.startswith(
        "create or replace dynamic table DT(\n\tA,\n\tN\n) target_lag = '5 minutes' "
        "refresh_mode = FULL initialize = ON_CREATE warehouse = WH\n as SELECT"
    )
    # each text re-creates its object as it was
    before = {n: session.sql(f"DESCRIBE TABLE {n}").rows() for n in ("T",)}
    shown = {d["name"]: d for d in session.sql("SHOW DYNAMIC TABLES").dicts()}
    for text in (table, view, dynamic):
        session.sql(text)
    assert session.sql("DESCRIBE TABLE T").rows() == before["T"]
    assert session.sql("SHOW VIEWS").dicts()[0]["comment"] == "a view"
    again = session.sql("SHOW DYNAMIC TABLES").dicts()[0]
    for key in ("target_lag", "refresh_mode", "warehouse"):
        assert again[key] == shown["DT"][key]
    with pytest.raises(UnsupportedError, match="GET_DDL of a schema is not supported"):
        session.sql("SELECT GET_DDL('SCHEMA', 'S')")
    with pytest.raises(SqlError, match="GET_DDL takes the object type and name as string"):
        session.sql("SELECT GET_DDL('TABLE', A) FROM T")


def test_autoincrement_columns_number_the_rows_inserted_without_them(session):
    session.sql(
        "USE SCHEMA D.S; CREATE TABLE T (ID INT AUTOINCREMENT, A VARCHAR);"
        "CREATE TABLE U (ID NUMBER IDENTITY(100, 10), A VARCHAR);"
        "CREATE TABLE W (ID INT AUTOINCREMENT START 10 INCREMENT 5, A VARCHAR)"
    )
    session.sql("INSERT INTO T (A) VALUES ('x'), ('y')")
    session.insert("T", [{"A": "z"}])
    session.sql("INSERT INTO T VALUES (50, 'explicit')")  # a given value is kept
    session.sql(
        "MERGE INTO T USING (SELECT 'm' AS A) S ON T.A = S.A "
        "WHEN NOT MATCHED THEN INSERT (A) VALUES (S.A)"
    )
    assert session.sql("SELECT ID, A FROM T ORDER BY ID").rows() == [
        (1, "x"),
        (2, "y"),
        (3, "z"),
        (4, "m"),
        (50, "explicit"),
    ]
    session.sql("INSERT INTO U (A) SELECT 'q' UNION ALL SELECT 'r'")
    assert session.sql("SELECT ID FROM U ORDER BY ID").rows() == [(100,), (110,)]
    assert session.sql("DESCRIBE TABLE W").rows()[0][4] == "IDENTITY START 10 INCREMENT 5"
    ddl = session.sql("SELECT GET_DDL('TABLE', 'W')").scalar()
    assert "ID NUMBER(38,0) AUTOINCREMENT START 10 INCREMENT 5," in ddl
    session.sql("INSERT INTO W (A) VALUES ('w')")
    session.sql(ddl.replace("TABLE W", "TABLE W2") + " INSERT INTO W2 (A) VALUES ('own')")
    assert session.sql("SELECT ID FROM W2").rows() == [(10,)]  # its own sequence
    with pytest.raises(SqlError, match="AUTOINCREMENT INCREMENT cannot be 0"):
        session.sql("CREATE TABLE BAD (ID INT AUTOINCREMENT START 1 INCREMENT 0)")
