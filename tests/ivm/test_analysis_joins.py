"""Mode resolution for joins, outer joins, FLATTEN, windows and QUALIFY: which strategy, or
which construct keeps the table FULL and where it is."""

from __future__ import annotations

import pandas as pd
import pytest

from snowmelt.errors import DynamicTableError
from snowmelt.names import ObjectName
from snowmelt.session import Session

from .test_analysis import DT, plan_of, show

TABLES = "CREATE TABLE T (K INT, V INT, TS TIMESTAMP_NTZ, J VARIANT); CREATE TABLE U (K INT, W INT)"


@pytest.fixture
def s(session: Session) -> Session:
    session.sql(TABLES)
    return session


SUPPORTED = [
    ("SELECT T.K, U.W FROM T JOIN U ON T.K = U.K", "join"),
    ("SELECT T.K, U.W FROM T, U WHERE T.K = U.K AND U.W > 0", "join"),
    ("SELECT T.K, U.W FROM T CROSS JOIN U", "join"),
    ("SELECT A.K, B.V FROM T A JOIN T B ON A.K = B.K AND A.V < B.V", "join"),
    ("SELECT T.K, U.W FROM T LEFT JOIN U ON T.K = U.K AND U.W > 1", "join"),
    ("SELECT T.K, U.W FROM T RIGHT JOIN U ON T.K = U.K", "join"),
    ("SELECT T.K, U.W FROM T FULL OUTER JOIN U USING (K)", "join"),
    ("SELECT T.K, F.VALUE AS X FROM T, LATERAL FLATTEN(input => T.J) F", "join"),
    ("SELECT T.K, F.VALUE AS X FROM T, TABLE(FLATTEN(input => T.J)) F", "join"),
    (
        "SELECT T.K, S.INDEX, S.VALUE AS X FROM T, LATERAL SPLIT_TO_TABLE(T.J::VARCHAR, ',') S",
        "join",
    ),
    ("SELECT T.K, S.VALUE AS X FROM T, TABLE(SPLIT_TO_TABLE(T.J::VARCHAR, ',')) S", "join"),
    (
        "SELECT U.W, COUNT(*) AS N, SUM(T.V) AS S FROM T JOIN U ON T.K = U.K GROUP BY U.W",
        "aggregate",
    ),
    ("SELECT T.K FROM T JOIN U ON T.K = U.K UNION SELECT W FROM U", "distinct"),
    ("SELECT K, ROW_NUMBER() OVER (PARTITION BY K ORDER BY V) AS RN FROM T", "partition-recompute"),
    (
        "SELECT K, V FROM T QUALIFY ROW_NUMBER() OVER (PARTITION BY K ORDER BY TS DESC) = 1",
        "partition-recompute",
    ),
    (
        "SELECT K, LAG(V) OVER (PARTITION BY K ORDER BY TS) AS P, "
        "CONDITIONAL_CHANGE_EVENT(V) OVER (PARTITION BY K ORDER BY TS) AS C FROM T",
        "partition-recompute",
    ),
    (
        "SELECT T.K, U.W, RANK() OVER (PARTITION BY U.W ORDER BY T.V) AS R FROM T "
        "JOIN U ON T.K = U.K",
        "partition-recompute",
    ),
    (
        "SELECT K, N FROM (SELECT K, COUNT(*) AS N FROM T GROUP BY K) WHERE N > 1",
        "partition-recompute",
    ),
    (
        "SELECT K, COUNT(*) AS N FROM (SELECT K, SUM(V) OVER (PARTITION BY K ORDER BY TS) AS S "
        "FROM T) GROUP BY K",
        "partition-recompute",
    ),
]


@pytest.mark.parametrize(("query", "strategy"), SUPPORTED)
def test_joins_windows_and_flatten_resolve_to_adaptive(
    s: Session, query: str, strategy: str
) -> None:
    s.sql(DT.format(mode="AUTO") + query)
    row = show(s)
    assert row["refresh_mode"] == "ADAPTIVE"  # AUTO's resolution since 2026-11-20
    assert pd.isna(row["refresh_mode_reason"])
    assert plan_of(s, "X")["strategy"] == strategy


# (query, construct named in the message, line, column); the query starts on line 2
UNSUPPORTED = [
    (
        "SELECT K, ROW_NUMBER() OVER (ORDER BY V) AS RN FROM T",
        "window function without PARTITION BY",
        2,
        11,
    ),
    (
        "SELECT K, SUM(V) AS S, RANK() OVER (ORDER BY SUM(V)) AS R FROM T GROUP BY K",
        "window function without PARTITION BY",
        2,
        24,
    ),
    (
        "SELECT T.K, U.W FROM T LEFT JOIN U ON T.K < U.K",
        "LEFT OUTER JOIN with a non-equality condition",
        2,
        41,
    ),
    (
        "SELECT T.K, U.W FROM T\nFULL JOIN U ON T.K = U.K OR U.W > 1",
        "FULL OUTER JOIN with a non-equality condition",
        3,
        None,
    ),
    (
        "SELECT T.K, X.W FROM T, LATERAL (SELECT W FROM U WHERE U.K = T.K) X",
        "LATERAL subquery",
        2,
        None,
    ),
    ("SELECT K, W FROM T NATURAL JOIN U", "NATURAL JOIN", 2, None),
    (
        "SELECT K, ROW_NUMBER() OVER (PARTITION BY K ORDER BY V) AS A,\n"
        "ROW_NUMBER() OVER (PARTITION BY V ORDER BY K) AS B FROM T",
        "share no partitioning key",
        2,
        None,
    ),
    (
        "SELECT X.K, U.W FROM (SELECT K, ROW_NUMBER() OVER (PARTITION BY K ORDER BY V) AS RN "
        "FROM T) X JOIN U ON X.K = U.K",
        "window function below a JOIN",
        2,
        None,
    ),
    (
        "SELECT K, ROW_NUMBER() OVER (PARTITION BY K ORDER BY V) AS RN FROM T UNION ALL "
        "SELECT K, 1 AS RN FROM U",
        "window function in a UNION ALL branch",
        2,
        None,
    ),
    ("SELECT * FROM T, LATERAL FLATTEN(input => T.J) F", "SEQ", 2, None),
    ("SELECT * FROM T, TABLE(FLATTEN(input => T.J)) F", "SELECT * over a table function", 2, None),
    ("SELECT SUM(N) AS S FROM (SELECT K, COUNT(*) AS N FROM T GROUP BY K)", "GROUP BY", 2, None),
    ("SELECT T.K FROM T JOIN U ON T.K = U.K\nLIMIT 3", "LIMIT", 3, None),
    ("SELECT T.K FROM T JOIN U ON T.K = U.K EXCEPT SELECT K FROM U", "EXCEPT", 2, None),
]


@pytest.mark.parametrize(("query", "construct", "line", "column"), UNSUPPORTED)
def test_constructs_that_stay_full_resolve_auto_to_full(
    s: Session, query: str, construct: str, line: int, column: int | None
) -> None:
    s.sql(DT.format(mode="AUTO") + query)
    row = show(s)
    assert (row["refresh_mode"], row["refresh_mode_reason"]) == (
        "FULL",
        "QUERY_NOT_SUPPORTED_FOR_INCREMENTAL",
    )


@pytest.mark.parametrize(("query", "construct", "line", "column"), UNSUPPORTED)
def test_incremental_on_those_constructs_fails_at_create_naming_them(
    s: Session, query: str, construct: str, line: int, column: int | None
) -> None:
    with pytest.raises(DynamicTableError) as raised:
        s.sql(DT.format(mode="INCREMENTAL") + query)
    message = str(raised.value)
    assert construct in message
    assert f"(line {line}, column" in message
    if column is not None:
        assert f"(line {line}, column {column})" in message
    assert s.rt.catalog.find(ObjectName("D", "S", "X")) is None


def test_a_key_the_query_does_not_select_is_kept_as_hidden_state(s: Session) -> None:
    s.sql("INSERT INTO T (K, V) VALUES (1, 5), (1, 7), (2, 1)")
    s.sql(
        DT.format(mode="INCREMENTAL")
        + "SELECT V, ROW_NUMBER() OVER (PARTITION BY K ORDER BY V) AS RN FROM T"
    )
    assert list(s.sql("SELECT * FROM X").df().columns) == ["V", "RN"]
    assert [c["name"] for c in plan_of(s, "X")["state_columns"]] == ["_sm_pk0"]
    assert sorted(s.sql("SELECT V, RN FROM X").fetchall()) == [(1, 1), (5, 1), (7, 2)]
