"""The scheduler's pure decisions: periods, aligned instants, DOWNSTREAM, boundaries, skips."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from snowmelt.scheduler import (
    TableState,
    aligned_instant,
    closure,
    decide,
    effective_lags,
    next_instant,
    period_for,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _state(
    oid,
    lag=None,
    kind="USER_DEFINED",
    inputs=(),
    data_ts=T0,
    state="ACTIVE",
    scheduler=None,
    initialized=True,
):
    return TableState(
        oid=oid,
        name=f"T{oid}",
        state=state,
        scheduler=scheduler,
        lag_type=kind,
        lag_sec=lag,
        data_timestamp=data_ts,
        initialized=initialized,
        inputs=tuple(inputs),
    )


@pytest.mark.parametrize(
    "lag, estimate, period",
    [
        (1, 0.05, 0.5),
        (1, 0.5, 0.25),
        (1, 0.9, 0.125),
        (5, 0.2, 4.0),
        (5, 2.0, 2.0),
        (60, 0.05, 32.0),
        (3600, 1.0, 2048.0),
    ],
)
def test_period_is_the_largest_power_of_two_that_leaves_room_for_the_refresh(lag, estimate, period):
    assert period_for(lag, estimate) == period
    # worst case: the data is one period old when the next refresh starts, plus its duration
    if period > 0.125:
        assert period + estimate < lag


def test_instants_of_longer_periods_are_instants_of_shorter_ones():
    now = T0 + timedelta(seconds=12.3)
    assert aligned_instant(now, 4.0) == T0 + timedelta(seconds=12)
    assert aligned_instant(now, 0.5) == T0 + timedelta(seconds=12)
    assert next_instant(now, 0.5) == T0 + timedelta(seconds=12.5)
    for k in range(50):
        t = aligned_instant(T0 + timedelta(seconds=k * 0.77), 4.0)
        assert aligned_instant(t, 1.0) == t and aligned_instant(t, 0.5) == t


def test_downstream_takes_the_shortest_scheduled_consumer_lag():
    states = {
        s.oid: s
        for s in [
            _state(1, kind="DOWNSTREAM"),
            _state(2, lag=30, inputs=[1]),
            _state(3, lag=10, inputs=[1]),
            _state(4, lag=2, inputs=[1], scheduler="DISABLE"),  # never refreshes: does not count
            _state(5, kind="DOWNSTREAM"),  # nothing reads it
            _state(6, kind="DOWNSTREAM"),
            _state(7, kind="DOWNSTREAM", inputs=[6]),  # a pair
        ]
    }
    lags = effective_lags(states)
    assert lags[1] == 10 and lags[5] is None and lags[6] is None and lags[7] is None


def test_a_downstream_table_is_due_only_inside_a_consumers_round():
    late = T0 - timedelta(hours=1)
    states = [_state(1, kind="DOWNSTREAM", data_ts=late), _state(2, lag=10, inputs=[1])]
    quiet = decide(states, T0 + timedelta(seconds=3))
    assert quiet.due == [] and quiet.order == []
    due = decide(states, T0 + timedelta(seconds=8))
    assert due.due == [2] and due.order == [1, 2]


def test_disabled_and_suspended_tables_are_boundaries_never_refreshed():
    states = {
        s.oid: s
        for s in [
            _state(1, scheduler="DISABLE"),
            _state(2, lag=5, inputs=[1]),
            _state(3, lag=5, state="SUSPENDED"),
            _state(4, lag=5, inputs=[3], state="SUSPENDED"),
        ]
    }
    assert closure(states, 2) == [2]
    decision = decide(states.values(), T0 + timedelta(minutes=5))
    assert decision.due == [2] and decision.order == [2]


def test_a_busy_table_and_its_consumers_in_the_round_are_skipped():
    states = [_state(1, lag=1), _state(2, lag=1, inputs=[1]), _state(3, lag=1)]
    decision = decide(states, T0 + timedelta(seconds=1), busy=[1])
    assert decision.skipped[1][0] == "PREVIOUS_REFRESH_RUNNING"
    assert decision.skipped[2][0] == "UPSTREAM_SKIPPED"
    assert decision.order == [3]


def test_never_initialized_tables_are_due_at_once_and_slow_chains_start_earlier():
    assert decide([_state(1, lag=60, initialized=False, data_ts=None)], T0).due == [1]
    states = [_state(1, lag=5), _state(2, lag=5, inputs=[1])]
    fast = decide(states, T0)
    slow = decide(states, T0, estimates={1: 1.0, 2: 1.0})
    assert fast.period[2] == 4.0 and slow.period[1] == 2.0 and slow.period[2] == 2.0
    assert slow.next_wakeup == T0 + timedelta(seconds=2)
