"""``$1``, ``$2``: Snowflake's columns by position in the FROM clause — in queries, DML,
CTAS and views (DuckDB's ``#1``), and in dynamic tables (named when the table is planned,
since an incremental plan reshapes the FROM clause)."""

from __future__ import annotations

import random

import pytest

from snowmelt.errors import SqlError, UnsupportedError
from snowmelt.testing import assert_matches_query


@pytest.fixture
def tables(session):
    session.sql(
        "CREATE TABLE T (A INT, B STRING, V VARIANT);"
        """INSERT INTO T SELECT 1, 'x', PARSE_JSON('{"k": 5}');"""
        "INSERT INTO T (A, B) VALUES (2, 'y');"
        "CREATE TABLE C (ID INT, NAME STRING); INSERT INTO C VALUES (1, 'one'), (2, 'two')"
    )
    return session


def test_positions_read_the_from_clause_in_queries_dml_and_views(tables):
    s = tables
    assert s.sql("SELECT $2, $1 FROM VALUES (1, 'a'), (2, 'b') ORDER BY $1").rows() == [
        ("a", 1),
        ("b", 2),
    ]
    assert s.sql("SELECT $2 AS N, $1 + 1 FROM T WHERE $1 > 1").rows() == [("y", 3)]
    assert s.sql("SELECT $3:k::INT FROM T WHERE $1 = 1").rows() == [(5,)]
    assert s.sql("SELECT t.$2 FROM T t WHERE t.$1 = 2").rows() == [("y",)]
    assert s.sql("SELECT $4 FROM T JOIN C ON A = ID ORDER BY 1").rows() == [(1,), (2,)]
    s.sql("CREATE TABLE N AS SELECT $1 AS ID, $2 AS NAME FROM VALUES (7, 'seven')")
    s.sql("INSERT INTO N SELECT $1, $2 FROM VALUES (8, 'eight')")
    assert sorted(s.sql("SELECT * FROM N").rows()) == [(7, "seven"), (8, "eight")]
    s.sql("CREATE VIEW W AS SELECT $2 AS B FROM T")
    assert sorted(s.sql("SELECT * FROM W").rows()) == [("x",), ("y",)]


def test_a_qualified_position_among_several_sources_is_refused_by_name(tables):
    with pytest.raises(UnsupportedError, match=r"C\.\$2: a column by position of one of several"):
        tables.sql("SELECT c.$2 FROM T JOIN C c ON A = ID")
    with pytest.raises(SqlError, match="Positional reference 9 out of range"):
        tables.sql("SELECT $9 FROM T")


def test_a_dynamic_table_names_its_positions_and_refreshes_incrementally(tables):
    s = tables
    s.sql(
        "CREATE DYNAMIC TABLE J TARGET_LAG = '1 minute' WAREHOUSE = WH"
        " REFRESH_MODE = INCREMENTAL AS"
        " SELECT c.$2 AS NAME, COUNT(*) AS N, SUM(t.$1) AS S"
        " FROM T t JOIN C c ON t.$1 = c.$1 GROUP BY c.$2"
    )
    text = s.sql("SELECT GET_DDL('DYNAMIC_TABLE', 'J')").scalar()
    assert '"C"."NAME"' in text and '"T"."A" = "C"."ID"' in text
    assert sorted(s.sql("SELECT * FROM J").rows()) == [("one", 1, 1), ("two", 1, 2)]
    rng = random.Random(11)
    for step in range(8):
        s.sql(f"INSERT INTO T (A, B) VALUES ({rng.randint(1, 3)}, 'n{step}')")
        if rng.random() < 0.4:
            s.sql(f"DELETE FROM T WHERE A = {rng.randint(1, 3)}")
        if rng.random() < 0.3:
            s.sql(f"INSERT INTO C VALUES ({rng.randint(1, 3)}, 'c{step}')")
        (row,) = s.sql("ALTER DYNAMIC TABLE J REFRESH").arrow().to_pylist()
        assert row["REFRESH_ACTION"] in ("INCREMENTAL", "NO_DATA")
        assert_matches_query(s, "D.S.J")


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("SELECT $7 FROM T", r"\$7 is not a column of its FROM clause"),
        ("SELECT c.$3 FROM T JOIN C c ON A = ID", r"C\.\$3 is not a column of its FROM"),
        ("SELECT $1 FROM VALUES (1)", r"\$1 \(a column by position\) can only be resolved"),
    ],
)
def test_a_position_a_dynamic_table_cannot_name_is_an_error(tables, query, message):
    with pytest.raises(SqlError, match=message):
        tables.sql(f"CREATE DYNAMIC TABLE X TARGET_LAG = '1 minute' WAREHOUSE = WH AS {query}")
    assert tables.sql("SHOW DYNAMIC TABLES").rows() == []
