"""The click commands ``snowmelt monitor`` and ``snowmelt dashboard`` (the I/O edge).

Role: open a session on a database file (through its running server when there is one),
collect its status and print it: ``monitor --mode dashboard|health|history|json``, optionally
redrawn in place with ``--watch``; ``dashboard`` prints the web dashboard's URL for a running
server (see ``snowmelt.server.dashboard``). Inputs: command-line options and
``$SNOWMELT_DB``. Outputs: text on stdout, errors on stderr, and the exit status.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import click
from rich.console import Console, RenderableType

from snowmelt.monitor.render import render_dashboard, render_history, watch
from snowmelt.monitor.status import collect, health_report, recent_refreshes


def open_session(db: str) -> Any:
    """A ``RemoteSession`` when a server owns ``db``, else a local session on the file."""
    connect_or_remote: Callable[[str], Any] | None
    try:
        from snowmelt.client import connect_or_remote
    except ImportError:  # the server package is optional
        connect_or_remote = None
    server_file = Path(f"{db}.server.json")
    if not Path(db).exists() and not server_file.exists():
        raise click.ClickException(
            f"No database at {db}: pass --db (or set SNOWMELT_DB), or "
            "create one with `snowmelt demo`."
        )
    if connect_or_remote is not None:
        return connect_or_remote(db)
    import snowmelt

    return snowmelt.connect(db)


@contextmanager
def _opened(opener: Callable[[], Any]) -> Iterator[Any]:
    session = opener()
    try:
        yield session
    finally:
        session.close()


def _default_db() -> str:
    return os.environ.get("SNOWMELT_DB", "snowmelt.duckdb")


@click.command("monitor")
@click.option(
    "--db",
    "db",
    default=_default_db,
    show_default="$SNOWMELT_DB or snowmelt.duckdb",
    help="Database file (its running server is used if any).",
)
@click.option(
    "--mode",
    type=click.Choice(["dashboard", "health", "history", "json"]),
    default="dashboard",
    show_default=True,
    help="dashboard: tables and lag; health: JSON report, exit 1 when unhealthy; "
    "history: recent refreshes; json: the full status.",
)
@click.option("--watch", "watching", is_flag=True, help="Redraw in place every --interval seconds.")
@click.option(
    "--interval",
    default=5.0,
    show_default=True,
    type=click.FloatRange(min=0.1),
    help="Seconds between redraws in --watch.",
)
@click.option(
    "--iterations",
    default=None,
    type=click.IntRange(min=1),
    help="Stop --watch after this many redraws (default: until Ctrl-C).",
)
@click.option(
    "--limit",
    default=20,
    show_default=True,
    type=click.IntRange(1, 10000),
    help="Refreshes shown by --mode history.",
)
def monitor(
    db: str, mode: str, watching: bool, interval: float, iterations: int | None, limit: int
) -> None:
    """Status of every dynamic table: state, mode, lag against target, last refresh.

    `--mode health` prints a JSON report and exits 0 when healthy, 1 when any dynamic table
    is failing, suspended or over its target lag, 2 when the check could not run: use it
    from cron or as a container health check.
    """
    from snowmelt.errors import SnowmeltError

    console = Console(highlight=False)
    if not console.is_terminal:  # piped or captured: don't squeeze to 80 columns
        console = Console(highlight=False, width=max(console.width, 120))
    opener = lambda: open_session(db)  # noqa: E731 - reopened per redraw, see below
    try:
        if mode in ("health", "json"):
            with _opened(opener) as session:
                status = collect(session)
            report = health_report(status) if mode == "health" else status
            click.echo(json.dumps(report, indent=2))
            if mode == "health" and report["status"] != "HEALTHY":
                sys.exit(1)
            return
        if mode == "history":

            def snapshot() -> RenderableType:
                with _opened(opener) as session:
                    return render_history(recent_refreshes(session, limit))
        else:

            def snapshot() -> RenderableType:
                # Open per redraw: a local session holds DuckDB's file lock only briefly, so
                # `snowmelt demo` or a server can start while the dashboard is watching.
                with _opened(opener) as session:
                    return render_dashboard(collect(session))

        if watching:
            with suppress(KeyboardInterrupt):  # Ctrl-C ends watching quietly
                watch(console, snapshot, interval, iterations)
        else:
            console.print(snapshot())
    except (SnowmeltError, click.ClickException) as err:
        ctx = click.get_current_context()
        root = ctx.find_root()
        if root.params.get("debug"):
            raise
        message = err.format_message() if isinstance(err, click.ClickException) else str(err)
        Console(stderr=True).print(f"[red]error:[/red] {message}", highlight=False)
        sys.exit(2 if mode == "health" else 1)


@click.command("dashboard")
@click.option(
    "--db",
    "db",
    default=_default_db,
    show_default="$SNOWMELT_DB or snowmelt.duckdb",
    help="Database file served by `snowmelt serve`.",
)
@click.option("--open", "open_browser", is_flag=True, help="Open it in the default browser.")
def dashboard(db: str, open_browser: bool) -> None:
    """Print the web dashboard's URL (with its access token) for the server owning DB.

    The token travels in the URL fragment (#token=...), which browsers never send to a
    server; the page keeps it for the tab's lifetime only. Treat the URL like a password.
    """
    from snowmelt.server.serverfile import live

    info = live(db)
    if info is None:
        raise click.ClickException(
            f"No running server for {db}: start one with `snowmelt serve --db {db}`."
        )
    url = f"{info.url}/#token={info.token}"
    click.echo(url)
    if open_browser:
        import webbrowser

        webbrowser.open(url)
