"""Frozen regions of dynamic tables: ``FROZEN WHERE (condition)`` (formerly spelled
``IMMUTABLE WHERE``, still accepted), at CREATE and with ALTER ... SET / UNSET.

The rows of a dynamic table for which the condition holds are frozen: refreshes leave them
as they are, whatever happens to the sources (a closed accounting period, last month's
sessions). The condition reads the table's own columns, not its sources', and may read
``CURRENT_TIMESTAMP`` — the refresh's data timestamp, so a region like
``DAY < CURRENT_DATE() - 7`` grows as time passes. A refresh after the first makes

    the table's rows for which the condition holds (kept as they are)
  ⊎ the query's rows for which it does not (the active region, recomputed)

written as its difference from the rows the table holds, so the tables downstream see only
what changed. The initial refresh and a reinitialization ignore the condition, as on
Snowflake. A row whose condition is NULL is active (a WHERE keeps only TRUE).

snowmelt refreshes a table with a frozen region in FULL mode (``AUTO`` resolves to FULL,
reason ``FROZEN_REGION``; INCREMENTAL and ADAPTIVE are refused, named): each refresh
recomputes the active region only, DuckDB pushing the negated condition into the query
where it can. Tables reading it refresh incrementally as from any FULL table. A query
reading the table may ask ``METADATA$IS_FROZEN`` (or ``METADATA$IS_IMMUTABLE``) of each row
(``metadata_columns``).
"""

from __future__ import annotations

import typing
from datetime import datetime

import sqlglot
from sqlglot import exp

from snowmelt.errors import SqlError
from snowmelt.ivm.api import bind_time
from snowmelt.names import ObjectName, data_table, quoted
from snowmelt.runtime import Runtime
from snowmelt.sql.resolve import normalize, position


def parse_condition(text: str) -> exp.Expression:
    """The condition, parsed (Snowflake SQL, identifiers normalized)."""
    try:
        parsed = sqlglot.parse_one(text, read="snowflake")
    except sqlglot.ParseError as err:
        raise SqlError(f"Cannot read the FROZEN WHERE condition {text!r}: {err}") from None
    return normalize(typing.cast(exp.Expression, parsed))


def check(rt: Runtime, name: ObjectName, oid: int, columns: list[str], text: str) -> str:
    """Validate a frozen region's condition for dynamic table ``name`` (stored as ``oid``,
    with ``columns``): it reads only those columns, holds no subquery, and binds. Returns
    it as snowmelt keeps it."""
    condition = parse_condition(text)
    if condition.find(exp.Query) is not None:
        raise SqlError(f"Dynamic table {name}: FROZEN WHERE cannot hold a subquery")
    for column in condition.find_all(exp.Column):
        if column.table or column.name not in columns:
            raise SqlError(
                f"Dynamic table {name}: FROZEN WHERE reads {column.sql('snowflake')}, which "
                f"is not one of the table's columns ({', '.join(columns)}); the condition "
                "reads the dynamic table's own columns, not its sources'"
            )
    probe = (
        exp.select(exp.Literal.number(1))
        .from_(_rows(oid, columns))
        .where(_holds(rt, condition, rt.clock.now()))
        .limit(0)
    )
    try:
        rt.engine.rows(probe)
    except Exception as err:
        raise SqlError(
            f"Dynamic table {name}: FROZEN WHERE ({text}) does not bind: {err}"
        ) from None
    return condition.sql("snowflake")


def refresh_query(
    rt: Runtime,
    oid: int,
    columns: list[str],
    text: str,
    query: exp.Expression,
    now: datetime | None,
) -> exp.Expression:
    """What a refresh of a table with a frozen region makes it: its frozen rows as they are,
    and ``query``'s rows (engine SQL, ``columns`` by position) outside the region, the
    condition read at ``now`` (the data timestamp)."""
    condition = parse_condition(text)
    frozen = _holds(rt, condition, now)
    kept = exp.select(*[quoted(c) for c in columns]).from_(_rows(oid, columns)).where(frozen)
    active = (
        exp.select(*[quoted(c) for c in columns])
        .from_(
            exp.Subquery(
                this=query,
                alias=exp.TableAlias(this=quoted("_sm_q"), columns=[quoted(c) for c in columns]),
            )
        )
        .where(exp.not_(frozen.copy()))
    )
    return exp.union(kept, active, distinct=False)


METADATA_COLUMNS = ("METADATA$IS_FROZEN", "METADATA$IS_IMMUTABLE")  # the latter: older name


def metadata_columns(rt: Runtime, query: exp.Expression) -> exp.Expression:
    """``METADATA$IS_FROZEN`` (or ``METADATA$IS_IMMUTABLE``) of a dynamic table read in a
    query: whether each row is in its frozen region — its condition over the row, read
    now (FALSE for a table without one). Replaced in place by that condition."""
    for column in list(query.find_all(exp.Column)):
        if column.name.upper() not in METADATA_COLUMNS:
            continue
        select = column.find_ancestor(exp.Select)
        from_ = select.args.get("from_") if select is not None else None
        joins = (select.args.get("joins") if select is not None else None) or []
        sources = [
            s
            for s in ([from_.this] if from_ is not None else []) + [j.this for j in joins]
            if isinstance(s, exp.Table) and isinstance(s.this, exp.Identifier)
        ]
        if column.table:
            sources = [s for s in sources if s.alias_or_name.upper() == column.table.upper()]
        if len(sources) != 1:
            raise SqlError(
                f"{column.sql('snowflake')}: name the dynamic table it is a column of "
                "(its alias before the dot)",
                *position(column),
            )
        obj = rt.resolver.lookup(sources[0])
        if obj.kind != "DYNAMIC TABLE":
            raise SqlError(
                f"{column.name.upper()} is a column of dynamic tables; {obj.name} is a "
                f"{obj.kind.lower()}",
                *position(column),
            )
        text = rt.catalog.dynamic_table(obj.oid).frozen_where
        value: exp.Expr = exp.false()
        if text is not None:
            condition = parse_condition(text)
            for reference in condition.find_all(exp.Column):
                reference.set("table", exp.to_identifier(sources[0].alias_or_name))
            value = exp.func("coalesce", exp.Paren(this=condition), exp.false())
        if isinstance(column.parent, exp.Select) and column in column.parent.expressions:
            value = exp.alias_(value, column.name.upper(), quoted=True)  # its output name
        column.replace(value)
    return query


def _rows(oid: int, columns: list[str]) -> exp.Subquery:
    """The table's rows, by its column names (its storage also holds hidden columns)."""
    return exp.Subquery(
        this=exp.select(*[quoted(c) for c in columns]).from_(data_table(oid)),
        alias=exp.TableAlias(this=quoted("_sm_t")),
    )


def _holds(rt: Runtime, condition: exp.Expression, now: datetime | None) -> exp.Expression:
    """The condition as the engine reads it, TRUE only where it holds (NULL is active)."""
    bound = rt.to_engine(bind_time(condition.copy(), now))
    return typing.cast(exp.Expression, exp.func("coalesce", exp.Paren(this=bound), exp.false()))
