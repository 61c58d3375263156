"""``snowmelt demo``: from nothing to a populated medallion pipeline in one command.

Creates the database, runs the shipped Snowflake setup script, ingests several rounds of
generated sensor, transaction and clickstream data (some of it late) through the ingestion
pipeline (``snowmelt.demo.pipeline``, so ``snowmelt pipeline`` can continue where the demo
stopped), refreshes the dynamic tables after each round (incrementally after the first, where
the compiler supports the query), and prints the gold results, the refresh history with the
rows each refresh inserted and deleted, and the status dashboard.
"""

from __future__ import annotations

import time
from pathlib import Path

from rich.console import Console

from snowmelt.console import print_result
from snowmelt.demo import pipeline as core
from snowmelt.demo.generators import KINDS

DATABASE = core.DATABASE
SETUP_SQL = core.SETUP_SQL
SOURCES = core.SOURCES
GOLD = list(core.GOLD)
setup_sql = core.setup_sql

# Gold previews: a few telling columns each, so they fit a terminal.
PREVIEWS = {
    "GOLD.DEVICE_HEALTH_HOURLY": (
        "SELECT DEVICE_ID, SENSOR_TYPE, READING_HOUR, READING_COUNT, ROUND(AVG_VALUE, 2) AS "
        "AVG_VALUE, NORMALIZED_UNIT AS UNIT, ANOMALY_COUNT, HEALTH_STATUS FROM {t} "
        "ORDER BY ANOMALY_RATE DESC, READING_COUNT DESC, DEVICE_ID, READING_HOUR LIMIT 8"
    ),
    "GOLD.DAILY_SALES_SUMMARY": (
        "SELECT TRANSACTION_DATE, STORE_NAME, TRANSACTION_COUNT, UNITS_SOLD, "
        "ROUND(NET_REVENUE, 2) AS NET_REVENUE, ROUND(AVG_BASKET_VALUE, 2) AS AVG_BASKET, "
        "INVALID_LINE_COUNT AS INVALID_LINES FROM {t} "
        "ORDER BY TRANSACTION_DATE DESC, NET_REVENUE DESC LIMIT 8"
    ),
    "GOLD.PRODUCT_PERFORMANCE": (
        "SELECT PRODUCT_NAME, CATEGORY, UNITS_SOLD, ROUND(NET_REVENUE, 2) AS NET_REVENUE, "
        "ROUND(MARGIN_PCT * 100, 1) AS MARGIN_PCT, TRANSACTION_COUNT FROM {t} "
        "ORDER BY NET_REVENUE DESC, PRODUCT_ID LIMIT 8"
    ),
    "GOLD.CUSTOMER_BEHAVIOR_METRICS": (
        "SELECT SESSION_DATE, DEVICE_TYPE, SESSION_COUNT, ROUND(VIEW_TO_CART_RATE, 3) AS "
        "VIEW_TO_CART, ROUND(CONVERSION_RATE, 3) AS CONVERSION, ROUND(BOUNCE_RATE, 3) AS "
        "BOUNCE, ROUND(TOTAL_REVENUE, 2) AS REVENUE FROM {t} "
        "ORDER BY SESSION_DATE, DEVICE_TYPE LIMIT 8"
    ),
}


def run_demo(
    console: Console, db: str, batches: int = 3, batch_size: int = 500, seed: int = 42
) -> None:
    console.rule("[bold]snowmelt demo: the medallion pipeline")
    console.print(f"Database file: [bold]{Path(db).resolve()}[/bold]")
    client = core.open_client(db)
    try:
        _run(console, client, db, batches, batch_size, seed)
    finally:
        core.close_client(client)
    console.print(
        f"Done. Continue ingesting: [bold]snowmelt pipeline --db {db} --mode full "
        f"--continuous --interval 5[/bold]; status: [bold]snowmelt pipeline --db "
        f'{db} --mode status[/bold]; explore: [bold]snowmelt sql --db {db} "SELECT * '
        f'FROM {DATABASE}.GOLD.DAILY_SALES_SUMMARY"[/bold]'
    )


def _run(
    console: Console, client: core.Client, db: str, batches: int, batch_size: int, seed: int
) -> None:
    client.sql(f"DROP DATABASE IF EXISTS {DATABASE}")
    started = time.perf_counter()
    core.setup(client)
    console.print(
        f"Ran {SETUP_SQL}: bronze tables, 3 silver and 4 gold dynamic tables "
        f"({time.perf_counter() - started:.2f}s)"
    )
    for row in client.sql(f"SHOW DYNAMIC TABLES IN DATABASE {DATABASE}").dicts():
        console.print(
            f"  {row['schema_name']}.{row['name']}: refresh_mode="
            f"[bold]{row['refresh_mode']}[/bold] target_lag={row['target_lag']}"
        )
    pipeline = core.Pipeline(client, seed=seed, console=console)
    for number in range(1, batches + 1):
        loaded = pipeline.ingest_round(KINDS, batch_size)
        started = time.perf_counter()
        refreshed = pipeline.refresh()
        console.print(
            core.round_line(number, loaded, refreshed)
            + f" [dim]({time.perf_counter() - started:.2f}s)[/dim]"
        )

    console.rule("[bold]Gold layer")
    for gold, query in PREVIEWS.items():
        print_result(console, client.sql(query.format(t=f"{DATABASE}.{gold}")), title=gold)

    console.rule("[bold]Refresh history (latest round first)")
    print_result(
        console,
        client.sql(
            f"SELECT NAME, REFRESH_ACTION, STATE, ROWS_INSERTED, ROWS_DELETED, "
            f"REFRESH_DURATION_MS AS MS FROM {DATABASE}.GOLD.V_REFRESH_HISTORY "
            f"ORDER BY REFRESH_START_TIME DESC LIMIT 14"
        ),
    )
    print_result(
        console,
        client.sql(
            f"SELECT REFRESH_ACTION, COUNT(*) AS REFRESHES, SUM(ROWS_INSERTED) AS ROWS_INSERTED, "
            f"SUM(ROWS_DELETED) AS ROWS_DELETED FROM {DATABASE}.GOLD.V_REFRESH_HISTORY "
            f"GROUP BY REFRESH_ACTION ORDER BY REFRESH_ACTION"
        ),
        title="Refreshes by action",
    )

    console.rule("[bold]Status")
    core.render_status(console, core.collect_status(client, db))
