"""snowmelt: Snowflake-style dynamic tables anywhere.

Declarative SQL tables that keep themselves fresh within a TARGET_LAG, refreshed
incrementally, on an embedded DuckDB file. Start with ``snowmelt.connect()``.

Layers (imports point downwards): ``session`` (API facade) -> ``ddl``/``dml``/``query``/
``dynamic``/``monitoring`` (statement handlers) -> ``refresh`` -> ``ivm`` (incremental
compiler) -> ``storage`` (change tracking) -> ``catalog`` -> ``engines`` (DuckDB).
"""

from __future__ import annotations

from snowmelt.errors import SnowmeltError
from snowmelt.result import Result
from snowmelt.session import Session, connect

__version__ = "0.1.0"
__all__ = ["Result", "Session", "SnowmeltError", "connect", "__version__"]
