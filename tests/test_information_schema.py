"""INFORMATION_SCHEMA.TABLES / COLUMNS / VIEWS / SCHEMATA (``snowmelt.information_schema``):
Snowflake's columns over snowmelt's catalog, in queries and views, and refused where they
cannot be computed (never DuckDB's own information_schema)."""

from __future__ import annotations

import pytest

from snowmelt.errors import ObjectNotFound, SqlError


@pytest.fixture
def s(session):
    session.sql(
        "CREATE DATABASE OTHER; CREATE SCHEMA OTHER.X; CREATE TABLE OTHER.X.ELSEWHERE (A INT);"
        "USE SCHEMA D.S; CREATE TABLE T (ID INT AUTOINCREMENT START 5 INCREMENT 2, "
        "B VARCHAR NOT NULL COMMENT 'bee', C NUMBER(10, 2), TS TIMESTAMP_NTZ, F FLOAT, "
        "V VARIANT) COMMENT = 'tee';"
        "CREATE VIEW V AS SELECT ID FROM T;"
        "CREATE DYNAMIC TABLE DT TARGET_LAG = '1 minute' WAREHOUSE = WH AS SELECT B FROM T;"
        "INSERT INTO T (B) VALUES ('x'), ('y')"
    )
    return session


def test_tables_lists_the_current_databases_objects(s):
    rows = s.sql(
        "SELECT TABLE_CATALOG, TABLE_SCHEMA, TABLE_NAME, TABLE_TYPE, IS_DYNAMIC, ROW_COUNT, "
        "COMMENT FROM INFORMATION_SCHEMA.TABLES ORDER BY TABLE_NAME"
    ).rows()
    assert rows == [
        ("D", "S", "DT", "BASE TABLE", "YES", 0, None),
        ("D", "S", "T", "BASE TABLE", "NO", 2, "tee"),
        ("D", "S", "V", "VIEW", "NO", None, None),
    ]
    other = s.sql("SELECT TABLE_NAME FROM OTHER.INFORMATION_SCHEMA.TABLES").rows()
    assert other == [("ELSEWHERE",)]


def test_columns_show_snowflake_types_nullability_identity_and_comments(s):
    rows = s.sql(
        "SELECT COLUMN_NAME, ORDINAL_POSITION, DATA_TYPE, IS_NULLABLE, NUMERIC_PRECISION, "
        "NUMERIC_SCALE, CHARACTER_MAXIMUM_LENGTH, DATETIME_PRECISION, IS_IDENTITY, "
        "IDENTITY_START, IDENTITY_INCREMENT, COMMENT FROM D.INFORMATION_SCHEMA.COLUMNS C "
        "WHERE C.TABLE_NAME = 'T' ORDER BY ORDINAL_POSITION"
    ).rows()
    assert rows == [
        ("ID", 1, "NUMBER", "YES", 38, 0, None, None, "YES", "5", "2", None),
        ("B", 2, "TEXT", "NO", None, None, 16777216, None, "NO", None, None, "bee"),
        ("C", 3, "NUMBER", "YES", 10, 2, None, None, "NO", None, None, None),
        ("TS", 4, "TIMESTAMP_NTZ", "YES", None, None, None, 9, "NO", None, None, None),
        ("F", 5, "FLOAT", "YES", 53, None, None, None, "NO", None, None, None),
        ("V", 6, "VARIANT", "YES", None, None, None, None, "NO", None, None, None),
    ]
    joined = s.sql(
        "SELECT T.TABLE_NAME, COUNT(*) FROM INFORMATION_SCHEMA.TABLES T JOIN "
        "INFORMATION_SCHEMA.COLUMNS C ON T.TABLE_NAME = C.TABLE_NAME GROUP BY 1 ORDER BY 1"
    ).rows()
    assert joined == [("DT", 1), ("T", 6), ("V", 1)]


def test_views_schemata_and_a_view_over_them(s):
    (definition,) = s.sql("SELECT VIEW_DEFINITION FROM INFORMATION_SCHEMA.VIEWS").rows()[0]
    assert definition.startswith("create or replace view V(")
    schemata = s.sql("SELECT SCHEMA_NAME FROM INFORMATION_SCHEMA.SCHEMATA ORDER BY 1").rows()
    assert schemata == [("INFORMATION_SCHEMA",), ("PUBLIC",), ("S",)]
    s.sql(
        "CREATE VIEW INVENTORY AS SELECT TABLE_NAME, TABLE_TYPE FROM "
        "INFORMATION_SCHEMA.TABLES WHERE TABLE_SCHEMA = 'S'"
    )
    s.sql("CREATE TABLE LATER (A INT)")  # the view reads the catalog when queried
    names = [n for (n, _) in s.sql("SELECT * FROM INVENTORY ORDER BY 1").rows()]
    assert names == ["DT", "INVENTORY", "LATER", "T", "V"]
    s.sql("USE SCHEMA OTHER.X")  # the view keeps reading the database it was made in
    assert len(s.sql("SELECT * FROM D.S.INVENTORY").rows()) == 5


def test_what_cannot_be_read_is_named(s):
    with pytest.raises(ObjectNotFound, match=r"FUNCTIONS is not one of snowmelt's.*COLUMNS"):
        s.sql("SELECT * FROM INFORMATION_SCHEMA.FUNCTIONS")
    with pytest.raises(ObjectNotFound, match="Database 'NOPE' does not exist"):
        s.sql("SELECT * FROM NOPE.INFORMATION_SCHEMA.TABLES")
    with pytest.raises(SqlError, match=r"computed for queries, views, DML and CREATE TABLE AS"):
        s.sql(
            "CREATE DYNAMIC TABLE BAD TARGET_LAG = '1 minute' WAREHOUSE = WH "
            "AS SELECT TABLE_NAME FROM INFORMATION_SCHEMA.TABLES"
        )


def test_create_table_as_and_insert_copy_the_views_rows(s):
    listed = sorted(s.sql("SELECT TABLE_NAME FROM INFORMATION_SCHEMA.TABLES").rows())
    s.sql("CREATE TABLE COPY AS SELECT TABLE_NAME FROM INFORMATION_SCHEMA.TABLES")
    assert sorted(s.sql("SELECT * FROM COPY").rows()) == listed
    s.sql("INSERT INTO COPY SELECT TABLE_NAME FROM INFORMATION_SCHEMA.TABLES")
    now = sorted(s.sql("SELECT TABLE_NAME FROM INFORMATION_SCHEMA.TABLES").rows())
    assert sorted(s.sql("SELECT * FROM COPY").rows()) == sorted(listed + now)
    assert ("COPY",) in now and ("COPY",) not in listed


def test_show_columns_lists_them_in_snowflakes_layout(s):
    import json

    table = s.sql("SHOW COLUMNS IN TABLE T")
    assert table.columns == [
        "table_name",
        "schema_name",
        "column_name",
        "data_type",
        "null?",
        "default",
        "kind",
        "expression",
        "comment",
        "database_name",
        "autoincrement",
    ]
    rows = {r["column_name"]: r for r in table.dicts()}
    assert list(rows) == ["ID", "B", "C", "TS", "F", "V"]
    assert json.loads(rows["C"]["data_type"]) == {
        "type": "FIXED",
        "precision": 10,
        "scale": 2,
        "nullable": True,
    }
    assert json.loads(rows["B"]["data_type"])["type"] == "TEXT" and rows["B"]["null?"] == "false"
    assert rows["ID"]["autoincrement"] == "start 5 increment 2" and rows["B"]["comment"] == "bee"
    in_schema = s.sql("SHOW COLUMNS LIKE 'I%' IN SCHEMA D.S").rows()
    assert sorted((r[0], r[2]) for r in in_schema) == [("T", "ID"), ("V", "ID")]
    assert {r[0] for r in s.sql("SHOW COLUMNS").rows()} == {"T", "V", "DT"}  # current schema
    with pytest.raises(ObjectNotFound):
        s.sql("SHOW COLUMNS IN TABLE NOPE")


def test_show_objects_lists_a_schemas_relations_as_dbt_reads_them(s):
    terse = s.sql("SHOW TERSE OBJECTS IN SCHEMA D.S")
    assert terse.columns == ["created_on", "name", "kind", "database_name", "schema_name"]
    assert sorted((r[1], r[2]) for r in terse.rows()) == [
        ("DT", "TABLE"),
        ("T", "TABLE"),
        ("V", "VIEW"),
    ]
    full = {r["name"]: r for r in s.sql("SHOW OBJECTS IN DATABASE D").dicts()}
    assert full["DT"]["is_dynamic"] == "Y" and full["T"]["is_dynamic"] == "N"
    assert full["T"]["rows"] == 2 and full["T"]["comment"] == "tee"
    assert [r[1] for r in s.sql("SHOW TERSE OBJECTS LIKE 'D%' IN SCHEMA D.S").rows()] == ["DT"]
