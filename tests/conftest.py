"""Shared fixtures: real sessions over in-memory and on-disk DuckDB databases."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import snowmelt
from snowmelt.clock import ManualClock
from snowmelt.session import Session


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def session(clock: ManualClock) -> Iterator[Session]:
    """An in-memory database with D.S current and a warehouse WH."""
    s = snowmelt.connect(clock=clock)
    s.sql("CREATE DATABASE D; CREATE SCHEMA D.S; CREATE WAREHOUSE WH")
    yield s
    s.close()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "test.duckdb"


def bag_difference(s: Session, left: str, right: str) -> tuple[int, int]:
    """Rows in left not in right and vice versa, counting duplicates (EXCEPT ALL both ways)."""
    only_left = s.sql(f"SELECT COUNT(*) FROM (({left}) EXCEPT ALL ({right}))").scalar()
    only_right = s.sql(f"SELECT COUNT(*) FROM (({right}) EXCEPT ALL ({left}))").scalar()
    return int(only_left), int(only_right)


def assert_matches_query(s: Session, name: str) -> None:
    """A dynamic table equals its query over the snapshot at its data timestamp, as bags."""
    from sqlglot import exp

    from snowmelt.sql.parse import parse_padded

    table = parse_padded(f"SELECT * FROM {name}").find(exp.Table)
    obj = s.rt.resolver.lookup(table, ("DYNAMIC TABLE",))
    dt = s.rt.catalog.dynamic_table(obj.oid)
    expected = s.refresher.query_at(dt, dt.data_version).sql("duckdb")
    cols = ", ".join(f'"{c}"' for c in obj.column_names)
    actual = f'SELECT {cols} FROM "{obj.name.schema_key}"."{obj.name.name}"'
    diff = (int(s.rt.engine.rows(f"SELECT COUNT(*) FROM (({actual}) EXCEPT ALL ({expected}))")[0][0]),
            int(s.rt.engine.rows(f"SELECT COUNT(*) FROM (({expected}) EXCEPT ALL ({actual}))")[0][0]))
    assert diff == (0, 0), f"{name} differs from its query: {diff[0]} extra, {diff[1]} missing"
