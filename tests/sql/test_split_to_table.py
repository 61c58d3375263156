"""SPLIT_TO_TABLE (LATERAL or TABLE(...)) and TABLE(FLATTEN(...)) in queries: rows as
Snowflake returns them, and the SEQ column refused by name."""

from __future__ import annotations

import pytest

from snowmelt.errors import UnsupportedError
from snowmelt.sql.translate import UnsupportedFunctionError


@pytest.fixture
def s(session):
    session.sql(
        "USE SCHEMA D.S; CREATE TABLE T (ID INT, CSV VARCHAR);"
        "INSERT INTO T VALUES (1, 'a,b,,c'), (2, NULL), (3, ''), (4, 'x')"
    )
    return session


def test_split_to_table_rows_index_and_value(s):
    assert s.sql("SELECT * FROM TABLE(SPLIT_TO_TABLE('a.b.c', '.'))").rows() == [
        (None, 1, "a"),
        (None, 2, "b"),
        (None, 3, "c"),
    ]
    lateral = s.sql(
        "SELECT T.ID, S.INDEX, S.VALUE FROM T, LATERAL SPLIT_TO_TABLE(T.CSV, ',') S ORDER BY 1, 2"
    ).rows()
    # empty parts kept, an empty string is one empty part, a NULL string no row
    assert lateral == [(1, 1, "a"), (1, 2, "b"), (1, 3, ""), (1, 4, "c"), (3, 1, ""), (4, 1, "x")]
    whole = s.sql(
        "SELECT T.ID, S.VALUE FROM T, TABLE(SPLIT_TO_TABLE(T.CSV, '')) S ORDER BY 1"
    ).rows()
    assert whole == [(1, "a,b,,c"), (3, ""), (4, "x")]  # an empty delimiter does not split
    assert s.sql("SELECT UPPER(VALUE) FROM TABLE(SPLIT_TO_TABLE('p q', ' '))").rows() == [
        ("P",),
        ("Q",),
    ]
    with pytest.raises(UnsupportedFunctionError, match="SPLIT_TO_TABLE.SEQ"):
        s.sql("SELECT S.SEQ FROM T, TABLE(SPLIT_TO_TABLE(T.CSV, ',')) S")


def test_table_flatten_reads_in_a_query(s):
    rows = s.sql(
        "SELECT F.INDEX, F.VALUE::INT FROM TABLE(FLATTEN(input => PARSE_JSON('[5, 6]'))) F"
    ).rows()
    assert rows == [(0, 5), (1, 6)]


def test_an_unknown_table_function_lists_the_supported_ones(s):
    with pytest.raises(
        UnsupportedError, match=r"NOPE is not supported.*FLATTEN, GENERATOR, RESULT_SCAN, SPLIT_TO"
    ):
        s.sql("SELECT 1 FROM TABLE(NOPE())")
