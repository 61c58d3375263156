"""Fixtures and helpers of the incremental-compiler tests.

``Solo`` is the differential oracles' harness: one database for many generated cases, and
for each dynamic table the independent from-scratch answer — its own SQL over the base tables
as of its data version, upstream dynamic tables expanded into their SQL.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings

import snowmelt
from snowmelt.clock import ManualClock
from snowmelt.session import Session

SETUP = "CREATE DATABASE D; CREATE SCHEMA D.S; CREATE WAREHOUSE WH; USE SCHEMA D.S"
DT = "TARGET_LAG = '1 minute' WAREHOUSE = WH REFRESH_MODE = {mode}"
NOW = "{NOW}"  # stands for CURRENT_TIMESTAMP() in a query template


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 1, 1, 12, tzinfo=UTC))


@pytest.fixture
def session(clock: ManualClock) -> Iterator[Session]:
    s = snowmelt.connect(clock=clock)
    s.sql(SETUP)
    yield s
    s.close()


@contextlib.contextmanager
def sent_statements(s: Session) -> Iterator[list[str]]:
    """The SQL of every statement the session's engine runs inside the block, in order."""
    engine = s.rt.engine
    sent: list[str] = []
    execute, rows = engine.execute, engine.rows

    def spy(call: Callable[..., Any]) -> Callable[..., Any]:
        def wrapped(sql: Any, *args: Any, **kwargs: Any) -> Any:
            sent.append(str(sql))
            return call(sql, *args, **kwargs)

        return wrapped

    engine.execute, engine.rows = spy(execute), spy(rows)  # type: ignore[method-assign]
    try:
        yield sent
    finally:
        engine.execute, engine.rows = execute, rows  # type: ignore[method-assign]


def history(s: Session, name: str) -> list[dict[str, Any]]:
    rows = s.sql(
        "SELECT REFRESH_ACTION, STATE, STATE_MESSAGE, STATISTICS FROM TABLE("
        f"INFORMATION_SCHEMA.DYNAMIC_TABLE_REFRESH_HISTORY(NAME => '{name}')) "
        "ORDER BY REFRESH_START_TIME, DATA_TIMESTAMP"
    ).df()
    return rows.to_dict("records")


@functools.lru_cache(maxsize=512)
def _translated(sql: str) -> Any:
    """A stored query translated for the engine (shared: callers copy it)."""
    from snowmelt.sql.parse import parse_padded
    from snowmelt.sql.translate import to_duckdb

    return to_duckdb(parse_padded(sql))


class Solo:
    """One database for many generated cases, and the from-scratch answer for each table.

    Opening a database costs more than a generated case, so one serves them all: ``begin``
    gives each case its own schema (``O.C<n>``) and ``end`` drops it. ``expected`` is a
    table's own SQL over the base tables as of its data version — upstream dynamic tables
    expanded into their SQL, each with ``CURRENT_TIMESTAMP`` bound to the statement time of
    its own data version — so no refresh machinery stands behind the answer.
    """

    def __init__(self, clock: ManualClock):
        self.clock = clock
        self.session = snowmelt.connect(clock=clock)
        self.session.sql("CREATE WAREHOUSE WH; CREATE DATABASE O")
        self.script: list[str] = []
        self.cases = 0

    def begin(self) -> None:
        self.cases += 1
        self.script = []
        self.run(f"CREATE SCHEMA O.C{self.cases}")
        self.run(f"USE SCHEMA O.C{self.cases}")

    def end(self) -> None:
        self.session.sql(f"DROP SCHEMA IF EXISTS O.C{self.cases}")

    def close(self) -> None:
        self.session.close()

    def run(self, sql: str) -> None:
        self.script.append(sql + ";")
        self.session.sql(sql)

    def create(self, name: str, template: str, mode: str = "INCREMENTAL") -> None:
        text = template.replace(NOW, "CURRENT_TIMESTAMP()")
        self.run(f"CREATE DYNAMIC TABLE {name} {DT.format(mode=mode)} AS {text}")

    def oid(self, name: str) -> int:
        from sqlglot import exp

        return int(self.session.rt.resolver.lookup(exp.to_table(name)).oid)

    def expected(self, oid: int) -> str:
        """Engine SQL of table ``oid``'s query from scratch (see the class docstring)."""
        from snowmelt.catalog import CatalogObject
        from snowmelt.ivm.api import bind_time
        from snowmelt.sql.parse import parse_padded

        rt = self.session.rt
        version = rt.catalog.dynamic_table(oid).data_version
        # queries that do not read the clock are translated once (and their sources bound
        # after), which keeps a check to a few milliseconds
        fast = not self._reads_the_clock(oid)

        def expand(table_oid: int) -> Any:
            dt = rt.catalog.dynamic_table(table_oid)
            if fast:
                query = _translated(dt.query_sql).copy()
            else:
                query = bind_time(
                    parse_padded(dt.query_sql), rt.catalog.version_time(dt.data_version)
                )

            def source(obj: CatalogObject, table: Any) -> Any:
                if obj.kind == "DYNAMIC TABLE":
                    return expand(obj.oid)
                return rt.store.snapshot(obj.oid, obj.column_names, version)

            return rt.resolver.bind(query, source, inline_views=True)

        expanded = expand(oid)
        return str((expanded if fast else rt.to_engine(expanded)).sql("duckdb"))

    def _reads_the_clock(self, oid: int) -> bool:
        """Whether table ``oid`` or a dynamic table upstream of it reads the current time."""
        rt = self.session.rt
        dt = rt.catalog.dynamic_table(oid)
        if dt.plan.get("time_dependent") or "CURRENT_" in dt.query_sql.upper():
            return True
        return any(
            self._reads_the_clock(i)
            for i, _, _ in rt.catalog.inputs(oid)
            if rt.catalog.get(i).kind == "DYNAMIC TABLE"
        )

    def check(
        self, names: list[str], context: str, one_round: bool = True, state: bool = True
    ) -> None:
        """Every table equals its query from scratch (bags); with ``state``, its physical
        rows, hidden state included, equal its plan from scratch too."""
        s = self.session
        oids = {name: self.oid(name) for name in names}
        times = {
            name: s.rt.catalog.version_time(s.rt.catalog.dynamic_table(oid).data_version)
            for name, oid in oids.items()
        }
        if one_round:
            assert len(set(times.values())) == 1, f"{context}: one round at several times {times}"
        for name, oid in oids.items():
            obj = s.rt.catalog.get(oid)
            expected = s.rt.engine.query(self.expected(oid))
            cols = ", ".join(f'"{c}"' for c in obj.column_names)
            actual = f'SELECT {cols} FROM "{obj.name.schema_key}"."{obj.name.name}"'
            extra, missing, sample = bag_diff(s, actual, expected)
            assert (extra, missing) == (0, 0), (
                f"{context}: {name} has {extra} extra and {missing} missing rows; sample "
                f"(extra -- missing): {sample}\n--- replay ---\n{self.replay()}"
            )
            assert not state or physical_diff(s, name) == (0, 0), (
                f"{context}: hidden state of {name} drifted from its plan\n--- replay ---\n"
                f"{self.replay()}"
            )

    def replay(self) -> str:
        return "\n".join(self.script)


def bag_diff(s: Session, actual: str, expected_table: Any) -> tuple[int, int, list[Any]]:
    """(rows only in actual, rows only in expected, a sample), as bags: EXCEPT ALL both ways.

    DOUBLE columns are compared rounded to 9 significant digits (AVG computed as SUM/COUNT
    may differ from a one-pass AVG in the last bit)."""
    engine = s.rt.engine
    with engine.register("_oracle_expected", expected_table):
        names = [f.name for f in expected_table.schema]
        types = {f.name: str(f.type) for f in expected_table.schema}

        def cols(alias: str) -> str:
            out = []
            for i, n in enumerate(names):
                ref = f'{alias}."{n}"' if alias == "e" else f"a.c{i}"
                if types[n] in ("double", "float"):
                    ref = f"CASE WHEN {ref} = 0 THEN 0 ELSE round({ref}, 9 - CAST(ceil(log10(abs({ref}))) AS INT)) END"
                out.append(ref)
            return ", ".join(out)

        renamed = f"SELECT * FROM ({actual}) AS a({', '.join(f'c{i}' for i in range(len(names)))})"
        left = f"SELECT {cols('a')} FROM ({renamed}) AS a"
        right = f'SELECT {cols("e")} FROM "_oracle_expected" AS e'
        extra, missing = engine.rows(
            f"SELECT (SELECT COUNT(*) FROM (({left}) EXCEPT ALL ({right}))), "
            f"(SELECT COUNT(*) FROM (({right}) EXCEPT ALL ({left})))"
        )[0]
        sample = []
        if extra or missing:
            sample = (
                engine.rows(f"(({left}) EXCEPT ALL ({right})) LIMIT 5")
                + [("--",)]
                + engine.rows(f"(({right}) EXCEPT ALL ({left})) LIMIT 5")
            )
        return int(extra), int(missing), sample


def physical_diff(s: Session, name: str) -> tuple[int, int]:
    """The physical table (user + hidden state columns) against its plan evaluated from
    scratch at its data version: hidden state must never drift."""
    from sqlglot import exp

    obj = s.rt.resolver.lookup(exp.to_table(name), ("DYNAMIC TABLE",))
    dt = s.rt.catalog.dynamic_table(obj.oid)
    names = obj.column_names + [c["name"] for c in dt.plan.get("state_columns", [])]
    expected = s.refresher.query_at(dt, dt.data_version).sql("duckdb")
    cols = ", ".join(f'"{c}"' for c in names)
    actual = f'SELECT {cols} FROM "_snowmelt_data"."t{obj.oid}"'
    engine = s.rt.engine
    extra, missing = engine.rows(
        f"SELECT (SELECT COUNT(*) FROM (({actual}) EXCEPT ALL ({expected}))), "
        f"(SELECT COUNT(*) FROM (({expected}) EXCEPT ALL ({actual})))"
    )[0]
    return int(extra), int(missing)


# -- pieces of the generated oracle suites (test_oracle, test_oracle_joins) --------------------
def lit(value: Any) -> str:
    """A SQL literal of a generated value."""
    if value is None:
        return "NULL"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return str(value)


def is_(column: str, value: Any) -> str:
    """``column`` equals ``value``, NULL included."""
    return f"{column} IS NULL" if value is None else f"{column} = {lit(value)}"


_HARNESSES: dict[str, Solo] = {}


def shared_harness(module: str) -> Solo:
    """The one database the generated cases of ``module`` share."""
    if module not in _HARNESSES:
        _HARNESSES[module] = Solo(ManualClock(datetime(2026, 1, 1, 12, tzinfo=UTC)))
    return _HARNESSES[module]


def oracle_settings(examples: int) -> Callable[[Any], Any]:
    """Hypothesis settings of a generated oracle: ``examples`` derandomized cases, shrunk on
    failure unless ``SNOWMELT_ORACLE_SHRINK=0``."""
    phases = [Phase.explicit, Phase.generate]
    if os.environ.get("SNOWMELT_ORACLE_SHRINK", "1") != "0":
        phases.append(Phase.shrink)
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        phases=phases,
        report_multiple_bugs=False,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def refresh_rounds(
    harness: Solo,
    names: list[str],
    steps: Sequence[tuple[list[Any], int]],
    op_sql: Callable[[Any, Solo], str | None],
) -> None:
    """Created tables ``names`` through the change stream ``steps`` (per round: operations
    and seconds the clock moves first): after each round's refresh, every table equals its
    from-scratch answer; after the last, its hidden state too (it never heals once it
    drifts)."""
    oids = [harness.oid(n) for n in names]
    for number, (ops, seconds) in enumerate(steps, 1):
        harness.clock.advance(seconds + 1)
        for op in ops:
            sql = op_sql(op, harness)
            if sql is not None:
                harness.clock.advance(1)
                harness.run(sql)
        harness.clock.advance(1)
        harness.script.append(f"-- refresh round {number}: " + ", ".join(names))
        for outcome in harness.session.refresher.refresh(oids, "MANUAL"):
            assert outcome.state == "SUCCEEDED", (
                f"refresh of {outcome.name} failed: {outcome.message}\n--- replay ---\n"
                f"{harness.replay()}"
            )
            assert outcome.action in ("INCREMENTAL", "NO_DATA"), outcome.action
        harness.check(names, f"after refresh round {number}", state=number == len(steps))


def run_pipeline(
    module: str,
    setup: list[str],
    pipeline: list[tuple[str, str]],
    steps: Sequence[tuple[list[Any], int]],
    op_sql: Callable[[Any, Solo], str | None],
    report: Callable[[str], Any],
) -> None:
    """One generated case in its own schema of ``module``'s shared database: the ``setup``
    statements, the dynamic tables of ``pipeline`` (checked as created), then the change
    stream ``steps`` (``refresh_rounds``). ``report`` receives the replayable script."""
    harness = shared_harness(module)
    harness.begin()
    try:
        for sql in setup:
            harness.run(sql)
        names = [name for name, _ in pipeline]
        for name, query in pipeline:
            harness.clock.advance(1)
            harness.create(name, query)
        report(harness.replay())
        harness.check(names, "after CREATE", one_round=False, state=False)
        refresh_rounds(harness, names, steps, op_sql)
    finally:
        harness.end()
