"""Query results: an Arrow table with conversions to pandas, polars and Python rows."""

from __future__ import annotations

from typing import Any

import pyarrow as pa


class Result:
    """The result of one statement. ``arrow()`` is the native form."""

    def __init__(self, table: pa.Table, message: str | None = None):
        self._table = table
        self.message = message
        self.query_id: str | None = None  # set by the session (``results``)

    @classmethod
    def status(cls, message: str) -> Result:
        return cls(pa.table({"status": [message]}), message)

    @classmethod
    def counts(cls, **counts: int) -> Result:
        names = {k: f"number of rows {k}" for k in counts}
        return cls(pa.table({names[k]: [v] for k, v in counts.items()}))

    @property
    def columns(self) -> list[str]:
        return list(self._table.column_names)

    def arrow(self) -> pa.Table:
        return self._table

    def df(self) -> Any:
        return self._table.to_pandas()

    def pl(self) -> Any:
        import polars as pl

        return pl.from_arrow(self._table)

    def rows(self) -> list[tuple[Any, ...]]:
        columns = [c.to_pylist() for c in self._table.columns]
        return list(zip(*columns, strict=True)) if columns else []

    fetchall = rows

    def dicts(self) -> list[dict[str, Any]]:
        return self._table.to_pylist()

    def fetchone(self) -> tuple[Any, ...] | None:
        rows = self.rows()
        return rows[0] if rows else None

    def scalar(self) -> Any:
        row = self.fetchone()
        return row[0] if row else None

    def __len__(self) -> int:
        return self._table.num_rows

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.rows())

    def __repr__(self) -> str:
        return f"<Result {self._table.num_rows} rows: {', '.join(self.columns)}>"
