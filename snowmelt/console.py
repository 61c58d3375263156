"""Rendering results for people: rich tables in the terminal. Used by the CLI only."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

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
