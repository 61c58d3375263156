"""The scheduler over a real session on a ManualClock: lag, rounds, skips, failures, metrics."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta

import pytest

from snowmelt.clock import ManualClock, SystemClock
from snowmelt.names import ObjectName
from snowmelt.scheduler import Scheduler
from snowmelt.testing import bag_difference

DT = "TARGET_LAG = '{lag}' WAREHOUSE = WH"


def _oid(session, name):
    return session.rt.catalog.find(ObjectName("D", "S", name)).oid


def _dt(session, name):
    return session.rt.catalog.dynamic_table(_oid(session, name))


def _history(session, name):
    return session.sql(
        "SELECT STATE, STATE_CODE, STATE_MESSAGE, REFRESH_ACTION, REFRESH_TRIGGER, DATA_TIMESTAMP,"
        " COMPLETION_TARGET, TARGET_LAG_SEC FROM TABLE(INFORMATION_SCHEMA."
        f"DYNAMIC_TABLE_REFRESH_HISTORY(NAME => '{name}', RESULT_LIMIT => 10000))"
        " ORDER BY DATA_TIMESTAMP, REFRESH_END_TIME"
    ).dicts()


def _metrics(session, name):
    return session.sql(
        f"SELECT * FROM TABLE(INFORMATION_SCHEMA.DYNAMIC_TABLES(NAME => '{name}'))"
    ).dicts()[0]


def _pipeline(session, silver="1 second", gold="5 seconds"):
    session.sql("CREATE TABLE RAW (ID INT, V INT); INSERT INTO RAW VALUES (1, 10), (2, 20)")
    session.sql(f"CREATE DYNAMIC TABLE SILVER {DT.format(lag=silver)} AS " + SILVER_QUERY)
    session.sql(
        f"CREATE DYNAMIC TABLE GOLD {DT.format(lag=gold)} AS "
        "SELECT COUNT(*) AS N, SUM(W) AS TOTAL FROM SILVER"
    )


SILVER_QUERY = "SELECT ID, V * 2 AS W FROM RAW WHERE V > 0"
GOLD_QUERY = f"SELECT COUNT(*) AS N, SUM(W) AS TOTAL FROM ({SILVER_QUERY}) AS X"


def _assert_current(session):
    """Both tables equal their queries over the base table as it is now (bags)."""
    assert bag_difference(session, "SELECT * FROM SILVER", SILVER_QUERY) == (0, 0)
    assert bag_difference(session, "SELECT * FROM GOLD", GOLD_QUERY) == (0, 0)


def _run(scheduler, clock, seconds, step, each=None):
    ticks = int(round(seconds / step))
    for i in range(ticks):
        clock.advance(step)
        if each is not None:
            each(i)
        scheduler.run_pending()


def test_lag_stays_within_target_while_data_arrives(session, clock):
    _pipeline(session)
    scheduler = Scheduler(session.rt, session.refresher)
    worst = {"SILVER": 0.0, "GOLD": 0.0}

    def ingest_and_check(i):
        if i % 3 == 0:
            session.sql(f"INSERT INTO RAW VALUES ({i}, {i})")
        for name in worst:
            lag = (clock.now() - _dt(session, name).data_timestamp).total_seconds()
            worst[name] = max(worst[name], lag)

    _run(scheduler, clock, 32, 0.25, ingest_and_check)  # ends on a shared instant
    assert worst["SILVER"] <= 1 and worst["GOLD"] <= 5
    assert worst["GOLD"] > 1  # gold is not simply refreshed as often as silver
    for name, target in (("SILVER", 1), ("GOLD", 5)):
        metrics = _metrics(session, name)
        assert metrics["MAXIMUM_LAG_SEC"] <= target
        assert metrics["TIME_ABOVE_TARGET_LAG_SEC"] == 0
        assert metrics["TIME_WITHIN_TARGET_LAG_RATIO"] == 1.0
        assert metrics["LATEST_DATA_TIMESTAMP"] == _dt(session, name).data_timestamp
    _assert_current(session)  # the last tick refreshed both, after the last insert


def test_lag_metrics_report_time_above_target_when_ticks_are_missed(session, clock):
    _pipeline(session)
    scheduler = Scheduler(session.rt, session.refresher)
    clock.advance(0.5)
    scheduler.run_pending()
    start = clock.now()
    clock.advance(3.0)  # the scheduler did not run for 3 s: silver is 2 s above its 1 s lag
    lagging = _metrics(session, "SILVER")
    assert lagging["MAXIMUM_LAG_SEC"] == 3 and lagging["TIME_ABOVE_TARGET_LAG_SEC"] == 2
    # the window opens at the first refresh (creation, 3.5 s ago): 2 of 3.5 s above target
    assert lagging["TIME_WITHIN_TARGET_LAG_RATIO"] == pytest.approx(1 - 2 / 3.5)
    scheduler.run_pending()
    assert _dt(session, "SILVER").data_timestamp == start + timedelta(seconds=3)


def test_one_round_shares_one_data_timestamp_and_history_says_scheduled(session, clock):
    _pipeline(session)
    scheduler = Scheduler(session.rt, session.refresher)
    _run(scheduler, clock, 12, 0.5)
    silver = [h for h in _history(session, "SILVER") if h["REFRESH_TRIGGER"] == "SCHEDULED"]
    gold = [h for h in _history(session, "GOLD") if h["REFRESH_TRIGGER"] == "SCHEDULED"]
    assert len(silver) == 24 and len(gold) == 3  # periods 0.5 s and 4 s
    silver_times = {h["DATA_TIMESTAMP"] for h in silver}
    assert all(h["DATA_TIMESTAMP"] in silver_times for h in gold)  # aligned instants
    assert all(h["STATE"] == "SUCCEEDED" for h in silver + gold)
    # COMPLETION_TARGET is the previous data timestamp plus the target lag
    for rows, lag in ((silver, 1), (gold, 5)):
        for before, after in zip(rows, rows[1:], strict=False):
            assert after["COMPLETION_TARGET"] == before["DATA_TIMESTAMP"] + timedelta(seconds=lag)
            assert after["TARGET_LAG_SEC"] == lag


def test_downstream_table_refreshes_only_for_its_consumers(session, clock):
    session.sql("CREATE TABLE RAW (ID INT)")
    session.sql(
        "CREATE DYNAMIC TABLE MID TARGET_LAG = DOWNSTREAM WAREHOUSE = WH AS SELECT ID FROM RAW"
    )
    session.sql(
        "CREATE DYNAMIC TABLE ALONE TARGET_LAG = DOWNSTREAM WAREHOUSE = WH AS SELECT ID FROM RAW"
    )
    scheduler = Scheduler(session.rt, session.refresher)
    _run(scheduler, clock, 10, 0.5)
    assert len(_history(session, "MID")) == 1 and len(_history(session, "ALONE")) == 1
    session.sql(f"CREATE DYNAMIC TABLE TOP {DT.format(lag='10 seconds')} AS SELECT ID FROM MID")
    session.sql("INSERT INTO RAW VALUES (1)")
    _run(scheduler, clock, 20, 0.5)
    mid = [h for h in _history(session, "MID") if h["REFRESH_TRIGGER"] == "SCHEDULED"]
    top = [h for h in _history(session, "TOP") if h["REFRESH_TRIGGER"] == "SCHEDULED"]
    assert len(mid) == len(top) == 20 // 8  # the consumer's period (8 s for a 10 s lag)
    assert [h["DATA_TIMESTAMP"] for h in mid] == [h["DATA_TIMESTAMP"] for h in top]
    assert len(_history(session, "ALONE")) == 1  # nothing reads it: never refreshed
    assert session.sql("SELECT * FROM TOP").rows() == [(1,)]


def test_scheduler_disable_and_suspended_tables_never_auto_refresh(session, clock):
    _pipeline(session)
    session.sql("ALTER DYNAMIC TABLE SILVER SET SCHEDULER = DISABLE")
    session.sql("ALTER DYNAMIC TABLE GOLD SUSPEND")
    scheduler = Scheduler(session.rt, session.refresher)
    session.sql("INSERT INTO RAW VALUES (3, 30)")
    _run(scheduler, clock, 10, 0.5)
    assert [h["REFRESH_TRIGGER"] for h in _history(session, "SILVER")] == ["CREATION"]
    assert [h["REFRESH_TRIGGER"] for h in _history(session, "GOLD")] == ["CREATION"]
    session.sql("ALTER DYNAMIC TABLE SILVER REFRESH")  # manual still works
    session.sql("ALTER DYNAMIC TABLE GOLD RESUME")
    _run(scheduler, clock, 4, 0.5)
    gold = _history(session, "GOLD")
    assert gold[-1]["REFRESH_TRIGGER"] == "SCHEDULED" and gold[-1]["STATE"] == "SUCCEEDED"
    assert [h["REFRESH_TRIGGER"] for h in _history(session, "SILVER")] == ["CREATION", "MANUAL"]
    assert session.sql("SELECT N FROM GOLD").scalar() == 3


def test_on_schedule_table_is_initialized_by_the_first_tick(session, clock):
    session.sql("CREATE TABLE RAW (ID INT); INSERT INTO RAW VALUES (7)")
    session.sql(
        f"CREATE DYNAMIC TABLE LATER {DT.format(lag='1 hour')} INITIALIZE = ON_SCHEDULE"
        " AS SELECT ID FROM RAW"
    )
    Scheduler(session.rt, session.refresher).run_pending()
    assert session.sql("SELECT * FROM LATER").rows() == [(7,)]
    assert _history(session, "LATER")[0]["REFRESH_ACTION"] == "REINITIALIZE"


class GatedClock(ManualClock):
    """A ManualClock that parks one thread inside a refresh until the test opens the gate."""

    def __init__(self, refresher_running):
        super().__init__()
        self.running = refresher_running
        self.gated_thread = None
        self.parked = threading.Event()
        self.gate = threading.Event()

    def now(self):
        if (
            threading.current_thread() is self.gated_thread
            and self.running()
            and not self.gate.is_set()
        ):
            self.parked.set()
            self.gate.wait(10)
        return super().now()


def test_a_scheduled_refresh_of_a_table_that_is_refreshing_is_skipped(tmp_path):
    import snowmelt

    holder = {}
    clock = GatedClock(lambda: holder["s"].refresher.running)
    session = snowmelt.connect(clock=clock)
    holder["s"] = session
    session.sql("CREATE DATABASE D; CREATE SCHEMA D.S; CREATE WAREHOUSE WH")
    _pipeline(session)
    ticked = threading.Event()
    scheduler = Scheduler(
        session.rt,
        session.refresher,
        events=lambda kind, _: ticked.set() if kind == "tick" else None,
    )
    clock.advance(0.25)
    manual = threading.Thread(target=lambda: session.sql("ALTER DYNAMIC TABLE SILVER REFRESH"))
    clock.gated_thread = manual
    manual.start()
    assert clock.parked.wait(10)  # the manual refresh of SILVER is running
    clock.advance(0.5)  # SILVER's next instant comes while it is still refreshing
    result = {}
    tick = threading.Thread(target=lambda: result.update(out=scheduler.run_pending()))
    tick.start()
    assert ticked.wait(10)
    clock.gate.set()
    manual.join(10)
    tick.join(10)
    assert [(str(o.name), o.state, o.code) for o in result["out"]] == [
        ("D.S.SILVER", "SKIPPED", "PREVIOUS_REFRESH_RUNNING")
    ]
    history = _history(session, "SILVER")
    assert [(h["STATE"], h["REFRESH_TRIGGER"]) for h in history[-2:]] == [
        ("SUCCEEDED", "MANUAL"),
        ("SKIPPED", "SCHEDULED"),
    ]
    clock.advance(0.5)
    assert {o.state for o in scheduler.run_pending()} == {"SUCCEEDED"}
    session.close()


def _failing_pipeline(session):
    session.sql("CREATE TABLE SRC (ID INT, S STRING); INSERT INTO SRC VALUES (1, '10')")
    session.sql(
        f"CREATE DYNAMIC TABLE PARSED {DT.format(lag='1 second')} AS "
        "SELECT ID, CAST(S AS INT) AS N FROM SRC"
    )
    session.sql(
        f"CREATE DYNAMIC TABLE TOTAL {DT.format(lag='2 seconds')} AS SELECT SUM(N) AS T FROM PARSED"
    )
    session.sql(
        f"CREATE DYNAMIC TABLE REPORT {DT.format(lag='4 seconds')} AS SELECT T * 2 AS T2 FROM TOTAL"
    )


def _state(session, name):
    row = session.sql(f"SHOW DYNAMIC TABLES LIKE '{name}'").dicts()[0]
    dt = _dt(session, name)
    return row["scheduling_state"], dt.state_reason_code, dt.consecutive_failures


def test_failure_keeps_last_good_version_and_consumers_get_upstream_failed(session, clock):
    _failing_pipeline(session)
    scheduler = Scheduler(session.rt, session.refresher)
    session.sql("INSERT INTO SRC VALUES (2, 'abc')")
    clock.advance(2.0)
    outcomes = {str(o.name).split(".")[-1]: o for o in scheduler.run_pending()}
    assert outcomes["PARSED"].state == "FAILED" and "abc" in outcomes["PARSED"].message
    assert outcomes["TOTAL"].state == "UPSTREAM_FAILED"
    assert session.sql("SELECT * FROM PARSED").rows() == [(1, 10)]
    assert session.sql("SELECT * FROM TOTAL").rows() == [(10,)]
    last = _history(session, "TOTAL")[-1]
    assert (last["STATE"], last["STATE_CODE"], last["REFRESH_TRIGGER"]) == (
        "UPSTREAM_FAILED",
        "UPSTREAM_FAILED",
        "SCHEDULED",
    )
    # an upstream failure does not count against the consumer
    assert _dt(session, "TOTAL").consecutive_failures == 0
    assert _dt(session, "PARSED").consecutive_failures == 1


def test_five_scheduled_failures_suspend_the_table_and_its_consumers(session, clock):
    _failing_pipeline(session)
    events = []
    scheduler = Scheduler(
        session.rt,
        session.refresher,
        events=lambda kind, d: events.append(kind) if kind != "tick" else None,
    )
    session.sql("INSERT INTO SRC VALUES (2, 'abc')")
    clock.advance(0.5)
    for _ in range(4):
        scheduler.run_pending()
        clock.advance(0.5)
    assert _state(session, "PARSED") == ("ACTIVE", None, 4)
    with pytest.raises(Exception, match="abc"):
        session.sql("ALTER DYNAMIC TABLE PARSED REFRESH")  # manual errors do not count
    assert _state(session, "PARSED") == ("ACTIVE", None, 4)
    scheduler.run_pending()
    assert _state(session, "PARSED") == ("SUSPENDED", "SUSPENDED_DUE_TO_ERRORS", 5)
    assert _state(session, "TOTAL")[:2] == ("SUSPENDED", "UPSTREAM_SUSPENDED_DUE_TO_ERRORS")
    assert _state(session, "REPORT")[:2] == ("SUSPENDED", "UPSTREAM_SUSPENDED_DUE_TO_ERRORS")
    info = json.loads(_metrics(session, "PARSED")["SCHEDULING_STATE"])
    assert info["reason_message"] == "suspended due to 5 consecutive refresh errors"
    assert "suspended" in events
    before = len(_history(session, "PARSED"))
    _run(scheduler, clock, 5, 0.5)
    assert len(_history(session, "PARSED")) == before  # suspended: never scheduled
    # fix the data, resume: the cascade resumes and scheduling continues
    session.sql("DELETE FROM SRC WHERE S = 'abc'")
    session.sql("ALTER DYNAMIC TABLE PARSED RESUME")
    _run(scheduler, clock, 4, 0.5)
    assert [_state(session, n)[0] for n in ("PARSED", "TOTAL", "REPORT")] == ["ACTIVE"] * 3
    assert session.sql("SELECT * FROM REPORT").rows() == [(20,)]


@pytest.mark.parametrize("fix", ["scheduled", "manual"])
def test_any_success_resets_the_failure_count(session, clock, fix):
    _failing_pipeline(session)
    scheduler = Scheduler(session.rt, session.refresher)
    session.sql("INSERT INTO SRC VALUES (2, 'abc')")
    for _ in range(4):
        clock.advance(0.5)
        scheduler.run_pending()
    assert _dt(session, "PARSED").consecutive_failures == 4
    session.sql("UPDATE SRC SET S = '5' WHERE ID = 2")
    if fix == "manual":
        session.sql("ALTER DYNAMIC TABLE PARSED REFRESH")
    else:
        clock.advance(0.5)
        scheduler.run_pending()
    assert _dt(session, "PARSED").consecutive_failures == 0
    session.sql("UPDATE SRC SET S = 'x' WHERE ID = 2")
    for _ in range(4):
        clock.advance(0.5)
        scheduler.run_pending()
    assert _state(session, "PARSED") == ("ACTIVE", None, 4)  # counting starts again


@pytest.mark.slow
def test_background_thread_keeps_a_one_second_lag_on_the_system_clock(tmp_path):
    import snowmelt

    session = snowmelt.connect(tmp_path / "bg.duckdb", clock=SystemClock())
    session.sql("CREATE DATABASE D; CREATE SCHEMA D.S; CREATE WAREHOUSE WH")
    _pipeline(session, silver="1 second", gold="2 seconds")
    scheduler = Scheduler(session.rt, session.refresher)
    scheduler.start()
    try:
        deadline = time.monotonic() + 3
        n = 100
        while time.monotonic() < deadline:
            session.sql(f"INSERT INTO RAW VALUES ({n}, 1)")
            n += 1
            time.sleep(0.05)
        time.sleep(1.2)
        lag = (session.clock.now() - _dt(session, "SILVER").data_timestamp).total_seconds()
        assert lag <= 1.0
    finally:
        scheduler.stop()
    assert not scheduler.running
    assert session.sql("SELECT COUNT(*) FROM SILVER").scalar() == n - 100 + 2
    _assert_current(session)
    session.close()


def test_a_failed_table_is_retried_at_its_next_instant_not_at_every_tick(session, clock):
    session.sql("CREATE TABLE SRC (S STRING); INSERT INTO SRC VALUES ('1')")
    session.sql(
        f"CREATE DYNAMIC TABLE SLOW {DT.format(lag='1 minute')} AS "
        "SELECT CAST(S AS INT) AS N FROM SRC"
    )
    scheduler = Scheduler(session.rt, session.refresher)
    session.sql("INSERT INTO SRC VALUES ('abc')")
    attempts = 0
    for _ in range(120):  # two minutes of one-second ticks
        clock.advance(1)
        attempts += sum(o.state == "FAILED" for o in scheduler.run_pending())
    period = scheduler.last_decision.period[_dt(session, "SLOW").oid]
    assert period is not None and period >= 16
    # one attempt per instant of the table's period, not 120
    assert attempts <= 120 // int(period) + 1
    assert _dt(session, "SLOW").consecutive_failures == attempts
