"""A small on-disk pipeline in each state the monitor must tell apart.

``RAW.CODES`` (base) -> ``SILVER.PARSED`` (``CAST(S AS INT)``, 1 hour) -> ``GOLD.COUNTS``
(2 hours). A non-numeric code makes the PARSED refresh fail.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import snowmelt
from snowmelt.clock import Clock, ManualClock
from snowmelt.errors import RefreshError

PIPELINE = """
CREATE DATABASE D;
CREATE SCHEMA D.RAW;
CREATE SCHEMA D.SILVER;
CREATE SCHEMA D.GOLD;
CREATE WAREHOUSE WH;
CREATE TABLE D.RAW.CODES (S VARCHAR) COMMENT = 'codes as they arrive';
INSERT INTO D.RAW.CODES VALUES ('1'), ('2'), ('2');
CREATE DYNAMIC TABLE D.SILVER.PARSED TARGET_LAG = '1 hour' WAREHOUSE = WH
    AS SELECT CAST(S AS INT) AS CODE FROM D.RAW.CODES;
CREATE DYNAMIC TABLE D.GOLD.COUNTS TARGET_LAG = '2 hours' WAREHOUSE = WH
    AS SELECT CODE, COUNT(*) AS N FROM D.SILVER.PARSED GROUP BY CODE;
"""
PARSED, COUNTS = "D.SILVER.PARSED", "D.GOLD.COUNTS"


def build(path: Path, state: str = "healthy", clock: Clock | None = None) -> Path:
    """Create the pipeline at ``path`` and put it in ``state``."""
    with snowmelt.connect(path, clock=clock) as s:
        s.execute_all(PIPELINE)
        if state == "failing":
            s.sql("INSERT INTO D.RAW.CODES VALUES ('not a number')")
            with pytest.raises(RefreshError):
                s.sql(f"ALTER DYNAMIC TABLE {PARSED} REFRESH")
        elif state == "suspended":
            s.sql(f"ALTER DYNAMIC TABLE {PARSED} SUSPEND")
        elif state == "over_lag":
            assert clock is not None, "over_lag needs a clock in the past"
    return path


def make_pipeline(directory: Path, state: str = "healthy") -> Path:
    clock = None
    if state == "over_lag":  # refreshed 3 hours ago (real time): both lags are exceeded
        clock = ManualClock(datetime.now(UTC) - timedelta(hours=3))
    return build(directory / f"{state}.duckdb", state, clock)
