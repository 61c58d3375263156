"""Engines: everything engine-specific (connection, dialect, transactions, bulk append).

Input: sqlglot expressions built by the layers above. Output: Arrow tables. Nothing above
this package imports ``duckdb`` (or, later, ``pyspark``).
"""

from __future__ import annotations

from snowmelt.engines.base import Engine

__all__ = ["Engine"]
