"""``python -m bench.profile`` at a tiny size: it records every statement of each refresh,
splits them with DuckDB's profiler, and leaves the engine as it found it."""

from __future__ import annotations

import re

import pytest

from bench import medallion, profile


def test_profile_reports_every_table_and_the_split(capsys: pytest.CaptureFixture[str]) -> None:
    profile.main(["--size", "2e4", "--top", "3"])
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line[:1].isupper()}
    for name in medallion.TABLES:
        assert name in rows, out
        refresh_ms, statements, statement_ms = map(float, rows[name][1:4])
        assert statements >= 3 and 0 < statement_ms <= refresh_ms
    dag = rows["DAG"]
    split = [float(x) for x in dag[6:]]
    assert len(split) == len(profile.PHASES) and all(x >= 0 for x in split) and sum(split) > 0
    assert re.search(r"The 3 slowest statements", out)


def test_recording_restores_the_engine() -> None:
    import snowmelt

    s = snowmelt.connect()
    engine = s.rt.engine
    with profile.recording(engine, profile=True) as found:
        s.sql("CREATE DATABASE D; CREATE SCHEMA D.S; USE SCHEMA D.S; CREATE TABLE T (A INT)")
        s.sql("INSERT INTO T VALUES (1), (2)")
        assert s.sql("SELECT COUNT(*) FROM T").scalar() == 2  # results survive the tracing
    assert found and all(f.wall_ms >= 0 and f.phases for f in found)
    assert "_run" not in vars(engine) and "query" not in vars(engine)
    assert s.sql("SELECT SUM(A) FROM T").scalar() == 3
    s.close()
