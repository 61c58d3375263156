"""The ``snowmelt`` command line. Each command is a few lines over the Python API.

Errors print as one line and exit non-zero; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from snowmelt.errors import SnowmeltError

DEFAULT_DB = "snowmelt.duckdb"
console = Console()
err_console = Console(stderr=True)
_WIDE = 10_000  # a table printed to a file or pipe is as wide as its rows, not folded at 80


def _out() -> Console:
    """Where results print: the terminal, or (to a file or a pipe) a console as wide as the
    rows, since rich would fold every column to fit 80 characters."""
    return console if console.is_terminal else Console(width=_WIDE)


def default_db() -> str:
    return os.environ.get("SNOWMELT_DB", DEFAULT_DB)


db_option = click.option(
    "--db",
    "db",
    default=default_db,
    show_default=f"$SNOWMELT_DB or {DEFAULT_DB}",
    help="Database file.",
)


def _open(db: str, create: bool = False) -> Any:
    """A session on ``db``; only ``sql`` creates a missing file (a mistyped --db given to a
    command that reads would otherwise leave a new empty database behind): the others open
    it as ``snowmelt monitor`` does, which says when there is none."""
    import snowmelt
    from snowmelt.monitor.commands import open_session

    if not create:
        return open_session(db)
    return snowmelt.connect(db, on_notice=lambda m: err_console.print(f"[dim]notice: {m}[/dim]"))


def _guard(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn snowmelt errors into a one-line message and exit code 1."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ctx = click.get_current_context()
        try:
            return fn(*args, **kwargs)
        except SnowmeltError as err:
            if ctx.find_root().params.get("debug"):
                raise
            err_console.print(f"[red]error:[/red] {err}")
            sys.exit(1)

    return wrapper


@click.group()
@click.option("--debug", is_flag=True, help="Show tracebacks on errors.")
@click.version_option(package_name="snowmelt")
def main(debug: bool) -> None:
    """snowmelt: Snowflake-style dynamic tables on an embedded DuckDB file."""


@main.command()
@db_option
@click.option(
    "-f",
    "--file",
    "file",
    type=click.Path(exists=True, dir_okay=False),
    help="Run the statements in this file.",
)
@click.option(
    "--format",
    "form",
    type=click.Choice(["table", "csv", "tsv", "json"]),
    default="table",
    show_default=True,
    help="How results print: tables, or CSV, TSV, JSON lines for other programs.",
)
@click.argument("text", required=False)
@_guard
def sql(db: str, file: str | None, form: str, text: str | None) -> None:
    """Run SQL (Snowflake dialect) and print the result of each statement: TEXT, a file,
    standard input, or, on a terminal, an interactive prompt."""
    from snowmelt.console import print_result, write_result

    out = _out()

    def show(result: Any) -> None:
        if form == "table":
            print_result(out, result)
        else:
            write_result(result, form, sys.stdout)

    if not file and not text and sys.stdin.isatty():  # a prompt over one session
        from snowmelt import repl

        console.print(f"snowmelt on {db}: end statements with ';', leave with exit or Ctrl-D")
        with _open(db, create=True) as session:
            if getattr(session, "url", None):  # the file's server runs what is typed
                console.print(
                    f"through the server at {session.url}: USE and SET carry on; a "
                    "transaction ends with each entry"
                )
            repl.run(
                session,
                input,
                show,
                lambda message: err_console.print(f"[red]error:[/red] {message}"),
            )
        return
    if not file and not text:
        text = sys.stdin.read()
    source = Path(file).read_text() if file else text or ""
    with _open(db, create=True) as session:
        for result in session.run_each(source):  # each result as it comes, up to an error
            show(result)


@main.command()
@db_option
@click.argument("name")
@_guard
def refresh(db: str, name: str) -> None:
    """Refresh a dynamic table now (its upstream dynamic tables first)."""
    from snowmelt.console import print_result

    with _open(db) as session:
        print_result(_out(), session.refresh(name))


@main.command()
@db_option
@click.argument("name")
@_guard
def explain(db: str, name: str) -> None:
    """Show how a dynamic table refreshes: mode, reason and the SQL it runs."""
    with _open(db) as session:
        row = session.explain(name).dicts()[0]
    out = _out()
    for key, value in row.items():
        if key.endswith("_sql"):
            out.print(f"[bold]{key}[/bold]:")
            out.print(value)
        else:
            out.print(f"[bold]{key}[/bold]: {value}")


@main.command()
@db_option
@click.option("--like", default=None, help="Name pattern, e.g. 'SALES%'.")
@_guard
def show(db: str, like: str | None) -> None:
    """SHOW DYNAMIC TABLES across the whole database."""
    from snowmelt.console import print_result

    pattern = "" if like is None else " LIKE '" + like.replace("'", "''") + "'"
    with _open(db) as session:  # as SQL: a served file's client runs it on the server
        result = session.sql(f"SHOW DYNAMIC TABLES{pattern} IN ACCOUNT")
        keep = [
            "database_name",
            "schema_name",
            "name",
            "target_lag",
            "refresh_mode",
            "refresh_mode_reason",
            "scheduling_state",
            "rows",
            "data_timestamp",
        ]
        from snowmelt.result import Result

        print_result(_out(), Result(result.arrow().select(keep)))


@main.command()
@click.option(
    "--db",
    "db",
    default=None,
    help="Database file (default: a fresh snowmelt-demo.duckdb in the working directory).",
)
@click.option("--batches", default=3, show_default=True, help="Ingestion batches to run.")
@click.option("--batch-size", default=500, show_default=True, help="Rows per source per batch.")
@_guard
def demo(db: str | None, batches: int, batch_size: int) -> None:
    """From nothing to a populated medallion pipeline in one command."""
    from snowmelt.demo.runner import run_demo

    run_demo(
        console,
        db or os.environ.get("SNOWMELT_DB", "snowmelt-demo.duckdb"),
        batches=batches,
        batch_size=batch_size,
    )


def _register() -> None:
    from snowmelt.demo.commands import pipeline
    from snowmelt.monitor import dashboard, monitor
    from snowmelt.server.cli import serve

    for command in (serve, pipeline, monitor, dashboard):
        main.add_command(command)


_register()

if __name__ == "__main__":  # pragma: no cover
    main()
