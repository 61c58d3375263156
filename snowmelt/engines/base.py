"""The engine interface the rest of snowmelt programs against."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any

import pyarrow as pa
from sqlglot import exp


class Engine:
    """An SQL engine holding change-tracked tables. Implementations set ``DIALECT``."""

    DIALECT: str = ""
    SUPPORTS_MERGE: bool = False

    def render(self, expression: exp.Expression) -> str:
        return expression.sql(dialect=self.DIALECT)

    def execute(self, statement: exp.Expression | str, params: Sequence[Any] | None = None) -> None:
        raise NotImplementedError

    def query(
        self, statement: exp.Expression | str, params: Sequence[Any] | None = None
    ) -> pa.Table:
        raise NotImplementedError

    def rows(
        self, statement: exp.Expression | str, params: Sequence[Any] | None = None
    ) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def transaction(self) -> AbstractContextManager[None]:
        raise NotImplementedError

    def register(self, name: str, table: pa.Table) -> AbstractContextManager[None]:
        raise NotImplementedError

    def columns_of(self, statement: exp.Expression | str) -> list[tuple[str, str]]:
        raise NotImplementedError

    def sequence_in_use(self, schema: str, name: str) -> bool:
        """Whether a column's DEFAULT draws from the sequence."""
        raise NotImplementedError

    def sequence_state(self, schema: str, name: str) -> tuple[int, int, int | None]:
        """A sequence's start, increment and last value given (None before the first),
        without drawing a value."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def iter_batches(self, statement: exp.Expression | str) -> Iterator[pa.RecordBatch]:
        raise NotImplementedError
