"""Writes of incremental refreshes, keeping the storage contract (``snowmelt.storage``).

Every image a refresh removes — a deleted row or the old image of a replaced one — goes to
the table's delete log with ``_sm_del_ver`` = the commit version; every image it writes gets
``_sm_ver`` = the commit version. So the dynamic table's own net change, which downstream
dynamic tables consume, is exact. Rows are addressed by ``_sm_rowid``; a replaced row keeps
its row id (stable identity), a new row draws one from the shared sequence.

Two shapes of write:

* ``apply_linear``: a consolidated weighted change keyed by the carried source identity
  ``_sm_src`` (linear rule);
* ``apply_images``: old and new images of the affected groups (aggregate and recompute
  rules); pairs that did not change are left alone, so an unchanged group writes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlglot import exp

from snowmelt.ivm.canonical import SRC, WEIGHT, column, null_safe_equal, subquery
from snowmelt.ivm.runner import Runner
from snowmelt.names import (
    DATA_SCHEMA,
    DELETE_VERSION,
    INSERT_VERSION,
    ROW_ID,
    ROWID_SEQUENCE,
    data_table,
    delete_log,
    quoted,
)
from snowmelt.storage import Commit


def _count(query: exp.Expression) -> exp.Select:
    return exp.select(exp.func("count", exp.Star())).from_(
        query.subquery("_sm_c") if not isinstance(query, exp.Table) else query)


def delete_images(run: Runner, commit: Commit, oid: int, columns: Sequence[str],
                  images: exp.Table, expected: int | None = None) -> int:
    """Log and delete the rows whose images (``columns`` + row id + version) are in
    ``images``. Every image must still be live, else the refresh fails."""
    names = [quoted(c) for c in columns] + [quoted(ROW_ID), quoted(INSERT_VERSION),
                                             quoted(DELETE_VERSION)]
    logged = exp.select(*[column(c) for c in columns], column(ROW_ID), column(INSERT_VERSION),
                        exp.Literal.number(commit.version)).from_(images.copy())
    run.execute("log old images", exp.Insert(
        this=exp.Schema(this=delete_log(oid), expressions=names), expression=logged))
    live = exp.select(column(ROW_ID)).from_(images.copy())
    deleted = run.execute("delete old images", exp.Delete(
        this=data_table(oid), where=exp.Where(this=exp.In(
            this=column(ROW_ID), query=exp.Subquery(this=live)))))
    if run.execute_statements:
        wanted = expected if expected is not None else int(run.value(
            "count old images", _count(images)))
        if deleted != wanted:
            from snowmelt.ivm.runner import IncrementalInvariantError

            raise IncrementalInvariantError(
                f"An incremental refresh of table id {oid} meant to replace {wanted} rows but "
                f"found {deleted}; the refresh is abandoned (snowmelt bug).")
    commit.touch(oid, deleted)
    return deleted


def next_row_id() -> exp.Expression:
    return exp.Anonymous(this="nextval", expressions=[
        exp.Literal.string(f'"{DATA_SCHEMA}"."{ROWID_SEQUENCE}"')])


def insert_images(run: Runner, commit: Commit, oid: int, columns: Sequence[str],
                  rows: exp.Expression, row_id: exp.Expression | None = None) -> int:
    """Append ``rows`` (positional to ``columns``, plus ``row_id`` when given) at the commit's
    version; a NULL or missing row id draws a new one."""
    names = [quoted(c) for c in columns] + [quoted(ROW_ID), quoted(INSERT_VERSION)]
    rid = exp.func("coalesce", row_id, next_row_id()) if row_id is not None else next_row_id()
    select = exp.select(*[column(c, "_sm_rows") for c in columns], rid,
                        exp.Literal.number(commit.version)).from_(subquery(rows, "_sm_rows"))
    inserted = run.execute("insert new images", exp.Insert(
        this=exp.Schema(this=data_table(oid), expressions=names), expression=select))
    commit.touch(oid, inserted)
    return inserted


def apply_linear(run: Runner, commit: Commit, oid: int, columns: Sequence[str],
                 delta: exp.Expression) -> tuple[int, int]:
    """Apply a weighted change of a linear query (``columns``, ``_sm_src``, ``_sm_weight``).

    Rows are consolidated per (row, source identity): an update that did not change the
    projected row cancels out. What remains must be one deletion and/or one insertion per
    identity, and every deletion must find exactly its live row — otherwise the refresh fails.
    """
    cols = list(columns)
    every = cols + [SRC]
    weight_sum = exp.func("sum", column(WEIGHT))
    consolidated = exp.select(*[column(c) for c in every],
                              exp.cast(weight_sum, "BIGINT").as_(WEIGHT)).from_(
        subquery(delta, "_sm_delta", every + [WEIGHT])).group_by(
        *[column(c) for c in every]).having(exp.NEQ(this=weight_sum.copy(),
                                                    expression=exp.Literal.number(0)))
    change = run.temp("consolidate the change", "change", consolidated)
    bad_weight = exp.select(exp.func("count", exp.Star())).from_(change.copy()).where(
        exp.Not(this=exp.In(this=column(WEIGHT), expressions=[
            exp.Literal.number(1), exp.Literal.number(-1)])))
    run.check("check weights", bad_weight, "a row of the change has a weight other than ±1")
    doubled = exp.select(column(SRC), exp.func("sign", column(WEIGHT)).as_("_sm_sign")).from_(
        change.copy()).group_by(column(SRC), exp.func("sign", column(WEIGHT))).having(
        exp.GT(this=exp.func("count", exp.Star()), expression=exp.Literal.number(1)))
    run.check("check identities", _count(doubled),
              "two rows of the change carry the same source identity")
    negative = exp.LT(this=column(WEIGHT), expression=exp.Literal.number(0))
    wanted = int(run.value("count deletions", _count(
        exp.select("*").from_(change.copy()).where(negative))) or 0)
    deleted = 0
    if wanted:
        target = data_table(oid).as_("t")
        doomed = exp.select(*[column(c, "t") for c in every], column(ROW_ID, "t"),
                            column(INSERT_VERSION, "t")).from_(target).join(
            exp.select("*").from_(change.copy()).where(negative.copy()).subquery("d"),
            on=exp.and_(exp.EQ(this=column(SRC, "t"), expression=column(SRC, "d")),
                        null_safe_equal((column(c, "t"), column(c, "d")) for c in cols)))
        images = run.temp("find the rows to delete", "doomed", doomed)
        found = int(run.value("count rows found", _count(images), dry=wanted) or 0)
        if found != wanted:
            from snowmelt.ivm.runner import IncrementalInvariantError

            raise IncrementalInvariantError(
                f"An incremental refresh of table id {oid} must delete {wanted} rows but "
                f"{found} match: the table does not hold what its change says (snowmelt bug).")
        deleted = delete_images(run, commit, oid, every, images, expected=found)
    inserted = insert_images(run, commit, oid, every, exp.select(
        *[column(c) for c in every]).from_(change.copy()).where(
        exp.GT(this=column(WEIGHT), expression=exp.Literal.number(0))))
    return inserted, deleted


def apply_images(run: Runner, commit: Commit, oid: int, columns: Sequence[str],
                 old: exp.Table, new: exp.Table) -> tuple[int, int]:
    """Replace the ``old`` images (physical columns + row id + version) by the ``new`` ones
    (physical columns + the row id to keep, or NULL). Identical pairs are skipped."""
    def same(a: str, b: str) -> exp.Expression:
        return exp.and_(exp.EQ(this=column(ROW_ID, a), expression=column(ROW_ID, b)),
                        null_safe_equal((column(c, a), column(c, b)) for c in columns))

    doomed = exp.select(exp.Column(this=exp.Star(), table=quoted("o"))).from_(
        old.copy().as_("o")).where(exp.Not(this=exp.Exists(this=exp.select(
            exp.Literal.number(1)).from_(new.copy().as_("n")).where(same("o", "n")))))
    images = run.temp("old images that change", "doomed", doomed)
    deleted = delete_images(run, commit, oid, columns, images)
    fresh = exp.select(*[column(c, "n") for c in columns], column(ROW_ID, "n")).from_(
        new.copy().as_("n")).where(exp.Not(this=exp.Exists(this=exp.select(
            exp.Literal.number(1)).from_(old.copy().as_("o")).where(same("o", "n")))))
    inserted = insert_images(run, commit, oid, columns, fresh, row_id=column(ROW_ID, "_sm_rows"))
    return inserted, deleted
