"""Fixtures and helpers of the incremental-compiler tests.

``Twin`` runs the same statements on two databases: the *subject* maintains dynamic tables
incrementally; the *shadow* never refreshes anything — its dynamic tables are plain views —
so evaluating a table's SQL there is an independent from-scratch answer over the same data.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

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


def history(s: Session, name: str) -> list[dict[str, Any]]:
    rows = s.sql("SELECT REFRESH_ACTION, STATE, STATE_MESSAGE, STATISTICS FROM TABLE("
                 f"INFORMATION_SCHEMA.DYNAMIC_TABLE_REFRESH_HISTORY(NAME => '{name}')) "
                 "ORDER BY REFRESH_START_TIME, DATA_TIMESTAMP").df()
    return rows.to_dict("records")


class Twin:
    """A subject database and its shadow, fed the same statements.

    Opening two databases costs more than a generated case, so one pair serves many cases:
    ``begin`` gives each case its own snowmelt database (``CASE<n>.S``) and ``end`` drops it.
    """

    def __init__(self, clock: ManualClock):
        self.clock = clock
        self.subject = snowmelt.connect(clock=clock)
        self.shadow = snowmelt.connect(clock=ManualClock(clock.now()))
        self.script: list[str] = []
        self.views: dict[str, str] = {}
        self.defined: dict[str, str] = {}  # shadow view name -> its current SQL
        self.cases = 0
        self.database = "D"
        for s in (self.subject, self.shadow):
            s.sql("CREATE WAREHOUSE WH")

    def begin(self) -> None:
        self.cases += 1
        self.database = f"CASE{self.cases}"
        self.script, self.views, self.defined = [], {}, {}
        for s in (self.subject, self.shadow):
            s.sql(f"CREATE DATABASE {self.database}; CREATE SCHEMA {self.database}.S; "
                  f"USE SCHEMA {self.database}.S")

    def end(self) -> None:
        for s in (self.subject, self.shadow):
            s.sql(f"DROP DATABASE IF EXISTS {self.database}")

    def relation(self, name: str) -> str:
        """The engine relation (a DuckDB view) of table ``name`` in the current case."""
        return f'"{self.database}.S"."{name}"'

    def close(self) -> None:
        self.subject.close()
        self.shadow.close()

    def both(self, sql: str) -> None:
        self.script.append(sql + ";")
        self.subject.sql(sql)
        self.shadow.sql(sql)

    def create(self, name: str, template: str, mode: str = "INCREMENTAL") -> None:
        text = template.replace(NOW, "CURRENT_TIMESTAMP()")
        sql = f"CREATE DYNAMIC TABLE {name} {DT.format(mode=mode)} AS {text}"
        self.script.append(sql + ";")
        self.subject.sql(sql)
        self.views[name] = template

    def expected_sql(self, name: str, when: datetime) -> str:
        literal = f"'{when.astimezone(UTC).isoformat(sep=' ')}'::TIMESTAMP_LTZ"
        return self.views[name].replace(NOW, literal)

    def shadow_views(self, times: dict[str, datetime]) -> None:
        """(Re)define every dynamic table as a view on the shadow, its CURRENT_TIMESTAMP
        bound to the statement time of the table's data version."""
        for name in self.views:
            sql = self.expected_sql(name, times[name])
            if self.defined.get(name) != sql:  # only time-dependent views change
                self.shadow.sql(f"CREATE OR REPLACE VIEW {name} AS {sql}")
                self.defined[name] = sql

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
        extra = engine.rows(f"SELECT COUNT(*) FROM (({left}) EXCEPT ALL ({right}))")[0][0]
        missing = engine.rows(f"SELECT COUNT(*) FROM (({right}) EXCEPT ALL ({left}))")[0][0]
        sample = []
        if extra or missing:
            sample = engine.rows(f"(({left}) EXCEPT ALL ({right})) LIMIT 5") + [("--",)] + \
                engine.rows(f"(({right}) EXCEPT ALL ({left})) LIMIT 5")
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
    extra = engine.rows(f"SELECT COUNT(*) FROM (({actual}) EXCEPT ALL ({expected}))")[0][0]
    missing = engine.rows(f"SELECT COUNT(*) FROM (({expected}) EXCEPT ALL ({actual}))")[0][0]
    return int(extra), int(missing)
