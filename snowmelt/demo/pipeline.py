"""The demo's ingestion pipeline: the seed's ``data_pipeline.py`` on snowmelt.

Role: generate batches of sensor readings, POS transactions and clickstream events with
:class:`~snowmelt.demo.generators.DemoGenerator` and load them into the bronze tables of
``DATA_ENGINEERING_DEMO``, one atomic insert per batch, optionally refreshing the dynamic
tables downstream; and report the pipeline's status per layer (rows, latest data, lag
against the target lag, last refresh action). The status report and the database layout it
walks live in :mod:`snowmelt.demo.status`; their public names are re-exported here.

Inputs: a *client* with ``.sql(text)`` and ``.insert(table, arrow)`` -- an embedded
``snowmelt.connect(db)`` session, or a server client with the same two methods (see
:func:`open_client`) -- and a :class:`~snowmelt.demo.config.PipelineConfig`. Outputs:
:class:`BatchReport` / :class:`PipelineStatus` values; progress goes to a rich console.

**The generator continues across runs.** ``DemoGenerator`` is deterministic and stateful
(ids, simulated clock, open shopping sessions, stuck sensors, ...), so two runs that each
started it afresh would load the same ids and timestamps twice. Every batch is therefore
recorded in ``BRONZE._PIPELINE_STATE`` (sequence number, kind, row count, seed, late
fraction, simulated time); a new run re-creates the generator from the recorded seed and
replays the recorded calls (generating and discarding the rows) to reach exactly the state
where the last run stopped. Replaying uses only the generator's public API and makes ``N``
runs of one batch produce the same rows as one run of ``N`` batches; it costs about 35 ms
per replayed round of 3 x 500 rows, paid once per process. A batch is recorded *before* its
rows are inserted, so a crash between the two leaves a gap in the ids (harmless) rather than
a duplicate; a batch the database rejects (nothing written) is un-recorded again.

Example::

    with snowmelt.connect("demo.duckdb") as client:
        setup(client)
        pipeline = Pipeline(client, seed=42)
        pipeline.ingest("sensors", 500)
        pipeline.refresh()
        print(collect_status(client).tables[0])
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from snowmelt.demo.config import PipelineConfig
from snowmelt.demo.generators import DemoGenerator, GeneratorConfig
from snowmelt.demo.status import (
    DATABASE,
    EVENT_TIME,
    GOLD,
    LAYERS,
    SILVER,
    SOURCES,
    STATE_TABLE,
    Client,
    PipelineError,
    PipelineStatus,
    TableStatus,
    _dicts,
    collect_status,
    is_set_up,
    layer_summary,
    render_status,
    require_set_up,
    status_table,
)
from snowmelt.errors import SnowmeltError

__all__ = [
    "DATABASE",
    "EVENT_TIME",
    "GOLD",
    "LAYERS",
    "SETUP_SQL",
    "SILVER",
    "SOURCES",
    "STATE_TABLE",
    "BatchReport",
    "Client",
    "Pipeline",
    "PipelineError",
    "PipelineStatus",
    "RefreshReport",
    "RunSummary",
    "TableStatus",
    "close_client",
    "collect_status",
    "is_remote",
    "is_set_up",
    "layer_summary",
    "open_client",
    "reconnect_if_idle",
    "render_status",
    "require_set_up",
    "round_line",
    "run",
    "setup",
    "setup_sql",
    "should_refresh",
    "status_table",
]

SETUP_SQL = "01_setup_dynamic_tables.sql"

_STATE_DDL = f"""
CREATE TABLE IF NOT EXISTS {STATE_TABLE} (
    BATCH_SEQ       INTEGER NOT NULL,
    KIND            VARCHAR NOT NULL,
    ROW_COUNT       INTEGER NOT NULL,
    SEED            INTEGER NOT NULL,
    LATE_FRACTION   FLOAT NOT NULL,
    SIMULATED_TS    TIMESTAMP_NTZ,
    RECORDED_AT     TIMESTAMP_NTZ
)
COMMENT = 'Generator position of snowmelt pipeline: one row per batch, replayed on resume'
"""


# ------------------------------------------------------------------------------ connection
def _remote_connector() -> Callable[[str], Any] | None:
    """``snowmelt.client.connect_or_remote`` once the server client exists, else None."""
    try:
        from snowmelt.client import connect_or_remote  # type: ignore[import-not-found]
    except ImportError:
        return None
    return connect_or_remote  # type: ignore[no-any-return]


def is_remote(client: Any) -> bool:
    from snowmelt.session import Session

    return not isinstance(client, Session)


def open_client(db: str, server: str = "auto") -> Any:
    """A client for ``db``: through a running ``snowmelt serve`` when there is one (and
    ``server`` is not ``off``), else the file opened directly."""
    import snowmelt

    if server != "off":
        connect_or_remote = _remote_connector()
        if connect_or_remote is None and server == "required":
            raise PipelineError(
                "SNOWMELT_SERVER=required, but this snowmelt has no server "
                "client (snowmelt.client): set SNOWMELT_SERVER=auto",
                db,
            )
        if connect_or_remote is not None:
            client = connect_or_remote(db)
            if server == "required" and not is_remote(client):
                client.close()
                raise PipelineError(
                    f"No snowmelt server is running for {db}: start one with "
                    f"`snowmelt serve --db {db}` or set SNOWMELT_SERVER=auto",
                    db,
                )
            return client
    return snowmelt.connect(db)


def reconnect_if_idle(client: Any) -> None:
    """After an idle wait, make sure a server client's connection is alive.

    ``RemoteSession`` reuses one keep-alive HTTP connection and retries only idempotent
    requests (inserts); the server closes idle connections after a few seconds, so the first
    ``sql`` after a wait would fail with "Lost the connection ... Broken pipe". A read-only
    probe absorbs that failure (the client reconnects on the next request); a server that is
    really gone still fails here, with the client's message.
    """
    if is_remote(client):
        try:
            client.sql("SELECT 1")
        except SnowmeltError:
            client.sql("SELECT 1")


def close_client(client: Any) -> None:
    close = getattr(client, "close", None)
    if close is not None:
        close()


def _rejected(err: BaseException) -> bool:
    """Whether the database certainly refused the batch (so nothing of it was written)."""
    from snowmelt.errors import CatalogError, IngestError, SqlError

    if isinstance(err, IngestError | SqlError | CatalogError):
        return True
    status = getattr(err, "status", None)  # a server client's 4xx answer
    return isinstance(err, SnowmeltError) and isinstance(status, int) and 400 <= status < 500


# ------------------------------------------------------------------------------ setup
def setup_sql() -> str:
    """The shipped Snowflake setup script (``snowmelt/demo/sql/01_setup_dynamic_tables.sql``)."""
    return resources.files("snowmelt.demo").joinpath("sql", SETUP_SQL).read_text()


def setup(client: Client) -> None:
    """Run the setup script. Bronze tables are kept (CREATE ... IF NOT EXISTS); the dynamic
    tables and views are re-created (CREATE OR REPLACE) and so refresh from all of bronze."""
    client.sql(setup_sql())
    client.sql(_STATE_DDL)


# ------------------------------------------------------------------------------ ingestion
@dataclass(frozen=True)
class BatchReport:
    """One batch loaded into one bronze table."""

    seq: int
    kind: str
    table: str
    rows: int
    late_rows: int
    simulated_ts: datetime
    seconds: float


@dataclass(frozen=True)
class RefreshReport:
    """One dynamic table refreshed after a round."""

    name: str
    action: str
    state: str
    inserted: int | None
    deleted: int | None


class Pipeline:
    """Generates and loads demo batches into one database, continuing where the last run
    (of any process, through ``BRONZE._PIPELINE_STATE``) stopped."""

    def __init__(
        self,
        client: Client,
        seed: int = 42,
        late_fraction: float = 0.05,
        console: Console | None = None,
    ):
        self.client = client
        self.seed = seed
        self.late_fraction = late_fraction
        self.console = console
        self._generator: DemoGenerator | None = None
        self._next_seq = 1
        self.replayed = 0

    # -- generator position ------------------------------------------------------------
    @property
    def generator(self) -> DemoGenerator:
        if self._generator is None:
            self.resume()
        assert self._generator is not None
        return self._generator

    def resume(self) -> int:
        """Re-create the generator and replay the recorded batches; returns how many."""
        self.client.sql(_STATE_DDL)
        rows = _dicts(
            self.client.sql(
                f"SELECT BATCH_SEQ, KIND, ROW_COUNT, SEED, LATE_FRACTION FROM {STATE_TABLE} "
                "ORDER BY BATCH_SEQ"
            )
        )
        if rows:
            seed, late = rows[0]["SEED"], rows[0]["LATE_FRACTION"]
            if seed != self.seed or not math.isclose(late, self.late_fraction):
                raise PipelineError(
                    f"This database already holds {len(rows)} generated batches from seed {seed}"
                    f" with late fraction {late}; continuing with seed {self.seed} and late "
                    f"fraction {self.late_fraction} would repeat their ids. Use --seed {seed} "
                    f"and SNOWMELT_LATE_FRACTION={late}, or a new database file (--db)."
                )
        elif self._bronze_rows() > 0 and self.console is not None:
            self.console.print(
                "[yellow]warning:[/yellow] the bronze tables hold rows that "
                f"{STATE_TABLE} does not account for; new ids may repeat theirs"
            )
        generator = DemoGenerator(GeneratorConfig(seed=self.seed, late_fraction=self.late_fraction))
        for row in rows:
            generator.batch(row["KIND"], row["ROW_COUNT"])
        self._generator = generator
        self._next_seq = (rows[-1]["BATCH_SEQ"] + 1) if rows else 1
        self.replayed = len(rows)
        return len(rows)

    def batches_recorded(self) -> int:
        return self._next_seq - 1

    def _bronze_rows(self) -> int:
        total = 0
        for table in SOURCES.values():
            total += int(_dicts(self.client.sql(f"SELECT COUNT(*) AS N FROM {table}"))[0]["N"])
        return total

    # -- loading ---------------------------------------------------------------------
    def ingest(self, kind: str, rows: int) -> BatchReport:
        """Generate ``rows`` rows of ``kind`` and load them in one atomic insert."""
        if kind not in SOURCES:
            raise PipelineError(f"Unknown data kind {kind!r}: use one of {', '.join(SOURCES)}")
        generator = self.generator
        started = time.perf_counter()
        batch = generator.batch(kind, rows)
        seq, table = self._next_seq, SOURCES[kind]
        event_ts = batch.column(EVENT_TIME[kind]).to_pylist()
        loaded_at = batch.column("_LOADED_AT").to_pylist()
        late = sum(
            1 for e, lo in zip(event_ts, loaded_at, strict=True) if (lo - e).total_seconds() > 3600
        )
        self._claim(seq, kind, rows, generator.now)
        self._next_seq += 1
        try:
            loaded = self.client.insert(table, batch)
        except BaseException as err:
            self._generator = None  # the next call replays the recorded batches
            if _rejected(err):
                # Nothing was written: forget the batch too, so that the replay matches the
                # tables. After any other failure (a lost connection, Ctrl-C) the batch may
                # have been committed, so its claim stays: at worst a gap in the ids.
                self._unclaim(seq)
            raise
        return BatchReport(
            seq, kind, table, int(loaded), late, generator.now, time.perf_counter() - started
        )

    def _claim(self, seq: int, kind: str, rows: int, simulated: datetime) -> None:
        self.client.sql(
            f"INSERT INTO {STATE_TABLE} VALUES ({int(seq)}, '{kind}', {int(rows)}, "
            f"{int(self.seed)}, {float(self.late_fraction)!r}, "
            f"'{simulated.isoformat(sep=' ')}'::TIMESTAMP_NTZ, CURRENT_TIMESTAMP())"
        )

    def _unclaim(self, seq: int) -> None:
        with contextlib.suppress(SnowmeltError):  # else the claim stays: a harmless id gap
            self.client.sql(f"DELETE FROM {STATE_TABLE} WHERE BATCH_SEQ = {int(seq)}")

    def ingest_round(self, kinds: Iterable[str], rows: int) -> list[BatchReport]:
        return [self.ingest(kind, rows) for kind in kinds]

    # -- refresh ---------------------------------------------------------------------
    def refresh(self) -> list[RefreshReport]:
        """Refresh every dynamic table, as the target-lag scheduler of a server would: the
        gold tables with their silver inputs, in one round at one data timestamp when the
        client is an embedded session. Tables whose sources did not change are cheap."""
        targets = [f"{DATABASE}.{t}" for t in GOLD]
        if not is_remote(self.client):
            results = _dicts(self.client.refresh(*targets))  # type: ignore[attr-defined]
        else:
            results = []
            for target in targets:
                results.extend(_dicts(self.client.sql(f"ALTER DYNAMIC TABLE {target} REFRESH")))
        reports: dict[str, RefreshReport] = {}
        for r in results:
            reports[str(r.get("NAME"))] = RefreshReport(
                str(r.get("NAME")),
                str(r.get("REFRESH_ACTION")),
                str(r.get("STATE")),
                r.get("NUM_INSERTED_ROWS"),
                r.get("NUM_DELETED_ROWS"),
            )
        return list(reports.values())


# ------------------------------------------------------------------------------ the CLI loop
@dataclass
class RunSummary:
    rounds: int = 0
    batches: list[BatchReport] = field(default_factory=list)
    refreshes: list[RefreshReport] = field(default_factory=list)
    interrupted: bool = False

    @property
    def rows(self) -> int:
        return sum(b.rows for b in self.batches)


def should_refresh(config: PipelineConfig, client: Any) -> bool:
    """``auto`` refreshes after each round when the database is open in this process; with a
    server, its target-lag scheduler keeps the dynamic tables fresh instead."""
    if config.refresh == "auto":
        return not is_remote(client)
    return config.refresh == "on"


def run(
    client: Client,
    config: PipelineConfig,
    console: Console,
    sleep: Callable[[float], None] = time.sleep,
) -> RunSummary:
    """Ingest ``config.rounds`` rounds (forever when continuous without ``max_batches``),
    waiting ``config.interval`` seconds between rounds. Ctrl-C ends the run with a summary (a
    batch cut off mid-insert leaves at most a gap in the generated ids)."""
    if config.setup or not is_set_up(client):
        why = "as asked" if config.setup else f"database {DATABASE} not found in {config.db}"
        console.print(f"Running {SETUP_SQL} ({why})")
        setup(client)
    pipeline = Pipeline(client, config.seed, config.late_fraction, console)
    _check_sources(client, config.db)
    replayed = pipeline.resume()
    if replayed:
        console.print(
            f"Resumed the generator after {replayed} recorded batches "
            f"(simulated clock {pipeline.generator.now:%Y-%m-%d %H:%M})"
        )
    refresh = should_refresh(config, client)
    summary = RunSummary()
    total = config.rounds
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(f"ingesting {config.mode}", total=total)
        try:
            while total is None or summary.rounds < total:
                if summary.rounds and config.continuous and config.interval:
                    progress.update(task, description=f"waiting {config.interval:g}s")
                    sleep(config.interval)
                    reconnect_if_idle(client)
                progress.update(task, description=f"round {summary.rounds + 1}: ingesting")
                batches = pipeline.ingest_round(config.kinds, config.batch_size)
                summary.batches.extend(batches)
                refreshed: list[RefreshReport] = []
                if refresh:
                    progress.update(task, description=f"round {summary.rounds + 1}: refreshing")
                    refreshed = pipeline.refresh()
                    summary.refreshes.extend(refreshed)
                summary.rounds += 1
                progress.advance(task)
                progress.console.print(round_line(summary.rounds, batches, refreshed))
        except KeyboardInterrupt:
            summary.interrupted = True
    rounds = _plural(summary.rounds, "round")
    console.print(
        f"Ingested {summary.rows:,} rows in {_plural(len(summary.batches), 'batch')} "
        f"({rounds}{', interrupted' if summary.interrupted else ''}); "
        f"generator at batch {pipeline.batches_recorded()}, simulated clock "
        f"{pipeline.generator.now:%Y-%m-%d %H:%M}"
    )
    return summary


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "es" if word.endswith("ch") else "s")


def _check_sources(client: Client, db: str) -> None:
    present = {r["name"] for r in _dicts(client.sql(f"SHOW TABLES IN SCHEMA {DATABASE}.BRONZE"))}
    for table in SOURCES.values():
        name = table.rsplit(".", 1)[1]
        if name not in present:
            raise PipelineError(
                f"Bronze table {table} does not exist in {db}: re-create it with "
                f"`snowmelt pipeline --db {db} --setup` (keeps other data)",
                db,
            )


def round_line(
    number: int, batches: Sequence[BatchReport], refreshed: Sequence[RefreshReport]
) -> str:
    loaded = ", ".join(f"{b.kind} {b.rows} rows ({b.late_rows} late)" for b in batches)
    seconds = sum(b.seconds for b in batches)
    line = f"Round {number}: loaded {loaded} in {seconds:.2f}s"
    if refreshed:
        actions = ", ".join(sorted({r.action for r in refreshed}))
        changed = sum((r.inserted or 0) + (r.deleted or 0) for r in refreshed)
        line += f"; refreshed {len(refreshed)} dynamic tables ({actions}, {changed:,} rows changed)"
    return line
