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
