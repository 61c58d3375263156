"""Rendering results: rich tables for people (in a terminal, or as wide as the rows need when
the output goes to a file or a pipe), CSV, TSV or JSON lines for programs. CLI only."""

from __future__ import annotations

import csv
import json
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, TextIO

from rich.console import Console
from rich.table import Table

from snowmelt.result import Result


def format_value(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e4 else f"{value:,.0f}"
    if isinstance(value, dict | list):
        return json.dumps(value, default=str)
    return str(value)


def result_table(result: Result, title: str | None = None, max_rows: int = 50) -> Table:
    table = Table(title=title, header_style="bold cyan", show_lines=False)
    for column in result.columns:
        table.add_column(column, overflow="fold")
    rows = result.rows()
    for row in rows[:max_rows]:
        table.add_row(*[format_value(v) for v in row])
    if len(rows) > max_rows:
        table.caption = f"{len(rows) - max_rows} more rows not shown"
    return table


def print_result(console: Console, result: Result, title: str | None = None) -> None:
    if result.message and result.columns == ["status"]:
        console.print(f"[green]{result.message}[/green]")
        return
    console.print(result_table(result, title))


FORMATS = ("table", "csv", "tsv", "json")


def _plain(value: Any) -> Any:
    """A value for CSV or JSON: ISO dates and times, exact decimals as text, JSON as JSON."""
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    return value


def write_result(result: Result, form: str, out: TextIO) -> None:
    """``result`` as CSV or TSV (a header row; NULL is an empty field) or JSON lines (an
    object a row)."""
    columns = result.columns
    if form == "json":
        for row in result.rows():
            record = {c: _plain(v) for c, v in zip(columns, row, strict=True)}
            out.write(json.dumps(record, default=str) + "\n")
        return
    writer = csv.writer(out, delimiter="\t" if form == "tsv" else ",", lineterminator="\n")
    writer.writerow(columns)
    for row in result.rows():
        writer.writerow(
            [
                "" if v is None else json.dumps(v) if isinstance(v, dict | list) else _plain(v)
                for v in row
            ]
        )
