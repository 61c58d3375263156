"""Incremental refreshes end to end: actions, statistics, edge cases of every rule, failure."""

from __future__ import annotations

import json
from typing import Any

import pytest

from snowmelt.clock import ManualClock
from snowmelt.errors import RefreshError
from snowmelt.names import ObjectName
from snowmelt.session import Session

from .conftest import history

DT = "CREATE DYNAMIC TABLE {name} TARGET_LAG = '1 minute' WAREHOUSE = WH REFRESH_MODE = {mode} AS "


def create(s: Session, name: str, query: str, mode: str = "INCREMENTAL") -> None:
    s.sql(DT.format(name=name, mode=mode) + query)


def refresh(s: Session, name: str) -> dict[str, Any]:
    s.sql(f"ALTER DYNAMIC TABLE {name} REFRESH")
    last = history(s, name)[-1]
    assert last["STATE"] == "SUCCEEDED", last["STATE_MESSAGE"]
    stats = last["STATISTICS"]
    return {
        "action": last["REFRESH_ACTION"],
        **(json.loads(stats) if isinstance(stats, str) else stats),
    }


def rows(s: Session, sql: str) -> list[tuple[Any, ...]]:
    return sorted(s.sql(sql).rows(), key=repr)


@pytest.fixture
def s(session: Session) -> Session:
    session.sql("CREATE TABLE T (K INT, G VARCHAR, V INT, D NUMBER(10, 2), TS TIMESTAMP_NTZ)")
    return session


def test_refresh_actions_follow_the_reference(s: Session) -> None:
    s.sql("INSERT INTO T (K, V) VALUES (1, 1)")
    create(s, "INC", "SELECT K, SUM(V) AS S FROM T GROUP BY K")
    create(s, "FUL", "SELECT K, SUM(V) AS S FROM T GROUP BY K", mode="FULL")
    assert history(s, "INC")[0]["REFRESH_ACTION"] == "REINITIALIZE"
    assert refresh(s, "INC")["action"] == "NO_DATA"
    s.sql("INSERT INTO T (K, V) VALUES (1, 2)")
    assert refresh(s, "INC")["action"] == "INCREMENTAL"
    assert refresh(s, "FUL")["action"] == "FULL"
    s.sql("ALTER TABLE T ADD COLUMN EXTRA INT")
    assert refresh(s, "INC")["action"] == "REINITIALIZE"
    s.sql("INSERT INTO T (K, V, EXTRA) VALUES (2, 5, 9)")
    assert refresh(s, "INC")["action"] == "INCREMENTAL"
    assert rows(s, "SELECT * FROM INC") == [(1, 3), (2, 5)]


def test_deletions_after_a_column_is_added_reach_incremental_tables(s: Session) -> None:
    """A column added to a source sits after the hidden columns of its delete log; rows
    deleted or updated afterwards must still be logged under the right versions (they were
    logged positionally, and the refresh saw no change)."""
    s.sql("INSERT INTO T (K, G, V) VALUES (1, 'a', 1), (1, 'b', 2), (2, 'c', 4)")
    create(s, "A", "SELECT K, SUM(V) AS S, COUNT(*) AS N FROM T GROUP BY K")
    create(s, "L", "SELECT K, G, V FROM T WHERE V > 1")
    s.sql("ALTER TABLE T ADD COLUMN EXTRA INT")
    for name in ("A", "L"):
        assert refresh(s, name)["action"] == "REINITIALIZE"
    s.sql("DELETE FROM T WHERE G = 'a'")
    s.sql("UPDATE T SET V = 9 WHERE G = 'c'")
    for name in ("A", "L"):
        assert refresh(s, name)["action"] == "INCREMENTAL"
    assert rows(s, "SELECT * FROM A") == [(1, 2, 1), (2, 9, 1)]
    assert rows(s, "SELECT * FROM L") == [(1, "b", 2), (2, "c", 9)]
    s.sql("DELETE FROM T")
    assert refresh(s, "L")["action"] == "INCREMENTAL"
    assert rows(s, "SELECT * FROM L") == []


def test_a_dropped_column_reinitializes_readers_and_fails_those_that_read_it(
    s: Session,
) -> None:
    """Dropping a column a dynamic table does not read reinitializes it and it refreshes on;
    one that reads the column fails its refresh naming the column and keeps its rows."""
    s.sql("INSERT INTO T (K, G, V) VALUES (1, 'a', 1), (2, 'b', 2)")
    create(s, "A", "SELECT K, SUM(V) AS S FROM T GROUP BY K")
    create(s, "L", "SELECT K, G FROM T")
    s.sql("ALTER TABLE T DROP COLUMN D")
    s.sql("DELETE FROM T WHERE K = 1")
    for name in ("A", "L"):
        assert refresh(s, name)["action"] == "REINITIALIZE"
    assert rows(s, "SELECT * FROM L") == [(2, "b")]
    s.sql("ALTER TABLE T DROP COLUMN G")
    s.sql("INSERT INTO T (K, V) VALUES (3, 3)")
    assert refresh(s, "A")["action"] == "REINITIALIZE"
    assert rows(s, "SELECT * FROM A") == [(2, 2), (3, 3)]
    with pytest.raises(RefreshError, match='"G"'):
        s.sql("ALTER DYNAMIC TABLE L REFRESH")
    assert rows(s, "SELECT * FROM L") == [(2, "b")]


def test_statistics_count_rows_written_by_a_linear_refresh(s: Session) -> None:
    create(s, "L", "SELECT K, V FROM T WHERE V > 0")
    s.sql("INSERT INTO T (K, V) VALUES (1, 1), (2, 2), (3, -3)")
    stats = refresh(s, "L")
    assert (stats["numInsertedRows"], stats["numDeletedRows"]) == (2, 0)
    s.sql("UPDATE T SET V = 5 WHERE K = 1")
    stats = refresh(s, "L")
    assert (stats["numInsertedRows"], stats["numDeletedRows"]) == (1, 1)
    s.sql("UPDATE T SET G = 'x' WHERE K = 2")  # not projected: the row is unchanged
    stats = refresh(s, "L")
    assert (stats["action"], stats["numInsertedRows"], stats["numDeletedRows"]) == (
        "INCREMENTAL",
        0,
        0,
    )
    s.sql("DELETE FROM T WHERE K IN (2, 3)")
    stats = refresh(s, "L")
    assert (stats["numInsertedRows"], stats["numDeletedRows"]) == (0, 1)
    assert rows(s, "SELECT * FROM L") == [(1, 5)]


def test_statistics_count_group_rows_replaced_created_and_emptied(s: Session) -> None:
    s.sql("INSERT INTO T (K, V) VALUES (1, 1), (2, 2)")
    create(s, "A", "SELECT K, COUNT(*) AS N, SUM(V) AS S FROM T GROUP BY K")
    s.sql("INSERT INTO T (K, V) VALUES (1, 10), (3, 3)")  # one group changes, one appears
    stats = refresh(s, "A")
    assert (stats["numInsertedRows"], stats["numDeletedRows"]) == (2, 1)
    s.sql("DELETE FROM T WHERE K = 2")  # a group empties
    stats = refresh(s, "A")
    assert (stats["numInsertedRows"], stats["numDeletedRows"]) == (0, 1)
    assert rows(s, "SELECT * FROM A") == [(1, 2, 11), (3, 1, 3)]


@pytest.mark.parametrize(
    "query",
    [
        "SELECT K, COUNT(*) AS N, SUM(V) AS S FROM T GROUP BY K",
        "SELECT K, MIN(V) AS LO, MAX(V) AS HI, AVG(V) AS A FROM T GROUP BY K",
        "SELECT K, COUNT(DISTINCT V) AS D FROM T GROUP BY K",
    ],
)
def test_a_change_that_leaves_a_groups_state_as_it_was_writes_nothing(
    s: Session, query: str
) -> None:
    s.sql("INSERT INTO T (K, G, V) VALUES (1, 'a', 1), (1, 'b', 5), (2, 'c', 2)")
    create(s, "A", query)
    create(s, "B", "SELECT * FROM A WHERE K > 0")  # a copy that reads A's change
    before = rows(s, "SELECT * FROM A")
    s.sql("UPDATE T SET G = 'z' WHERE K = 1")  # a column the aggregate does not read
    stats = refresh(s, "A")
    assert (stats["numInsertedRows"], stats["numDeletedRows"]) == (0, 0)
    assert rows(s, "SELECT * FROM A") == before
    stats = refresh(s, "B")
    assert (stats["numInsertedRows"], stats["numDeletedRows"]) == (0, 0)
    s.sql("INSERT INTO T (K, G, V) VALUES (1, 'd', 5)")  # the state moves, the group is rewritten
    stats = refresh(s, "A")
    assert (stats["numInsertedRows"], stats["numDeletedRows"]) == (1, 1)
    assert rows(s, "SELECT * FROM A") == rows(s, query)
    refresh(s, "B")  # A's change: the old image as logged (by row id), then the new one
    assert rows(s, "SELECT * FROM B") == rows(s, "SELECT * FROM A")


def test_null_group_keys_are_one_group_matched_null_safely(s: Session) -> None:
    s.sql("INSERT INTO T (K, G, V) VALUES (NULL, NULL, 1), (NULL, 'a', 2), (1, NULL, 3)")
    create(s, "A", "SELECT K, G, COUNT(*) AS N, SUM(V) AS S FROM T GROUP BY K, G")
    s.sql("INSERT INTO T (K, G, V) VALUES (NULL, NULL, 5)")
    s.sql("UPDATE T SET K = NULL WHERE V = 3")
    refresh(s, "A")
    assert rows(s, "SELECT * FROM A") == [(None, "a", 1, 2), (None, None, 3, 9)]


def test_scalar_aggregates_keep_one_row_over_empty_input(s: Session) -> None:
    create(s, "A", "SELECT COUNT(*) AS N, SUM(V) AS S, MIN(V) AS M, AVG(V) AS A FROM T")
    assert rows(s, "SELECT * FROM A") == [(0, None, None, None)]
    s.sql("INSERT INTO T (V) VALUES (4), (2)")
    refresh(s, "A")
    assert rows(s, "SELECT * FROM A") == [(2, 6, 2, 3.0)]
    s.sql("DELETE FROM T WHERE V = 2")  # deletes the MIN: recomputed
    refresh(s, "A")
    assert rows(s, "SELECT * FROM A") == [(1, 4, 4, 4.0)]
    s.sql("DELETE FROM T")
    refresh(s, "A")
    assert rows(s, "SELECT * FROM A") == [(0, None, None, None)]


def test_min_max_merge_on_insert_and_recompute_when_the_extreme_is_deleted(s: Session) -> None:
    s.sql("INSERT INTO T (K, V) VALUES (1, 5), (1, 7), (1, 7), (2, 1)")
    create(s, "A", "SELECT K, MIN(V) AS MN, MAX(V) AS MX FROM T GROUP BY K")
    s.sql("INSERT INTO T (K, V) VALUES (1, 3), (2, 9)")
    refresh(s, "A")
    assert rows(s, "SELECT * FROM A") == [(1, 3, 7), (2, 1, 9)]
    s.sql("DELETE FROM T WHERE K = 1 AND V = 7")  # both copies of the MAX
    s.sql("UPDATE T SET V = 4 WHERE K = 2 AND V = 1")  # the MIN grows
    refresh(s, "A")
    assert rows(s, "SELECT * FROM A") == [(1, 3, 5), (2, 4, 9)]


def test_having_and_holistic_aggregates_recompute_changed_groups(s: Session) -> None:
    s.sql("INSERT INTO T (K, G, V) VALUES (1, 'b', 1), (1, 'a', 1), (2, 'c', 5)")
    create(
        s,
        "H",
        "SELECT K, COUNT(DISTINCT V) AS DV, LISTAGG(G, ',') WITHIN GROUP "
        "(ORDER BY G) AS GS FROM T GROUP BY K HAVING COUNT(*) > 1",
    )
    assert rows(s, "SELECT * FROM H") == [(1, 1, "a,b")]
    s.sql("INSERT INTO T (K, G, V) VALUES (2, 'd', 6)")  # group 2 enters
    s.sql("DELETE FROM T WHERE G = 'a'")  # group 1 leaves
    refresh(s, "H")
    assert rows(s, "SELECT * FROM H") == [(2, 2, "c,d")]


def test_distinct_counts_copies(s: Session) -> None:
    s.sql("INSERT INTO T (K) VALUES (1), (1), (2)")
    create(s, "DI", "SELECT DISTINCT K FROM T")
    s.sql("DELETE FROM T WHERE K = 2")
    s.sql("INSERT INTO T (K) VALUES (3)")
    refresh(s, "DI")
    assert rows(s, "SELECT * FROM DI") == [(1,), (3,)]


def test_a_chain_consumes_only_its_upstreams_net_change(s: Session) -> None:
    s.sql("INSERT INTO T (K, G, V) VALUES (1, 'a', 1), (2, 'b', 2)")
    create(s, "SILVER", "SELECT K, V FROM T WHERE V > 0")
    create(s, "GOLD", "SELECT COUNT(*) AS N, SUM(V) AS S FROM SILVER")
    s.sql("UPDATE T SET G = 'z'")  # SILVER's rows do not change
    refresh(s, "GOLD")
    actions = [h["REFRESH_ACTION"] for h in history(s, "GOLD")]
    assert actions[-1] == "NO_DATA"
    s.sql("UPDATE T SET V = 10 WHERE K = 1")
    refresh(s, "GOLD")
    assert history(s, "GOLD")[-1]["REFRESH_ACTION"] == "INCREMENTAL"
    assert rows(s, "SELECT * FROM GOLD") == [(2, 12)]


def test_sum_state_takes_the_type_of_its_input(s: Session) -> None:
    s.sql("INSERT INTO T (K, D) VALUES (1, 1.25), (1, 2.50)")
    create(s, "A", "SELECT K, AVG(D) AS A FROM T GROUP BY K")
    obj = s.rt.catalog.find(ObjectName("D", "S", "A"))
    assert obj is not None
    types = {r[0]: r[1] for r in s.rt.engine.rows(f'DESCRIBE "_snowmelt_data"."t{obj.oid}"')}
    assert types["_sm_a1"].startswith("DECIMAL(38,2)")  # SUM(D): exact
    s.sql("INSERT INTO T (K, D) VALUES (1, 0.01)")
    refresh(s, "A")
    assert rows(s, "SELECT * FROM A") == [(1, pytest.approx(3.76 / 3))]


def test_time_window_drops_rows_as_time_passes(clock: ManualClock, s: Session) -> None:
    s.sql("INSERT INTO T (K, TS) VALUES (1, '2026-01-01 11:30:00'), (2, '2026-01-01 09:00:00')")
    create(s, "RECENT", "SELECT K FROM T WHERE TS > DATEADD(hour, -1, CURRENT_TIMESTAMP())")
    assert rows(s, "SELECT * FROM RECENT") == [(1,)]
    clock.advance(3600)
    s.sql("INSERT INTO T (K, TS) VALUES (3, '2026-01-01 12:55:00')")
    refresh(s, "RECENT")
    assert rows(s, "SELECT * FROM RECENT") == [(3,)]


def test_time_window_moves_without_source_change(clock: ManualClock, s: Session) -> None:
    s.sql("INSERT INTO T (K, TS) VALUES (1, '2026-01-01 11:30:00')")
    s.sql("CREATE TABLE OTHER (X INT)")
    create(s, "RECENT", "SELECT K FROM T WHERE TS > DATEADD(hour, -1, CURRENT_TIMESTAMP())")
    clock.advance(3600)
    s.sql("INSERT INTO OTHER VALUES (1)")  # time and versions move; T does not change
    refresh(s, "RECENT")
    assert rows(s, "SELECT * FROM RECENT") == []


def test_a_time_window_is_never_no_data(clock: ManualClock, s: Session) -> None:
    s.sql("INSERT INTO T (K, TS) VALUES (1, '2026-01-01 11:30:00'), (2, '2026-01-01 11:50:00')")
    s.sql("CREATE TABLE OTHER (X INT)")
    create(s, "RECENT", "SELECT K FROM T WHERE TS > DATEADD(hour, -1, CURRENT_TIMESTAMP())")
    clock.advance(45 * 60)  # 12:45: K = 1 has left the window, though no source changed
    s.sql("INSERT INTO OTHER VALUES (1)")
    assert refresh(s, "RECENT")["action"] == "INCREMENTAL"
    assert rows(s, "SELECT * FROM RECENT") == [(2,)]
    clock.advance(10 * 60)  # 12:55: K = 2 has left too
    s.sql("INSERT INTO T (K, TS) VALUES (3, '2026-01-01 12:50:00')")
    assert refresh(s, "RECENT")["action"] == "INCREMENTAL"
    assert rows(s, "SELECT * FROM RECENT") == [(3,)]  # from 12:00 to 12:55, not 12:45


def test_a_refresh_that_finds_unexpected_state_fails_and_changes_nothing(s: Session) -> None:
    s.sql("INSERT INTO T (K, V) VALUES (1, 1), (2, 2)")
    create(s, "L", "SELECT K, V FROM T")
    obj = s.rt.catalog.find(ObjectName("D", "S", "L"))
    assert obj is not None
    s.rt.engine.execute(f'DELETE FROM "_snowmelt_data"."t{obj.oid}" WHERE "K" = 1')  # tamper
    s.sql("DELETE FROM T WHERE K = 1")
    with pytest.raises(RefreshError, match="keeps its last good version"):
        s.sql("ALTER DYNAMIC TABLE L REFRESH")
    assert history(s, "L")[-1]["STATE"] == "FAILED"
    assert rows(s, "SELECT * FROM L") == [(2, 2)]


def test_an_aggregate_refresh_refuses_a_group_stored_twice(s: Session) -> None:
    s.sql("INSERT INTO T (K, V) VALUES (1, 1)")
    create(s, "A", "SELECT K, SUM(V) AS S FROM T GROUP BY K")
    obj = s.rt.catalog.find(ObjectName("D", "S", "A"))
    assert obj is not None
    table = f'"_snowmelt_data"."t{obj.oid}"'
    s.rt.engine.execute(
        f"INSERT INTO {table} SELECT * REPLACE (nextval("
        f'\'"_snowmelt_data"."rowid_seq"\') AS _sm_rowid) FROM {table}'
    )
    s.sql("INSERT INTO T (K, V) VALUES (1, 2)")
    with pytest.raises(RefreshError, match="two rows for one group"):
        s.sql("ALTER DYNAMIC TABLE A REFRESH")


def test_an_aggregate_refresh_refuses_a_count_below_zero(s: Session) -> None:
    """The merge statement itself fails when a group's count would go negative (its
    guard): the refresh fails and the table keeps its last version."""
    s.sql("INSERT INTO T (K, V) VALUES (1, 1), (2, 2)")
    create(s, "A", "SELECT K, COUNT(*) AS N, SUM(V) AS S FROM T GROUP BY K")
    oid = s.rt.catalog.find(ObjectName("D", "S", "A")).oid
    s.rt.engine.execute(f'UPDATE "_snowmelt_data"."t{oid}" SET "_sm_cnt" = 0 WHERE "K" = 1')
    before = rows(s, "SELECT * FROM A")
    s.sql("DELETE FROM T WHERE K = 1")
    with pytest.raises(RefreshError, match="a group count went below zero.*keeps its last"):
        s.sql("ALTER DYNAMIC TABLE A REFRESH")
    assert rows(s, "SELECT * FROM A") == before
    code = s.sql(
        "SELECT STATE_CODE FROM TABLE(INFORMATION_SCHEMA.DYNAMIC_TABLE_REFRESH_HISTORY("
        "NAME => 'A')) WHERE STATE = 'FAILED'"
    ).scalar()
    assert code == "INCREMENTAL_INVARIANT"


def test_the_append_only_path_refuses_a_change_that_removes_rows(s: Session) -> None:
    """Sources known to have only been appended to let a linear table insert its change
    straight from the query; that statement fails on any other weight. Here the store's
    record of the source's commits is made to lie about a DELETE."""
    s.sql("INSERT INTO T (K, V) VALUES (1, 1), (2, 2)")
    create(s, "F", "SELECT K, V FROM T WHERE V > 0")
    s.sql("INSERT INTO T (K, V) VALUES (3, 3)")
    assert refresh(s, "F")["action"] == "INCREMENTAL"
    assert rows(s, "SELECT * FROM F") == [(1, 1), (2, 2), (3, 3)]
    s.sql("DELETE FROM T WHERE K = 1")
    oid = s.rt.catalog.find(ObjectName("D", "S", "T")).oid
    s.rt.store.appends.rows[oid][-1] = 0  # "appended nothing"
    with pytest.raises(RefreshError, match="over appended rows removes rows"):
        s.sql("ALTER DYNAMIC TABLE F REFRESH")
    assert rows(s, "SELECT * FROM F") == [(1, 1), (2, 2), (3, 3)]


def test_explain_shows_mode_strategy_and_the_incremental_statements(s: Session) -> None:
    create(s, "A", "SELECT K, MIN(V) AS M FROM T GROUP BY K")
    row = s.sql("EXPLAIN DYNAMIC TABLE A").df().to_dict("records")[0]
    assert (row["refresh_mode"], row["strategy"]) == ("INCREMENTAL", "aggregate")
    assert "aggregate the change per group" in row["incremental_sql"]
    assert "recompute those groups" in row["incremental_sql"]
    create(s, "F", "SELECT K FROM T LIMIT 1", mode="AUTO")
    row = s.sql("EXPLAIN DYNAMIC TABLE F").df().to_dict("records")[0]
    assert row["refresh_mode_reason"] == "QUERY_NOT_SUPPORTED_FOR_INCREMENTAL"
    assert "LIMIT" in row["reason_detail"]


def test_statistics_count_the_source_rows_a_refresh_read(s: Session) -> None:
    s.sql("INSERT INTO T (K, V) VALUES (1, 1), (2, 2), (3, 3), (4, 4)")
    create(s, "INC", "SELECT K, V FROM T WHERE V > 1")
    create(s, "FUL", "SELECT K, V FROM T WHERE V > 1", mode="FULL")
    s.sql("INSERT INTO T (K, V) VALUES (5, 5)")
    s.sql("DELETE FROM T WHERE K = 1")
    # incremental: the net change (one row in, one out); full: the whole snapshot (4 rows)
    assert refresh(s, "INC")["numRowsRead"] == 2
    assert refresh(s, "FUL")["numRowsRead"] == 4
    assert refresh(s, "INC")["numRowsRead"] == 0  # NO_DATA reads nothing
    s.sql("UPDATE T SET V = 9 WHERE K = 2")  # an update is a delete and an insert
    assert refresh(s, "INC")["numRowsRead"] == 2


def test_a_no_data_frontier_survives_reopening_and_pruning(db_path: Any) -> None:
    """A NO_DATA refresh writes only its history row; the catalog must read the new data
    timestamp back from it after a reopen, and pruning the history must keep it."""
    from datetime import timedelta

    import snowmelt
    from snowmelt import retention

    clock = ManualClock()
    s = snowmelt.connect(str(db_path), clock=clock)
    s.sql(
        "CREATE DATABASE D; CREATE SCHEMA D.S; CREATE WAREHOUSE WH; "
        "CREATE TABLE T (K INT, V INT); INSERT INTO T VALUES (1, 1)"
    )
    create(s, "A", "SELECT K, SUM(V) AS S FROM T GROUP BY K")
    created = s.sql(
        "SELECT LATEST_DATA_TIMESTAMP FROM TABLE(INFORMATION_SCHEMA.DYNAMIC_TABLES(NAME => 'A'))"
    ).scalar()
    clock.advance(3600)
    assert refresh(s, "A")["action"] == "NO_DATA"
    frontier = s.rt.catalog.dynamic_table(s.rt.catalog.find(ObjectName("D", "S", "A")).oid)
    assert frontier.data_timestamp == created + timedelta(hours=1)
    s.close()

    def data_timestamp(session: Session) -> Any:
        obj = session.rt.catalog.find(ObjectName("D", "S", "A"))
        return session.rt.catalog.dynamic_table(obj.oid).data_timestamp

    s = snowmelt.connect(str(db_path), clock=clock)
    s.sql("USE SCHEMA D.S")
    assert data_timestamp(s) == frontier.data_timestamp
    clock.advance(8 * 24 * 3600)  # the NO_DATA history row expires ...
    assert retention.prune(s.rt, clock.now())["refresh_history"] >= 2
    s.rt.catalog.invalidate()
    assert data_timestamp(s) == frontier.data_timestamp  # ... but its frontier was kept
    s.sql("INSERT INTO T VALUES (1, 2)")
    assert refresh(s, "A")["action"] == "INCREMENTAL"
    assert rows(s, "SELECT * FROM A") == [(1, 3)]
    s.close()


def test_an_incremental_frontier_survives_reopening_and_pruning(db_path: Any) -> None:
    """A steady-state refresh writes its frontier (data and commit versions, the versions
    it consumed) only in its history row. After a reopen, and after pruning that row, the
    tables must still know what they consumed: no change is applied twice or missed, and an
    unchanged input still means NO_DATA."""
    import snowmelt
    from snowmelt import retention

    clock = ManualClock()

    def reopen() -> Session:
        session = snowmelt.connect(str(db_path), clock=clock)
        session.sql("USE SCHEMA D.S")
        return session

    s = snowmelt.connect(str(db_path), clock=clock)
    s.sql(
        "CREATE DATABASE D; CREATE SCHEMA D.S; CREATE WAREHOUSE WH; "
        "CREATE TABLE T (K INT, V INT); INSERT INTO T VALUES (1, 1)"
    )
    create(s, "F", "SELECT K, V FROM T WHERE V > 0")
    create(s, "A", "SELECT K, SUM(V) AS S, COUNT(*) AS N FROM F GROUP BY K")
    expected = [(1, 1, 1)]
    for round_ in range(3):
        s.sql(f"INSERT INTO T VALUES (1, {round_ + 2}), (2, 1)")
        expected = rows(s, "SELECT K, SUM(V), COUNT(*) FROM T WHERE V > 0 GROUP BY K")
        assert [refresh(s, n)["action"] for n in ("F", "A")] == ["INCREMENTAL"] * 2
        s.close()
        s = reopen()
        if round_ == 1:  # every history row expires; the frontiers are folded first
            clock.advance(8 * 24 * 3600)
            assert retention.prune(s.rt, clock.now())["refresh_history"] >= 4
            s.close()
            s = reopen()
        assert [refresh(s, n)["action"] for n in ("F", "A")] == ["NO_DATA"] * 2
        assert rows(s, "SELECT * FROM A") == expected
    s.close()


def test_a_file_from_before_frontiers_in_history_is_migrated(db_path: Any) -> None:
    """A database written before history rows recorded consumed versions (migration 1) gets
    the column on open, and its tables refresh on from where they were."""
    import duckdb

    import snowmelt

    s = snowmelt.connect(str(db_path))
    s.sql(
        "CREATE DATABASE D; CREATE SCHEMA D.S; CREATE WAREHOUSE WH; "
        "CREATE TABLE T (K INT, V INT); INSERT INTO T VALUES (1, 1)"
    )
    create(s, "A", "SELECT K, SUM(V) AS S FROM T GROUP BY K")
    s.close()
    raw = duckdb.connect(str(db_path))
    raw.execute('ALTER TABLE "_snowmelt".refresh_history DROP COLUMN consumed')
    raw.execute("""UPDATE "_snowmelt".meta SET value = '1' WHERE key = 'migration'""")
    raw.close()
    s = snowmelt.connect(str(db_path))
    s.sql("USE SCHEMA D.S; INSERT INTO T VALUES (1, 2), (2, 5)")
    assert refresh(s, "A")["action"] == "INCREMENTAL"
    s.close()
    s = snowmelt.connect(str(db_path))
    s.sql("USE SCHEMA D.S")
    assert refresh(s, "A")["action"] == "NO_DATA"
    assert rows(s, "SELECT * FROM A") == [(1, 3), (2, 5)]
    s.close()


def test_first_contents_are_written_in_the_order_of_time_keys(s: Session) -> None:
    """An incremental table's lookups by key skip row groups only if rows of nearby keys
    sit together: its first contents are written ordered by its time-typed keys, else by
    its first time-typed column (what the tables reading it look up by)."""
    hours = [5, 1, 9, 3, 7, 2, 8, 0, 6, 4]
    s.sql(
        "INSERT INTO T (K, V, TS) VALUES "
        + ", ".join(f"({i}, {i}, '2026-01-01 {h:02d}:30:00')" for i, h in enumerate(hours))
    )
    create(s, "BY_HOUR", "SELECT DATE_TRUNC('hour', TS) AS H, K, SUM(V) AS S FROM T GROUP BY 1, 2")
    create(
        s,
        "W",
        "SELECT K, LAG(V) OVER (PARTITION BY DATE_TRUNC('hour', TS) ORDER BY TS) AS P FROM T",
    )
    # no time-typed key: the first time-typed column, which readers look rows up by
    create(s, "LINEAR", "SELECT K, V, TS FROM T WHERE V >= 0")
    create(s, "BY_K", "SELECT K, MIN(TS) AS T0, COUNT(*) AS N FROM T GROUP BY K")
    for name, key in (("BY_HOUR", '"H"'), ("W", '"_sm_pk0"'), ("LINEAR", '"TS"'), ("BY_K", '"T0"')):
        oid = s.rt.catalog.find(ObjectName("D", "S", name)).oid
        stored = [
            r[0]
            for r in s.rt.engine.rows(
                f'SELECT {key} FROM "_snowmelt_data"."t{oid}" ORDER BY "_sm_rowid"'
            )
        ]
        assert stored == sorted(stored) and len(stored) == 10, (name, stored)


def test_change_sizes_known_from_the_commit_log_match_the_stored_change(s: Session) -> None:
    """``Store.count_change`` answers from the process's commit log when it can (appends only,
    or one commit — a refresh removing then appending); over every interval of a random run
    of DML, transactions and refreshes, the answer equals a count of the stored change."""
    import random

    rng = random.Random(5)
    store, catalog = s.rt.store, s.rt.catalog
    create(s, "A", "SELECT K, SUM(V) AS S, COUNT(*) AS N FROM T GROUP BY K")
    create(s, "B", "SELECT K, S FROM A WHERE N > 1")
    versions = [catalog.current_version()]
    for step in range(30):
        roll = rng.random()
        if roll < 0.3:
            s.sql(f"INSERT INTO T (K, V) VALUES ({rng.randint(1, 6)}, {step})")
        elif roll < 0.45:
            s.sql(f"DELETE FROM T WHERE K = {rng.randint(1, 6)}")
        elif roll < 0.6:
            s.sql(f"UPDATE T SET V = V + 1 WHERE K = {rng.randint(1, 6)}")
        elif roll < 0.65:  # rows appended then removed in one commit
            k = rng.randint(7, 9)
            s.sql(
                f"BEGIN; INSERT INTO T (K, V) VALUES ({k}, 1); DELETE FROM T WHERE K = {k}; COMMIT"
            )
        elif roll < 0.72:  # ... and removed with all the others (logged, not rewritten)
            s.sql(
                f"BEGIN; INSERT INTO T (K, V) VALUES ({rng.randint(1, 9)}, 2);"
                " INSERT OVERWRITE INTO T SELECT * FROM T WHERE K < 5; COMMIT"
            )
        else:
            s.sql("ALTER DYNAMIC TABLE B REFRESH")  # A first
        versions.append(catalog.current_version())
    oids = [s.rt.resolver.lookup(ObjectName("D", "S", n)).oid for n in ("T", "A", "B")]
    known = 0
    for oid in oids:
        columns = catalog.get(oid).column_names
        for i, after in enumerate(versions):
            for upto in versions[i:]:
                counted = store.count(store.change(oid, columns, after, upto))
                assert store.count_change(oid, after, upto) == counted, (oid, after, upto)
                known += store.appends.net_change(oid, after, upto) is not None
    assert known > 100  # the log answered many of them (the rest were counted)
