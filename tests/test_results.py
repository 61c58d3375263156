"""Reading earlier results: ``RESULT_SCAN``, ``LAST_QUERY_ID`` and the pipe operator ``->>``
— the way Snowflake scripts filter and keep the output of SHOW and DESCRIBE — in queries,
CREATE TABLE AS and DML; refused by name in dynamic tables."""

from __future__ import annotations

import pytest

from snowmelt.errors import SqlError, UnsupportedError


@pytest.fixture
def s(session):
    session.sql(
        "CREATE TABLE T (A INT, B STRING);"
        "INSERT INTO T VALUES (1, 'x'), (2, 'y'), (3, 'z');"
        "CREATE DYNAMIC TABLE FAST TARGET_LAG = '1 minute' WAREHOUSE = WH AS SELECT A FROM T;"
        "CREATE DYNAMIC TABLE SLOW TARGET_LAG = '1 hour' WAREHOUSE = WH AS SELECT B FROM T;"
        "ALTER DYNAMIC TABLE SLOW SUSPEND"
    )
    return session


def test_result_scan_reads_the_last_statement_as_a_table(s):
    shown = s.sql("SHOW DYNAMIC TABLES")
    scanned = s.sql(
        'SELECT "name", "scheduling_state" FROM TABLE(RESULT_SCAN(LAST_QUERY_ID())) ORDER BY 1'
    )
    table = shown.arrow()
    names, states = table["name"].to_pylist(), table["scheduling_state"].to_pylist()
    assert scanned.rows() == sorted(zip(names, states, strict=True))
    assert scanned.rows() == [("FAST", "ACTIVE"), ("SLOW", "SUSPENDED")]
    # -2 is SHOW again (the SELECT above is -1); no argument is -1; a kept id works later on
    assert s.sql("SELECT COUNT(*) FROM TABLE(RESULT_SCAN(-2))").scalar() == 2
    assert s.sql("SELECT * FROM TABLE(RESULT_SCAN())").scalar() == 2
    s.sql("SELECT 1")
    assert s.sql(f"SELECT COUNT(*) FROM TABLE(RESULT_SCAN('{shown.query_id}'))").scalar() == 2


def test_every_statement_gets_an_id_that_last_query_id_counts_back_through(s):
    first = s.sql("SELECT 10 AS X")
    second = s.sql("INSERT INTO T VALUES (4, 'w')")
    assert first.query_id and second.query_id and first.query_id != second.query_id
    ids = s.sql(
        "SELECT LAST_QUERY_ID(), LAST_QUERY_ID(-2), LAST_QUERY_ID(100000), LAST_QUERY_ID(-100000)"
    ).rows()
    assert ids == [(second.query_id, first.query_id, None, None)]
    assert s.sql("SELECT LAST_QUERY_ID(1) IS NOT NULL").scalar() is True
    # the counts of a DML statement are a result too
    assert s.sql(f"SELECT * FROM TABLE(RESULT_SCAN('{second.query_id}'))").rows() == [(1,)]


def test_the_pipe_operator_chains_results_and_returns_the_last(s):
    result = s.sql(
        "SELECT A, B FROM T WHERE A > 1"
        " ->> SELECT SUM(A) AS S FROM $1"
        " ->> SELECT S * 10 AS S10, (SELECT COUNT(*) FROM $2) AS N FROM $1"
    )
    assert result.rows() == [(50, 2)]
    assert (
        s.sql('SHOW DYNAMIC TABLES ->> SELECT "name" FROM $1 WHERE "target_lag" = \'1 hour\'')
    ).rows() == [("SLOW",)]
    # a script shows one result per chain; each statement of it still ran
    results = s.execute_all(
        "CREATE TABLE LOG (NAME STRING);"
        'SHOW TABLES ->> INSERT INTO LOG SELECT "name" FROM $1 ->> SELECT COUNT(*) FROM LOG;'
        "SELECT 7"
    )
    assert [r.rows() for r in results][1:] == [[(4,)], [(7,)]]  # T, FAST, SLOW, LOG
    assert sorted(s.sql("SELECT * FROM LOG").rows()) == [("FAST",), ("LOG",), ("SLOW",), ("T",)]
    # '->>' inside parentheses or strings is not a pipe
    assert s.sql("SELECT '->>' AS P ->> SELECT P FROM $1").rows() == [("->>",)]


def test_create_table_as_and_dml_read_kept_results(s):
    s.sql("SHOW DYNAMIC TABLES")
    s.sql('CREATE TABLE SNAP AS SELECT "name", "rows" FROM TABLE(RESULT_SCAN(LAST_QUERY_ID()))')
    assert sorted(s.sql("SELECT * FROM SNAP").rows()) == [("FAST", 3), ("SLOW", 3)]
    s.sql("SELECT 'SLOW' AS N")
    s.sql('DELETE FROM SNAP WHERE "name" IN (SELECT N FROM TABLE(RESULT_SCAN(-1)))')
    assert s.sql("SELECT * FROM SNAP").rows() == [("FAST", 3)]
    s.sql(
        "CREATE TABLE AUDIT (NAME STRING, ACTION STRING);"
        "INSERT INTO AUDIT SELECT NAME, REFRESH_ACTION"
        " FROM TABLE(INFORMATION_SCHEMA.DYNAMIC_TABLE_REFRESH_HISTORY())"
    )
    assert sorted(s.sql("SELECT * FROM AUDIT").rows()) == [
        ("FAST", "REINITIALIZE"),
        ("SLOW", "REINITIALIZE"),
    ]


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT * FROM TABLE(RESULT_SCAN('nope'))", r"Statement nope not found"),
        ("SELECT * FROM TABLE(RESULT_SCAN(-1000))", r"RESULT_SCAN: no such statement earlier"),
        ("SELECT LAST_QUERY_ID('x')", r"LAST_QUERY_ID takes an integer"),
        ("SELECT * FROM $1", r"\$1 in a FROM clause reads the result of an earlier"),
        ("SELECT 1 AS X ->> SELECT * FROM $3", r"\$3: the chain has 1 statement before this"),
        ("SELECT 1 ->> ", r"->> needs a statement after it"),
        ("->> SELECT 1", r"->> needs a statement before it \(line 1, column 1\)"),
    ],
)
def test_what_cannot_be_read_is_named(s, sql, message):
    with pytest.raises(SqlError, match=message):
        s.sql(sql)


def test_a_dynamic_table_reading_a_kept_result_is_refused(s):
    for query in ("SELECT * FROM TABLE(RESULT_SCAN(-1))", "SELECT * FROM $1"):
        with pytest.raises(UnsupportedError, match=r"Dynamic table D\.S\.BAD cannot read"):
            s.sql(f"CREATE DYNAMIC TABLE BAD TARGET_LAG = '1 minute' WAREHOUSE = WH AS {query}")
    assert s.sql("SHOW DYNAMIC TABLES LIKE 'BAD'").rows() == []


def test_only_the_latest_results_are_kept(s):
    from snowmelt.results import ResultLog

    s.rt.results = ResultLog(keep=3)
    first = s.sql("SELECT 1")
    for n in range(3):
        s.sql(f"SELECT {n}")
    with pytest.raises(SqlError, match=rf"Statement {first.query_id} not found"):
        s.sql(f"SELECT * FROM TABLE(RESULT_SCAN('{first.query_id}'))")
    assert s.sql("SELECT * FROM TABLE(RESULT_SCAN(-1))").scalar() == 2


def test_describe_result_names_the_columns_and_their_types(s):
    s.sql("SELECT 1 AS ONE, 'x' AS S, 2.5::NUMBER(10, 2) AS N, CURRENT_DATE() AS D")
    described = s.sql("DESCRIBE RESULT LAST_QUERY_ID()")
    assert [(r["name"], r["type"]) for r in described.dicts()] == [
        ("ONE", "NUMBER(38,0)"),
        ("S", "VARCHAR(16777216)"),
        ("N", "NUMBER(10,2)"),
        ("D", "DATE"),
    ]
    assert described.columns == s.sql("DESCRIBE TABLE T").columns  # DESCRIBE TABLE's layout
    shown = s.sql("SHOW DYNAMIC TABLES")
    by_id = s.sql(f"DESC RESULT '{shown.query_id}'").dicts()
    assert [r["name"] for r in by_id] == shown.columns
    s.sql("SELECT 5 AS X")
    s.sql("SELECT 6 AS Y")
    assert s.sql("DESC RESULT LAST_QUERY_ID(-2)").rows()[0][:2] == ("X", "NUMBER(38,0)")
    with pytest.raises(SqlError, match=r"Statement gone not found"):
        s.sql("DESCRIBE RESULT 'gone'")
    with pytest.raises(SqlError, match=r"Expected a query id \('...'\) or LAST_QUERY_ID\(\)"):
        s.sql("DESCRIBE RESULT 42")


def test_show_starts_with_limit_from_and_terse(s):
    s.sql(
        "CREATE DYNAMIC TABLE BETA TARGET_LAG = '1 minute' WAREHOUSE = WH AS SELECT A FROM T;"
        "CREATE DYNAMIC TABLE ALPHA TARGET_LAG = '1 minute' WAREHOUSE = WH AS SELECT A FROM T"
    )

    def names(sql):
        return [r["name"] for r in s.sql(sql).dicts()]

    every = names("SHOW DYNAMIC TABLES")
    assert sorted(every) == ["ALPHA", "BETA", "FAST", "SLOW"]
    assert names("SHOW DYNAMIC TABLES STARTS WITH 'S'") == ["SLOW"]
    assert names("SHOW DYNAMIC TABLES STARTS WITH 's'") == []  # case-sensitive, as documented
    assert names("SHOW DYNAMIC TABLES LIKE '%a%' STARTS WITH 'B'") == ["BETA"]
    assert names("SHOW DYNAMIC TABLES LIMIT 2") == every[:2]
    assert names("SHOW DYNAMIC TABLES LIMIT 2 FROM 'BA'") == ["BETA", "FAST"]
    assert names("SHOW TABLES IN SCHEMA D.S STARTS WITH 'T' LIMIT 5") == ["T"]
    terse = s.sql("SHOW TERSE TABLES LIKE 'T'")
    assert terse.columns == ["created_on", "name", "kind", "database_name", "schema_name"]
    assert terse.rows()[0][1:] == ("T", "TABLE", "D", "S")
    assert s.sql("SHOW TERSE SCHEMAS LIKE 'S'").rows()[0][1:] == ("S", None, "D", None)
    with pytest.raises(UnsupportedError, match=r"SHOW TERSE DYNAMIC TABLES is not supported"):
        s.sql("SHOW TERSE DYNAMIC TABLES")
    with pytest.raises(SqlError, match=r"Expected a number of rows after LIMIT"):
        s.sql("SHOW TABLES LIMIT 'x'")
    with pytest.raises(SqlError, match=r"Expected a quoted name after STARTS WITH"):
        s.sql("SHOW TABLES STARTS WITH T")
