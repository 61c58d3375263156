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
        ("CREATE SEQUENCE SEQ1", "CREATE SEQUENCE"),
        ("BEGIN", "BEGIN"),
        ("SHOW FUNCTIONS", None),
        ("DESCRIBE FUNCTION F", None),
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
