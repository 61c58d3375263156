"""Bad input gets a clear error that names the line and column, and changes nothing."""

from __future__ import annotations

import pytest

from snowmelt.errors import SqlError, UnsupportedError
from snowmelt.sql.translate import UnsupportedFunctionError


def test_syntax_error_names_line_and_column_in_a_script(session):
    script = "CREATE TABLE T (A INT);\nINSERT INTO T VALUES (1);\nSELECT A FROM T WHERE A > ;\n"
    with pytest.raises(SqlError) as info:
        session.sql(script)
    # the incomplete comparison `>` is where the statement stops making sense
    assert (info.value.line, info.value.column) == (3, 25)
    assert "line 3, column 25" in str(info.value)


def test_statements_before_an_error_stay_applied_the_failing_one_does_not(session):
    with pytest.raises(SqlError):
        session.sql("CREATE TABLE T (A INT); INSERT INTO T VALUES (1); INSERT INTO T VALUES ('x')")
    assert session.sql("SELECT A FROM T").rows() == [(1,)]


def test_unterminated_string_is_reported(session):
    with pytest.raises(SqlError, match="Cannot read the SQL"):
        session.sql("SELECT 'abc")


@pytest.mark.parametrize(
    "statement, construct",
    [
        ("CREATE STAGE ST", "CREATE STAGE"),
        ("CREATE PROCEDURE P() RETURNS INT LANGUAGE SQL AS 'SELECT 1'", "CREATE PROCEDURE"),
        ("CREATE OR REPLACE STREAM S ON STAGE ST", "STREAM ON STAGE"),
        ("CREATE TASK K AS SELECT 1", "CREATE TASK"),
        ("SHOW STAGES", None),
        ("DESCRIBE STAGE ST", None),
    ],
)
def test_unsupported_statements_name_themselves(session, statement, construct):
    with pytest.raises(SqlError) as info:
        session.sql(statement)
    message = str(info.value)
    assert ("not supported" in message or "supports" in message) and "line 1" in message
    if construct:
        assert isinstance(info.value, UnsupportedError)
        assert construct.split()[0] in message


def test_unsupported_function_names_itself_and_the_dialect(session):
    with pytest.raises(UnsupportedFunctionError, match="SEQ4.*Snowflake dialect"):
        session.sql("SELECT SEQ4()")


def test_bad_alter_dynamic_table_points_at_the_token(session):
    session.sql("CREATE TABLE T (A INT)")
    session.sql("CREATE DYNAMIC TABLE X TARGET_LAG = '1 minute' WAREHOUSE = WH AS SELECT A FROM T")
    with pytest.raises(SqlError, match=r"Expected SUSPEND.*found 'EXPLODE'.*line 2, column 26"):
        session.sql("SELECT 1;\nALTER DYNAMIC TABLE X    EXPLODE")


@pytest.mark.parametrize(
    "statement, message, column",
    [
        # what sqlglot's parser lets through, and Snowflake rejects
        ("SELECT A,, B FROM T", "an empty item between two commas", 10),
        ("SELECT A FROM T GROUP", "expected BY after GROUP", 17),
        ("SELECT A FROM T ORDER", "expected BY after ORDER", 17),
        ("SELECT A ORDER FROM T", "expected BY after ORDER", 10),
        ("SELECT A FROM T WHERE A IN ()", "IN () needs at least one value", 25),
        ("DELETE T", "expected FROM after DELETE", 8),
        ("INSERT INTO T", "INSERT INTO <table> needs VALUES (...) or a query", 13),
        ("INSERT INTO T DEFAULT VALUES", "DEFAULT VALUES is not supported", 23),
        ("UPDATE T SET", "UPDATE needs SET <column> = <value>", 10),
        # sqlglot's own errors, in the user's words
        ("SELECT A + FROM T", "incomplete '+' expression near 'FROM'", 15),
        ("SELECT A FROM T WHERE", "incomplete WHERE clause near 'WHERE'", 21),
        ("DELETE FROM T WHERE A >", "incomplete '>' comparison near '>'", 23),
        ("SELECT A FROM T WHERE A BETWEEN 1", "incomplete BETWEEN near '1'", 33),
        ("SELECT A FROM", "Expected table name but got the end of the statement", 13),
        ("CREATE TABLE (A INT)", "Expected table name but got '('", 14),
    ],
)
def test_malformed_statements_are_syntax_errors_in_the_users_words(
    session, statement, message, column
):
    session.sql("CREATE TABLE T (A INT, B INT); INSERT INTO T VALUES (1, 2)")
    with pytest.raises(SqlError) as info:
        session.sql(f"SELECT 1;\n{statement}")
    text = str(info.value)
    assert message in text and "<class" not in text and "<Token" not in text
    assert (info.value.line, info.value.column) == (2, column)
    assert session.sql("SELECT A, B FROM T").rows() == [(1, 2)]  # nothing changed


def test_clause_words_inside_json_paths_names_and_within_group_are_not_clauses(session):
    session.sql("CREATE TABLE T (A INT, V VARIANT)")
    session.sql("""INSERT INTO T SELECT 1, PARSE_JSON('{"order": 5, "group": {"x": 1}}')""")
    rows = session.sql("SELECT V:order::INT, V:group.x::INT, T.A FROM T ORDER BY A").rows()
    assert rows == [(5, 1, 1)]
    listed = "SELECT LISTAGG(A, ',') WITHIN GROUP (ORDER BY A) AS \"GROUP\" FROM T"
    assert session.sql(listed).rows() == [("1",)]


@pytest.mark.parametrize("kind", ["missing folder", "a directory", "not a database"])
def test_a_file_duckdb_cannot_open_is_a_clear_error_and_is_left_alone(tmp_path, kind):
    from click.testing import CliRunner

    import snowmelt
    from snowmelt.cli import main
    from snowmelt.errors import DatabaseFileError

    path = tmp_path / "missing" / "x.duckdb"
    if kind == "a directory":
        path = tmp_path / "folder"
        path.mkdir()
    elif kind == "not a database":
        path = tmp_path / "notes.txt"
        path.write_text("my notes\n")
    with pytest.raises(DatabaseFileError, match="Cannot open database file") as info:
        snowmelt.connect(path)
    assert info.value.path == str(path)
    result = CliRunner().invoke(main, ["sql", "--db", str(path), "SELECT 1"])
    assert result.exit_code == 1 and "Cannot open database file" in result.output
    assert "Traceback" not in result.output
    if kind == "not a database":
        assert path.read_text() == "my notes\n"  # nothing written to it
    if kind == "missing folder":
        assert not path.parent.exists()


@pytest.mark.parametrize("command", [["show"], ["explain", "D.S.X"], ["refresh", "D.S.X"]])
def test_a_command_that_reads_a_missing_database_says_so_and_creates_nothing(tmp_path, command):
    from click.testing import CliRunner

    from snowmelt.cli import main

    path = tmp_path / "typo.duckdb"
    result = CliRunner().invoke(main, [command[0], "--db", str(path), *command[1:]])
    assert result.exit_code == 1 and "No database at" in result.output
    assert not path.exists()  # a mistyped --db leaves no empty database behind
    created = CliRunner().invoke(main, ["sql", "--db", str(path), "CREATE DATABASE D"])
    assert created.exit_code == 0 and path.exists()  # sql is how one makes a database
    assert CliRunner().invoke(main, ["show", "--db", str(path)]).exit_code == 0


def test_a_clause_snowmelt_cannot_parse_is_named_where_it_is(session):
    session.sql("USE SCHEMA D.S; CREATE TABLE T (A INT)")
    script = (
        "SELECT 1;\n  CREATE DYNAMIC TABLE DT\n TARGET_LAG = '1 minute' WAREHOUSE = WH\n"
        "  BACKFILL FROM T AS SELECT A FROM T"
    )
    with pytest.raises(UnsupportedError) as info:
        session.sql(script)
    assert str(info.value) == (
        "BACKFILL FROM is not supported by snowmelt; remove it from the statement "
        "(line 4, column 3)"
    )
    with pytest.raises(UnsupportedError, match=r"uses syntax snowmelt cannot parse.*line 1"):
        session.sql("COMMENT ON DYNAMIC TABLE")
