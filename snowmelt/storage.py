"""Change tracking: versioned tables, delete logs, and readers for snapshots and changes.

The storage contract (DESIGN.md):

* Every committed write gets the next global **commit version**; ``_snowmelt.versions`` maps
  versions to wall-clock time. Allocation and commit happen under the engine lock, so a
  reader at version V sees exactly the writes with version <= V.
* A tracked table ``t{oid}`` holds its live rows plus hidden ``_sm_rowid`` (stable identity)
  and ``_sm_ver`` (the version that wrote this image). Deleting a row, or replacing it by an
  update, moves the old image to ``t{oid}_dlog`` with its delete version ``_sm_del_ver``.
* ``snapshot(v)`` = live rows with ``_sm_ver <= v`` plus logged rows with
  ``_sm_ver <= v < _sm_del_ver``. ``change(a, b)`` = images written in (a, b] and alive at b
  (weight +1) plus images alive at a and deleted in (a, b] (weight -1); an image both born
  and deleted inside the window cancels by construction.

Every reader and writer here builds sqlglot expressions; nothing is spliced into strings.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from sqlglot import exp

from snowmelt.catalog import Catalog, Column
from snowmelt.clock import Clock
from snowmelt.commits import AppendLog, Commit
from snowmelt.engines.base import Engine
from snowmelt.errors import SnowmeltError
from snowmelt.names import (
    DATA_SCHEMA,
    DELETE_VERSION,
    INSERT_VERSION,
    ROW_ID,
    ROWID_SEQUENCE,
    WEIGHT,
    col,
    data_table,
    delete_log,
    drop_if_exists,
    quoted,
)


class StorageInvariantError(SnowmeltError):
    """A change could not be applied exactly (e.g. deleting rows that are not there).

    This is a bug in snowmelt, never a user error: the refresh fails rather than write a
    wrong result.
    """


class Store:
    """Allocates versions and owns the write path of every change-tracked table."""

    def __init__(self, engine: Engine, catalog: Catalog, clock: Clock):
        self.engine = engine
        self.catalog = catalog
        self.clock = clock
        self._version = catalog.current_version()
        self.appends = AppendLog(self._version)
        self._local = threading.local()
        lock = getattr(engine, "lock", None)
        self.lock: threading.RLock = lock if lock is not None else threading.RLock()

    @property
    def version(self) -> int:
        """The latest committed version."""
        return self._version

    @contextmanager
    def write(self, kind: str) -> Iterator[Commit]:
        """One atomic commit at a new version. Nested calls join the outer commit."""
        outer: Commit | None = getattr(self._local, "commit", None)
        if outer is not None:
            yield outer
            return
        with self.lock:
            with self.engine.transaction():
                commit = Commit(self._version + 1, kind)
                commit.before_commit.update(self.take_deferred())
                self._local.commit = commit
                try:
                    yield commit
                    for hook in commit.before_commit.values():
                        hook()
                    self.catalog.record_version(commit.version, self.clock.now(), kind)
                    for oid in commit.touched:
                        # a refresh writes a dynamic table, whose consumers go by its commit
                        # version (recorded by the refresh): nothing more to persist
                        self.catalog.touch(oid, commit.version, persist=kind != "REFRESH")
                finally:
                    self._local.commit = None
            # still under the lock: the next writer must see this version as taken
            self._version = commit.version
            self.appends.record(commit)

    @property
    def open_commit(self) -> Commit | None:
        return getattr(self._local, "commit", None)

    def defer(self, key: str, hook: Callable[[], None]) -> None:
        """Run ``hook`` in the next commit this thread opens, before it commits (a statement
        that reads before it writes: its DML consumes a stream). ``take_deferred`` drops
        what no commit took."""
        pending: dict[str, Callable[[], None]] = getattr(self._local, "deferred", {})
        pending[key] = hook
        self._local.deferred = pending

    def take_deferred(self) -> dict[str, Callable[[], None]]:
        pending: dict[str, Callable[[], None]] = getattr(self._local, "deferred", {})
        self._local.deferred = {}
        return pending

    # -- DDL ---------------------------------------------------------------------------------
    def create_tracked(self, oid: int, columns: Sequence[Column]) -> None:
        user = [_column_def(c) for c in columns]
        seq = exp.Anonymous(
            this="nextval", expressions=[exp.Literal.string(f'"{DATA_SCHEMA}"."{ROWID_SEQUENCE}"')]
        )
        hidden = [
            exp.ColumnDef(
                this=quoted(ROW_ID),
                kind=exp.DataType.build("BIGINT"),
                constraints=[exp.ColumnConstraint(kind=exp.DefaultColumnConstraint(this=seq))],
            ),
            exp.ColumnDef(this=quoted(INSERT_VERSION), kind=exp.DataType.build("BIGINT")),
        ]
        self.engine.execute(
            exp.Create(
                kind="TABLE", this=exp.Schema(this=data_table(oid), expressions=user + hidden)
            )
        )
        log_cols = [_column_def(Column(c.name, c.type)) for c in columns] + [
            exp.ColumnDef(this=quoted(name), kind=exp.DataType.build("BIGINT"))
            for name in (ROW_ID, INSERT_VERSION, DELETE_VERSION)
        ]
        self.engine.execute(
            exp.Create(kind="TABLE", this=exp.Schema(this=delete_log(oid), expressions=log_cols))
        )

    def drop_tracked(self, oid: int) -> None:
        for table in (data_table(oid), delete_log(oid)):
            self.engine.execute(drop_if_exists("TABLE", table))

    def add_column(self, oid: int, column: Column) -> None:
        for table, c in (
            (data_table(oid), column),
            (delete_log(oid), Column(column.name, column.type)),
        ):
            self.engine.execute(exp.Alter(this=table, kind="TABLE", actions=[_column_def(c)]))

    def drop_column(self, oid: int, name: str) -> None:
        for table in (data_table(oid), delete_log(oid)):
            self.engine.execute(
                exp.Alter(
                    this=table,
                    kind="TABLE",
                    actions=[exp.Drop(tables=[exp.column(quoted(name))], kind="COLUMN")],
                )
            )

    def rename_column(self, oid: int, old: str, new: str) -> None:
        for table in (data_table(oid), delete_log(oid)):
            self.engine.execute(
                exp.Alter(
                    this=table,
                    kind="TABLE",
                    actions=[
                        exp.RenameColumn(this=exp.column(quoted(old)), to=exp.column(quoted(new)))
                    ],
                )
            )

    def retype_column(self, oid: int, name: str, duckdb_type: str) -> None:
        """The column's type in the table and its delete log (values cast; a value that does
        not cast fails the statement)."""
        for table in (data_table(oid), delete_log(oid)):
            action = exp.AlterColumn(
                this=quoted(name), dtype=exp.DataType.build(duckdb_type, dialect="duckdb")
            )
            self.engine.execute(exp.Alter(this=table, kind="TABLE", actions=[action]))

    def set_nullable(self, oid: int, name: str, nullable: bool) -> None:
        """NOT NULL on the live table only: the delete log keeps old images as they were."""
        change = "DROP NOT NULL" if nullable else "SET NOT NULL"  # sqlglot warns on SET
        table, column = data_table(oid).sql("duckdb"), quoted(name).sql("duckdb")
        self.engine.execute(f"ALTER TABLE {table} ALTER COLUMN {column} {change}")

    # -- readers --------------------------------------------------------------------------------
    def state_columns(self, oid: int, user: Sequence[str]) -> list[Column]:
        """The columns ``t{oid}`` keeps besides ``user`` and its row id and version (a
        dynamic table's incremental state), with the types they are stored with."""
        hidden = {*user, ROW_ID, INSERT_VERSION}
        described = self.engine.columns_of(exp.select("*").from_(data_table(oid)))
        return [Column(name, kind) for name, kind in described if name not in hidden]

    def live(self, oid: int, columns: Sequence[str], with_row_id: bool = False) -> exp.Select:
        names = [col(c) for c in columns] + ([col(ROW_ID)] if with_row_id else [])
        return exp.select(*names).from_(data_table(oid))

    def snapshot(
        self, oid: int, columns: Sequence[str], version: int, with_row_id: bool = False
    ) -> exp.Expression:
        """Rows of ``oid`` as of ``version``."""
        if version >= self._version and self.open_commit is None:
            return self.live(oid, columns, with_row_id)
        names = [col(c) for c in columns] + ([col(ROW_ID)] if with_row_id else [])
        v = exp.Literal.number(version)
        alive = (
            exp.select(*names)
            .from_(data_table(oid))
            .where(exp.LTE(this=col(INSERT_VERSION), expression=v))
        )
        logged = (
            exp.select(*[n.copy() for n in names])
            .from_(delete_log(oid))
            .where(
                exp.and_(
                    exp.LTE(this=col(INSERT_VERSION), expression=v.copy()),
                    exp.GT(this=col(DELETE_VERSION), expression=v.copy()),
                )
            )
        )
        return exp.union(alive, logged, distinct=False)

    def change(self, oid: int, columns: Sequence[str], after: int, upto: int) -> exp.Expression:
        """Net change of ``oid`` over versions (after, upto]: user columns, row id, weight."""
        a, b = exp.Literal.number(after), exp.Literal.number(upto)
        names = [col(c) for c in columns] + [col(ROW_ID)]

        def between(column: str) -> exp.Condition:
            return exp.and_(
                exp.GT(this=col(column), expression=a.copy()),
                exp.LTE(this=col(column), expression=b.copy()),
            )

        plus = exp.Literal.number(1).as_(WEIGHT)
        minus = exp.Literal.number(-1).as_(WEIGHT)
        born_alive = exp.select(*names, plus).from_(data_table(oid)).where(between(INSERT_VERSION))
        born_logged = (
            exp.select(*[n.copy() for n in names], plus.copy())
            .from_(delete_log(oid))
            .where(
                exp.and_(
                    between(INSERT_VERSION), exp.GT(this=col(DELETE_VERSION), expression=b.copy())
                )
            )
        )
        died = (
            exp.select(*[n.copy() for n in names], minus)
            .from_(delete_log(oid))
            .where(
                exp.and_(
                    exp.LTE(this=col(INSERT_VERSION), expression=a.copy()), between(DELETE_VERSION)
                )
            )
        )
        return exp.union(exp.union(born_alive, born_logged, distinct=False), died, distinct=False)

    def count_change(self, oid: int, after: int, upto: int) -> int:
        """How many rows ``change(oid, ..., after, upto)`` yields: known when the table was
        only appended to over the interval or changed by one commit (``AppendLog``), else by
        three counts."""
        known = self.appends.net_change(oid, after, upto)
        if known is not None:
            return known
        data, log = f'"{DATA_SCHEMA}"."t{oid}"', f'"{DATA_SCHEMA}"."t{oid}_dlog"'
        i, d, a, b = INSERT_VERSION, DELETE_VERSION, int(after), int(upto)
        sql = (
            f'SELECT (SELECT count(*) FROM {data} WHERE "{i}" > {a} AND "{i}" <= {b})'
            f' + (SELECT count(*) FROM {log} WHERE "{i}" > {a} AND "{i}" <= {b} AND "{d}" > {b})'
            f' + (SELECT count(*) FROM {log} WHERE "{i}" <= {a} AND "{d}" > {a} AND "{d}" <= {b})'
        )
        return int(self.engine.rows(sql)[0][0])

    def count(self, rows: exp.Expression) -> int:
        """How many rows a reader (``snapshot``, ``change``) yields."""
        counted = exp.select("count(*)").from_(
            exp.Subquery(this=rows, alias=exp.TableAlias(this=exp.to_identifier("_sm_n")))
        )
        return int(self.engine.rows(counted)[0][0])

    def count_rows(self, oid: int) -> int:
        return int(self.engine.rows(exp.select("count(*)").from_(data_table(oid)))[0][0])

    # -- writers (call inside ``write``) ------------------------------------------------------------
    def insert(
        self, commit: Commit, oid: int, columns: Sequence[str], source: exp.Expression
    ) -> int:
        """Append the rows of ``source`` (positional to ``columns``) at the commit's version."""
        target = exp.Schema(
            this=data_table(oid),
            expressions=[quoted(c) for c in columns] + [quoted(INSERT_VERSION)],
        )
        select = exp.select(exp.Star(), exp.Literal.number(commit.version)).from_(
            exp.Subquery(this=source, alias=exp.TableAlias(this=quoted("_sm_src")))
        )
        count = self._count_of(exp.Insert(this=target, expression=select))
        commit.touch(oid, count, "appended")
        return count

    def _count_of(self, statement: exp.Expression) -> int:
        rows = self.engine.rows(statement)
        return int(rows[0][0]) if rows and rows[0] and rows[0][0] is not None else 0

    @contextmanager
    def rewrite(
        self, commit: Commit, oid: int, columns: Sequence[str], candidates: exp.Expression | None
    ) -> Iterator[exp.Table]:
        """Run an in-place UPDATE/DELETE/MERGE on ``t{oid}`` and log the old images.

        ``candidates`` selects the row ids the statement may touch (a superset is fine;
        None means every row). Afterwards every candidate whose image is gone or was
        re-versioned is written to the delete log at the commit's version.
        """
        names = [col(c) for c in columns] + [col(ROW_ID), col(INSERT_VERSION)]
        pick = exp.select(*names).from_(data_table(oid))
        if candidates is not None:
            pick = pick.where(exp.In(this=col(ROW_ID), query=exp.Subquery(this=candidates)))
        with self._temp(f"_sm_before_{oid}", pick) as before:
            yield before
            still = (
                exp.select("1")
                .from_(exp.alias_(data_table(oid), "p"))
                .where(
                    exp.and_(
                        exp.EQ(this=col(ROW_ID, "p"), expression=col(ROW_ID, "b")),
                        exp.EQ(this=col(INSERT_VERSION, "p"), expression=col(INSERT_VERSION, "b")),
                    )
                )
            )
            logged = (
                exp.select(
                    *[col(c, "b") for c in columns],
                    col(ROW_ID, "b"),
                    col(INSERT_VERSION, "b"),
                    exp.Literal.number(commit.version),
                )
                .from_(before.copy().as_("b"))
                .where(exp.Not(this=exp.Exists(this=still)))
            )
            count = self._count_of(exp.Insert(this=log_columns(oid, columns), expression=logged))
            commit.touch(oid, count, "rewritten")

    def delete_all(self, commit: Commit, oid: int, columns: Sequence[str]) -> int:
        count = self._count_of(log_live(oid, columns, commit.version))
        self.engine.execute(exp.Delete(this=data_table(oid)))
        commit.touch(oid, count)
        return count

    def apply_weighted(
        self,
        commit: Commit,
        oid: int,
        columns: Sequence[str],
        delta: exp.Expression,
        cluster: Sequence[str] = (),
    ) -> tuple[int, int]:
        """Apply a weighted bag change (user columns + ``_sm_weight``) to ``t{oid}``.

        Weights are consolidated per distinct row first; a net -k deletes k copies (the
        oldest row ids), a net +k inserts k copies. Returns (inserted, deleted).
        """
        net = f"_sm_net_{oid}"
        names = [col(c) for c in columns]
        consolidate = (
            exp.select(
                *names,
                exp.Cast(this=exp.func("sum", col(WEIGHT)), to=exp.DataType.build("BIGINT")).as_(
                    "_sm_n"
                ),
            )
            .from_(exp.Subquery(this=delta, alias=exp.TableAlias(this=quoted("_sm_delta"))))
            .group_by(*[n.copy() for n in names])
            .having(exp.NEQ(this=exp.func("sum", col(WEIGHT)), expression=exp.Literal.number(0)))
        )
        with self._temp(net, consolidate):
            return self._apply_net(commit, oid, columns, net, cluster)

    @contextmanager
    def _temp(self, name: str, select: exp.Expression) -> Iterator[exp.Table]:
        """A scratch table for one step. Dropped after success; after an error the
        transaction is rolled back, which removes it (and a DROP would fail anyway)."""
        self.engine.execute(f'CREATE OR REPLACE TEMP TABLE "{name}" AS ' + select.sql("duckdb"))
        yield exp.Table(this=quoted(name))
        self.engine.execute(f'DROP TABLE IF EXISTS "{name}"')

    def _apply_net(
        self, commit: Commit, oid: int, columns: Sequence[str], net: str, cluster: Sequence[str]
    ) -> tuple[int, int]:
        def same(left: str, right: str) -> exp.Condition:
            return (
                exp.and_(
                    *[exp.NullSafeEQ(this=col(c, left), expression=col(c, right)) for c in columns]
                )
                if columns
                else exp.true()
            )

        wanted = self.engine.rows(
            f'SELECT coalesce(sum(-"_sm_n"), 0) FROM "{net}" WHERE "_sm_n" < 0'
        )[0][0]
        deleted = 0
        if wanted:
            doomed = f"_sm_doomed_{oid}"
            numbered = (
                exp.select(
                    exp.Column(this=exp.Star(), table=quoted("t")),
                    exp.Window(
                        this=exp.func("row_number"),
                        partition_by=[col(c, "t") for c in columns],
                        order=exp.Order(expressions=[exp.Ordered(this=col(ROW_ID, "t"))]),
                    ).as_("_sm_rn"),
                )
                .from_(exp.alias_(data_table(oid), "t"))
                .join(
                    exp.select("*").from_(quoted(net)).where('"_sm_n" < 0').subquery("d"),
                    on=same("t", "d"),
                    join_type="semi",
                )
            )
            pick = (
                exp.select(col(ROW_ID, "t"))
                .from_(numbered.subquery("t"))
                .join(
                    exp.Table(this=quoted(net)).as_("d"),
                    on=exp.and_(
                        same("t", "d"),
                        exp.LTE(
                            this=col("_sm_rn", "t"), expression=exp.Neg(this=col("_sm_n", "d"))
                        ),
                    ),
                )
            )
            with self._temp(doomed, pick):
                found = self.engine.rows(f'SELECT count(*) FROM "{doomed}"')[0][0]
                if found != wanted:
                    raise StorageInvariantError(
                        f"Change for table id {oid} deletes {wanted} rows but only {found} "
                        "match: the change does not fit the table (snowmelt bug)."
                    )
                in_doomed = exp.In(
                    this=col(ROW_ID),
                    query=exp.Subquery(this=exp.select(col(ROW_ID)).from_(quoted(doomed))),
                )
                self.engine.execute(log_live(oid, columns, commit.version, in_doomed))
                self.engine.execute(
                    exp.Delete(this=data_table(oid), where=exp.Where(this=in_doomed.copy()))
                )
                deleted = int(found)
        copies = exp.select(*[col(c) for c in columns]).from_(
            exp.select(exp.Star(), exp.func("unnest", exp.func("range", col("_sm_n"))).as_("_sm_i"))
            .from_(quoted(net))
            .where('"_sm_n" > 0')
            .subquery("_sm_pos")
        )
        if cluster:  # rows of nearby keys land in the same row groups (zone maps)
            copies = copies.order_by(*[col(c) for c in cluster])
        inserted = (
            self.insert(commit, oid, columns, copies)
            if self.engine.rows(f'SELECT 1 FROM "{net}" WHERE "_sm_n" > 0 LIMIT 1')
            else 0
        )
        commit.touch(oid, deleted)
        return inserted, deleted

    def replace_contents(
        self,
        commit: Commit,
        oid: int,
        columns: Sequence[str],
        query: exp.Expression,
        cluster: Sequence[str] = (),
    ) -> tuple[int, int]:
        """Make ``t{oid}`` equal ``query`` as a bag, writing only the difference (the rows
        it adds in the order of the ``cluster`` columns)."""
        names = [col(c) for c in columns]
        new = exp.select(*names, exp.Literal.number(1).as_(WEIGHT)).from_(
            exp.Subquery(
                this=query,
                alias=exp.TableAlias(this=quoted("_sm_new"), columns=[quoted(c) for c in columns]),
            )
        )
        old = exp.select(*[n.copy() for n in names], exp.Literal.number(-1).as_(WEIGHT)).from_(
            data_table(oid)
        )
        return self.apply_weighted(
            commit, oid, columns, exp.union(new, old, distinct=False), cluster
        )

    def vacuum(self, oid: int, below: int) -> int:
        """Forget delete-log entries no consumer can still need (deleted at or below
        ``below``); returns how many."""
        return self._count_of(
            exp.Delete(
                this=delete_log(oid),
                where=exp.Where(
                    this=exp.LTE(this=col(DELETE_VERSION), expression=exp.Literal.number(below))
                ),
            )
        )


def log_columns(oid: int, columns: Sequence[str]) -> exp.Schema:
    """The delete log of ``oid`` with its columns named, for every insert into it: a column
    added later (ALTER TABLE ADD COLUMN) sits after the hidden ones, so a positional insert
    would shift the versions into the wrong columns and lose the deletion from every
    change."""
    hidden = (ROW_ID, INSERT_VERSION, DELETE_VERSION)
    return exp.Schema(this=delete_log(oid), expressions=[quoted(c) for c in [*columns, *hidden]])


def log_live(
    oid: int,
    columns: Sequence[str],
    version: int | exp.Expression,
    where: exp.Expression | None = None,
) -> exp.Insert:
    """Log the live rows of ``oid`` (those ``where`` holds for) as deleted at ``version``
    (a number, or an expression such as a statement parameter)."""
    names = [col(c) for c in columns] + [col(ROW_ID), col(INSERT_VERSION)]
    at = exp.Literal.number(version) if isinstance(version, int) else version.copy()
    rows = exp.select(*names, at).from_(data_table(oid))
    return exp.Insert(
        this=log_columns(oid, columns), expression=rows.where(where) if where is not None else rows
    )


def _column_def(column: Column) -> exp.ColumnDef:
    constraints = []
    if not column.nullable:
        constraints.append(exp.ColumnConstraint(kind=exp.NotNullColumnConstraint()))
    if column.default is not None:
        import sqlglot

        constraints.append(
            exp.ColumnConstraint(
                kind=exp.DefaultColumnConstraint(
                    this=sqlglot.parse_one(column.default, read="duckdb")
                )
            )
        )
    return exp.ColumnDef(
        this=quoted(column.name),
        kind=exp.DataType.build(column.type, dialect="duckdb"),
        constraints=constraints or None,
    )
