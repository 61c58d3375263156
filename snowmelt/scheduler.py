"""The target-lag scheduler: decides *when* dynamic tables refresh; ``Refresher`` does *how*.

Inputs: the catalog (each dynamic table's state, target lag, data timestamp and inputs), an
injected clock, and estimates of refresh durations learnt from history. Output: refresh
rounds run through ``Refresher.refresh(..., trigger="SCHEDULED")``, SKIPPED history rows, and
auto-suspension after repeated failures.

The rules (``shared/reference/DYNAMIC_TABLES.md`` b.7, b.8):

* **Lag** is ``now - data timestamp``; a round refreshes a table together with the dynamic
  tables it reads, all at one data timestamp, so lag is measured from the root base tables.
* **Aligned instants.** A table with target lag ``L`` refreshes at the multiples (since the
  Unix epoch) of a period ``P``: the largest power of two seconds with
  ``P + expected delay + margin <= L``, where the expected delay is the longest recent time
  from one of the table's instants to the end of its round (waiting for the engine, the
  refreshes of its upstream tables and its own). Powers of two nest, so a table with a
  longer lag refreshes at a subset of the instants of its shorter-lag upstream tables, and
  both share data timestamps. Worst-case lag is about ``P`` plus that delay, which is how
  refreshes start early enough to finish in time.
* A table is **due** when it has not refreshed since its latest aligned instant (or was
  never initialized). ``DOWNSTREAM`` tables are never due on their own: they refresh inside
  the rounds of the consumers that read them (so at the shortest consumer lag), and never
  when nothing reads them. ``SCHEDULER = DISABLE`` and suspended tables are never refreshed
  by the scheduler, and a round does not reach through them to their inputs.
* **Skips.** A table that is being refreshed (manually, in another thread) when its instant
  comes is not refreshed again: a ``SKIPPED`` row is written, and its consumers in the round
  are skipped too (``UPSTREAM_SKIPPED``).
* **Failures.** The Refresher keeps a failed table at its last good version and marks its
  consumers ``UPSTREAM_FAILED``; after 5 consecutive scheduled failures the scheduler
  suspends the table (``SUSPENDED_DUE_TO_ERRORS``), which cascades to its consumers.

``decide`` is a pure function of table states, time and estimates; ``Scheduler.run_pending``
(alias ``tick``) runs one decision and its round, so tests drive time with ``ManualClock``
and never sleep. ``Scheduler.start`` runs the same tick on a background thread for the server.
"""

from __future__ import annotations

import math
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from snowmelt import retention
from snowmelt.dynamic import suspend
from snowmelt.refresh import Refresher
from snowmelt.refresh_records import RefreshOutcome
from snowmelt.runtime import Runtime

MAX_CONSECUTIVE_FAILURES = 5
SUSPEND_CODE = "SUSPENDED_DUE_TO_ERRORS"
SUSPEND_MESSAGE = "suspended due to 5 consecutive refresh errors"

MIN_PERIOD_SEC = 0.125  # the finest refresh grid (a lag of 1 s gets a 0.5 s period)
DEFAULT_ESTIMATE_SEC = 0.05  # a table never refreshed before is assumed this fast
HISTORY_WINDOW = 8  # recent delays kept per table; the estimate is their maximum

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)

Events = Callable[[str, dict[str, Any]], None]
PRUNE_EVERY = timedelta(minutes=10)


# -- the pure part -----------------------------------------------------------------------------
@dataclass(frozen=True)
class TableState:
    """What the scheduler needs to know about one dynamic table."""

    oid: int
    name: str
    state: str  # ACTIVE | SUSPENDED
    scheduler: str | None  # None (unset) behaves as ENABLE
    lag_type: str  # USER_DEFINED | DOWNSTREAM
    lag_sec: int | None
    data_timestamp: datetime | None
    initialized: bool
    inputs: tuple[int, ...] = ()  # dynamic tables this one reads
    failed_at: datetime | None = None  # the tick of its last failed scheduled attempt

    @property
    def schedulable(self) -> bool:
        """Whether the scheduler may refresh this table at all."""
        return self.state == "ACTIVE" and self.scheduler != "DISABLE"


@dataclass
class Decision:
    """One tick's plan: which tables are due and the round that serves them."""

    now: datetime
    due: list[int] = field(default_factory=list)  # tables whose own lag needs a refresh
    order: list[int] = field(default_factory=list)  # the round, upstream first
    skipped: dict[int, tuple[str, str]] = field(default_factory=dict)  # oid -> code, message
    effective_lag: dict[int, float | None] = field(default_factory=dict)
    period: dict[int, float | None] = field(default_factory=dict)
    next_wakeup: datetime | None = None


def margin_for(lag_sec: float) -> float:
    """Slack kept below the target lag for wake-up latency and waits on the engine lock."""
    return max(0.1, 0.02 * lag_sec)


def period_for(lag_sec: float, estimate_sec: float) -> float:
    """The refresh period for a lag: the largest power of two seconds that still fits.

    >>> period_for(1, 0.05), period_for(5, 0.2), period_for(60, 0.05)
    (0.5, 4.0, 32.0)
    """
    budget = lag_sec - estimate_sec - margin_for(lag_sec)
    if budget <= MIN_PERIOD_SEC:
        return MIN_PERIOD_SEC
    return float(2.0 ** math.floor(math.log2(budget)))


def _micros(when: datetime) -> int:
    return (when - _EPOCH) // _US


def aligned_instant(now: datetime, period_sec: float) -> datetime:
    """The latest multiple of ``period_sec`` (since the Unix epoch) at or before ``now``."""
    step = round(period_sec * 1_000_000)
    return _EPOCH + (_micros(now) // step * step) * _US


def next_instant(now: datetime, period_sec: float) -> datetime:
    step = round(period_sec * 1_000_000)
    return _EPOCH + ((_micros(now) // step + 1) * step) * _US


def effective_lags(states: dict[int, TableState]) -> dict[int, float | None]:
    """Each table's lag in seconds: its own, or for DOWNSTREAM the shortest consumer lag.

    Consumers that the scheduler never refreshes (DISABLE, suspended) do not count; a
    DOWNSTREAM table that nothing scheduled reads gets ``None`` (never refreshed).
    """
    consumers: dict[int, list[int]] = {oid: [] for oid in states}
    for state in states.values():
        for source in state.inputs:
            if source in consumers:
                consumers[source].append(state.oid)
    memo: dict[int, float | None] = {}

    def lag(oid: int, visiting: frozenset[int]) -> float | None:
        if oid in memo:
            return memo[oid]
        state = states[oid]
        value: float | None = None
        if not state.schedulable:
            value = None
        elif state.lag_type != "DOWNSTREAM":
            value = float(state.lag_sec) if state.lag_sec else None
        else:
            found = [lag(c, visiting | {oid}) for c in consumers[oid] if c not in visiting]
            known = [f for f in found if f is not None]
            value = min(known) if known else None
        memo[oid] = value
        return value

    return {oid: lag(oid, frozenset()) for oid in states}


def closure(states: dict[int, TableState], oid: int) -> list[int]:
    """``oid`` and the dynamic tables it reads that a round may refresh, upstream first.

    DISABLE and suspended tables are boundaries: they are not refreshed, nor is what they read.
    """
    ordered: list[int] = []
    seen: set[int] = set()

    def visit(current: int) -> None:
        if current in seen:
            return
        seen.add(current)
        for source in states[current].inputs:
            if source in states and states[source].schedulable:
                visit(source)
        ordered.append(current)

    visit(oid)
    return ordered


def decide(
    states: Iterable[TableState],
    now: datetime,
    estimates: dict[int, float] | None = None,
    busy: Iterable[int] = (),
) -> Decision:
    """Which tables are due at ``now`` and the round that refreshes them (pure).

    ``estimates`` maps a table to the expected delay in seconds from one of its instants to
    the end of its round; ``busy`` lists tables being refreshed right now by someone else
    (they and their consumers are skipped).
    """
    by_oid = {s.oid: s for s in states}
    estimates = estimates or {}
    busy = set(busy)
    decision = Decision(now=now)
    decision.effective_lag = effective_lags(by_oid)
    wakeups: list[datetime] = []
    for oid, state in sorted(by_oid.items()):
        lag = decision.effective_lag[oid]
        if lag is None or not state.schedulable:
            decision.period[oid] = None
            continue
        round_estimate = max(estimates.get(o, DEFAULT_ESTIMATE_SEC) for o in closure(by_oid, oid))
        period = period_for(lag, round_estimate)
        decision.period[oid] = period
        if state.lag_type == "DOWNSTREAM":
            continue  # refreshed only inside its consumers' rounds
        instant = aligned_instant(now, period)
        # A failed attempt counts for its instant: the next try waits for the next instant
        # (as Snowflake retries at the next scheduled refresh), so 5 consecutive failures
        # take 5 periods, not 5 ticks.
        tried = state.failed_at is not None and state.failed_at >= instant
        if not tried and (
            not state.initialized or state.data_timestamp is None or state.data_timestamp < instant
        ):
            decision.due.append(oid)
        wakeups.append(next_instant(now, period))
    order: list[int] = []
    for oid in decision.due:
        for member in closure(by_oid, oid):
            if member not in order:
                order.append(member)
    # Skips: a table refreshing elsewhere, and every table of the round reading it.
    for oid in order:
        state = by_oid[oid]
        if oid in busy:
            decision.skipped[oid] = (
                "PREVIOUS_REFRESH_RUNNING",
                f"Skipped: a refresh of {state.name} was still running",
            )
            continue
        bad = [s for s in state.inputs if s in decision.skipped]
        if bad:
            decision.skipped[oid] = (
                "UPSTREAM_SKIPPED",
                f"Skipped: upstream dynamic table {by_oid[bad[0]].name} was skipped",
            )
    decision.order = [oid for oid in order if oid not in decision.skipped]
    decision.next_wakeup = min(wakeups) if wakeups else None
    return decision


# -- the stateful part ------------------------------------------------------------------------
class Scheduler:
    """Runs ticks: read the catalog, ``decide``, run the round, record skips and suspensions.

    Share one ``Refresher`` with everything else that refreshes (manual refreshes), so that a
    refresh running elsewhere is seen and skipped rather than run twice at once.

    >>> scheduler = Scheduler(session.rt, session.refresher)  # doctest: +SKIP
    >>> outcomes = scheduler.run_pending()  # one tick at the clock's current time
    """

    def __init__(
        self,
        rt: Runtime,
        refresher: Refresher | None = None,
        events: Events | None = None,
        max_sleep_sec: float = 1.0,
    ):
        self.rt = rt
        self.refresher = refresher or Refresher(rt)
        self.events = events
        self.max_sleep_sec = max_sleep_sec
        self.durations: dict[int, deque[float]] = {}
        self.last_decision: Decision | None = None
        self._seeded = False
        self._round = threading.Lock()  # one scheduled round at a time
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.failed_at: dict[int, datetime] = {}
        self.pruned_at: datetime | None = None

    # -- reading state ----------------------------------------------------------------------
    def states(self) -> list[TableState]:
        catalog = self.rt.catalog
        found = []
        with self.rt.store.lock:
            objects = catalog.objects(kind="DYNAMIC TABLE")
            dynamic = {o.oid for o in objects}
            for obj in objects:
                dt = catalog.dynamic_table(obj.oid)
                inputs = tuple(i for i, _, _ in catalog.inputs(obj.oid) if i in dynamic)
                found.append(
                    TableState(
                        oid=obj.oid,
                        name=str(obj.name),
                        state=dt.state,
                        scheduler=dt.scheduler,
                        lag_type=dt.target_lag_type or "USER_DEFINED",
                        lag_sec=dt.target_lag_sec,
                        data_timestamp=dt.data_timestamp,
                        initialized=dt.initialized,
                        inputs=inputs,
                        failed_at=self.failed_at.get(obj.oid),
                    )
                )
        return found

    def estimates(self) -> dict[int, float]:
        """Expected delay per table from an instant to the end of its round: the longest of
        its recent rounds."""
        if not self._seeded:
            self._seed()
        return {oid: max(d) for oid, d in self.durations.items() if d}

    def learn(self, oid: int, seconds: float) -> None:
        self.durations.setdefault(oid, deque(maxlen=HISTORY_WINDOW)).append(max(0.0, seconds))

    def _seed(self) -> None:
        """Start from the persisted history (survives restarts): how long after its data
        timestamp each recent scheduled refresh ended."""
        from snowmelt.names import META_SCHEMA

        self._seeded = True
        rows = self.rt.engine.rows(
            "SELECT oid, seconds FROM (SELECT oid, epoch(refresh_end_time) - "
            "epoch(data_timestamp) AS seconds, row_number() OVER (PARTITION BY oid ORDER BY"
            f' refresh_id DESC) AS rn FROM "{META_SCHEMA}".refresh_history WHERE state ='
            " 'SUCCEEDED' AND refresh_trigger = 'SCHEDULED') WHERE rn <= ?"
            " ORDER BY oid, rn DESC",
            [HISTORY_WINDOW],
        )
        for oid, seconds in rows:
            self.learn(int(oid), float(seconds or 0.0))

    def plan(self, now: datetime | None = None, busy: Iterable[int] = ()) -> Decision:
        """What a tick at ``now`` would do (reads the catalog, changes nothing)."""
        now = now or self.rt.clock.now()
        with self.rt.store.lock:
            return decide(self.states(), now, self.estimates(), busy)

    # -- one tick -----------------------------------------------------------------------------
    def run_pending(self, now: datetime | None = None) -> list[RefreshOutcome]:
        """Refresh whatever is due at ``now`` (default: the clock's time) in one round.

        Tables being refreshed elsewhere at this moment are recorded SKIPPED. Returns the
        outcomes (SKIPPED ones included) in round order.
        """
        now = now or self.rt.clock.now()
        busy = set(self.refresher.running)  # sampled when the tick fires, before waiting
        self._emit("tick", now=now, busy=sorted(busy))
        with self._round, self.rt.store.lock:
            decision = decide(self.states(), now, self.estimates(), busy)
            self.last_decision = decision
            outcomes = [
                self._record_skip(oid, code, message, now)
                for oid, (code, message) in decision.skipped.items()
            ]
            if decision.order:
                self._emit("round", now=now, order=decision.order, due=decision.due)
                round_outcomes = self.refresher.refresh(
                    decision.order, "SCHEDULED", include_upstream=False
                )
                self._learn_delays(decision, self.rt.clock.now())
                for outcome in round_outcomes:
                    if outcome.state == "SUCCEEDED":
                        self.failed_at.pop(outcome.oid, None)
                    else:
                        self.failed_at[outcome.oid] = now
                self._auto_suspend(round_outcomes)
                outcomes += round_outcomes
            self._maintain(now)
        return outcomes

    def _maintain(self, now: datetime) -> None:
        """Now and then, forget history and change-log entries nobody can need any more."""
        if self.pruned_at is not None and now - self.pruned_at < PRUNE_EVERY:
            return
        self.pruned_at = now
        counts = retention.prune(self.rt, now)
        if any(counts.values()):
            self._emit("pruned", **counts)

    tick = run_pending

    def _learn_delays(self, decision: Decision, end: datetime) -> None:
        """How late each table's round ended after its instant (waits included)."""
        for oid in decision.order:
            period = decision.period.get(oid)
            instant = aligned_instant(decision.now, period) if period else decision.now
            self.learn(oid, (end - instant).total_seconds())

    def _record_skip(self, oid: int, code: str, message: str, now: datetime) -> RefreshOutcome:
        rt = self.rt
        obj = rt.catalog.get(oid)
        dt = rt.catalog.dynamic_table(oid)
        outcome = RefreshOutcome(oid, obj.name, "SKIPPED", None, now, message=message, code=code)
        completion = (
            dt.data_timestamp + timedelta(seconds=dt.target_lag_sec)
            if dt.data_timestamp and dt.target_lag_sec
            else None
        )
        at = max(rt.clock.now(), now)
        with rt.engine.transaction():
            rt.catalog.add_refresh(
                {
                    "refresh_id": rt.catalog.next_refresh_id(),
                    "oid": oid,
                    "name": obj.name.name,
                    "schema_name": obj.name.schema,
                    "database_name": obj.name.database,
                    "state": "SKIPPED",
                    "state_code": code,
                    "state_message": message,
                    "query_id": str(uuid.uuid4()),
                    "data_timestamp": now,
                    "refresh_start_time": at,
                    "refresh_end_time": at,
                    "completion_target": completion,
                    "refresh_action": None,
                    "refresh_trigger": "SCHEDULED",
                    "target_lag_sec": dt.target_lag_sec,
                    "graph_history_valid_from": rt.catalog.graph_valid_from(oid),
                    "warehouse": dt.warehouse,
                    "data_version": None,
                    "commit_version": None,
                }
            )
        self._emit("skipped", oid=oid, name=str(obj.name), code=code)
        return outcome

    def _auto_suspend(self, outcomes: list[RefreshOutcome]) -> None:
        for outcome in outcomes:
            if outcome.state != "FAILED":
                continue
            dt = self.rt.catalog.dynamic_table(outcome.oid)
            if dt.state == "ACTIVE" and dt.consecutive_failures >= MAX_CONSECUTIVE_FAILURES:
                with self.rt.engine.transaction():
                    suspend(self.rt, outcome.oid, SUSPEND_CODE, SUSPEND_MESSAGE)
                self._emit(
                    "suspended",
                    oid=outcome.oid,
                    name=str(outcome.name),
                    code=SUSPEND_CODE,
                    message=outcome.message,
                )

    def _emit(self, kind: str, **details: Any) -> None:
        if self.events is not None:
            self.events(kind, details)

    # -- the background loop (server) -------------------------------------------------------
    def start(self) -> None:
        """Tick on a daemon thread until ``stop``; sleeps until the next aligned instant."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="snowmelt-scheduler", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Tick now (e.g. after a DDL change) instead of at the next planned instant."""
        self._wake.set()

    def request_stop(self) -> None:
        """Stop scheduling new rounds; a running round finishes. Safe from signal handlers."""
        self._stop.set()
        self._wake.set()

    def stop(self, timeout: float | None = None) -> None:
        """Stop and wait for a running round to finish."""
        self.request_stop()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_pending()
            except Exception as err:  # the loop is an edge: record, keep scheduling
                self._emit("error", error=f"{type(err).__name__}: {err}")
            if self._stop.is_set():
                break
            self._wake.wait(self._sleep_seconds())
            self._wake.clear()

    def _sleep_seconds(self) -> float:
        decision = self.last_decision
        if decision is None or decision.next_wakeup is None:
            return self.max_sleep_sec
        delay = (decision.next_wakeup - self.rt.clock.now()).total_seconds() + 0.001
        return min(self.max_sleep_sec, max(0.0, delay))
