"""Views reading a view follow it when it is replaced or dropped (``snowmelt/views.py``):
their columns (DESCRIBE) and the engine's view of them (what other tools reading the file
see), which holds the inlined definitions. Before, both kept the old definition."""

from __future__ import annotations

import pytest

import snowmelt
from snowmelt.errors import SqlError


def _engine_views(s) -> list[str]:
    rows = s.rt.engine.rows(
        "SELECT schema_name || '.' || view_name FROM duckdb_views() WHERE NOT internal ORDER BY 1"
    )
    return [r[0] for r in rows]


@pytest.fixture
def s(session):
    session.sql("USE SCHEMA D.S; CREATE TABLE T (ID INT, AMT INT)")
    session.sql("INSERT INTO T VALUES (1, 5), (2, -3)")
    session.sql("CREATE VIEW POS AS SELECT ID, AMT FROM T WHERE AMT > 0")
    session.sql("CREATE VIEW NAMED (I, A) AS SELECT ID, AMT FROM POS")  # through POS
    session.sql("CREATE VIEW DOUBLED AS SELECT I, A * 2 AS A2 FROM NAMED")  # and on
    return session


def test_replacing_a_view_remakes_the_views_that_read_it(s):
    s.sql("CREATE OR REPLACE VIEW POS AS SELECT ID, AMT FROM T")  # the filter gone
    assert s.sql("SELECT * FROM DOUBLED ORDER BY I").rows() == [(1, 10), (2, -6)]
    engine = s.rt.engine.rows('SELECT * FROM "D.S"."DOUBLED" ORDER BY I')
    assert engine == [(1, 10), (2, -6)]  # was [(1, 10)]: POS's old body inlined
    s.sql("CREATE OR REPLACE VIEW POS AS SELECT ID, AMT::VARCHAR AS AMT FROM T")
    named = {r[0]: r[1] for r in s.sql("DESCRIBE VIEW NAMED").rows()}
    assert named == {"I": "NUMBER(38,0)", "A": "VARCHAR(16777216)"}  # was NUMBER
    # DOUBLED no longer binds (text times two): its engine view goes, queries say why
    assert "D.S.DOUBLED" not in _engine_views(s)
    with pytest.raises(SqlError, match="No function matches"):
        s.sql("SELECT * FROM DOUBLED")
    s.sql("CREATE OR REPLACE VIEW POS AS SELECT ID, AMT FROM T WHERE AMT > 0")  # back
    assert "D.S.DOUBLED" in _engine_views(s)
    assert s.rt.engine.rows('SELECT * FROM "D.S"."DOUBLED"') == [(1, 10)]


def test_dropping_a_view_takes_the_engine_views_of_its_readers(s):
    s.sql("DROP VIEW POS")
    assert _engine_views(s) == ["D.S.T"]  # NAMED and DOUBLED read nothing that exists
    with pytest.raises(Exception, match="POS"):
        s.sql("SELECT * FROM NAMED")
    s.sql("CREATE VIEW POS AS SELECT ID, AMT FROM T")
    assert s.sql("SELECT COUNT(*) FROM DOUBLED").scalar() == 2
    assert s.rt.engine.rows('SELECT COUNT(*) FROM "D.S"."DOUBLED"') == [(2,)]


def test_views_over_a_replaced_or_altered_table_describe_its_new_columns(s):
    s.sql("CREATE VIEW ALL_T AS SELECT * FROM T")
    s.sql("CREATE OR REPLACE TABLE T (ID INT, AMT VARCHAR, NOTE VARCHAR)")
    described = [r[:2] for r in s.sql("DESCRIBE VIEW ALL_T").rows()]
    assert described == [
        ("ID", "NUMBER(38,0)"),
        ("AMT", "VARCHAR(16777216)"),
        ("NOTE", "VARCHAR(16777216)"),
    ]
    s.sql("ALTER TABLE T ADD COLUMN EXTRA INT")
    assert [r[0] for r in s.sql("DESCRIBE VIEW ALL_T").rows()] == ["ID", "AMT", "NOTE", "EXTRA"]
    s.sql("ALTER TABLE T RENAME TO T2")  # the views reading T read nothing now
    assert "D.S.ALL_T" not in _engine_views(s)
    with pytest.raises(Exception, match="D.S.T"):
        s.sql("SELECT * FROM ALL_T")


def test_another_tool_reading_the_file_sees_the_new_definition(db_path):
    s = snowmelt.connect(str(db_path))
    s.sql("CREATE DATABASE D; CREATE SCHEMA D.S; USE SCHEMA D.S; CREATE TABLE T (X INT)")
    s.sql("INSERT INTO T VALUES (1), (2); CREATE VIEW ODD AS SELECT X FROM T WHERE X % 2 = 1")
    s.sql("CREATE VIEW TOP AS SELECT MAX(X) AS M FROM ODD")
    s.sql("CREATE OR REPLACE VIEW ODD AS SELECT X FROM T")
    s.close()
    import duckdb

    with duckdb.connect(str(db_path), read_only=True) as con:
        assert con.execute('SELECT M FROM "D.S"."TOP"').fetchall() == [(2,)]
