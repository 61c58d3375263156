"""Dynamic tables that read views: planned with the views' definitions inlined, refreshed
incrementally like the same query over the tables, and failing (keeping their rows) when a
view they were planned through is replaced or dropped.

On Snowflake a dynamic table reading a view refreshes incrementally when the view's query
can (``../shared/reference/DYNAMIC_TABLES.md``: FROM tables, views, ... — supported).
"""

from __future__ import annotations

import random

import pytest

from snowmelt.session import Session

from .conftest import physical_diff
from .test_analysis import plan_of, show
from .test_refresh import create, refresh

VIEWS = (
    "CREATE TABLE T (ID INT, K INT, AMT INT); CREATE TABLE U (K INT, NAME STRING); "
    "CREATE VIEW POSITIVE AS SELECT ID, K, AMT FROM T WHERE AMT > 0; "
    "CREATE VIEW NAMED AS SELECT P.ID, P.AMT, U.NAME FROM POSITIVE P JOIN U ON P.K = U.K"
)

QUERIES = {
    "linear": "SELECT ID, AMT * 2 AS DOUBLED FROM POSITIVE WHERE AMT < 90",
    "aggregate-over-join": (
        "SELECT NAME, COUNT(*) AS N, SUM(AMT) AS S, MAX(AMT) AS M FROM NAMED GROUP BY NAME"
    ),
    "view-and-table": (
        "SELECT N.NAME, T.ID FROM NAMED N JOIN T ON T.ID = N.ID + 1 WHERE T.AMT <= 0"
    ),
}


@pytest.fixture
def s(session: Session) -> Session:
    session.sql(VIEWS)
    return session


def _failures(s: Session) -> list[tuple[str, str]]:
    return sorted(
        s.sql(
            "SELECT STATE, STATE_CODE FROM TABLE(INFORMATION_SCHEMA.DYNAMIC_TABLE_REFRESH_HISTORY("
            "NAME => 'X', ERROR_ONLY => TRUE))"
        ).rows()
    )


def _round(s: Session, rng: random.Random, ident: list[int]) -> None:
    """Inserts, updates (amounts crossing the views' filter, keys moving) and deletes on
    both tables, in one statement each."""
    rows = []
    for _ in range(rng.randint(1, 6)):
        ident[0] += 1
        rows.append(f"({ident[0]}, {rng.randint(0, 5)}, {rng.randint(-20, 100)})")
    s.sql("INSERT INTO T VALUES " + ", ".join(rows))
    s.sql(f"UPDATE T SET AMT = AMT - {rng.randint(-30, 30)} WHERE ID % 7 = {rng.randint(0, 6)}")
    s.sql(f"UPDATE T SET K = {rng.randint(0, 5)} WHERE ID % 11 = {rng.randint(0, 10)}")
    s.sql(f"DELETE FROM T WHERE ID % 13 = {rng.randint(0, 12)}")
    k = rng.randint(0, 5)
    if rng.random() < 0.5:
        s.sql(f"INSERT INTO U VALUES ({k}, 'n{rng.randint(0, 3)}')")
    else:
        s.sql(f"DELETE FROM U WHERE K = {k}")


@pytest.mark.parametrize("shape", sorted(QUERIES))
@pytest.mark.parametrize("seed", [3, 4])
def test_a_table_over_views_refreshes_incrementally_equal_to_its_query(
    s: Session, shape: str, seed: int
) -> None:
    rng, ident = random.Random(seed), [0]
    for _ in range(3):
        _round(s, rng, ident)
    query = QUERIES[shape]
    create(s, "X", query, mode="AUTO")
    assert show(s)["refresh_mode"] == "INCREMENTAL"
    planned = {tuple(v["name"]) for v in plan_of(s, "X")["views"]}
    assert ("D", "S", "POSITIVE") in planned  # nested views are recorded too
    for _ in range(20):
        _round(s, rng, ident)
        assert refresh(s, "X")["action"] in ("INCREMENTAL", "NO_DATA")
        for a, b in (("X", f"({query})"), (f"({query})", "X")):
            extra = s.sql(f"SELECT * FROM {a} EXCEPT ALL SELECT * FROM {b}").rows()
            assert extra == [], (shape, a, extra)
    assert physical_diff(s, "X") == (0, 0)  # hidden state matches the plan from scratch


def test_a_replaced_or_dropped_view_fails_the_refresh_and_the_table_keeps_its_rows(
    s: Session,
) -> None:
    s.sql("INSERT INTO T VALUES (1, 1, 5), (2, 1, -3); INSERT INTO U VALUES (1, 'a')")
    create(s, "X", "SELECT NAME, SUM(AMT) AS S FROM NAMED GROUP BY NAME")
    before = s.sql("SELECT * FROM X").rows()
    assert before == [("a", 5)]
    s.sql("CREATE OR REPLACE VIEW POSITIVE AS SELECT ID, K, AMT FROM T")  # the filter gone
    s.sql("INSERT INTO T VALUES (3, 1, 7)")
    with pytest.raises(Exception, match=r"reads the view D\.S\.POSITIVE, which was replaced"):
        s.sql("ALTER DYNAMIC TABLE X REFRESH")
    assert _failures(s) == [("FAILED", "VIEW_CHANGED")]
    assert s.sql("SELECT * FROM X").rows() == before
    # the same definition again (a new view object, the same text): refreshes resume
    s.sql("CREATE OR REPLACE VIEW POSITIVE AS SELECT ID, K, AMT FROM T WHERE AMT > 0")
    assert refresh(s, "X")["action"] == "INCREMENTAL"
    assert s.sql("SELECT * FROM X").rows() == [("a", 12)]
    s.sql("DROP VIEW NAMED")
    with pytest.raises(Exception, match=r"reads the view D\.S\.NAMED, which was dropped"):
        s.sql("ALTER DYNAMIC TABLE X REFRESH")
    assert _failures(s) == [("FAILED", "SOURCE_DROPPED"), ("FAILED", "VIEW_CHANGED")]
    # replacing the dynamic table reads the views as they are now
    s.sql("CREATE VIEW NAMED AS SELECT P.ID, P.AMT, U.NAME FROM POSITIVE P JOIN U ON P.K = U.K")
    s.sql("CREATE OR REPLACE VIEW POSITIVE AS SELECT ID, K, AMT FROM T")
    s.sql(
        "CREATE OR REPLACE DYNAMIC TABLE X TARGET_LAG = '1 minute' WAREHOUSE = WH "
        "AS SELECT NAME, SUM(AMT) AS S FROM NAMED GROUP BY NAME"
    )
    assert show(s)["refresh_mode"] == "INCREMENTAL"
    assert s.sql("SELECT * FROM X").rows() == [("a", 9)]


def test_a_view_the_compiler_cannot_maintain_names_its_construct_and_stays_full(
    s: Session,
) -> None:
    s.sql("CREATE VIEW FIRST_TWO AS SELECT ID FROM T ORDER BY ID LIMIT 2")
    with pytest.raises(Exception, match="LIMIT"):
        create(s, "X", "SELECT ID FROM FIRST_TWO")
    create(s, "X", "SELECT ID FROM FIRST_TWO", mode="AUTO")
    row = show(s)
    assert (row["refresh_mode"], row["refresh_mode_reason"]) == (
        "FULL",
        "QUERY_NOT_SUPPORTED_FOR_INCREMENTAL",
    )
    assert plan_of(s, "X")["views"] == []
    # a FULL table reads the view by name: it follows a replaced view
    s.sql("INSERT INTO T VALUES (1, 0, 1), (2, 0, 2), (3, 0, 3)")
    s.sql("CREATE OR REPLACE VIEW FIRST_TWO AS SELECT ID FROM T ORDER BY ID DESC LIMIT 2")
    assert refresh(s, "X")["action"] == "FULL"
    assert sorted(s.sql("SELECT ID FROM X").rows()) == [(2,), (3,)]
