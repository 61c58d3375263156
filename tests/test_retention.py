"""Expired history and change-log entries are forgotten; what consumers need is kept."""

from __future__ import annotations

from datetime import timedelta

import pytest

from snowmelt import retention
from snowmelt.errors import ObjectNotFound
from snowmelt.names import ObjectName
from snowmelt.testing import assert_matches_query


def _log_size(session, name="T"):
    obj = session.rt.catalog.find(ObjectName("D", "S", name))
    return session.rt.engine.rows(f'SELECT count(*) FROM "_snowmelt_data"."t{obj.oid}_dlog"')[0][0]


def test_prune_keeps_what_a_consumer_has_not_consumed(session, clock):
    session.sql("CREATE TABLE T (K INT); INSERT INTO T SELECT range FROM range(10)")
    session.sql("CREATE DYNAMIC TABLE A TARGET_LAG = '1 minute' WAREHOUSE = WH AS SELECT K FROM T")
    session.sql("DELETE FROM T WHERE K < 5")
    clock.advance(2 * 86400)
    # A has not consumed the delete yet: its log entries must stay
    assert retention.prune(session.rt, clock.now())["delete_log"] == 0
    assert _log_size(session) == 5
    session.sql("ALTER DYNAMIC TABLE A REFRESH")
    assert_matches_query(session, "A")
    # now consumed, and past the time-travel window: T's entries go (A's own log too)
    assert retention.prune(session.rt, clock.now() + timedelta(days=2))["delete_log"] >= 5
    assert _log_size(session) == 0
    session.sql("DELETE FROM T WHERE K = 9; ALTER DYNAMIC TABLE A REFRESH")
    assert_matches_query(session, "A")


def test_prune_keeps_the_time_travel_window_and_a_week_of_history(session, clock):
    session.sql("CREATE TABLE T (K INT); INSERT INTO T VALUES (1)")
    session.sql("CREATE DYNAMIC TABLE A TARGET_LAG = '1 minute' WAREHOUSE = WH AS SELECT K FROM T")
    clock.advance(3600)
    session.sql("DELETE FROM T")
    clock.advance(3600)
    assert retention.prune(session.rt, clock.now())["delete_log"] == 0  # within a day
    assert session.sql("SELECT K FROM T AT(OFFSET => -5000)").rows() == [(1,)]
    counts = retention.prune(session.rt, clock.now() + timedelta(days=8))
    assert counts["refresh_history"] == 1
    assert (
        session.sql(
            "SELECT COUNT(*) FROM TABLE(INFORMATION_SCHEMA.DYNAMIC_TABLE_REFRESH_HISTORY())"
        ).scalar()
        == 0
    )


def _physical_tables(session):
    return {
        name
        for (name,) in session.rt.engine.rows(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = '_snowmelt_data'"
        )
    }


def test_a_dropped_table_is_kept_for_undrop_until_the_time_travel_window_ends(session, clock):
    session.sql("CREATE TABLE T (K INT); INSERT INTO T VALUES (1), (2)")
    session.sql("CREATE DYNAMIC TABLE A TARGET_LAG = '1 minute' WAREHOUSE = WH AS SELECT K FROM T")
    oid = session.rt.catalog.find(ObjectName("D", "S", "T")).oid
    session.sql("DROP TABLE T")
    clock.advance(3600)
    assert retention.prune(session.rt, clock.now())["dropped_tables"] == 0  # within a day
    assert f"t{oid}" in _physical_tables(session)
    session.sql("UNDROP TABLE T")
    session.sql("DELETE FROM T WHERE K = 1; ALTER DYNAMIC TABLE A REFRESH")
    assert_matches_query(session, "A")
    session.sql("DROP TABLE T")
    counts = retention.prune(session.rt, clock.now() + timedelta(days=2))
    assert counts["dropped_tables"] == 1
    assert {f"t{oid}", f"t{oid}_dlog"}.isdisjoint(_physical_tables(session))
    with pytest.raises(ObjectNotFound, match="did not exist or was purged"):
        session.sql("UNDROP TABLE T")
    assert retention.prune(session.rt, clock.now() + timedelta(days=3))["dropped_tables"] == 0


def test_a_dropped_dynamic_table_is_kept_for_undrop_until_the_window_ends(session, clock):
    session.sql("CREATE TABLE T (K INT); INSERT INTO T VALUES (1), (2)")
    session.sql("CREATE DYNAMIC TABLE A TARGET_LAG = '1 minute' WAREHOUSE = WH AS SELECT K FROM T")
    oid = session.rt.catalog.find(ObjectName("D", "S", "A")).oid
    session.sql("DROP DYNAMIC TABLE A")
    assert retention.prune(session.rt, clock.now() + timedelta(hours=1))["dropped_tables"] == 0
    assert f"t{oid}" in _physical_tables(session)
    session.sql("UNDROP DYNAMIC TABLE A; DROP DYNAMIC TABLE A")
    assert retention.prune(session.rt, clock.now() + timedelta(days=2))["dropped_tables"] == 1
    assert {f"t{oid}", f"t{oid}_dlog"}.isdisjoint(_physical_tables(session))
    with pytest.raises(ObjectNotFound, match="did not exist or was purged"):
        session.sql("UNDROP DYNAMIC TABLE A")


def test_opening_a_database_purges_tables_dropped_before_the_window(db_path, clock):
    import snowmelt

    s = snowmelt.connect(str(db_path), clock=clock)
    s.sql("CREATE DATABASE D; CREATE SCHEMA D.S; USE SCHEMA D.S")
    s.sql("CREATE TABLE OLD (A INT); CREATE TABLE RECENT (A INT); DROP TABLE OLD")
    oid_old = s.rt.catalog.last_dropped(ObjectName("D", "S", "OLD"), "TABLE").oid
    clock.advance(2 * 86400)
    s.sql("DROP TABLE RECENT")
    s.close()
    s = snowmelt.connect(str(db_path), clock=clock)  # never served: no scheduler ran
    assert f"t{oid_old}" not in _physical_tables(s)
    s.sql("USE SCHEMA D.S; UNDROP TABLE RECENT")  # within the window: kept
    with pytest.raises(ObjectNotFound, match="did not exist or was purged"):
        s.sql("UNDROP TABLE OLD")
    s.close()
