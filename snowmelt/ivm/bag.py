"""Applying a weighted change by value: the write of rules whose rows carry no identity.

    net(r) = Σ weights of the change rows equal to r            (consolidated per row value)
    net(r) < 0: delete |net(r)| live copies of r (the oldest row ids first)
    net(r) > 0: insert net(r) copies of r

Copies of one row value are interchangeable — a downstream table reads them by row id, and
whichever copy goes, the change it reads is exact. Every copy a deletion names must be live:
otherwise the table does not hold what its change says and the refresh fails (the table
keeps its last version). A change built from stored rows (``window``: the rows of the
affected keys, read with their row ids) carries those row ids, so the deletions need no
second search of the table by value.

Writes go through ``writes`` (delete log, versions, row ids), so the table's own change is
exact for its consumers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlglot import exp

from snowmelt.commits import Commit
from snowmelt.ivm.canonical import WEIGHT, column, null_safe_equal, subquery
from snowmelt.ivm.runner import IncrementalInvariantError, Runner, Statement, built
from snowmelt.ivm.writes import delete_images, insert_images
from snowmelt.names import INSERT_VERSION, ROW_ID, data_table

NET = "_sm_n"
IDS = "_sm_ids"


def consolidate(
    change: Statement,
    columns: Sequence[str],
    ids: bool = False,
    types: dict[str, str] | None = None,
) -> exp.Select:
    """``change`` (``columns`` + weight, by position; + the row id of a stored copy when
    ``ids``) summed per row value, zeros dropped; with ``ids``, each value also lists the
    row ids of its stored copies. With ``types``, values are first cast to the stored column
    types, so a value compares equal to the copy the table holds."""
    body = built(change)
    total = exp.func("sum", column(WEIGHT))
    names = list(columns) + [WEIGHT] + ([ROW_ID] if ids else [])
    if types:
        body = exp.select(
            *[
                exp.alias_(
                    exp.cast(column(c, "_sm_u"), exp.DataType.build(types[c], dialect="duckdb")),
                    c,
                    quoted=True,
                )
                for c in columns
            ],
            *[column(c, "_sm_u") for c in names[len(columns) :]],
        ).from_(subquery(body, "_sm_u", names))
    items: list[exp.Expr] = [column(c) for c in columns]
    items.append(exp.cast(total, "BIGINT").as_(NET))
    if ids:
        items.append(
            exp.alias_(
                exp.Filter(
                    this=exp.ArrayAgg(this=column(ROW_ID)),
                    expression=exp.Where(
                        this=exp.Not(this=exp.Is(this=column(ROW_ID), expression=exp.Null()))
                    ),
                ),
                IDS,
                quoted=True,
            )
        )
    return (
        exp.select(*items)
        .from_(subquery(body, "_sm_delta", names))
        .group_by(*[column(c) for c in columns])
        .having(exp.NEQ(this=total.copy(), expression=exp.Literal.number(0)))
    )


def _doomed(oid: int, columns: Sequence[str], net: exp.Table, ids: bool) -> exp.Select:
    """Row images to delete: per row value with net -k, k live copies (with ``ids``, the
    first k of the row ids the change listed; else the oldest k copies in the table)."""
    negative = exp.LT(this=column(NET), expression=exp.Literal.number(0))
    if ids:
        picked = (
            exp.select(
                exp.func(
                    "unnest",
                    exp.Anonymous(
                        this="list_slice",
                        expressions=[column(IDS), exp.Literal.number(1), exp.Neg(this=column(NET))],
                    ),
                )
            )
            .from_(net.copy())
            .where(negative)
        )
        return (
            exp.select(
                *[column(c, "t") for c in columns], column(ROW_ID, "t"), column(INSERT_VERSION, "t")
            )
            .from_(data_table(oid).as_("t"))
            .where(exp.In(this=column(ROW_ID, "t"), query=exp.Subquery(this=picked)))
        )
    numbered = (
        exp.select(
            *[column(c, "t") for c in columns],
            column(ROW_ID, "t"),
            column(INSERT_VERSION, "t"),
            exp.alias_(
                exp.Window(
                    this=exp.RowNumber(),
                    partition_by=[column(c, "t") for c in columns],
                    order=exp.Order(expressions=[exp.Ordered(this=column(ROW_ID, "t"))]),
                ),
                "_sm_rn",
                quoted=True,
            ),
        )
        .from_(data_table(oid).as_("t"))
        .join(
            exp.select("*").from_(net.copy()).where(negative).subquery("d"),
            join_type="semi",
            on=null_safe_equal((column(c, "t"), column(c, "d")) for c in columns),
        )
    )
    return (
        exp.select(
            *[column(c, "t") for c in columns], column(ROW_ID, "t"), column(INSERT_VERSION, "t")
        )
        .from_(numbered.subquery("t"))
        .join(
            net.copy().as_("d"),
            on=exp.and_(
                null_safe_equal((column(c, "t"), column(c, "d")) for c in columns),
                exp.LTE(this=column("_sm_rn", "t"), expression=exp.Neg(this=column(NET, "d"))),
            ),
        )
    )


def _copies(columns: Sequence[str], net: exp.Table) -> exp.Select:
    """Each positive row value repeated net times."""
    expanded = (
        exp.select(
            *[column(c) for c in columns],
            exp.alias_(exp.func("unnest", exp.func("range", column(NET))), "_sm_copy", quoted=True),
        )
        .from_(net.copy())
        .where(exp.GT(this=column(NET), expression=exp.Literal.number(0)))
    )
    return exp.select(*[column(c) for c in columns]).from_(expanded.subquery("_sm_pos"))


def apply_change(
    run: Runner,
    commit: Commit,
    oid: int,
    columns: Sequence[str],
    change: Statement,
    key: str | None,
    name: str,
    ids: bool = False,
    engine: Any = None,
    label: str = "consolidate the change per row value",
) -> tuple[int, int]:
    """Apply ``change`` (``columns`` + ``_sm_weight``, + ``_sm_rowid`` when ``ids``: the row
    id of each stored copy it removes, NULL for added rows) to table ``oid`` by value;
    returns (rows inserted, rows deleted). ``key`` caches the consolidation's SQL (None:
    render at each refresh); ``name`` prefixes the cache keys of the writes. Given the
    ``engine``, values are cast to the table's column types first."""
    cols = list(columns)

    def net_select() -> exp.Expr:
        types = (
            dict(engine.columns_of(exp.select("*").from_(data_table(oid))))
            if engine is not None
            else None
        )
        return consolidate(change, cols, ids, types)

    net, rows = run.temp_count(label, "net", net_select, None if key is None else f"{key}:net")
    if not rows:
        return 0, 0
    n = column(NET)
    zero = exp.Literal.number(0)
    ((wanted, positive),) = run.rows(
        "count the rows to delete and to insert",
        lambda: exp.select(
            exp.func(
                "coalesce",
                exp.func(
                    "sum",
                    exp.If(
                        this=exp.LT(this=n.copy(), expression=zero), true=exp.Neg(this=n.copy())
                    ),
                ),
                zero.copy(),
            ),
            exp.func("count_if", exp.GT(this=n.copy(), expression=zero.copy())),
        ).from_(net.copy()),
        f"{name}:counts",
        dry=[(1, 1)],
    )
    deleted = 0
    if wanted:
        doomed, found = run.temp_count(
            "find the copies to delete",
            "doomed",
            lambda: _doomed(oid, cols, net, ids),
            f"{name}:doomed",
            dry=int(wanted),
        )
        if found != wanted:
            raise IncrementalInvariantError(
                f"An incremental refresh of table id {oid} must delete {wanted} rows but only "
                f"{found} are there: the table does not hold what its change says (snowmelt "
                "bug)."
            )
        deleted = delete_images(run, commit, oid, cols, doomed, name, expected=found)
    inserted = 0
    if positive:
        inserted = insert_images(run, commit, oid, cols, lambda: _copies(cols, net), name)
    return inserted, deleted
