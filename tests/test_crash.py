"""A process killed at any point leaves the database file all-or-nothing per commit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import snowmelt

ROOT = Path(__file__).resolve().parents[1]

WRITER = textwrap.dedent("""
    import sys, time
    import snowmelt
    s = snowmelt.connect(sys.argv[1])
    s.sql("USE SCHEMA D.S")
    mode = sys.argv[2]
    if mode == "hold":
        # open a commit, write a large batch, then wait to be killed before COMMIT
        with s.rt.store.write("INGEST") as commit:
            obj = s.rt.catalog.find(s.rt.resolver.object_name(
                __import__("sqlglot").exp.to_table("T")))
            s.sql("INSERT INTO T SELECT range, 'held' FROM range(200000)")
            print("written", flush=True)
            time.sleep(60)
    else:
        i = 0
        while True:  # back-to-back commits of 1000 rows each, until killed
            s.sql(f"INSERT INTO T SELECT range, 'batch{i}' FROM range(1000)")
            print(i, flush=True)
            i += 1
""")


def _setup(path: Path) -> None:
    with snowmelt.connect(path) as s:
        s.sql(
            "CREATE DATABASE D; CREATE SCHEMA D.S; CREATE WAREHOUSE WH;"
            "CREATE TABLE T (N INT, TAG STRING); INSERT INTO T VALUES (-1, 'seed')"
        )
        s.sql(
            "CREATE DYNAMIC TABLE C TARGET_LAG = '1 minute' WAREHOUSE = WH AS "
            "SELECT TAG, COUNT(*) AS N FROM T GROUP BY TAG"
        )


def _writer(path: Path, mode: str) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), mode], stdout=subprocess.PIPE, text=True, env=env
    )


@pytest.mark.slow
def test_kill_between_write_and_commit_leaves_nothing(db_path):
    _setup(db_path)
    with snowmelt.connect(db_path) as s:
        version = s.rt.store.version
    proc = _writer(db_path, "hold")
    assert proc.stdout is not None and proc.stdout.readline().strip() == "written"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with snowmelt.connect(db_path) as s:
        assert s.sql("SELECT COUNT(*) FROM D.S.T").scalar() == 1
        assert s.rt.store.version == version
        s.sql("USE SCHEMA D.S; INSERT INTO T VALUES (1, 'after')")
        assert s.rt.store.version == version + 1


@pytest.mark.slow
@pytest.mark.parametrize("after_batches", [1, 7, 25])
def test_kill_during_back_to_back_commits_keeps_whole_batches(db_path, after_batches):
    _setup(db_path)
    proc = _writer(db_path, "loop")
    assert proc.stdout is not None
    acknowledged = -1
    while acknowledged < after_batches:
        acknowledged = int(proc.stdout.readline())
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with snowmelt.connect(db_path) as s:
        s.sql("USE SCHEMA D.S")
        counts = dict(s.sql("SELECT TAG, COUNT(*) FROM T GROUP BY TAG").rows())
        counts.pop("seed")
        # every batch that exists is complete; every acknowledged batch exists
        assert all(n == 1000 for n in counts.values()), counts
        assert {f"batch{i}" for i in range(acknowledged + 1)} <= set(counts)
        # versions and data agree: each batch is one version
        tracked = s.sql("SELECT COUNT(*) FROM T").scalar()
        assert tracked == 1 + 1000 * len(counts)
        s.sql("ALTER DYNAMIC TABLE C REFRESH")
        assert dict(s.sql("SELECT TAG, N FROM C").rows()) == {**counts, "seed": 1}


@pytest.mark.slow
def test_a_locked_database_names_the_process_holding_it(db_path):
    from snowmelt.errors import DatabaseLockedError

    _setup(db_path)
    proc = _writer(db_path, "loop")
    assert proc.stdout is not None
    proc.stdout.readline()
    try:
        with pytest.raises(DatabaseLockedError, match=f"process {proc.pid}") as info:
            snowmelt.connect(db_path)
        assert info.value.holder == f"process {proc.pid}"
    finally:
        proc.kill()
        proc.wait()
