"""``snowmelt pipeline``: every mode, continuous runs, status, configuration and errors.

The command object is driven with click's ``CliRunner`` against real database files, and the
core loop (``pipeline.run``) directly where time (sleep) or interruption must be controlled.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from click.testing import CliRunner
from rich.console import Console

import snowmelt
from snowmelt.demo import pipeline as core
from snowmelt.demo.commands import pipeline
from snowmelt.demo.config import ENVIRONMENT, ConfigError, PipelineConfig
from snowmelt.demo.generators import KINDS, DemoGenerator, GeneratorConfig
from snowmelt.demo.reference import compare_frames
from snowmelt.errors import IngestError, SnowmeltError

REPO = Path(__file__).resolve().parents[2]
ID_COLUMN = {"sensors": "READING_ID", "transactions": "TRANSACTION_ID", "events": "EVENT_ID"}


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database with the setup script run once; tests copy it (setup takes ~1 s)."""
    path = tmp_path_factory.mktemp("template") / "setup.duckdb"
    with snowmelt.connect(path) as s:
        core.setup(s)
    return path


@pytest.fixture
def db(template: Path, tmp_path: Path) -> Path:
    """A fresh copy of the set-up database."""
    path = tmp_path / "p.duckdb"
    shutil.copyfile(template, path)
    return path


def invoke(*args: str, env: dict[str, str] | None = None) -> Any:
    clean = {name: None for name in ENVIRONMENT.values()}  # ignore the developer's own env
    result = CliRunner().invoke(pipeline, list(args), env={**clean, **(env or {})})
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def bronze(db: Path, kind: str) -> Any:
    with snowmelt.connect(db) as s:
        return s.sql(f"SELECT * FROM {core.SOURCES[kind]}").df()


def counts(db: Path) -> dict[str, int]:
    with snowmelt.connect(db) as s:
        return {k: s.sql(f"SELECT COUNT(*) FROM {t}").scalar() for k, t in core.SOURCES.items()}


def expected_rows(calls: list[tuple[str, int]], kind: str, seed: int = 42) -> Any:
    """What one fresh generator yields for ``calls``, restricted to ``kind``."""
    gen = DemoGenerator(GeneratorConfig(seed=seed))
    tables = [gen.batch(k, n) for k, n in calls]
    return pa.concat_tables([t for (k, _), t in zip(calls, tables, strict=True) if k == kind])


# ----------------------------------------------------------------------------- modes
def test_full_mode_sets_up_the_database_loads_all_feeds_and_refreshes(tmp_path: Path) -> None:
    db = tmp_path / "p.duckdb"
    result = invoke("--db", str(db), "--mode", "full", "--batch-size", "40")
    assert result.exit_code == 0, result.output
    assert "Running 01_setup_dynamic_tables.sql" in result.output
    assert "Round 1: loaded sensors 40 rows" in result.output
    assert "refreshed 7 dynamic tables" in result.output
    assert counts(db) == {"sensors": 40, "transactions": 40, "events": 40}
    with snowmelt.connect(db) as s:
        shown = s.sql(f"SHOW DYNAMIC TABLES IN DATABASE {core.DATABASE}").dicts()
        assert len(shown) == 7 and all(r["rows"] > 0 for r in shown)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_single_feed_mode_loads_only_that_feed(db: Path, kind: str) -> None:
    result = invoke("--db", str(db), "--mode", kind, "--batch-size", "25", "--no-refresh")
    assert result.exit_code == 0, result.output
    assert counts(db) == {k: 25 if k == kind else 0 for k in KINDS}


def test_repeated_runs_continue_the_generator_instead_of_repeating_it(db: Path) -> None:
    for args in (("--mode", "sensors"), ("--mode", "full"), ("--mode", "sensors")):
        result = invoke("--db", str(db), *args, "--batch-size", "30", "--no-refresh")
        assert result.exit_code == 0, result.output
    assert "Resumed the generator after 4 recorded batches" in result.output
    calls = [
        ("sensors", 30),
        ("sensors", 30),
        ("transactions", 30),
        ("events", 30),
        ("sensors", 30),
    ]
    for kind in KINDS:
        loaded = bronze(db, kind)
        assert loaded[ID_COLUMN[kind]].is_unique or kind == "transactions"
        # three separate runs load exactly what one uninterrupted generator would have made
        problems = compare_frames(loaded, expected_rows(calls, kind).to_pandas())
        assert not problems, problems
    sensors = bronze(db, "sensors")
    assert sensors["READING_ID"].nunique() == 90


def test_continuous_mode_stops_after_max_batches(db: Path) -> None:
    result = invoke(
        "--db",
        str(db),
        "--mode",
        "events",
        "--batch-size",
        "20",
        "--continuous",
        "--interval",
        "0",
        "--max-batches",
        "3",
        "--no-refresh",
    )
    assert result.exit_code == 0, result.output
    assert [int(n) for n in re.findall(r"Round (\d+):", result.output)] == [1, 2, 3]
    assert "Ingested 60 rows in 3 batches (3 rounds)" in result.output
    assert counts(db)["events"] == 60


def test_continuous_run_waits_the_interval_between_rounds_only(db: Path) -> None:
    waits: list[float] = []
    config = PipelineConfig(
        db=str(db),
        mode="sensors",
        batch_size=10,
        continuous=True,
        interval=7.5,
        max_batches=3,
        refresh="off",
    )
    with snowmelt.connect(config.db) as client:
        summary = core.run(client, config, Console(file=None, quiet=True), sleep=waits.append)
    assert waits == [7.5, 7.5] and summary.rounds == 3 and summary.rows == 30


def test_ctrl_c_ends_a_continuous_run_cleanly_and_the_next_run_continues(db: Path) -> None:
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 2:
            raise KeyboardInterrupt

    config = PipelineConfig(
        db=str(db), mode="full", batch_size=15, continuous=True, interval=1, refresh="off"
    )
    with snowmelt.connect(db) as client:
        summary = core.run(client, config, Console(quiet=True), sleep=sleep)
    assert summary.interrupted and summary.rounds == 2
    result = invoke("--db", str(db), "--mode", "sensors", "--batch-size", "15", "--no-refresh")
    assert "Resumed the generator after 6 recorded batches" in result.output
    calls = [(k, 15) for _ in range(2) for k in KINDS] + [("sensors", 15)]
    problems = compare_frames(bronze(db, "sensors"), expected_rows(calls, "sensors").to_pandas())
    assert not problems, problems


# ----------------------------------------------------------------------------- status
def test_status_prints_rows_freshness_and_last_refresh_per_layer(db: Path) -> None:
    invoke("--db", str(db), "--mode", "full", "--batch-size", "50")
    result = CliRunner().invoke(
        pipeline, ["--db", str(db), "--mode", "status"], env={"COLUMNS": "160"}
    )
    assert result.exit_code == 0, result.output
    out = result.output
    for layer in ("BRONZE", "SILVER", "GOLD"):
        assert layer in out
    lines = {line.split()[1]: line for line in out.splitlines() if line.startswith("│   ")}
    assert set(lines) == {
        "RAW_SENSOR_READINGS",
        "RAW_TRANSACTIONS",
        "RAW_CUSTOMER_EVENTS",
        "SENSOR_READINGS_CLEANED",
        "TRANSACTIONS_ENRICHED",
        "CUSTOMER_SESSIONS",
        "DEVICE_HEALTH_HOURLY",
        "DAILY_SALES_SUMMARY",
        "PRODUCT_PERFORMANCE",
        "CUSTOMER_BEHAVIOR_METRICS",
    }
    assert re.search(r"RAW_SENSOR_READINGS\s+│\s+50 │ 01-05 08:05:00", lines["RAW_SENSOR_READINGS"])
    assert re.search(r"50 │ .* │\s+\d+s / 60s │ FRESH", lines["SENSOR_READINGS_CLEANED"])
    for gold in ("DEVICE_HEALTH_HOURLY", "CUSTOMER_BEHAVIOR_METRICS"):
        assert re.search(
            r"\d+s / 300s │ FRESH +│ (FULL|INCREMENTAL|ADAPTIVE) +│ "
            r"(FULL|INCREMENTAL) \+\d+/-\d+",
            lines[gold],
        ), lines[gold]
    assert "BRONZE: 3 tables, 150 rows" in out
    assert "GOLD: 4 tables" in out and "4/4 within target lag" in out
    assert "Generator: seed 42, 3 batches recorded, simulated clock 2026-01-05 08:05:00" in out


def test_collect_status_reports_numbers_matching_the_tables(db: Path) -> None:
    invoke("--db", str(db), "--mode", "transactions", "--batch-size", "60")
    with snowmelt.connect(db) as s:
        status = core.collect_status(s, str(db))
        gold = status.table("DAILY_SALES_SUMMARY")
        assert (
            gold.rows
            == s.sql(f"SELECT COUNT(*) FROM {core.DATABASE}.GOLD.DAILY_SALES_SUMMARY").scalar()
        )
        assert status.table("RAW_TRANSACTIONS").rows == 60
        assert status.table("RAW_SENSOR_READINGS").rows == 0
        assert gold.target_lag_sec == 300 and gold.last_state == "SUCCEEDED"
        assert status.batches == 1 and status.seed == 42


def test_status_of_a_missing_database_is_a_one_line_error_and_creates_nothing(
    tmp_path: Path,
) -> None:
    db = tmp_path / "missing.duckdb"
    result = invoke("--db", str(db), "--mode", "status")
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and result.output.startswith("Error: Database file")
    assert not db.exists()


# ----------------------------------------------------------------------------- errors
def test_unknown_mode_is_a_usage_error() -> None:
    result = invoke("--mode", "bogus")
    assert result.exit_code == 2 and "Invalid value for '--mode'" in result.output


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (("--batch-size", "0"), {}, "Invalid batch size 0"),
        (("--interval", "-1"), {}, "Invalid interval -1.0"),
        ((), {"SNOWMELT_BATCH_SIZE": "many"}, "SNOWMELT_BATCH_SIZE='many' is not a whole number"),
        (
            (),
            {"SNOWMELT_SERVER": "maybe"},
            "Invalid server 'maybe': use one of auto, off, required",
        ),
    ],
)
def test_bad_settings_are_rejected_with_a_one_line_error(
    tmp_path: Path, args: tuple[str, ...], env: dict[str, str], message: str
) -> None:
    db = tmp_path / "p.duckdb"
    result = invoke("--db", str(db), *args, env=env)
    assert result.exit_code == 1 and message in result.output, result.output
    assert result.output.count("\n") == 1 and not db.exists()


def test_a_missing_bronze_table_is_rejected_with_the_fix(db: Path) -> None:
    invoke("--db", str(db), "--mode", "events", "--batch-size", "10", "--no-refresh")
    with snowmelt.connect(db) as s:
        s.sql(f"DROP TABLE {core.SOURCES['transactions']}")
    result = invoke("--db", str(db), "--mode", "full")
    assert result.exit_code == 1
    assert (
        "Bronze table DATA_ENGINEERING_DEMO.BRONZE.RAW_TRANSACTIONS does not exist" in result.output
        and "--setup" in result.output
    )
    result = invoke("--db", str(db), "--mode", "full", "--setup", "--batch-size", "10")
    assert result.exit_code == 0, result.output
    assert counts(db) == {"sensors": 10, "transactions": 10, "events": 20}


def test_a_different_seed_on_an_existing_database_is_refused(db: Path) -> None:
    invoke("--db", str(db), "--mode", "sensors", "--batch-size", "10", "--no-refresh")
    result = invoke("--db", str(db), "--mode", "sensors", "--seed", "7")
    assert result.exit_code == 1 and "from seed 42" in result.output
    assert "Use --seed 42" in result.output and counts(db)["sensors"] == 10


class _Corrupting:
    """A client that drops a column from the n-th insert, so the database rejects it."""

    def __init__(self, session: Any, bad_call: int):
        self.session, self.bad_call, self.calls = session, bad_call, 0

    def sql(self, text: str) -> Any:
        return self.session.sql(text)

    def insert(self, table: str, data: pa.Table) -> int:
        self.calls += 1
        if self.calls == self.bad_call:
            data = data.drop_columns(["_LOADED_AT"]).append_column(
                "EXTRA", pa.array(["x"] * data.num_rows)
            )
        return int(self.session.insert(table, data))

    def refresh(self, *names: str) -> Any:
        return self.session.refresh(*names)


def test_a_rejected_batch_writes_nothing_and_leaves_the_generator_consistent(db: Path) -> None:
    with snowmelt.connect(db) as s:
        client = _Corrupting(s, bad_call=2)
        p = core.Pipeline(client)
        p.ingest("sensors", 20)
        with pytest.raises(IngestError, match="EXTRA"):
            p.ingest("sensors", 20)
        assert s.sql(f"SELECT COUNT(*) FROM {core.STATE_TABLE}").scalar() == 1
        p.ingest("sensors", 20)  # resumes from the recorded state: no gap, no duplicate
        assert p.replayed == 1
    calls = [("sensors", 20), ("sensors", 20)]
    problems = compare_frames(bronze(db, "sensors"), expected_rows(calls, "sensors").to_pandas())
    assert not problems, problems


class _LostAck:
    """A client whose 2nd insert commits but the acknowledgement is lost on the way back."""

    def __init__(self, session: Any):
        self.session, self.calls = session, 0

    def sql(self, text: str) -> Any:
        return self.session.sql(text)

    def insert(self, table: str, data: pa.Table) -> int:
        self.calls += 1
        rows = int(self.session.insert(table, data))
        if self.calls == 2:
            raise SnowmeltError("Lost the connection to the snowmelt server: Broken pipe")
        return rows


def test_a_batch_with_a_lost_acknowledgement_is_never_loaded_twice(db: Path) -> None:
    with snowmelt.connect(db) as s:
        p = core.Pipeline(_LostAck(s))
        p.ingest("events", 20)
        with pytest.raises(SnowmeltError, match="Lost the connection"):
            p.ingest("events", 20)
        assert s.sql(f"SELECT COUNT(*) FROM {core.STATE_TABLE}").scalar() == 2  # claim kept
        p.ingest("events", 20)
    events = bronze(db, "events")
    assert len(events) == 60 and events["EVENT_ID"].is_unique
    problems = compare_frames(events, expected_rows([("events", 20)] * 3, "events").to_pandas())
    assert not problems, problems


def test_unknown_kind_is_rejected(db: Path) -> None:
    with (
        snowmelt.connect(db) as s,
        pytest.raises(core.PipelineError, match="Unknown data kind 'orders'"),
    ):
        core.Pipeline(s).ingest("orders", 5)


# ----------------------------------------------------------------------------- clients
class _Remote:
    """Stands in for the coming server client: same ``sql``/``insert``, not a Session."""

    def __init__(self, session: Any):
        self.session, self.statements = session, []

    def sql(self, text: str) -> Any:
        self.statements.append(text)
        return self.session.sql(text)

    def insert(self, table: str, data: Any) -> int:
        return int(self.session.insert(table, data))

    def close(self) -> None:
        self.session.close()


def test_open_client_prefers_a_running_server_and_respects_the_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = str(tmp_path / "p.duckdb")
    monkeypatch.setattr(core, "_remote_connector", lambda: None)
    with pytest.raises(core.PipelineError, match="no server client"):
        core.open_client(db, "required")
    local = core.open_client(db, "auto")
    assert not core.is_remote(local)
    local.close()
    monkeypatch.setattr(
        core, "_remote_connector", lambda: lambda path: _Remote(snowmelt.connect(path))
    )
    remote = core.open_client(db, "auto")
    assert core.is_remote(remote)
    remote.close()
    local = core.open_client(db, "off")
    assert not core.is_remote(local)
    local.close()
    monkeypatch.setattr(core, "_remote_connector", lambda: snowmelt.connect)
    with pytest.raises(core.PipelineError, match="No snowmelt server is running"):
        core.open_client(db, "required")


def test_through_a_server_client_the_pipeline_leaves_refreshes_to_the_scheduler(db: Path) -> None:
    remote = _Remote(snowmelt.connect(db))
    config = PipelineConfig(db=str(db), mode="full", batch_size=10)
    try:
        summary = core.run(remote, config, Console(quiet=True))
        assert summary.refreshes == [] and summary.rows == 30
        assert not any(s.startswith("ALTER DYNAMIC TABLE") for s in remote.statements)
        forced = core.Pipeline(remote).refresh()  # explicit --refresh: one ALTER per gold table
        assert {r.name.rsplit(".", 1)[1] for r in forced} >= {
            "DEVICE_HEALTH_HOURLY",
            "CUSTOMER_BEHAVIOR_METRICS",
            "SENSOR_READINGS_CLEANED",
        }
        assert sum(s.startswith("ALTER DYNAMIC TABLE") for s in remote.statements) == 4
    finally:
        remote.close()


# ----------------------------------------------------------------------------- configuration
def test_flags_win_over_environment_which_wins_over_defaults() -> None:
    env = {
        "SNOWMELT_DB": "env.duckdb",
        "SNOWMELT_BATCH_SIZE": "200",
        "SNOWMELT_SEED": "9",
        "SNOWMELT_INTERVAL": "2.5",
        "SNOWMELT_SERVER": "OFF",
        "SNOWMELT_REFRESH": "",
    }
    config = PipelineConfig.resolve(env, batch_size=None, seed=3, mode="events")
    assert (config.db, config.batch_size, config.seed, config.interval) == (
        "env.duckdb",
        200,
        3,
        2.5,
    )
    assert (config.server, config.refresh, config.mode, config.kinds) == (
        "off",
        "auto",
        "events",
        ("events",),
    )
    assert PipelineConfig().rounds == 1
    assert PipelineConfig(continuous=True).rounds is None
    assert PipelineConfig(continuous=True, max_batches=4).rounds == 4
    with pytest.raises(ConfigError) as err:
        PipelineConfig.resolve({"SNOWMELT_LATE_FRACTION": "2"})
    assert err.value.setting == "late_fraction" and isinstance(err.value, SnowmeltError)


def test_env_sample_documents_every_setting() -> None:
    text = (REPO / "env.sample").read_text()
    documented = set(re.findall(r"^#? ?(SNOWMELT_[A-Z_]+)=", text, re.MULTILINE))
    assert documented == set(ENVIRONMENT.values())
    values = dict(re.findall(r"^(SNOWMELT_[A-Z_]+)=(.*)$", text, re.MULTILINE))
    assert PipelineConfig.resolve(values) == PipelineConfig()  # the sample shows the defaults


# ----------------------------------------------------------------------------- snowmelt demo
def test_demo_then_pipeline_continue_one_dataset(tmp_path: Path, monkeypatch) -> None:
    from snowmelt.demo.runner import run_demo

    monkeypatch.chdir(tmp_path)
    console = Console(record=True, width=140)
    run_demo(console, "snowmelt-demo.duckdb", batches=2, batch_size=40, seed=42)
    out = console.export_text()
    for heading in (
        "Gold layer",
        "GOLD.DAILY_SALES_SUMMARY",
        "Refresh history",
        "Refreshes by action",
        "Pipeline status",
        "ROWS_INSERTED",
    ):
        assert heading in out
    assert "Round 2: loaded sensors 40 rows" in out
    db = tmp_path / "snowmelt-demo.duckdb"
    assert db.exists()
    result = invoke("--mode", "sensors", "--batch-size", "40")  # default db: the demo's file
    assert result.exit_code == 0 and "after 6 recorded batches" in result.output
    calls = [(k, 40) for _ in range(2) for k in KINDS] + [("sensors", 40)]
    problems = compare_frames(bronze(db, "sensors"), expected_rows(calls, "sensors").to_pandas())
    assert not problems, problems


# ----------------------------------------------------------------------------- a real server
@pytest.mark.slow
def test_pipeline_ingests_through_a_running_server_and_leaves_refresh_to_it(
    tmp_path: Path,
) -> None:
    """`snowmelt serve` owns the file; the pipeline finds it and talks HTTP, across an idle
    wait longer than the server's keep-alive."""
    pytest.importorskip("uvicorn", reason="the server extra (uvicorn) is not installed")
    pytest.importorskip("fastapi", reason="the server extra (fastapi) is not installed")
    from snowmelt.server import serverfile

    db = tmp_path / "served.duckdb"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p
        ),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "snowmelt.server.main", "--db", str(db)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while serverfile.live(db) is None:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "the server did not start within 30 s"
            time.sleep(0.1)
        result = invoke(
            "--db",
            str(db),
            "--mode",
            "full",
            "--batch-size",
            "30",
            "--continuous",
            "--interval",
            "6",
            "--max-batches",
            "2",
        )
        assert result.exit_code == 0, result.output
        assert "Round 2: loaded" in result.output and "refreshed" not in result.output
        status = invoke("--db", str(db), "--mode", "status")
        assert status.exit_code == 0, status.output
        assert "BRONZE: 3 tables, 180 rows" in status.output
        assert "Generator: seed 42, 6 batches recorded" in status.output
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_registered_under_the_snowmelt_group_debug_shows_the_traceback(tmp_path: Path) -> None:
    import click

    @click.group()
    @click.option("--debug", is_flag=True)
    def root(debug: bool) -> None:
        """Stands in for ``snowmelt.cli.main`` (the lead adds ``main.add_command(pipeline)``)."""

    root.add_command(pipeline)
    args = ["pipeline", "--db", str(tmp_path / "missing.duckdb"), "--mode", "status"]
    plain = CliRunner().invoke(root, args)
    assert plain.exit_code == 1 and plain.output.startswith("Error: Database file")
    debug = CliRunner().invoke(root, ["--debug", *args])
    assert isinstance(debug.exception, core.PipelineError)
