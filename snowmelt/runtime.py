"""The shared state of one open database: engine, catalog, store, clock and session context.

Statement handlers (``ddl``, ``dml``, ``query``, ``dynamic``, ``refresh``, ``monitoring``)
receive a ``Runtime``; it holds no logic of its own beyond small conveniences.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlglot import exp

from snowmelt.catalog import Catalog, CatalogObject
from snowmelt.clock import Clock
from snowmelt.engines.base import Engine
from snowmelt.sql.resolve import Context, Resolver
from snowmelt.sql.translate import to_duckdb
from snowmelt.storage import Store


@dataclass
class Runtime:
    engine: Engine
    catalog: Catalog
    store: Store
    clock: Clock
    context: Context = field(default_factory=Context)
    notices: list[str] = field(default_factory=list)
    on_notice: Callable[[str], None] | None = None
    dialect: str = "snowflake"  # of the statement being run; DuckDB SQL is not translated

    def notice(self, message: str) -> None:
        self.notices.append(message)
        if self.on_notice is not None:
            self.on_notice(message)

    @property
    def resolver(self) -> Resolver:
        return Resolver(self.catalog, self.context)

    def to_engine(self, expression: exp.Expression) -> exp.Expression:
        """Translate a bound Snowflake-dialect expression for the engine."""
        return expression if self.dialect == "duckdb" else to_duckdb(expression)

    def bind_for_read(self, expression: exp.Expression) -> exp.Expression:
        """Point every table reference at its user-visible relation (current data)."""

        def to_view(obj: CatalogObject, table: exp.Table) -> exp.Expression:
            check_readable(self, obj)
            return obj.name.view_table()

        return self.resolver.bind(expression, to_view)


def check_readable(rt: Runtime, obj: CatalogObject) -> None:
    if obj.kind == "DYNAMIC TABLE":
        from snowmelt.errors import NotInitializedError

        dt = rt.catalog.dynamic_table(obj.oid)
        if not dt.initialized:
            raise NotInitializedError(
                f"Dynamic Table '{obj.name}' is not initialized. Please run a manual refresh "
                f"or wait for a scheduled refresh before querying.",
                name=str(obj.name),
            )
