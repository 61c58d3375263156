"""``snowmelt pipeline``: the seed's ``data_pipeline.py`` command line.

Register with one line in ``snowmelt/cli.py``::

    from snowmelt.demo.commands import pipeline
    main.add_command(pipeline)

Every option also reads a ``SNOWMELT_*`` environment variable (see ``env.sample``); flags win.
Errors print one line (``Error: ...``) and exit 1; ``snowmelt --debug pipeline ...`` shows the
traceback instead.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

import click
from rich.console import Console

from snowmelt.demo.config import MODES, PipelineConfig
from snowmelt.errors import SnowmeltError


def _one_line_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """SnowmeltError -> click's one-line ``Error: ...`` and exit code 1 (traceback with the
    root ``--debug`` flag, when registered under ``snowmelt``)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except SnowmeltError as err:
            if click.get_current_context().find_root().params.get("debug"):
                raise
            raise click.ClickException(str(err)) from None

    return wrapper


@click.command()
@click.option(
    "--db",
    default=None,
    help="Database file [env SNOWMELT_DB; default "
    "snowmelt-demo.duckdb, the file `snowmelt demo` creates].",
)
@click.option(
    "--mode",
    type=click.Choice(MODES),
    default="full",
    show_default=True,
    help="What to ingest (full = all three feeds), or status to print the pipeline's "
    "row counts and freshness per layer.",
)
@click.option(
    "--batch-size",
    type=int,
    default=None,
    help="Rows per feed per batch [env SNOWMELT_BATCH_SIZE; default 500].",
)
@click.option(
    "--continuous",
    is_flag=True,
    help="Keep ingesting a round every --interval "
    "seconds (streaming simulation) until Ctrl-C or --max-batches.",
)
@click.option(
    "--interval",
    type=float,
    default=None,
    help="Seconds between rounds [env SNOWMELT_INTERVAL; default 60].",
)
@click.option(
    "--max-batches",
    type=int,
    default=None,
    help="Stop after this many rounds [env SNOWMELT_MAX_BATCHES; default 1, or "
    "unbounded with --continuous].",
)
@click.option(
    "--seed",
    type=int,
    default=None,
    help="Generator seed for a new database [env SNOWMELT_SEED; default 42].",
)
@click.option(
    "--refresh/--no-refresh",
    default=None,
    help="Refresh the downstream dynamic tables after each round [env SNOWMELT_REFRESH;"
    " default: yes when the file is opened directly, no when a server's scheduler "
    "keeps them fresh].",
)
@click.option(
    "--setup",
    is_flag=True,
    help="Run the setup SQL first: re-creates the dynamic "
    "tables and views, keeps bronze data (done anyway when the database is missing).",
)
@_one_line_errors
def pipeline(
    db: str | None,
    mode: str,
    batch_size: int | None,
    continuous: bool,
    interval: float | None,
    max_batches: int | None,
    seed: int | None,
    refresh: bool | None,
    setup: bool,
) -> None:
    """Generate and ingest demo data into the bronze tables, or show pipeline status."""
    from snowmelt.demo import pipeline as core

    config = PipelineConfig.resolve(
        os.environ,
        db=db,
        mode=mode,
        batch_size=batch_size,
        continuous=continuous or None,
        interval=interval,
        max_batches=max_batches,
        seed=seed,
        setup=setup or None,
        refresh=None if refresh is None else ("on" if refresh else "off"),
    )
    console = Console()
    if config.mode == "status" and not os.path.exists(config.db):
        raise core.PipelineError(
            f"Database file {config.db} does not exist: run `snowmelt "
            f"pipeline --db {config.db} --mode full` or `snowmelt demo` "
            "first",
            config.db,
        )
    client = core.open_client(config.db, config.server)
    try:
        if config.mode == "status":
            core.render_status(console, core.collect_status(client, config.db))
        else:
            core.run(client, config, console)
    finally:
        core.close_client(client)
