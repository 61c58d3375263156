"""Rendering pipeline status in the terminal with rich.

Role: turn the documents of :mod:`snowmelt.monitor.status` into rich renderables -- the
dashboard (summary, dynamic tables by layer, base tables, problems) and the table of recent
refreshes -- and redraw a snapshot in place (``watch``). Inputs: the status dict of
``collect()`` or the list of ``recent_refreshes()``. Outputs: rich renderables; only
``watch`` writes, to the console it is given.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from rich import box
from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from snowmelt.monitor.status import MEDALLION, _duration, _parse_ts

HEALTH_STYLE = {
    "HEALTHY": "green",
    "FAILING": "bold red",
    "SUSPENDED": "magenta",
    "OVER_LAG": "yellow",
}
FRESHNESS_STYLE = {
    "FRESH": "green",
    "NEAR_TARGET": "yellow",
    "OVER_TARGET": "bold red",
    "NO_TARGET": "cyan",
    "NOT_INITIALIZED": "dim",
}
ACTION_STYLE = {"INCREMENTAL": "green", "FULL": "blue", "NO_DATA": "dim", "REINITIALIZE": "magenta"}
LAYER_STYLE = {"BRONZE": "#cd7f32", "SILVER": "#c0c0c0", "GOLD": "#ffd700"}


def _ms(ms: float | None) -> str:
    if ms is None:
        return "—"
    return f"{ms:.0f}ms" if ms < 1000 else _duration(ms / 1000)


def _short(seconds: int) -> str:
    """A target lag compactly: ``90s``, ``5m``, ``2h``, ``1d``."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _clock(value: str | None) -> str:
    ts = _parse_ts(value)
    return ts.strftime("%H:%M:%S") if ts else "—"


def _layer_key(layer: str) -> tuple[int, str]:
    return (MEDALLION.index(layer), "") if layer in MEDALLION else (len(MEDALLION), layer)


def _layer_text(layer: str) -> Text:
    return Text(layer, style=LAYER_STYLE.get(layer, "cyan"))


def _rows_changed(refresh: dict[str, Any] | None) -> Text:
    if not refresh or (refresh["rows_inserted"] is None and refresh["rows_deleted"] is None):
        return Text("—", style="dim")
    text = Text(f"+{refresh['rows_inserted'] or 0:,}", style="green")
    return text.append(f" −{refresh['rows_deleted'] or 0:,}", style="red")


def _last_refresh(refresh: dict[str, Any] | None) -> Text:
    if not refresh:
        return Text("never", style="dim")
    state = refresh["state"]
    mark = {"SUCCEEDED": ("✔", "green"), "SKIPPED": ("↷", "yellow")}.get(state, ("✖", "bold red"))
    text = Text(f"{mark[0]} ", style=mark[1])
    if refresh["action"]:
        text.append(refresh["action"], style=ACTION_STYLE.get(refresh["action"], mark[1]))
    if state != "SUCCEEDED":
        text.append(f" {state}" if refresh["action"] else state, style=mark[1])
    return text.append(f" {_clock(refresh['end_time'])}", style="dim")


class Dashboard:
    """The terminal dashboard: summary, dynamic tables by layer, base tables, problems.

    Rendered for the width available at draw time: on a narrow terminal the least useful
    columns (duration, rows changed, row count) are dropped rather than squeezing names.
    """

    DROP_ORDER = ("Took", "Rows Δ", "Rows", "Mode", "Target")

    def __init__(self, status: dict[str, Any]):
        self.status = status

    def __rich_console__(self, console: Console, options: Any) -> Iterator[RenderableType]:
        status, width = self.status, options.max_width
        yield self._header()
        yield self._dynamic_tables(width)
        if status["base_tables"]:
            yield self._base_tables()
        problems = [(t, p) for t in status["dynamic_tables"] for p in t["problems"]]
        if problems:
            lines = [
                Text.assemble(
                    ("● ", HEALTH_STYLE[t["health"]]),
                    (f"{t['schema']}.{t['name']}", "bold"),
                    f"  {problem}",
                )
                for t, problem in problems
            ]
            yield Panel(Group(*lines), title="Problems", title_align="left", border_style="red")

    def _header(self) -> Panel:
        status, summary = self.status, self.status["summary"]
        head = Text.assemble(
            ("❄ snowmelt", "bold cyan"),
            (" pipeline monitor   ", "bold"),
            (
                f"{status['source']['target'] or 'in-memory'}   "
                f"{(status['generated_at'] or '')[:10]} "
                f"{_clock(status['generated_at'])}",
                "dim",
            ),
        )
        healthy = summary["status"] == "HEALTHY"
        line = Text(
            "● HEALTHY" if healthy else "● UNHEALTHY", style="bold green" if healthy else "bold red"
        )
        line.append(f"   {summary['dynamic_tables']} dynamic · {summary['base_tables']} base")
        for key, label, style in (
            ("failing", "failing", "red"),
            ("suspended", "suspended", "magenta"),
            ("over_lag", "over lag", "yellow"),
        ):
            line.append(" · ").append(
                f"{summary[key]} {label}", style=style if summary[key] else "dim"
            )
        return Panel(Group(head, line), box=box.ROUNDED, border_style="green" if healthy else "red")

    def _dynamic_tables(self, width: int) -> Table:
        columns = [
            "Dynamic table",
            "Health",
            "Mode",
            "Target",
            "Lag",
            "Last refresh",
            "Took",
            "Rows Δ",
            "Rows",
        ]
        groups: list[tuple[str, list[dict[str, Text]]]] = []
        for t in sorted(
            self.status["dynamic_tables"],
            key=lambda t: (_layer_key(t["layer"]), t["qualified_name"]),
        ):
            if not groups or groups[-1][0] != t["layer"]:
                groups.append((t["layer"], []))
            groups[-1][1].append(_dynamic_row(t))
        rows = [r for _, group in groups for r in group]
        natural = {c: max([len(c), *(r[c].cell_len for r in rows)]) + 3 for c in columns}
        for column in self.DROP_ORDER:  # drop columns until the rest fits
            if sum(natural[c] for c in columns) <= width:
                break
            columns.remove(column)
        table = Table(
            box=box.SIMPLE_HEAD,
            header_style="bold",
            expand=True,
            pad_edge=False,
            title="Dynamic tables",
            title_justify="left",
            title_style="bold",
        )
        for column in columns:
            first = column == "Dynamic table"
            table.add_column(
                column,
                no_wrap=not first,
                overflow="fold" if first else "ellipsis",
                justify="right"
                if column in ("Target", "Lag", "Took", "Rows Δ", "Rows")
                else "left",
            )
        for number, (layer, group) in enumerate(groups):
            if number:
                table.add_section()
            table.add_row(_layer_text(layer))
            for row in group:
                table.add_row(*(row[c] for c in columns))
        if not rows:
            table.caption = "No dynamic tables yet."
        return table

    def _base_tables(self) -> Table:
        bases = Table(
            box=box.SIMPLE_HEAD,
            header_style="bold",
            pad_edge=False,
            title="Base tables",
            title_justify="left",
            title_style="bold",
        )
        bases.add_column("Base table", overflow="fold")
        bases.add_column("Layer", no_wrap=True)
        bases.add_column("Rows", justify="right", no_wrap=True)
        bases.add_column("Read by", overflow="fold")
        for b in sorted(
            self.status["base_tables"], key=lambda b: (_layer_key(b["layer"]), b["qualified_name"])
        ):
            readers = ", ".join(c.split(".", 1)[1] for c in b["consumers"]) or "—"
            bases.add_row(
                Text(f"{b['schema']}.{b['name']}", style="bold"),
                _layer_text(b["layer"]),
                f"{b['rows']:,}" if b["rows"] is not None else "—",
                Text(readers, style="dim"),
            )
        return bases


def _dynamic_row(t: dict[str, Any]) -> dict[str, Text]:
    name = Text("  ")
    if t["schema"].upper() != t["layer"]:
        name.append(f"{t['schema']}.", style="dim")
    name.append(t["name"], style="bold")
    style = HEALTH_STYLE[t["health"]]
    health = Text("● ", style=style).append(
        "OK" if t["health"] == "HEALTHY" else t["health"].replace("_", " "),
        style="" if t["health"] == "HEALTHY" else style,
    )
    incremental = t["refresh_mode"] in ("INCREMENTAL", "ADAPTIVE")
    refresh = t["last_refresh"]
    target = (
        Text(_short(t["target_lag_sec"]))
        if t["target_lag_sec"]
        else Text("DOWNSTREAM" if t["target_lag_type"] == "DOWNSTREAM" else "—", style="cyan")
    )
    return {
        "Dynamic table": name,
        "Health": health,
        "Mode": Text(
            {"INCREMENTAL": "INCR", "ADAPTIVE": "ADAPT"}.get(t["refresh_mode"], t["refresh_mode"]),
            style="green" if incremental else "blue",
        ),
        "Target": target,
        "Lag": Text(_duration(t["current_lag_sec"]), style=FRESHNESS_STYLE[t["freshness"]]),
        "Last refresh": _last_refresh(refresh),
        "Took": Text(_ms(refresh["duration_ms"] if refresh else None)),
        "Rows Δ": _rows_changed(refresh),
        "Rows": Text(f"{t['rows']:,}" if t["rows"] is not None else "—"),
    }


def render_dashboard(status: dict[str, Any]) -> RenderableType:
    return Dashboard(status)


def render_history(refreshes: list[dict[str, Any]]) -> Table:
    table = Table(
        box=box.SIMPLE_HEAD,
        header_style="bold",
        title="Recent refreshes",
        title_justify="left",
        title_style="bold",
        expand=True,
    )
    for column in (
        "Finished",
        "Dynamic table",
        "Action",
        "Trigger",
        "State",
        "Took",
        "Rows Δ",
        "Message",
    ):
        table.add_column(
            column,
            justify="right" if column in ("Took", "Rows Δ") else "left",
            no_wrap=column != "Message",
        )
    for r in refreshes:
        end = _parse_ts(r["end_time"] or r["start_time"])
        table.add_row(
            end.strftime("%Y-%m-%d %H:%M:%S") if end else "—",
            Text(r["qualified_name"].split(".", 1)[1], style="bold"),
            Text(r["action"] or "—", style=ACTION_STYLE.get(r["action"] or "", "")),
            r["trigger"] or "—",
            Text(
                r["state"],
                style="green"
                if r["state"] == "SUCCEEDED"
                else "yellow"
                if r["state"] == "SKIPPED"
                else "bold red",
            ),
            _ms(r["duration_ms"]),
            _rows_changed(r),
            Text(r["state_message"] or "", style="dim"),
        )
    if not refreshes:
        table.caption = "No refreshes in the last 7 days."
    return table


def watch(
    console: Console,
    snapshot: Callable[[], RenderableType],
    interval: float,
    iterations: int | None,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Redraw ``snapshot()`` in place every ``interval`` s; ``iterations`` stops it."""
    from rich.live import Live

    done = 0
    with Live(
        snapshot(),
        console=console,
        auto_refresh=False,
        screen=False,
        transient=False,
        redirect_stdout=False,
    ) as live:
        done = 1
        while iterations is None or done < iterations:
            sleep(interval)
            live.update(snapshot(), refresh=True)
            done += 1
    return done
