"""Streams (``snowmelt/streams.py``). The oracle: a replica of a table kept by the usual CDC
MERGE from a stream equals the table after every consumption, over random inserts, deletes
and updates; reading a stream without DML, or in a transaction rolled back, moves nothing."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from snowmelt import retention
from snowmelt.errors import ObjectExists, ObjectNotFound, SqlError, UnsupportedError
from snowmelt.testing import bag_difference

APPLY = """
MERGE INTO R USING (
    SELECT * FROM S WHERE NOT (METADATA$ACTION = 'DELETE' AND METADATA$ISUPDATE)
) C ON R.ID = C.ID
WHEN MATCHED AND C.METADATA$ACTION = 'DELETE' THEN DELETE
WHEN MATCHED AND C.METADATA$ACTION = 'INSERT' THEN UPDATE SET R.V = C.V, R.NOTE = C.NOTE
WHEN NOT MATCHED AND C.METADATA$ACTION = 'INSERT' THEN INSERT (ID, V, NOTE)
    VALUES (C.ID, C.V, C.NOTE)
"""


@pytest.fixture
def s(session):
    session.sql(
        "USE SCHEMA D.S; CREATE TABLE T (ID INT, V INT, NOTE STRING);"
        "INSERT INTO T VALUES (1, 10, 'a'), (2, 20, 'b');"
        "CREATE TABLE R AS SELECT * FROM T;"
        "CREATE STREAM S ON TABLE T"
    )
    return session


def _change(s, rng: random.Random, next_id: list[int]) -> None:
    for _ in range(rng.randint(1, 4)):
        what = rng.random()
        if what < 0.45:
            next_id[0] += 1
            s.sql(f"INSERT INTO T VALUES ({next_id[0]}, {rng.randint(0, 99)}, 'n')")
        elif what < 0.7:
            s.sql(f"DELETE FROM T WHERE ID = {rng.randint(1, next_id[0])}")
        else:
            s.sql(
                f"UPDATE T SET V = V + 1, NOTE = NOTE || 'u' WHERE ID = {rng.randint(1, next_id[0])}"
            )


def test_a_replica_kept_from_the_stream_equals_the_table(s):
    rng, next_id = random.Random(7), [2]
    for _ in range(25):
        _change(s, rng, next_id)
        if rng.random() < 0.3:
            _change(s, rng, next_id)  # several commits between consumptions
        s.sql(APPLY)
        assert bag_difference(s, "SELECT * FROM R", "SELECT * FROM T") == (0, 0)
        assert s.sql("SELECT COUNT(*) FROM S").scalar() == 0  # consumed
        assert s.sql("SELECT SYSTEM$STREAM_HAS_DATA('S')").scalar() is False


def test_the_stream_shows_inserts_deletes_and_updates_and_a_query_does_not_consume(s):
    s.sql("INSERT INTO T VALUES (3, 30, 'c'); DELETE FROM T WHERE ID = 1")
    s.sql("UPDATE T SET V = 21 WHERE ID = 2")
    s.sql("INSERT INTO T VALUES (4, 40, 'gone'); DELETE FROM T WHERE ID = 4")  # nets out
    rows = s.sql(
        "SELECT ID, V, METADATA$ACTION, METADATA$ISUPDATE FROM S ORDER BY ID, METADATA$ACTION"
    ).rows()
    assert rows == [
        (1, 10, "DELETE", False),
        (2, 20, "DELETE", True),
        (2, 21, "INSERT", True),
        (3, 30, "INSERT", False),
    ]
    ids = s.sql("SELECT METADATA$ROW_ID FROM S WHERE ID = 2").rows()
    assert len({i for (i,) in ids}) == 1  # the two images of one row
    assert s.sql("SELECT SYSTEM$STREAM_HAS_DATA('S')").scalar() is True
    assert s.sql("SELECT COUNT(*) FROM S").scalar() == 4  # still there: a query reads only
    s.sql("CREATE TABLE COPY_ AS SELECT * FROM S")  # so does CTAS
    assert s.sql("SELECT COUNT(*) FROM S").scalar() == 4
    s.sql("BEGIN")
    s.sql("INSERT INTO R (ID, V, NOTE) SELECT ID, V, NOTE FROM S WHERE METADATA$ACTION = 'INSERT'")
    assert s.sql("SELECT COUNT(*) FROM S").scalar() == 4  # the transaction reads the same
    s.sql("ROLLBACK")
    assert s.sql("SELECT COUNT(*) FROM S").scalar() == 4  # rolled back: not consumed
    s.sql("BEGIN")
    s.sql("INSERT INTO R (ID, V, NOTE) SELECT ID, V, NOTE FROM S WHERE METADATA$ACTION = 'INSERT'")
    s.sql("INSERT INTO T VALUES (5, 50, 'e')")  # written in the transaction: after the offset
    s.sql("COMMIT")
    assert s.sql("SELECT ID, METADATA$ACTION FROM S").rows() == [(5, "INSERT")]
    # outside a transaction: an INSERT ... SELECT (which reads before it opens its commit),
    # a multi-table INSERT, a DELETE ... USING each consume what they read
    s.sql("INSERT INTO R (ID, V, NOTE) SELECT ID, V, NOTE FROM S")
    assert s.sql("SELECT COUNT(*) FROM S").scalar() == 0
    s.sql("INSERT INTO T VALUES (6, 60, 'f')")
    s.sql("INSERT ALL INTO R (ID, V, NOTE) VALUES (ID, V, NOTE) SELECT ID, V, NOTE FROM S")
    assert s.sql("SELECT COUNT(*) FROM S").scalar() == 0
    s.sql("DELETE FROM T WHERE ID = 6")
    s.sql("DELETE FROM R USING S WHERE R.ID = S.ID AND S.METADATA$ACTION = 'DELETE'")
    assert s.sql("SELECT COUNT(*) FROM S").scalar() == 0
    with pytest.raises(SqlError):  # a failing DML consumes nothing
        s.sql("INSERT INTO T VALUES (7, 70, 'g'); INSERT INTO R (ID) SELECT NOPE FROM S")
    assert s.sql("SELECT ID FROM S").rows() == [(7,)]


def test_append_only_initial_rows_and_time_travel_offsets(s, clock):
    clock.advance(30)
    s.sql("INSERT INTO T VALUES (9, 90, 'early')")
    clock.advance(30)
    s.sql("CREATE STREAM ADDS ON TABLE T APPEND_ONLY = TRUE")
    s.sql("CREATE STREAM ALL_ROWS ON TABLE T SHOW_INITIAL_ROWS = TRUE")
    s.sql("CREATE STREAM EARLIER ON TABLE T AT(OFFSET => -45)")  # before row 9 came
    s.sql("INSERT INTO T VALUES (3, 30, 'c'); UPDATE T SET V = 11 WHERE ID = 1")
    s.sql("INSERT INTO T VALUES (4, 40, 'd'); DELETE FROM T WHERE ID IN (2, 4)")
    # append-only: rows inserted since, whatever happened to them; not the update
    assert sorted(s.sql("SELECT ID, V, METADATA$ACTION FROM ADDS").rows()) == [
        (3, 30, "INSERT"),
        (4, 40, "INSERT"),
    ]
    expected = sorted((i, v, "INSERT") for i, v in s.sql("SELECT ID, V FROM T").rows())
    assert sorted(s.sql("SELECT ID, V, METADATA$ACTION FROM ALL_ROWS").rows()) == expected
    assert sorted(s.sql("SELECT ID, V, METADATA$ACTION FROM EARLIER").rows()) == [
        (1, 10, "DELETE"),  # the update's two images
        (1, 11, "INSERT"),
        (2, 20, "DELETE"),
        (3, 30, "INSERT"),
        (9, 90, "INSERT"),
    ]
    shown = {r["name"]: r for r in s.sql("SHOW STREAMS").dicts()}
    assert shown["ADDS"]["mode"] == "APPEND_ONLY" and shown["S"]["mode"] == "DEFAULT"
    assert shown["S"]["table_name"] == "D.S.T" and shown["S"]["stale"] == "false"
    assert s.sql("DESCRIBE STREAM ADDS").dicts()[0]["source_type"] == "Table"


def test_a_stream_keeps_the_change_log_it_has_not_consumed(s, clock):
    s.sql("DELETE FROM T WHERE ID = 1")
    retention.prune(s.rt, clock.now() + timedelta(days=3))  # past the time-travel window
    assert s.sql("SELECT ID, METADATA$ACTION FROM S").rows() == [(1, "DELETE")]


def test_a_stream_not_consumed_for_14_days_goes_stale_and_frees_the_log(s, clock):
    day = 24 * 3600
    s.sql("CREATE TABLE SINK (ID INT); CREATE STREAM KEPT ON TABLE T")
    (row,) = s.sql("SHOW STREAMS LIKE 'S'").dicts()
    assert row["stale"] == "false" and row["stale_after"] == clock.now() + timedelta(days=14)
    s.sql("DELETE FROM T WHERE ID = 1")
    clock.advance(10 * day)
    s.sql("INSERT INTO SINK SELECT ID FROM KEPT")  # consumed: fresh for 14 days from now
    clock.advance(5 * day)  # S: 15 days unconsumed
    shown = {r["name"]: r for r in s.sql("SHOW STREAMS").dicts()}
    assert shown["S"]["stale"] == "true" and shown["KEPT"]["stale"] == "false"
    assert shown["KEPT"]["stale_after"] == clock.now() + timedelta(days=9)
    with pytest.raises(SqlError, match=r"Stream D\.S\.S is stale since .*not consumed within 14"):
        s.sql("SELECT * FROM S")
    with pytest.raises(SqlError, match=r"is stale"):
        s.sql("SELECT SYSTEM$STREAM_HAS_DATA('S')")
    # the stale stream no longer holds the delete log back; the fresh one still does
    s.sql("DELETE FROM T WHERE ID = 2")
    retention.prune(s.rt, clock.now() + timedelta(days=3))
    assert s.sql("SELECT ID, METADATA$ACTION FROM KEPT").rows() == [(2, "DELETE")]
    s.sql("INSERT INTO SINK SELECT ID FROM KEPT")  # consumed, nothing holds the log
    log = s.rt.engine.rows(f'SELECT COUNT(*) FROM "_snowmelt_data"."t{_oid(s, "T")}_dlog"')
    retention.prune(s.rt, clock.now() + timedelta(days=3))
    assert (
        s.rt.engine.rows(f'SELECT COUNT(*) FROM "_snowmelt_data"."t{_oid(s, "T")}_dlog"') < log
    )  # the stale stream's offset did not pin it
    s.sql("CREATE OR REPLACE STREAM S ON TABLE T")  # made anew: fresh, from now
    assert s.sql("SELECT COUNT(*) FROM S").scalar() == 0
    assert s.sql("SHOW STREAMS LIKE 'S'").dicts()[0]["stale"] == "false"


def _oid(s, name):
    from snowmelt.names import ObjectName

    return s.rt.resolver.lookup(ObjectName("D", "S", name)).oid


def test_a_stream_on_a_dynamic_table_follows_its_refreshes(s):
    s.sql(
        "CREATE DYNAMIC TABLE TOTALS TARGET_LAG = '1 minute' WAREHOUSE = WH AS"
        " SELECT NOTE, SUM(V) AS V FROM T GROUP BY NOTE;"
        "CREATE STREAM TS ON DYNAMIC TABLE TOTALS;"
        "INSERT INTO T VALUES (3, 5, 'a'); ALTER DYNAMIC TABLE TOTALS REFRESH"
    )
    rows = s.sql("SELECT NOTE, V, METADATA$ACTION, METADATA$ISUPDATE FROM TS ORDER BY 3").rows()
    assert rows == [("a", 10, "DELETE", True), ("a", 15, "INSERT", True)]


def test_bad_streams_say_what_is_wrong(s):
    s.sql("CREATE VIEW W AS SELECT * FROM T")
    with pytest.raises(UnsupportedError, match="STREAM ON VIEW is not supported by snowmelt"):
        s.sql("CREATE STREAM X ON VIEW W")
    with pytest.raises(ObjectNotFound, match="Table or dynamic table 'D.S.NOPE' does not exist"):
        s.sql("CREATE STREAM X ON TABLE NOPE")
    with pytest.raises(ObjectExists, match="already exists"):
        s.sql("CREATE STREAM S ON TABLE T")
    with pytest.raises(SqlError, match="A stream takes APPEND_ONLY"):
        s.sql("CREATE STREAM X ON TABLE T BOGUS = 1")
    s.sql("CREATE OR REPLACE TABLE T (ID INT)")
    with pytest.raises(SqlError, match="the table it is on was dropped or replaced"):
        s.sql("SELECT * FROM S")
    assert s.sql("SHOW STREAMS LIKE 'S'").dicts()[0]["stale"] == "true"
    s.sql("DROP STREAM S; DROP STREAM IF EXISTS S")
    with pytest.raises(ObjectNotFound, match="Stream 'D.S.S' does not exist"):
        s.sql("DROP STREAM S")
