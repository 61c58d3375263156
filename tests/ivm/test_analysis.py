"""Mode resolution at CREATE: which strategy, or which construct forces FULL and where."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from snowmelt.errors import DynamicTableError
from snowmelt.names import ObjectName
from snowmelt.session import Session

TABLES = (
    "CREATE TABLE T (K INT, V INT, TS TIMESTAMP_NTZ, J VARIANT); "
    "CREATE TABLE U (K INT, W INT); CREATE VIEW VW AS SELECT K FROM T"
)
DT = "CREATE DYNAMIC TABLE X TARGET_LAG = '1 minute' WAREHOUSE = WH REFRESH_MODE = {mode} AS\n"


@pytest.fixture
def s(session: Session) -> Session:
    session.sql(TABLES)
    return session


def plan_of(s: Session, name: str) -> dict[str, Any]:
    obj = s.rt.catalog.find(ObjectName("D", "S", name))
    assert obj is not None
    return s.rt.catalog.dynamic_table(obj.oid).plan


def show(s: Session, name: str = "X") -> dict[str, Any]:
    rows = s.sql(f"SHOW DYNAMIC TABLES LIKE '{name}'").df().to_dict("records")
    assert len(rows) == 1
    return rows[0]


SUPPORTED = [
    ("SELECT K, V + 1 AS V1 FROM T WHERE V > 0", "linear"),
    ("SELECT * FROM T", "linear"),
    (
        "SELECT J:a.b::string AS X, IFF(K > 1, 'a', 'b') AS Y, DATE_TRUNC('day', TS) AS D FROM T",
        "linear",
    ),
    ("SELECT K FROM T UNION ALL SELECT K FROM U", "linear"),
    ("WITH C AS (SELECT K, V FROM T WHERE V > 0) SELECT K FROM (SELECT * FROM C) AS Q", "linear"),
    ("SELECT K FROM T WHERE TS > DATEADD(hour, -1, CURRENT_TIMESTAMP())", "linear"),
    ("SELECT K FROM T ORDER BY K", "linear"),
    (
        "SELECT K, COUNT(*) AS N, SUM(V) AS S, AVG(V) AS A, MIN(V) AS M FROM T GROUP BY K",
        "aggregate",
    ),
    ("SELECT COUNT(*) AS N, SUM(V) AS S FROM T", "aggregate"),
    ("SELECT K, COUNT(DISTINCT V) AS D FROM T GROUP BY K", "aggregate"),
    ("SELECT K, MEDIAN(V) AS M, LISTAGG(V, ',') AS L FROM T GROUP BY K", "key-recompute"),
    ("SELECT K, SUM(V) AS S FROM T GROUP BY K HAVING SUM(V) > 1", "key-recompute"),
    (
        "SELECT K, MAX(TS) AS L FROM T GROUP BY K HAVING MAX(TS) > CURRENT_TIMESTAMP()",
        "key-recompute",
    ),
    ("SELECT DISTINCT K FROM T", "distinct"),
    ("SELECT K FROM T UNION SELECT K FROM U", "distinct"),
    ("SELECT K FROM VW", "linear"),  # the view's definition inlined (``test_views``)
    # joins, windows and QUALIFY: ``test_analysis_joins``
]


@pytest.mark.parametrize(("query", "strategy"), SUPPORTED)
def test_auto_resolves_supported_queries_to_adaptive(s: Session, query: str, strategy: str) -> None:
    s.sql(DT.format(mode="AUTO") + query)
    row = show(s)
    assert row["refresh_mode"] == "ADAPTIVE"  # AUTO's resolution since 2026-11-20
    assert pd.isna(row["refresh_mode_reason"])
    assert plan_of(s, "X")["strategy"] == strategy


# (query, construct named in the message, line, column) — positions within the statement
# text: the query starts on line 2.
UNSUPPORTED = [
    ("SELECT K FROM T\nLIMIT 5", "LIMIT", 3, 7),
    ("SELECT K, RANDOM() AS R FROM T", "RANDOM", 2, 11),
    ("SELECT K FROM T WHERE UUID_STRING() > 'a'", "UUID_STRING", 2, 23),
    ("SELECT K FROM T\nEXCEPT\nSELECT K FROM U", "EXCEPT", 4, 8),
    ("SELECT K FROM T INTERSECT SELECT K FROM U", "INTERSECT", 2, None),
    ("SELECT K FROM T WHERE EXISTS (SELECT 1 FROM U)", "EXISTS", 2, None),
    ("SELECT K FROM T WHERE K IN (SELECT K FROM U)", "IN (subquery)", 2, None),
    ("SELECT K, (SELECT MAX(W) FROM U) AS M FROM T", "subquery in SELECT", 2, None),
    ("SELECT K, SUM(V) AS S FROM T GROUP BY ROLLUP (K)", "ROLLUP", 2, None),
    ("SELECT K, SUM(V) AS S FROM T GROUP BY CUBE (K)", "CUBE", 2, None),
    ("SELECT K, SUM(V) AS S FROM T GROUP BY GROUPING SETS ((K), ())", "GROUPING SETS", 2, None),
    (
        "WITH RECURSIVE R (N) AS (SELECT 1 UNION ALL SELECT N + 1 FROM R WHERE N < 3) "
        "SELECT N FROM R",
        "WITH RECURSIVE",
        2,
        None,
    ),
    ("SELECT K,\n  CURRENT_TIMESTAMP() AS NOW FROM T", "CURRENT_TIMESTAMP in SELECT", 3, 3),
    ("SELECT CURRENT_DATE() AS D, COUNT(*) AS N FROM T GROUP BY 1", "CURRENT_DATE in SELECT", 2, 8),
    ("SELECT K FROM T WHERE CURRENT_USER() = 'X'", "CURRENT_USER", 2, 23),
    ("SELECT SUM(N) AS S FROM (SELECT K, COUNT(*) AS N FROM T GROUP BY K)", "GROUP BY", 2, None),
]


@pytest.mark.parametrize(("query", "construct", "line", "column"), UNSUPPORTED)
def test_unsupported_construct_resolves_auto_to_full_with_the_reason(
    s: Session, query: str, construct: str, line: int, column: int | None
) -> None:
    s.sql(DT.format(mode="AUTO") + query)
    row = show(s)
    assert row["refresh_mode"] == "FULL"
    assert row["refresh_mode_reason"] == "QUERY_NOT_SUPPORTED_FOR_INCREMENTAL"


@pytest.mark.parametrize(("query", "construct", "line", "column"), UNSUPPORTED)
def test_incremental_on_unsupported_construct_fails_at_create_naming_it_and_where(
    s: Session, query: str, construct: str, line: int, column: int | None
) -> None:
    with pytest.raises(DynamicTableError) as raised:
        s.sql(DT.format(mode="INCREMENTAL") + query)
    message = str(raised.value)
    assert construct in message
    assert f"(line {line}, column" in message
    if column is not None:
        assert f"(line {line}, column {column})" in message
    assert "REFRESH_MODE = FULL" in message
    assert s.rt.catalog.find(ObjectName("D", "S", "X")) is None  # nothing was created


def test_full_mode_is_user_specified(s: Session) -> None:
    s.sql(DT.format(mode="FULL") + "SELECT K FROM T")
    row = show(s)
    assert (row["refresh_mode"], row["refresh_mode_reason"]) == (
        "FULL",
        "USER_SPECIFIED_FULL_REFRESH",
    )


def test_reading_a_full_upstream_follows_the_reference(s: Session) -> None:
    s.sql(DT.format(mode="AUTO") + "SELECT K FROM T LIMIT 3")
    s.sql(DT.replace(" X ", " Y ").format(mode="AUTO") + "SELECT K FROM X")
    row = show(s, "Y")
    assert (row["refresh_mode"], row["refresh_mode_reason"]) == (
        "FULL",
        "UPSTREAM_USES_FULL_REFRESH",
    )


def test_state_columns_are_hidden_from_users(s: Session) -> None:
    s.sql("INSERT INTO T (K, V) VALUES (1, 2), (1, 3)")
    s.sql(DT.format(mode="INCREMENTAL") + "SELECT K, AVG(V) AS A, MIN(V) AS M FROM T GROUP BY K")
    assert list(s.sql("SELECT * FROM X").df().columns) == ["K", "A", "M"]
    assert s.sql("SELECT A FROM X").scalar() == 2.5
