"""Incremental refresh of joins, outer joins and windows: what a refresh writes, and that it
touches only what the change reaches."""

from __future__ import annotations

from typing import Any

import pytest

from snowmelt.errors import RefreshError
from snowmelt.session import Session

from .conftest import history, sent_statements

DT = (
    "CREATE DYNAMIC TABLE {name} TARGET_LAG = '1 minute' WAREHOUSE = WH "
    "REFRESH_MODE = INCREMENTAL AS "
)


@pytest.fixture
def s(session: Session) -> Session:
    session.sql(
        "CREATE TABLE F (ID INT, K INT, V INT, TS TIMESTAMP_NTZ); "
        "CREATE TABLE DIM (K INT, NAME VARCHAR)"
    )
    return session


def refresh(s: Session, name: str) -> dict[str, Any]:
    s.sql(f"ALTER DYNAMIC TABLE {name} REFRESH")
    last = history(s, name)[-1]
    assert last["STATE"] == "SUCCEEDED", last["STATE_MESSAGE"]
    return last


def counts(row: dict[str, Any]) -> tuple[int, int]:
    stats = row["STATISTICS"]
    if isinstance(stats, str):
        import json

        stats = json.loads(stats)
    return int(stats["numInsertedRows"]), int(stats["numDeletedRows"])


def rows(s: Session, sql: str) -> list[tuple[Any, ...]]:
    return sorted(s.sql(sql).rows(), key=repr)


def test_a_fact_change_beside_an_unchanged_dimension_is_one_join_term(s: Session) -> None:
    s.sql("INSERT INTO DIM VALUES (1, 'one'), (2, 'two')")
    s.sql(DT.format(name="J") + "SELECT F.ID, D.NAME FROM F JOIN DIM D ON F.K = D.K")
    s.sql("INSERT INTO F (ID, K) VALUES (1, 1), (2, 2), (3, 3)")
    plan = s.sql("EXPLAIN DYNAMIC TABLE J").dicts()[0]["incremental_sql"]
    assert "$a0" in plan and "$a1" not in plan  # DIM (source 1) did not change: no term
    assert counts(refresh(s, "J")) == (2, 0)
    assert rows(s, "SELECT * FROM J") == [(1, "one"), (2, "two")]


def test_changes_on_both_sides_of_a_join_in_one_refresh(s: Session) -> None:
    s.sql("INSERT INTO DIM VALUES (1, 'one')")
    s.sql("INSERT INTO F (ID, K) VALUES (1, 1)")
    s.sql(DT.format(name="J") + "SELECT F.ID, D.NAME FROM F JOIN DIM D ON F.K = D.K")
    s.sql("INSERT INTO F (ID, K) VALUES (2, 2)")
    s.sql("INSERT INTO DIM VALUES (2, 'two')")
    s.sql("UPDATE DIM SET NAME = 'uno' WHERE K = 1")
    assert counts(refresh(s, "J")) == (2, 1)
    assert rows(s, "SELECT * FROM J") == [(1, "uno"), (2, "two")]


def test_a_dimension_row_arriving_turns_null_extended_rows_into_matches(s: Session) -> None:
    s.sql(DT.format(name="L") + "SELECT F.ID, D.NAME FROM F LEFT JOIN DIM D ON F.K = D.K")
    s.sql("INSERT INTO F (ID, K) VALUES (1, 7), (2, 7), (3, NULL)")
    refresh(s, "L")
    assert rows(s, "SELECT * FROM L") == [(1, None), (2, None), (3, None)]
    s.sql("INSERT INTO DIM VALUES (7, 'seven')")
    assert counts(refresh(s, "L")) == (2, 2)
    assert rows(s, "SELECT * FROM L") == [(1, "seven"), (2, "seven"), (3, None)]
    s.sql("DELETE FROM DIM WHERE K = 7")
    assert counts(refresh(s, "L")) == (2, 2)
    assert rows(s, "SELECT * FROM L") == [(1, None), (2, None), (3, None)]


def _consolidated(statements: list[str]) -> bool:
    """Whether a refresh consolidated its change per row value (the general write)."""
    return any('_net"' in sql for sql in statements)


@pytest.mark.parametrize(
    "query",
    [
        "SELECT F.ID, F.K, D.NAME FROM F LEFT JOIN DIM D ON F.K = D.K",
        "SELECT F.ID, F.K, D.NAME FROM DIM D RIGHT JOIN F ON D.K = F.K AND D.NAME <> 'x'",
        "SELECT F.ID, F.K, D.NAME FROM F JOIN DIM D ON F.K = D.K",
    ],
)
def test_appends_beside_unchanged_dimensions_are_inserted_as_they_come(
    s: Session, query: str
) -> None:
    s.sql("INSERT INTO DIM VALUES (1, 'one')")
    s.sql(DT.format(name="J") + query)
    inner = " LEFT " not in query and " RIGHT " not in query
    for step, batch in enumerate(["(1, 1), (2, 2), (2, 2)", "(3, 1), (4, NULL)"]):
        s.sql(f"INSERT INTO F (ID, K) VALUES {batch}")
        with sent_statements(s) as sent:
            inserted, deleted = counts(refresh(s, "J"))
        assert not _consolidated(sent), f"step {step}: the append was consolidated"
        assert deleted == 0
        expected = s.sql(query).rows()
        assert rows(s, "SELECT * FROM J") == sorted(expected, key=repr)
    assert inserted == (1 if inner else 2)
    # a dimension change (with or without a fact append) takes the general write, which
    # retracts the padded rows the new dimension row matches
    for statement in ["INSERT INTO DIM VALUES (2, 'two')", "INSERT INTO F (ID, K) VALUES (5, 2)"]:
        s.sql(statement)
    with sent_statements(s) as sent:
        refresh(s, "J")
    assert _consolidated(sent) != inner  # an inner join's appends on both sides only add
    assert rows(s, "SELECT * FROM J") == sorted(s.sql(query).rows(), key=repr)


def test_an_append_to_one_side_of_a_full_join_is_consolidated(s: Session) -> None:
    s.sql("INSERT INTO DIM VALUES (1, 'one'), (3, 'three')")
    query = "SELECT F.ID, D.NAME FROM F FULL JOIN DIM D ON F.K = D.K"
    s.sql(DT.format(name="J") + query)
    s.sql("INSERT INTO F (ID, K) VALUES (1, 3)")  # retracts the padded (NULL, 'three')
    with sent_statements(s) as sent:
        assert counts(refresh(s, "J")) == (1, 1)
    assert _consolidated(sent)
    assert rows(s, "SELECT * FROM J") == [(1, "three"), (None, "one")]


def test_a_late_row_rewrites_only_the_rows_whose_window_value_changed(s: Session) -> None:
    s.sql(
        "INSERT INTO F VALUES (1, 1, 10, '2026-01-01 10:00'), (2, 1, 20, '2026-01-01 10:20'),"
        " (3, 1, 30, '2026-01-01 10:40'), (4, 2, 5, '2026-01-01 10:00')"
    )
    s.sql(
        DT.format(name="W") + "SELECT ID, K, LAG(V) OVER (PARTITION BY K ORDER BY TS) AS PV FROM F"
    )
    untouched = s.rt.engine.rows(f"SELECT _sm_rowid FROM {_physical(s, 'W')} WHERE K = 2")
    s.sql("INSERT INTO F VALUES (5, 1, 15, '2026-01-01 10:10')")  # between rows 1 and 2
    assert counts(refresh(s, "W")) == (2, 1)  # the new row, and row 2's LAG 10 -> 15
    assert rows(s, "SELECT ID, PV FROM W WHERE K = 1") == [(1, None), (2, 15), (3, 20), (5, 10)]
    assert s.rt.engine.rows(f"SELECT _sm_rowid FROM {_physical(s, 'W')} WHERE K = 2") == untouched


def _physical(s: Session, name: str) -> str:
    from snowmelt.names import ObjectName

    obj = s.rt.catalog.find(ObjectName("D", "S", name))
    assert obj is not None
    return f'"_snowmelt_data"."t{obj.oid}"'


SESSIONS = (
    "WITH E AS (SELECT K, TS, LAG(TS) OVER (PARTITION BY K ORDER BY TS) AS P FROM F), "
    "G AS (SELECT K, TS, IFF(P IS NULL OR DATEDIFF('second', P, TS) > 1800, 1, 0) AS S "
    "FROM E), "
    "N AS (SELECT K, TS, SUM(S) OVER (PARTITION BY K ORDER BY TS ROWS BETWEEN "
    "UNBOUNDED PRECEDING AND CURRENT ROW) AS SESSION FROM G) "
    "SELECT K, SESSION, MIN(TS) AS T0, MAX(TS) AS T1, COUNT(*) AS N FROM N "
    "GROUP BY K, SESSION"
)


def test_a_late_event_merges_two_sessions_and_its_deletion_splits_them(s: Session) -> None:
    s.sql(
        "INSERT INTO F (ID, K, TS) VALUES (1, 1, '2026-01-01 10:00'), "
        "(2, 1, '2026-01-01 10:50'), (3, 2, '2026-01-01 10:00')"
    )
    s.sql(DT.format(name="SESS") + SESSIONS)
    assert [r[:2] + r[4:] for r in rows(s, "SELECT * FROM SESS WHERE K = 1")] == [
        (1, 1, 1),
        (1, 2, 1),
    ]
    s.sql("INSERT INTO F (ID, K, TS) VALUES (4, 1, '2026-01-01 10:25')")  # late, in the gap
    refresh(s, "SESS")
    assert [r[:2] + r[4:] for r in rows(s, "SELECT * FROM SESS WHERE K = 1")] == [(1, 1, 3)]
    s.sql("DELETE FROM F WHERE ID = 4")
    refresh(s, "SESS")
    assert [r[:2] + r[4:] for r in rows(s, "SELECT * FROM SESS")] == [
        (1, 1, 1),
        (1, 2, 1),
        (2, 1, 1),
    ]


def test_qualify_keeps_the_latest_row_per_key(s: Session) -> None:
    s.sql("INSERT INTO F VALUES (1, 1, 10, '2026-01-01 10:00'), (2, 1, 20, '2026-01-01 11:00')")
    s.sql(
        DT.format(name="Q") + "SELECT K, ID, V FROM F "
        "QUALIFY ROW_NUMBER() OVER (PARTITION BY K ORDER BY TS DESC) = 1"
    )
    s.sql(
        "INSERT INTO F VALUES (3, 1, 30, '2026-01-01 12:00'), (4, 2, 40, '2026-01-01 09:00'),"
        " (5, 1, 50, '2026-01-01 08:00')"
    )
    assert counts(refresh(s, "Q")) == (2, 1)
    assert rows(s, "SELECT * FROM Q") == [(1, 3, 30), (2, 4, 40)]


def test_a_join_refresh_that_finds_a_row_missing_fails_and_changes_nothing(s: Session) -> None:
    s.sql("INSERT INTO DIM VALUES (1, 'one')")
    s.sql("INSERT INTO F (ID, K) VALUES (1, 1)")
    s.sql(DT.format(name="J") + "SELECT F.ID, D.NAME FROM F JOIN DIM D ON F.K = D.K")
    s.rt.engine.execute(f"DELETE FROM {_physical(s, 'J')}")  # corrupt the table behind its back
    s.sql("UPDATE DIM SET NAME = 'uno'")
    with pytest.raises(RefreshError):
        s.sql("ALTER DYNAMIC TABLE J REFRESH")
    last = history(s, "J")[-1]
    assert last["STATE"] == "FAILED"
    assert "snowmelt bug" in last["STATE_MESSAGE"]
    assert rows(s, "SELECT * FROM J") == []
