"""CREATE SCHEMA | DATABASE ... CLONE (``snowmelt/clones.py``): what the container holds is
cloned — tables with their rows, sequences, functions, views and dynamic tables — and names
that pointed into it point into the clone; cloned dynamic tables come up suspended and,
once resumed, refresh from the cloned tables only."""

from __future__ import annotations

import pytest

from snowmelt.errors import ObjectExists, ObjectNotFound
from snowmelt.testing import assert_matches_query


@pytest.fixture
def shop(session):
    """D.S: tables T and U, a sequence, a function, a view over T, dynamic tables A (a join
    calling the function, incremental) and B (over A); A also reads a table outside D."""
    session.sql(
        "CREATE DATABASE OUTSIDE; CREATE SCHEMA OUTSIDE.X;"
        "CREATE TABLE OUTSIDE.X.RATES (K INT, RATE INT); INSERT INTO OUTSIDE.X.RATES VALUES (1, 10), (2, 20);"
        "USE SCHEMA D.S;"
        "CREATE SEQUENCE IDS START 100;"
        "CREATE FUNCTION DOUBLE_IT(X NUMBER) RETURNS NUMBER AS 'X * 2';"
        "CREATE TABLE T (ID INT DEFAULT IDS.NEXTVAL, K INT, V INT);"
        "CREATE TABLE U (K INT, NAME STRING);"
        "INSERT INTO T (K, V) VALUES (1, 1), (1, 2), (2, 5);"
        "INSERT INTO U VALUES (1, 'one'), (2, 'two');"
        "CREATE VIEW BIG AS SELECT * FROM T WHERE V > 1;"
        "CREATE DYNAMIC TABLE A TARGET_LAG = '1 minute' WAREHOUSE = WH REFRESH_MODE = INCREMENTAL AS"
        " SELECT U.NAME, SUM(DOUBLE_IT(BIG.V) * R.RATE) AS S, COUNT(*) AS N"
        " FROM BIG JOIN U ON BIG.K = U.K JOIN OUTSIDE.X.RATES R ON R.K = U.K GROUP BY U.NAME;"
        "CREATE DYNAMIC TABLE B TARGET_LAG = '1 minute' WAREHOUSE = WH AS SELECT SUM(S) AS TOTAL FROM A"
    )
    return session


def _state(s, name: str) -> tuple[str, str | None, str]:
    row = s.sql(
        f"SHOW DYNAMIC TABLES LIKE '{name.split('.')[-1]}' IN SCHEMA {name.rsplit('.', 1)[0]}"
    ).dicts()[0]
    reason = s.sql(
        "SELECT SCHEDULING_STATE:reason_code::STRING FROM TABLE(INFORMATION_SCHEMA.DYNAMIC_TABLES("
        f"NAME => '{name}'))"
    ).scalar()
    return row["scheduling_state"], reason, row["is_clone"]


def test_a_database_clone_reads_its_own_tables_and_goes_its_own_way(shop):
    s = shop
    s.sql("CREATE DATABASE DC CLONE D")
    for table in ("T", "U", "A", "B", "BIG"):
        assert sorted(s.sql(f"SELECT * FROM DC.S.{table}").rows()) == sorted(
            s.sql(f"SELECT * FROM D.S.{table}").rows()
        ), table
    assert _state(s, "DC.S.A") == ("SUSPENDED", "CLONED_AUTO_SUSPENDED", "true")
    assert _state(s, "DC.S.B") == ("SUSPENDED", "UPSTREAM_CLONED_AUTO_SUSPENDED", "true")
    assert _state(s, "D.S.A")[0] == "ACTIVE"
    # the clone's view, dynamic tables and sequence are its own
    s.sql("INSERT INTO DC.S.T (K, V) VALUES (2, 7), (1, 3)")
    assert s.sql("SELECT MAX(ID) FROM DC.S.T").scalar() == 104  # the sequence went on
    assert s.sql("SELECT COUNT(*) FROM DC.S.BIG").scalar() == 4
    assert s.sql("SELECT COUNT(*) FROM D.S.BIG").scalar() == 2
    s.sql("ALTER DYNAMIC TABLE DC.S.A RESUME")  # resumes B, which waited for it
    assert _state(s, "DC.S.B")[0] == "ACTIVE"
    actions = {
        r["NAME"]: r["REFRESH_ACTION"] for r in s.sql("ALTER DYNAMIC TABLE DC.S.B REFRESH").dicts()
    }
    assert actions == {"DC.S.A": "REINITIALIZE", "DC.S.B": "REINITIALIZE"}
    assert_matches_query(s, "DC.S.A")
    assert_matches_query(s, "DC.S.B")
    # the text reads the clone's tables (and still the table outside)
    ddl = s.sql("SELECT GET_DDL('DYNAMIC_TABLE', 'DC.S.A')").scalar()
    assert '"DC"."S"."T"' in ddl and '"OUTSIDE"."X"."RATES"' in ddl and '"D"."S"' not in ddl
    s.sql("INSERT INTO DC.S.U VALUES (2, 'deux'); DELETE FROM DC.S.T WHERE V = 5")
    s.sql("INSERT INTO OUTSIDE.X.RATES VALUES (1, 1)")
    actions = {
        r["NAME"]: r["REFRESH_ACTION"] for r in s.sql("ALTER DYNAMIC TABLE DC.S.B REFRESH").dicts()
    }
    assert actions["DC.S.A"] == "INCREMENTAL"
    assert_matches_query(s, "DC.S.A")
    assert_matches_query(s, "DC.S.B")
    before = s.sql("SELECT * FROM D.S.A").rows()
    s.sql("ALTER DYNAMIC TABLE D.S.A REFRESH")  # the source saw only the outside change
    assert_matches_query(s, "D.S.A")
    assert s.sql("SELECT * FROM D.S.A").rows() != before
    s.sql("DROP DATABASE D")  # the clone stands alone
    s.sql("INSERT INTO DC.S.T (K, V) VALUES (1, 9); ALTER DYNAMIC TABLE DC.S.A REFRESH")
    assert_matches_query(s, "DC.S.A")


def test_a_schema_clone_as_of_an_instant_has_what_existed_then(shop, clock):
    s = shop
    clock.advance(60)
    s.sql("INSERT INTO T (K, V) VALUES (2, 50); CREATE TABLE LATER (X INT)")
    clock.advance(60)
    s.sql("CREATE SCHEMA D.OLD CLONE D.S AT(OFFSET => -90)")
    tables = {r["name"] for r in s.sql("SHOW TABLES IN SCHEMA D.OLD").dicts()}
    assert tables == {"T", "U", "A", "B"}  # LATER came after the instant
    assert s.sql("SELECT COUNT(*) FROM D.OLD.T").scalar() == 3
    assert sorted(s.sql("SELECT * FROM D.OLD.A").rows()) == sorted(
        s.sql("SELECT * FROM D.S.A").rows()
    )
    s.sql("ALTER DYNAMIC TABLE D.OLD.A RESUME; ALTER DYNAMIC TABLE D.OLD.B REFRESH")
    assert_matches_query(s, "D.OLD.B")
    assert s.sql("SELECT COUNT(*) FROM D.OLD.BIG").scalar() == 2


def test_bad_container_clones_name_the_problem(shop):
    s = shop
    with pytest.raises(ObjectNotFound, match="Database 'NOPE' does not exist"):
        s.sql("CREATE DATABASE X CLONE NOPE")
    with pytest.raises(ObjectNotFound, match=r"Schema 'D\.NOPE' does not exist"):
        s.sql("CREATE SCHEMA D.X CLONE D.NOPE")
    s.sql("CREATE DATABASE OTHER; CREATE SCHEMA OTHER.KEEP; CREATE TABLE OTHER.KEEP.K (X INT)")
    with pytest.raises(ObjectExists, match="Database 'OTHER' already exists"):
        s.sql("CREATE DATABASE OTHER CLONE D")
    s.sql("CREATE DATABASE IF NOT EXISTS OTHER CLONE D")  # nothing happens
    assert {r["name"] for r in s.sql("SHOW TABLES IN DATABASE OTHER").dicts()} == {"K"}
    s.sql("CREATE OR REPLACE DATABASE OTHER CLONE D")  # replaced by a clone
    assert {r["name"] for r in s.sql("SHOW TABLES IN DATABASE OTHER").dicts()} == {
        "T",
        "U",
        "A",
        "B",
    }


def test_a_view_replaced_after_the_dynamic_table_reading_it_is_cloned_first(session):
    s = session
    s.sql(
        "USE SCHEMA D.S; CREATE TABLE T (V INT); INSERT INTO T VALUES (1), (2);"
        "CREATE VIEW W AS SELECT V FROM T;"
        "CREATE DYNAMIC TABLE A TARGET_LAG = '1 minute' WAREHOUSE = WH AS SELECT V FROM W;"
        "CREATE OR REPLACE VIEW W AS SELECT V FROM T WHERE V > 1"  # newer than A
    )
    s.sql("CREATE SCHEMA D.C CLONE D.S")
    s.sql("INSERT INTO D.C.T VALUES (3); ALTER DYNAMIC TABLE D.C.A REFRESH")
    assert sorted(s.sql("SELECT * FROM D.C.A").rows()) == [(2,), (3,)]  # the view as it is


def test_a_stream_is_cloned_onto_the_cloned_table_from_the_clone_on(session):
    s = session
    s.sql(
        "USE SCHEMA D.S; CREATE TABLE T (V INT); CREATE STREAM CHANGES ON TABLE T;"
        "INSERT INTO T VALUES (1)"  # pending in the source's stream
    )
    s.sql("CREATE SCHEMA D.C CLONE D.S")
    assert s.sql("SELECT COUNT(*) FROM D.C.CHANGES").scalar() == 0  # as on Snowflake
    s.sql("INSERT INTO D.C.T VALUES (2)")
    assert s.sql("SELECT V FROM D.C.CHANGES").rows() == [(2,)]
    assert s.sql("SELECT V FROM D.S.CHANGES").rows() == [(1,)]
    assert s.sql("SHOW STREAMS IN SCHEMA D.C").dicts()[0]["table_name"] == "D.C.T"
