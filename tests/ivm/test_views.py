"""Dynamic tables that read views: planned with the views' definitions inlined, refreshed
incrementally like the same query over the tables; planned again and reinitialized when a
view they read is replaced (failing, their rows kept, when that changes their columns or the
view is dropped).

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
    assert show(s)["refresh_mode"] == "ADAPTIVE"
    planned = {tuple(v["name"]) for v in plan_of(s, "X")["views"]}
    assert ("D", "S", "POSITIVE") in planned  # nested views are recorded too
    for _ in range(20):
        _round(s, rng, ident)
        assert refresh(s, "X")["action"] in ("INCREMENTAL", "NO_DATA")
        for a, b in (("X", f"({query})"), (f"({query})", "X")):
            extra = s.sql(f"SELECT * FROM {a} EXCEPT ALL SELECT * FROM {b}").rows()
            assert extra == [], (shape, a, extra)
    assert physical_diff(s, "X") == (0, 0)  # hidden state matches the plan from scratch


def _view_texts(s: Session) -> dict[str, str]:
    return {v["name"][2]: v["text"] for v in plan_of(s, "X")["views"]}


def _equal_to_query(s: Session, name: str, query: str) -> None:
    for a, b in ((name, f"({query})"), (f"({query})", name)):
        assert s.sql(f"SELECT * FROM {a} EXCEPT ALL SELECT * FROM {b}").rows() == [], (a, b)


@pytest.mark.parametrize("mode", ["INCREMENTAL", "FULL"])
def test_a_replaced_view_is_planned_again_and_the_table_reinitializes(
    s: Session, mode: str
) -> None:
    s.sql("INSERT INTO T VALUES (1, 1, 5), (2, 1, -3); INSERT INTO U VALUES (1, 'a')")
    query = "SELECT NAME, SUM(AMT) AS S FROM NAMED GROUP BY NAME"
    create(s, "X", query, mode=mode)
    assert s.sql("SELECT * FROM X").rows() == [("a", 5)]
    s.sql("CREATE OR REPLACE VIEW POSITIVE AS SELECT ID, K, AMT FROM T")  # the filter gone
    s.sql("INSERT INTO T VALUES (3, 1, 7)")
    assert refresh(s, "X")["action"] == "REINITIALIZE"
    assert s.sql("SELECT * FROM X").rows() == [("a", 9)]
    reasons = s.sql(
        "SELECT REINIT_REASON FROM TABLE(INFORMATION_SCHEMA.DYNAMIC_TABLE_REFRESH_HISTORY("
        "NAME => 'X')) WHERE REFRESH_ACTION = 'REINITIALIZE'"
    ).rows()
    assert sorted(r for (r,) in reasons) == [
        "initial refresh",
        "planned again: D.S.POSITIVE was replaced",
    ]
    assert "WHERE" not in _view_texts(s)["POSITIVE"]  # the plan is of the new definition
    rng, ident = random.Random(7), [10]
    for _ in range(8):  # then refreshes go on as the table's mode says, equal to its query
        _round(s, rng, ident)
        assert refresh(s, "X")["action"] in (mode, "NO_DATA")
        _equal_to_query(s, "X", query)
    if mode == "INCREMENTAL":
        assert physical_diff(s, "X") == (0, 0)
    # the same definition again (a new view object, the same text): nothing to plan again
    s.sql("CREATE OR REPLACE VIEW POSITIVE AS SELECT ID, K, AMT FROM T")
    assert refresh(s, "X")["action"] in (mode, "NO_DATA")


def test_a_view_replaced_to_read_another_table_moves_the_tables_sources(s: Session) -> None:
    """Before, a FULL table kept the sources it was created with: changes to the table the
    view read now never refreshed it (NO_DATA, its rows stale for good)."""
    s.sql("CREATE TABLE T2 (ID INT, K INT, AMT INT); INSERT INTO T VALUES (1, 1, 5)")
    create(s, "X", "SELECT ID, AMT FROM POSITIVE", mode="FULL")
    s.sql("CREATE OR REPLACE VIEW POSITIVE AS SELECT ID, K, AMT FROM T2 WHERE AMT > 0")
    assert refresh(s, "X")["action"] == "REINITIALIZE"
    assert s.sql("SELECT * FROM X").rows() == []
    s.sql("INSERT INTO T2 VALUES (2, 1, 8)")
    assert refresh(s, "X")["action"] == "FULL"
    assert s.sql("SELECT * FROM X").rows() == [(2, 8)]
    s.sql("INSERT INTO T VALUES (3, 1, 9)")  # the table it no longer reads
    assert refresh(s, "X")["action"] == "NO_DATA"
    inputs = s.sql(
        "SELECT INPUTS FROM TABLE(INFORMATION_SCHEMA.DYNAMIC_TABLE_GRAPH_HISTORY()) "
        "WHERE NAME = 'X' AND VALID_TO IS NULL"
    ).scalar()
    assert "D.S.T2" in str(inputs) and 'D.S.T"' not in str(inputs)


def test_a_view_that_changes_the_tables_columns_fails_the_refresh_and_keeps_its_rows(
    s: Session,
) -> None:
    s.sql("INSERT INTO T VALUES (1, 1, 5), (2, 1, -3); INSERT INTO U VALUES (1, 'a')")
    create(s, "X", "SELECT NAME, SUM(AMT) AS S FROM NAMED GROUP BY NAME")
    s.sql("CREATE OR REPLACE VIEW POSITIVE AS SELECT ID, K, AMT::VARCHAR AS AMT FROM T")
    with pytest.raises(Exception, match=r"reads D\.S\.POSITIVE, which changed, and its query"):
        s.sql("ALTER DYNAMIC TABLE X REFRESH")  # SUM of text: the query no longer binds
    s.sql("CREATE OR REPLACE VIEW POSITIVE AS SELECT ID, K, AMT / 2 AS AMT FROM T")
    with pytest.raises(Exception, match=r"S is FLOAT where the table has NUMBER\(38,0\)"):
        s.sql("ALTER DYNAMIC TABLE X REFRESH")
    assert _failures(s) == [("FAILED", "SOURCE_CHANGED"), ("FAILED", "SOURCE_CHANGED")]
    assert s.sql("SELECT * FROM X").rows() == [("a", 5)]
    assert _view_texts(s)["POSITIVE"].endswith("WHERE AMT > 0")  # the old plan kept
    s.sql("CREATE OR REPLACE VIEW POSITIVE AS SELECT ID, K, AMT FROM T WHERE AMT > -10")
    assert refresh(s, "X")["action"] == "REINITIALIZE"
    assert s.sql("SELECT * FROM X").rows() == [("a", 2)]


def test_a_view_the_mode_cannot_refresh_any_more(s: Session) -> None:
    s.sql("INSERT INTO T VALUES (1, 1, 5), (2, 2, 6)")
    create(s, "X", "SELECT ID, AMT FROM POSITIVE")
    create(s, "Y", "SELECT ID, AMT FROM POSITIVE", mode="AUTO")
    s.sql("CREATE OR REPLACE VIEW POSITIVE AS SELECT ID, K, AMT FROM T ORDER BY ID LIMIT 1")
    with pytest.raises(Exception, match=r"cannot be refreshed incrementally: .*LIMIT"):
        s.sql("ALTER DYNAMIC TABLE X REFRESH")
    assert refresh(s, "Y")["action"] == "REINITIALIZE"  # AUTO: planned again, as FULL
    assert show(s, "Y")["refresh_mode"] == "FULL"
    assert show(s, "Y")["refresh_mode_reason"] == "QUERY_NOT_SUPPORTED_FOR_INCREMENTAL"
    assert s.sql("SELECT * FROM Y").rows() == [(1, 5)]
    assert show(s, "X")["refresh_mode"] == "INCREMENTAL"
    assert s.sql("SELECT * FROM X ORDER BY ID").rows() == [(1, 5), (2, 6)]


def test_a_dropped_view_fails_the_refresh_and_the_table_keeps_its_rows(s: Session) -> None:
    s.sql("INSERT INTO T VALUES (1, 1, 5); INSERT INTO U VALUES (1, 'a')")
    create(s, "X", "SELECT NAME, SUM(AMT) AS S FROM NAMED GROUP BY NAME")
    s.sql("DROP VIEW NAMED")
    with pytest.raises(Exception, match=r"reads D\.S\.NAMED, which was dropped"):
        s.sql("ALTER DYNAMIC TABLE X REFRESH")
    assert _failures(s) == [("FAILED", "SOURCE_DROPPED")]
    assert s.sql("SELECT * FROM X").rows() == [("a", 5)]
    s.sql("CREATE VIEW NAMED AS SELECT P.ID, P.AMT, U.NAME FROM POSITIVE P JOIN U ON P.K = U.K")
    assert refresh(s, "X")["action"] in ("INCREMENTAL", "NO_DATA")  # the same text again


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
    assert [v["name"] for v in plan_of(s, "X")["views"]] == [["D", "S", "FIRST_TWO"]]
    # a FULL table reads the view by name: a replaced view is planned again
    s.sql("INSERT INTO T VALUES (1, 0, 1), (2, 0, 2), (3, 0, 3)")
    s.sql("CREATE OR REPLACE VIEW FIRST_TWO AS SELECT ID FROM T ORDER BY ID DESC LIMIT 2")
    assert refresh(s, "X")["action"] == "REINITIALIZE"
    assert sorted(s.sql("SELECT ID FROM X").rows()) == [(2,), (3,)]
