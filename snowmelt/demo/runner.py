"""``snowmelt demo``: from nothing to a populated medallion pipeline in one command.

Creates the database, runs the shipped Snowflake setup script, ingests several batches of
generated sensor, transaction and clickstream data (some of it late), refreshes the
dynamic tables after each batch (incrementally after the first), and prints the gold
results, the refresh history and the status of every dynamic table.
"""

from __future__ import annotations

import time
from importlib import resources
from pathlib import Path

from rich.console import Console

from snowmelt.console import print_result

SETUP_SQL = "01_setup_dynamic_tables.sql"
DATABASE = "DATA_ENGINEERING_DEMO"
SOURCES = {
    "sensors": "BRONZE.RAW_SENSOR_READINGS",
    "transactions": "BRONZE.RAW_TRANSACTIONS",
    "events": "BRONZE.RAW_CUSTOMER_EVENTS",
}
GOLD = ["GOLD.DEVICE_HEALTH_HOURLY", "GOLD.DAILY_SALES_SUMMARY", "GOLD.PRODUCT_PERFORMANCE",
        "GOLD.CUSTOMER_BEHAVIOR_METRICS"]


def setup_sql() -> str:
    return resources.files("snowmelt.demo").joinpath("sql", SETUP_SQL).read_text()


def run_demo(console: Console, db: str, batches: int = 3, batch_size: int = 500,
             seed: int = 42) -> None:
    import snowmelt
    from snowmelt.demo.generators import DemoGenerator, GeneratorConfig

    console.rule("[bold]snowmelt demo: the medallion pipeline")
    console.print(f"Database file: [bold]{Path(db).resolve()}[/bold]")
    with snowmelt.connect(db) as session:
        session.sql(f"DROP DATABASE IF EXISTS {DATABASE}")
        started = time.perf_counter()
        session.execute_all(setup_sql())
        console.print(f"Ran {SETUP_SQL}: bronze tables, 3 silver and 4 gold dynamic tables "
                      f"({time.perf_counter() - started:.2f}s)")
        session.sql(f"USE DATABASE {DATABASE}")
        modes = session.sql("SHOW DYNAMIC TABLES IN DATABASE DATA_ENGINEERING_DEMO").dicts()
        for row in modes:
            console.print(f"  {row['schema_name']}.{row['name']}: refresh_mode="
                          f"[bold]{row['refresh_mode']}[/bold] target_lag={row['target_lag']}")
        generator = DemoGenerator(GeneratorConfig(seed=seed))
        for number in range(1, batches + 1):
            counts = {}
            for kind, table in SOURCES.items():
                counts[kind] = session.insert(table, generator.batch(kind, batch_size))
            started = time.perf_counter()
            outcomes = session.refresh(*GOLD).dicts()
            elapsed = time.perf_counter() - started
            actions = ", ".join(sorted({o["REFRESH_ACTION"] for o in outcomes}))
            console.print(f"Batch {number}: ingested {counts}; refreshed {len(outcomes)} "
                          f"dynamic tables in {elapsed:.2f}s ({actions})")
        console.rule("[bold]Gold layer")
        for gold in GOLD:
            result = session.sql(f"SELECT * FROM {gold} ORDER BY 1, 2 LIMIT 8")
            print_result(console, result, title=gold)
        console.rule("[bold]Refresh history (latest)")
        print_result(console, session.sql(
            "SELECT NAME, REFRESH_ACTION, REFRESH_TRIGGER, STATE, "
            "STATISTICS:numInsertedRows::INT AS INSERTED, "
            "STATISTICS:numDeletedRows::INT AS DELETED, "
            "STATISTICS:executionTimeMs::INT AS MS "
            "FROM TABLE(INFORMATION_SCHEMA.DYNAMIC_TABLE_REFRESH_HISTORY("
            "NAME_PREFIX => 'DATA_ENGINEERING_DEMO.')) "
            "ORDER BY REFRESH_END_TIME DESC, NAME LIMIT 14"))
        console.rule("[bold]Status")
        print_result(console, session.sql(
            "SELECT QUALIFIED_NAME, SCHEDULING_STATE:state::STRING AS STATE, REFRESH_MODE, "
            "TARGET_LAG_SEC, LAST_COMPLETED_REFRESH_STATE AS LAST_STATE, LATEST_DATA_TIMESTAMP "
            "FROM TABLE(INFORMATION_SCHEMA.DYNAMIC_TABLES()) ORDER BY QUALIFIED_NAME"))
    console.print(f"Done. Explore it: [bold]snowmelt sql --db {db} \"SELECT * FROM "
                  f"{DATABASE}.GOLD.DAILY_SALES_SUMMARY\"[/bold]")
