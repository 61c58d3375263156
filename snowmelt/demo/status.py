"""The demo database's layout and the pipeline's status report (``--mode status``).

Role: name the tables of ``DATA_ENGINEERING_DEMO`` per medallion layer (the bronze sources
the pipeline loads, the silver and gold dynamic tables downstream, the generator's state
table), check that the database is set up, and report for every table its row count, latest
data, lag against the target lag and last refresh, per layer.

Inputs: a *client* with ``.sql(text)`` (see :class:`Client`). Outputs:
:class:`PipelineStatus` values, and a rich table and summary lines rendering them.

This is the bottom of the demo pipeline: :mod:`snowmelt.demo.pipeline` (connection, setup,
ingestion, the CLI loop) builds on it and re-exports its public names, so the layout, the
:class:`Client` protocol and :class:`PipelineError` (raised by both modules) live here.

Example::

    with snowmelt.connect("demo.duckdb") as client:
        render_status(Console(), collect_status(client, "demo.duckdb"))
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from rich.console import Console
from rich.table import Table

from snowmelt.demo.generators import KINDS
from snowmelt.errors import SnowmeltError

# ------------------------------------------------------------------------------ layout
DATABASE = "DATA_ENGINEERING_DEMO"
STATE_TABLE = f"{DATABASE}.BRONZE._PIPELINE_STATE"
SOURCES: dict[str, str] = {kind: f"{DATABASE}.BRONZE.{table}" for kind, table in KINDS.items()}
EVENT_TIME = {"sensors": "READING_TS", "transactions": "TRANSACTION_TS", "events": "EVENT_TS"}
SILVER = (
    "SILVER.SENSOR_READINGS_CLEANED",
    "SILVER.TRANSACTIONS_ENRICHED",
    "SILVER.CUSTOMER_SESSIONS",
)
GOLD = (
    "GOLD.DEVICE_HEALTH_HOURLY",
    "GOLD.DAILY_SALES_SUMMARY",
    "GOLD.PRODUCT_PERFORMANCE",
    "GOLD.CUSTOMER_BEHAVIOR_METRICS",
)
LAYERS = ("BRONZE", "SILVER", "GOLD")


class PipelineError(SnowmeltError):
    """The pipeline cannot run against this database as asked; the message says what to do."""

    def __init__(self, message: str, db: str | None = None):
        self.db = db
        super().__init__(message)


class Client(Protocol):
    """What the pipeline needs from a connection: embedded session or server client."""

    def sql(self, text: str) -> Any: ...

    def insert(self, table: str, data: Any) -> int: ...


def _dicts(result: Any) -> list[dict[str, Any]]:
    return list(result.dicts())


# ------------------------------------------------------------------------------ set up?
def is_set_up(client: Client) -> bool:
    return bool(_dicts(client.sql(f"SHOW DATABASES LIKE '{DATABASE}'")))


def require_set_up(client: Client, db: str) -> None:
    if not is_set_up(client):
        raise PipelineError(
            f"Database {DATABASE} does not exist in {db}: run `snowmelt pipeline "
            f"--db {db} --mode full` (which sets it up) or `snowmelt demo`",
            db,
        )


# ------------------------------------------------------------------------------ status
@dataclass(frozen=True)
class TableStatus:
    """One table of the pipeline, as ``--mode status`` shows it."""

    layer: str
    name: str
    rows: int | None
    latest_data: datetime | None  # bronze: latest event time (simulated); DT: data timestamp
    latest_load: datetime | None = None  # bronze only: latest _LOADED_AT
    refresh_mode: str | None = None
    target_lag_sec: int | None = None
    lag_sec: float | None = None
    freshness: str | None = None
    last_action: str | None = None
    last_state: str | None = None
    last_inserted: int | None = None
    last_deleted: int | None = None


@dataclass(frozen=True)
class PipelineStatus:
    db: str
    tables: list[TableStatus]
    batches: int
    seed: int | None
    simulated_ts: datetime | None

    def layer(self, layer: str) -> list[TableStatus]:
        return [t for t in self.tables if t.layer == layer]

    def table(self, name: str) -> TableStatus:
        return next(t for t in self.tables if t.name == name)


def collect_status(client: Client, db: str = "") -> PipelineStatus:
    """Row counts, freshness and the last refresh of every table, per layer."""
    require_set_up(client, db)
    tables: list[TableStatus] = []
    for kind, table in SOURCES.items():
        row = _dicts(
            client.sql(
                f"SELECT COUNT(*) AS N, MAX({EVENT_TIME[kind]}) AS LATEST, "
                f"MAX(_LOADED_AT) AS LOADED FROM {table}"
            )
        )[0]
        tables.append(
            TableStatus(
                "BRONZE", table.rsplit(".", 1)[1], int(row["N"]), row["LATEST"], row["LOADED"]
            )
        )
    shown = {
        (r["schema_name"], r["name"]): r
        for r in _dicts(client.sql(f"SHOW DYNAMIC TABLES IN DATABASE {DATABASE}"))
    }
    fresh = {
        (r["SCHEMA_NAME"], r["NAME"]): r
        for r in _dicts(
            client.sql(
                "SELECT NAME, SCHEMA_NAME, TARGET_LAG_SEC, LATEST_DATA_TIMESTAMP, CURRENT_LAG_SEC, "
                f"FRESHNESS_STATUS FROM {DATABASE}.GOLD.V_PIPELINE_FRESHNESS"
            )
        )
    }
    last = {
        (r["SCHEMA_NAME"], r["NAME"]): r
        for r in _dicts(
            client.sql(
                "SELECT NAME, SCHEMA_NAME, REFRESH_ACTION, STATE, "
                "STATISTICS:numInsertedRows::INTEGER AS INSERTED, "
                "STATISTICS:numDeletedRows::INTEGER AS DELETED "
                f"FROM TABLE({DATABASE}.INFORMATION_SCHEMA.DYNAMIC_TABLE_REFRESH_HISTORY("
                f"NAME_PREFIX => '{DATABASE}.')) "
                "QUALIFY ROW_NUMBER() OVER (PARTITION BY QUALIFIED_NAME "
                "ORDER BY REFRESH_START_TIME DESC) = 1"
            )
        )
    }
    for qualified in SILVER + GOLD:
        schema, name = qualified.split(".")
        key = (schema, name)
        s, f, h = shown.get(key, {}), fresh.get(key, {}), last.get(key, {})
        tables.append(
            TableStatus(
                schema,
                name,
                s.get("rows"),
                f.get("LATEST_DATA_TIMESTAMP"),
                refresh_mode=s.get("refresh_mode"),
                target_lag_sec=f.get("TARGET_LAG_SEC"),
                lag_sec=f.get("CURRENT_LAG_SEC"),
                freshness=f.get("FRESHNESS_STATUS"),
                last_action=h.get("REFRESH_ACTION"),
                last_state=h.get("STATE"),
                last_inserted=h.get("INSERTED"),
                last_deleted=h.get("DELETED"),
            )
        )
    batches, seed, simulated = 0, None, None
    if any(
        r["name"] == "_PIPELINE_STATE"
        for r in _dicts(
            client.sql(f"SHOW TABLES LIKE '_PIPELINE_STATE' IN SCHEMA {DATABASE}.BRONZE")
        )
    ):
        row = _dicts(
            client.sql(
                f"SELECT COUNT(*) AS N, MAX(SEED) AS SEED, MAX(SIMULATED_TS) "
                f"AS SIMULATED FROM {STATE_TABLE}"
            )
        )[0]
        batches, seed, simulated = int(row["N"]), row["SEED"], row["SIMULATED"]
    return PipelineStatus(db, tables, batches, seed, simulated)


def _fmt_ts(value: datetime | None) -> str:
    return "-" if value is None else value.strftime("%m-%d %H:%M:%S")


def _fmt_lag(t: TableStatus) -> str:
    if t.target_lag_sec is None:
        return "-"
    lag = "-" if t.lag_sec is None else f"{t.lag_sec:,.0f}s"
    return f"{lag} / {t.target_lag_sec}s"


def status_table(status: PipelineStatus) -> Table:
    table = Table(
        title=f"Pipeline status: {status.db or DATABASE}",
        header_style="bold cyan",
        caption="Latest data: bronze = newest event time (simulated clock); dynamic "
        "tables = data timestamp of their last refresh.",
    )
    for column in (
        "Table",
        "Rows",
        "Latest data",
        "Lag / target",
        "Freshness",
        "Mode",
        "Last refresh",
    ):
        table.add_column(
            column,
            justify="right" if column in ("Rows", "Lag / target") else "left",
            no_wrap=column == "Table",
        )
    style = {"FRESH": "green", "STALE": "red", "NOT_INITIALIZED": "yellow"}
    for layer in LAYERS:
        table.add_row(f"[bold]{layer}[/bold]")
        for t in status.layer(layer):
            last = "-"
            if t.last_action:
                last = (
                    t.last_action
                    if t.last_state == "SUCCEEDED"
                    else (f"{t.last_action} {t.last_state}")
                )
                if t.last_inserted is not None:
                    last += f" +{t.last_inserted}/-{t.last_deleted}"
            fresh = f"[{style.get(t.freshness, 'white')}]{t.freshness}[/]" if t.freshness else "-"
            table.add_row(
                f"  {t.name}",
                "-" if t.rows is None else f"{t.rows:,}",
                _fmt_ts(t.latest_data),
                _fmt_lag(t),
                fresh,
                t.refresh_mode or "-",
                last,
            )
    return table


def layer_summary(status: PipelineStatus) -> list[str]:
    lines = []
    for layer in LAYERS:
        tables = status.layer(layer)
        rows = sum(t.rows or 0 for t in tables)
        line = f"{layer}: {len(tables)} tables, {rows:,} rows"
        if layer != "BRONZE":
            fresh = sum(t.freshness == "FRESH" for t in tables)
            line += f", {fresh}/{len(tables)} within target lag"
        lines.append(line)
    return lines


def render_status(console: Console, status: PipelineStatus) -> None:
    console.print(status_table(status))
    for line in layer_summary(status):
        console.print(line)
    if status.batches:
        console.print(
            f"Generator: seed {status.seed}, {status.batches} batches recorded, "
            f"simulated clock {status.simulated_ts or '-'}"
        )
