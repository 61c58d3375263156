"""The ``serve`` command; the lead registers it as ``snowmelt serve`` in ``snowmelt/cli.py``."""

from __future__ import annotations

import click

from snowmelt.errors import SnowmeltError

DEFAULT_MAX_BODY_MB = 64.0  # the same default as ``app.DEFAULT_MAX_BODY``; importing the app
# here would load FastAPI for every CLI command


@click.command("serve")
@click.option(
    "--db",
    "db",
    default="snowmelt.duckdb",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="Database file to own and serve.",
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to bind; keep 127.0.0.1 unless you mean to expose it.",
)
@click.option(
    "--port",
    default=0,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="TCP port; 0 picks a free one (recorded in the server file).",
)
@click.option(
    "--max-body-mb",
    default=DEFAULT_MAX_BODY_MB,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Request body size limit.",
)
@click.option(
    "--log-level",
    default="warning",
    show_default=True,
    type=click.Choice(["debug", "info", "warning", "error"]),
)
def serve(db: str, host: str, port: int, max_body_mb: float, log_level: str) -> None:
    """Own DB: run the scheduler and the HTTP API until Ctrl-C or SIGTERM.

    Clients find the server through DB.server.json (owner-only), which holds the URL and the
    bearer token; `snowmelt.connect(DB)` and the CLI use it automatically.
    """
    from snowmelt.server.main import serve as run

    try:
        code = run(
            db,
            host,
            port,
            int(max_body_mb * 2**20),
            log_level,
            announce=lambda line: click.echo(line, err=True),
        )
    except SnowmeltError as err:
        raise click.ClickException(str(err)) from None
    raise SystemExit(code)
