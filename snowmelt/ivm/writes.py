"""Writes of incremental refreshes, keeping the storage contract (``snowmelt.storage``).

Every image a refresh removes — a deleted row or the old image of a replaced one — goes to
the table's delete log with ``_sm_del_ver`` = the commit version; every image it writes gets
``_sm_ver`` = the commit version. So the dynamic table's own net change, which downstream
dynamic tables consume, is exact. Rows are addressed by ``_sm_rowid``; a replaced row keeps
its row id (stable identity), a new row draws one from the shared sequence.

Two shapes of write:

* ``apply_linear``: a consolidated weighted change keyed by the carried source identity
  ``_sm_src`` (linear rule);
* ``apply_flagged``: old and new images of the affected groups (aggregate and recompute
  rules), each new image flagged when it equals the stored one; those are left alone, so
  an unchanged group writes nothing (``replace_flagged``: both images on one row);
* ``insert_appended``: a change known to only add rows, inserted straight from its query.

Each write is one flat SELECT over a scratch table or the change's query, its condition in
its own WHERE: the engine's cost to bind a statement grows with its nesting of 30-column
``SELECT *`` layers (about a millisecond each), which for a small refresh is most of it.

The commit version is the statement parameter ``$v`` (``Runner.params``), so each statement
renders once per plan.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlglot import exp

from snowmelt.commits import Commit
from snowmelt.ivm.canonical import SRC, WEIGHT, column, null_safe_equal, subquery
from snowmelt.ivm.runner import IncrementalInvariantError, Runner, Statement, built, guard
from snowmelt.names import (
    DATA_SCHEMA,
    INSERT_VERSION,
    ROW_ID,
    ROWID_SEQUENCE,
    data_table,
    quoted,
)
from snowmelt.storage import log_columns, log_live

VERSION = exp.Placeholder(this="v")  # the commit version


def count_of(query: exp.Expr) -> exp.Select:
    return exp.select(exp.func("count", exp.Star())).from_(
        query.copy() if isinstance(query, exp.Table) else subquery(query, "_sm_c")
    )


def delete_images(
    run: Runner,
    commit: Commit,
    oid: int,
    columns: Sequence[str],
    images: exp.Expr | Callable[[], exp.Expr],
    key: str,
    expected: int | None = None,
) -> int:
    """Log and delete the rows whose images (``columns`` + row id + version) are in
    ``images`` (a table, or a builder of an aliased subquery). Every image must still be
    live: the rows deleted must number ``expected``, or the images logged when it is None,
    else the refresh fails."""

    def log() -> exp.Expr:
        logged = exp.select(
            *[column(c) for c in columns], column(ROW_ID), column(INSERT_VERSION), VERSION.copy()
        ).from_(built(images))
        return exp.Insert(this=log_columns(oid, columns), expression=logged)

    def delete() -> exp.Expr:
        live = exp.select(column(ROW_ID)).from_(built(images))
        return _delete_ids(oid, live)

    if run.execute_statements and expected == 0:
        return 0
    return _log_and_delete(run, commit, oid, log, delete, key, expected)


def delete_rows(
    run: Runner, commit: Commit, oid: int, columns: Sequence[str], ids: exp.Select, key: str
) -> int:
    """Log (their images as stored) and delete the rows of table ``oid`` whose row ids
    ``ids`` lists — rows this refresh found live in the table, in its own transaction."""

    def log() -> exp.Expr:
        listed = exp.In(this=column(ROW_ID), query=exp.Subquery(this=ids.copy()))
        return log_live(oid, columns, VERSION, listed)

    return _log_and_delete(run, commit, oid, log, lambda: _delete_ids(oid, ids.copy()), key, None)


def _delete_ids(oid: int, ids: exp.Select) -> exp.Delete:
    return exp.Delete(
        this=data_table(oid),
        where=exp.Where(this=exp.In(this=column(ROW_ID), query=exp.Subquery(this=ids))),
    )


def _log_and_delete(
    run: Runner,
    commit: Commit,
    oid: int,
    log: Callable[[], exp.Expr],
    delete: Callable[[], exp.Expr],
    key: str,
    expected: int | None,
) -> int:
    """Run the log then the delete; the rows deleted must number ``expected``, or the
    images logged when it is None, else the refresh fails."""
    logged = run.execute("log the old images", log, f"{key}:log")
    deleted = run.execute("delete the old images", delete, f"{key}:delete")
    if run.execute_statements:
        wanted = expected if expected is not None else logged
        if deleted != wanted:
            raise IncrementalInvariantError(
                f"An incremental refresh of table id {oid} meant to replace {wanted} rows but "
                f"found {deleted}; the refresh is abandoned (snowmelt bug)."
            )
    commit.touch(oid, deleted)
    return deleted


def next_row_id() -> exp.Expr:
    return exp.Anonymous(
        this="nextval", expressions=[exp.Literal.string(f'"{DATA_SCHEMA}"."{ROWID_SEQUENCE}"')]
    )


def insert_images(
    run: Runner,
    commit: Commit,
    oid: int,
    columns: Sequence[str],
    rows: Statement,
    key: str,
    row_id: str | None = None,
    where: exp.Expr | None = None,
    names: Sequence[str] | None = None,
) -> int:
    """Append ``rows`` (a table or a query, named ``columns``, plus the column ``row_id``
    when given: the row id to keep, NULL for a new one; a query's columns are named
    ``names`` by position when given) where ``where`` holds, at the commit's version."""
    positional = list(names) if names is not None else None

    def insert() -> exp.Expr:
        names = [quoted(c) for c in columns] + [quoted(ROW_ID), quoted(INSERT_VERSION)]
        rid = (
            next_row_id()
            if row_id is None
            else exp.func("coalesce", column(row_id, "_sm_rows"), next_row_id())
        )
        body = built(rows)
        select = exp.select(*[column(c, "_sm_rows") for c in columns], rid, VERSION.copy()).from_(
            body.as_("_sm_rows")
            if isinstance(body, exp.Table)
            else subquery(body, "_sm_rows", positional)
        )
        if where is not None:
            select = select.where(where.copy())
        return exp.Insert(
            this=exp.Schema(this=data_table(oid), expressions=names), expression=select
        )

    inserted = run.execute("insert the new images", insert, f"{key}:insert")
    commit.touch(oid, inserted, "appended")
    return inserted


def insert_appended(
    run: Runner, commit: Commit, oid: int, columns: Sequence[str], delta: Statement, key: str
) -> int:
    """Insert a change known to only add rows (``columns`` + ``_sm_weight`` by position)
    straight from its query, one statement, which fails on any weight other than +1."""
    weight_one = exp.EQ(this=column(WEIGHT), expression=exp.Literal.number(1))
    violated = exp.Not(this=exp.func("coalesce", weight_one, exp.false()))
    message = "a change over appended rows removes rows"
    checked = guard(violated, message)
    names = list(columns) + [WEIGHT]
    return insert_images(run, commit, oid, columns, delta, key, where=checked, names=names)


def apply_linear(
    run: Runner,
    commit: Commit,
    oid: int,
    columns: Sequence[str],
    delta: Statement,
    delta_key: str | None,
    appends: bool = False,
) -> tuple[int, int]:
    """Apply a weighted change of a linear query (``columns``, ``_sm_src``, ``_sm_weight``).

    An insert-only change (the common case: appends) is inserted as it is — its rows come
    from distinct source images; when the sources are known to have only been appended to
    (``appends``), straight from the query in one statement that fails on any weight
    other than +1. Otherwise rows are consolidated per (row, source identity):
    an update that did not change the projected row cancels out. What remains must be one
    deletion and/or one insertion per identity, and every deletion must find exactly its
    live row — otherwise the refresh fails.
    """
    cols = list(columns)
    every = cols + [SRC]
    change = run.table("change")
    negative = exp.LT(this=column(WEIGHT), expression=exp.Literal.number(0))
    positive = exp.GT(this=column(WEIGHT), expression=exp.Literal.number(0))

    def compute() -> exp.Select:
        body = built(delta)
        return exp.select("*").from_(subquery(body, "_sm_delta", every + [WEIGHT]))

    if appends and delta_key is not None:
        return insert_appended(run, commit, oid, every, delta, f"linear:appended:{delta_key}"), 0
    raw, rows = run.temp_count("compute the change of the query", "delta", compute, delta_key)
    if not rows:
        return 0, 0
    ((deletions, odd),) = run.rows(
        "count deletions and odd weights",
        lambda: exp.select(
            exp.func("count_if", negative.copy()),
            exp.func(
                "count_if",
                exp.Not(
                    this=exp.In(
                        this=column(WEIGHT),
                        expressions=[exp.Literal.number(1), exp.Literal.number(-1)],
                    )
                ),
            ),
        ).from_(raw.copy()),
        "linear:raw_stats",
        dry=[(1, 0)],
    )
    if odd:
        raise IncrementalInvariantError(
            f"the change of a linear query has {odd} rows with a "
            "weight other than ±1 (snowmelt bug)"
        )
    if not deletions:
        inserted = insert_images(
            run,
            commit,
            oid,
            every,
            lambda: exp.select(*[column(c) for c in every]).from_(raw.copy()),
            "linear:append",
        )
        return inserted, 0

    def consolidate() -> exp.Expr:
        weight_sum = exp.func("sum", column(WEIGHT))
        return (
            exp.select(*[column(c) for c in every], exp.cast(weight_sum, "BIGINT").as_(WEIGHT))
            .from_(raw.copy())
            .group_by(*[column(c) for c in every])
            .having(exp.NEQ(this=weight_sum.copy(), expression=exp.Literal.number(0)))
        )

    run.temp("consolidate the change", "change", consolidate, "linear:consolidate")

    def stats() -> exp.Expr:
        """(anomalies, deletions) in one pass: weights must be ±1 and each source identity
        may appear once per sign."""
        bad_weight = (
            exp.select(exp.Literal.number(1))
            .from_(change.copy())
            .where(
                exp.Not(
                    this=exp.In(
                        this=column(WEIGHT),
                        expressions=[exp.Literal.number(1), exp.Literal.number(-1)],
                    )
                )
            )
        )
        doubled = (
            exp.select(exp.Literal.number(1))
            .from_(change.copy())
            .group_by(column(SRC), exp.func("sign", column(WEIGHT)))
            .having(exp.GT(this=exp.func("count", exp.Star()), expression=exp.Literal.number(1)))
        )
        anomalies = count_of(exp.union(bad_weight, doubled, distinct=False))
        deletions = count_of(exp.select("*").from_(change.copy()).where(negative.copy()))
        return exp.select(exp.Subquery(this=anomalies), exp.Subquery(this=deletions))

    found_stats = run.rows("check the change, count deletions", stats, "linear:stats", dry=[(0, 1)])
    anomalies, wanted = (int(v or 0) for v in found_stats[0])
    if anomalies:
        raise IncrementalInvariantError(
            f"the change of a linear query has a weight other than ±1 or two rows with one "
            f"source identity ({anomalies} rows); the refresh is abandoned and the table keeps "
            "its last version. This is a snowmelt bug: please report it."
        )
    deleted = 0
    if wanted:

        def doomed() -> exp.Expr:
            return (
                exp.select(
                    *[column(c, "t") for c in every],
                    column(ROW_ID, "t"),
                    column(INSERT_VERSION, "t"),
                )
                .from_(data_table(oid).as_("t"))
                .join(
                    exp.select("*").from_(change.copy()).where(negative.copy()).subquery("d"),
                    on=exp.and_(
                        exp.EQ(this=column(SRC, "t"), expression=column(SRC, "d")),
                        null_safe_equal((column(c, "t"), column(c, "d")) for c in cols),
                    ),
                )
            )

        images, found = run.temp_count(
            "find the rows to delete", "doomed", doomed, "linear:doomed", dry=wanted
        )
        if found != wanted:
            raise IncrementalInvariantError(
                f"An incremental refresh of table id {oid} must delete {wanted} rows but "
                f"{found} match: the table does not hold what its change says (snowmelt bug)."
            )
        deleted = delete_images(run, commit, oid, every, images, "linear", expected=found)
    inserted = insert_images(
        run,
        commit,
        oid,
        every,
        lambda: exp.select(*[column(c) for c in every]).from_(change.copy()).where(positive.copy()),
        "linear",
    )
    return inserted, deleted


SAME = "_sm_same"
KEEP = "_sm_keep"


def _holds(flag: str) -> exp.Expr:
    return exp.func("coalesce", column(flag), exp.false())


def _stored() -> exp.Expr:
    return exp.Not(this=exp.Is(this=column(ROW_ID), expression=exp.Null()))


def apply_flagged(
    run: Runner,
    commit: Commit,
    oid: int,
    columns: Sequence[str],
    old: exp.Table,
    new: exp.Table,
    key: str,
) -> tuple[int, int]:
    """Replace the stored rows ``old`` lists (by row id; rows with a NULL row id list none)
    by the ``new`` images (``columns``, the row id to keep or NULL, and ``_sm_same`` — true
    when the row is unchanged). Unchanged rows are not touched; the comparison was made
    while building ``new``, so only row ids are matched here, and the images logged are
    read from the table by row id."""
    kept = exp.select(column(ROW_ID)).from_(new.copy()).where(_holds(SAME))
    doomed = exp.and_(
        _stored(), exp.Not(this=exp.In(this=column(ROW_ID), query=exp.Subquery(this=kept)))
    )
    ids = exp.select(column(ROW_ID)).from_(old.copy()).where(doomed)
    deleted = delete_rows(run, commit, oid, columns, ids, key)
    written = exp.Not(this=_holds(SAME))
    inserted = insert_images(run, commit, oid, columns, new, key, row_id=ROW_ID, where=written)
    return inserted, deleted


def replace_flagged(
    run: Runner,
    commit: Commit,
    oid: int,
    columns: Sequence[str],
    rows: exp.Table,
    key: str,
) -> tuple[int, int]:
    """``apply_flagged`` where each row of ``rows`` stands for one stored row (its row id,
    NULL for none) and its new image (``columns``), with ``_sm_keep`` (the row stays): row
    ids are unique in ``rows``, so a row's fate is read off its own flags, with no matching
    of row ids at all."""
    unchanged = exp.and_(_holds(KEEP), _holds(SAME))
    doomed = exp.and_(_stored(), exp.Not(this=exp.paren(unchanged, copy=False)))
    ids = exp.select(column(ROW_ID)).from_(rows.copy()).where(doomed)
    deleted = delete_rows(run, commit, oid, columns, ids, key)
    written = exp.and_(_holds(KEEP), exp.Not(this=_holds(SAME)))
    inserted = insert_images(run, commit, oid, columns, rows, key, row_id=ROW_ID, where=written)
    return inserted, deleted
