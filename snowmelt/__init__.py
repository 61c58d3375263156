"""snowmelt: Snowflake-style dynamic tables anywhere.

Declarative SQL tables that keep themselves fresh within a TARGET_LAG, refreshed
incrementally, on an embedded DuckDB file. Start with ``snowmelt.connect()``.

Layers (imports point downwards): ``session`` (API facade) -> ``ddl``/``dml``/``query``/
``dynamic``/``monitoring`` (statement handlers) -> ``refresh`` -> ``ivm`` (incremental
compiler) -> ``storage`` (change tracking) -> ``catalog`` -> ``engines`` (DuckDB).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from snowmelt.clock import Clock
from snowmelt.errors import SnowmeltError
from snowmelt.result import Result
from snowmelt.session import Session


def connect(
    path: str | Path | None = None,
    clock: Clock | None = None,
    on_notice: Callable[[str], None] | None = None,
) -> Any:
    """Open a snowmelt database.

    ``None`` keeps everything in memory. For a file owned by a running ``snowmelt serve``,
    this returns a client of that server (same ``sql``/``insert``/``refresh`` API);
    otherwise it opens the file directly.
    """
    from snowmelt.client import connect_or_remote

    return connect_or_remote(path, clock=clock, on_notice=on_notice)


__version__ = "0.1.0"
__all__ = ["Result", "Session", "SnowmeltError", "connect", "__version__"]
