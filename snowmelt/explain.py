"""EXPLAIN DYNAMIC TABLE: how a dynamic table refreshes — the resolved mode and why (for a
FULL table, the construct that forces it), the incremental strategy, the statements an
incremental refresh would run now (at the table's frontier, nothing written) and the query a
full refresh evaluates."""

from __future__ import annotations

import typing

import pyarrow as pa
from sqlglot import exp, parse_one

from snowmelt import ivm
from snowmelt.commits import Commit
from snowmelt.refresh import Refresher
from snowmelt.result import Result
from snowmelt.runtime import Runtime
from snowmelt.sql.resolve import parse_object_name


def dynamic_table(rt: Runtime, refresher: Refresher, name: exp.Table | str) -> Result:
    table = name if isinstance(name, exp.Table) else parse_object_name(name)
    obj = rt.resolver.lookup(table, ("DYNAMIC TABLE",))
    dt = rt.catalog.dynamic_table(obj.oid)
    version = rt.store.version
    full = refresher.query_at(dt, version, state=False).sql("duckdb", pretty=True)
    incremental = detail = None
    if dt.incremental:
        context = refresher._context(
            obj, dt, Commit(version + 1, "EXPLAIN"), version, refresher._inputs(obj)
        )
        incremental = "\n".join(
            f"-- {n}. {step}\n{sql};" for n, (step, sql) in enumerate(ivm.api.explain(context), 1)
        )
    elif dt.refresh_mode_reason == "QUERY_NOT_SUPPORTED_FOR_INCREMENTAL":
        sources = {
            s.name: ivm.SourceInfo(s.name, s.kind, s.column_names)
            for s in (rt.catalog.get(i) for i, _, _ in rt.catalog.inputs(obj.oid))
        }
        query = typing.cast(exp.Expression, parse_one(dt.query_sql, read="snowflake"))
        detail = ivm.analyze(query, sources).message
    return Result(
        pa.table(
            {
                "name": [str(obj.name)],
                "refresh_mode": [dt.refresh_mode],
                "refresh_mode_reason": [dt.refresh_mode_reason],
                "reason_detail": [detail],
                "strategy": [dt.plan.get("strategy")],
                "incremental_sql": [incremental],
                "full_refresh_sql": [full],
            }
        )
    )
