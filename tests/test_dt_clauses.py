"""The CREATE DYNAMIC TABLE clauses of the reference's syntax (b.1) that sqlglot cannot
parse: those snowmelt applies (REQUIRE USER, EXECUTE AS USER, COPY GRANTS, the retention
properties; FROZEN WHERE has its own tests, ``test_frozen.py``) and those it names as
unsupported, where they are written."""

from __future__ import annotations

import pytest

from snowmelt.errors import NotInitializedError, SqlError, UnsupportedError

HEAD = "CREATE DYNAMIC TABLE DT TARGET_LAG = '1 minute' WAREHOUSE = WH"


@pytest.fixture
def s(session):
    session.sql("USE SCHEMA D.S; CREATE TABLE T (A INT); INSERT INTO T VALUES (1), (2)")
    return session


def test_require_user_creates_the_table_for_its_first_refresh_on_schedule(s):
    s.sql(f"{HEAD}\n  REQUIRE USER AS SELECT A FROM T")
    with pytest.raises(NotInitializedError):
        s.sql("SELECT * FROM DT")
    shown = s.sql("SHOW DYNAMIC TABLES LIKE 'DT'").dicts()[0]
    assert "REQUIRE USER" in shown["text"]  # the statement as written
    s.sql("ALTER DYNAMIC TABLE DT REFRESH")
    assert sorted(s.sql("SELECT * FROM DT").rows()) == [(1,), (2,)]


def test_execute_as_user_is_recorded_and_positions_after_it_hold(s):
    s.sql(
        f"{HEAD} EXECUTE AS USER bob USE SECONDARY ROLES ALL COPY GRANTS"
        " DATA_RETENTION_TIME_IN_DAYS = 1 MAX_DATA_EXTENSION_TIME_IN_DAYS = 2"
        " AS SELECT A FROM T"
    )
    assert s.notices[-1].startswith("EXECUTE AS USER bob USE SECONDARY ROLES ALL recorded")
    assert sorted(s.sql("SELECT * FROM DT").rows()) == [(1,), (2,)]
    clause = "EXECUTE AS USER bob"
    bad = f"{HEAD.replace('DT', 'DT2')} {clause} AS SELECT A FROM T WHERE"
    errors = []
    for text in (bad, bad.replace(clause, " " * len(clause))):
        with pytest.raises(SqlError) as info:  # the clause is blanked, not cut
            s.sql(text)
        errors.append(str(info.value))
    assert errors[0] == errors[1] and "(line 1, column 10" in errors[0]


def test_clauses_snowmelt_does_not_apply_are_named_where_they_are(s):
    with pytest.raises(UnsupportedError) as info:
        s.sql(f"{HEAD} BACKFILL FROM T FROZEN WHERE (A < 0) AS SELECT A FROM T")
    assert str(info.value) == (
        "BACKFILL FROM is not supported by snowmelt; remove it from the statement "
        f"(line 1, column {len(HEAD) + 2})"
    )
    with pytest.raises(UnsupportedError, match=r"^START AT is not supported by snowmelt"):
        s.sql(f"{HEAD} START AT (OFFSET => -60) AS SELECT A FROM T")
    assert s.sql("SHOW DYNAMIC TABLES").rows() == []


def test_refresh_using_and_the_refresh_boundary_are_named(s):
    with pytest.raises(UnsupportedError, match=r"^REFRESH USING is not supported"):
        s.sql(f"{HEAD} REFRESH USING (INSERT INTO SELF SELECT A FROM T)")
    with pytest.raises(Exception, match="DYNAMIC_TABLE_REFRESH_BOUNDARY` is not supported"):
        s.sql(f"{HEAD} AS SELECT DYNAMIC_TABLE_REFRESH_BOUNDARY(A) AS A FROM T")
