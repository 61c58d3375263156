"""Assertions for testing dynamic-table SQL, for snowmelt's suite and for yours.

``assert_matches_query(session, "DB.SCHEMA.NAME")`` checks the delayed-view contract: the
dynamic table equals its query evaluated from scratch over the base tables as of its data
timestamp, compared as bags (``EXCEPT ALL`` both ways, so duplicates count). Upstream
dynamic tables are replaced by their own definitions, recursively, so the check does not
trust any refresh machinery — use it in CI to test your pipeline's SQL.
"""

from __future__ import annotations

from sqlglot import exp

from snowmelt.catalog import CatalogObject
from snowmelt.ivm.api import bind_time
from snowmelt.session import Session
from snowmelt.sql.parse import parse_padded
from snowmelt.sql.resolve import parse_object_name


def definition_at(session: Session, oid: int, version: int) -> str:
    """The engine SQL of dynamic table ``oid``'s query over base tables as of ``version``."""
    rt = session.rt

    def expand(query: exp.Expression) -> exp.Expression:
        def source(obj: CatalogObject, table: exp.Table) -> exp.Expression:
            if obj.kind == "DYNAMIC TABLE":
                return expand(parse_padded(rt.catalog.dynamic_table(obj.oid).query_sql))
            return rt.store.snapshot(obj.oid, obj.column_names, version)

        return rt.resolver.bind(query, source, inline_views=True)

    dt = rt.catalog.dynamic_table(oid)
    query = expand(parse_padded(dt.query_sql))
    # CURRENT_TIMESTAMP means the statement time of the data version, as in a refresh
    query = bind_time(query, rt.catalog.version_time(version))
    return rt.to_engine(query).sql("duckdb")


def bag_difference(session: Session, left: str, right: str) -> tuple[int, int]:
    """Rows of query ``left`` not in query ``right`` and the reverse, counting duplicates.
    Both are Snowflake SQL, run through the session."""
    return (
        int(session.sql(f"SELECT COUNT(*) FROM (({left}) EXCEPT ALL ({right}))").scalar()),
        int(session.sql(f"SELECT COUNT(*) FROM (({right}) EXCEPT ALL ({left}))").scalar()),
    )


def _engine_bag_difference(session: Session, left: str, right: str) -> tuple[int, int]:
    rows = session.rt.engine.rows
    return (
        int(rows(f"SELECT COUNT(*) FROM (({left}) EXCEPT ALL ({right}))")[0][0]),
        int(rows(f"SELECT COUNT(*) FROM (({right}) EXCEPT ALL ({left}))")[0][0]),
    )


def assert_matches_query(session: Session, name: str) -> None:
    """Raise AssertionError unless dynamic table ``name`` equals its query (see module doc)."""
    obj = session.rt.resolver.lookup(parse_object_name(name), ("DYNAMIC TABLE",))
    dt = session.rt.catalog.dynamic_table(obj.oid)
    if dt.data_version is None:
        raise AssertionError(f"{obj.name} has never been refreshed")
    expected = definition_at(session, obj.oid, dt.data_version)
    columns = ", ".join(exp.to_identifier(c, quoted=True).sql("duckdb") for c in obj.column_names)
    actual = f"SELECT {columns} FROM {obj.name.view_table().sql('duckdb')}"
    extra, missing = _engine_bag_difference(session, actual, expected)
    if extra or missing:
        raise AssertionError(
            f"{obj.name} differs from its query at its data timestamp: "
            f"{extra} rows too many, {missing} rows missing"
        )
