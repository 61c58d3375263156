"""DML on base tables: INSERT, UPDATE, DELETE, MERGE, TRUNCATE and bulk inserts from Python.

Every statement is one commit at a new version (``Store.write``). Inserts append images at
that version; UPDATE, DELETE and MERGE run in place on the tracked table with
``_sm_ver = <version>`` added to every row they write, inside ``Store.rewrite``, which logs
the old image of every row that was deleted or re-versioned. Dynamic tables are written only
by refreshes: DML on them is refused, as on Snowflake.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
from sqlglot import exp

from snowmelt.catalog import CatalogObject, Column
from snowmelt.errors import IngestError, SqlError
from snowmelt.names import (
    INSERT_VERSION,
    ROW_ID,
    col,
    data_table,
    drop_if_exists,
    identifier_value,
    quoted,
)
from snowmelt.result import Result
from snowmelt.runtime import Runtime
from snowmelt.sql.resolve import BOUND, position


def _target(rt: Runtime, table: exp.Expression, verb: str) -> CatalogObject:
    obj = rt.resolver.lookup(table)
    if obj.kind != "TABLE":
        raise SqlError(
            f"{verb} is not allowed on {obj.kind.lower()} '{obj.name}': only base "
            "tables can be written"
            + ("; a dynamic table changes only by refresh" if obj.kind == "DYNAMIC TABLE" else ""),
            *position(table),
        )
    return obj


def _alias(table: exp.Table) -> str:
    return table.alias if table.args.get("alias") else identifier_value(table.this)


def _physical(table: exp.Table, obj: CatalogObject) -> exp.Table:
    target = data_table(obj.oid)
    target.set("alias", exp.TableAlias(this=quoted(_alias(table))))
    return target


def _version(commit_version: int) -> exp.Expression:
    return exp.Literal.number(commit_version)


def _column_list(
    obj: CatalogObject, names: list[exp.Expression] | None, node: exp.Expression
) -> list[str]:
    if not names:
        return obj.column_names
    columns = [identifier_value(n if isinstance(n, exp.Identifier) else n.this) for n in names]
    unknown = [c for c in columns if c not in obj.column_names]
    if unknown:
        raise SqlError(f"Column '{unknown[0]}' does not exist in table {obj.name}", *position(node))
    return columns


def insert(rt: Runtime, statement: exp.Insert) -> Result:
    target = statement.this
    table = target.this if isinstance(target, exp.Schema) else target
    obj = _target(rt, table, "INSERT")
    columns = _column_list(
        obj, target.expressions if isinstance(target, exp.Schema) else None, target
    )
    source = statement.expression
    if isinstance(source, exp.Values):
        types = {c.name: c.type for c in obj.columns}
        for row in source.expressions:
            width = len(row.expressions) if isinstance(row, exp.Tuple) else 1
            if width != len(columns):
                raise SqlError(
                    f"Insert into {obj.name} gives {width} values for {len(columns)} columns",
                    *position(row),
                )
            if isinstance(row, exp.Tuple):  # a text value for a zoned timestamp: read as one
                for value, name in zip(row.expressions, columns, strict=True):
                    text = isinstance(value, exp.Literal) and value.is_string
                    if text and types[name] == "TIMESTAMPTZ":
                        value.replace(exp.cast(value.copy(), "TIMESTAMPTZ"))
        source = exp.select("*").from_(source)
    bound = rt.to_engine(rt.bind_for_read(source.copy()))
    with rt.store.write("INSERT") as commit:
        if statement.args.get("overwrite"):
            # the rows to write are read before the table is emptied: the query may read it
            staged = _stage(rt, f"_sm_overwrite_{obj.oid}", bound)
            bound = exp.select("*").from_(staged.copy())
            rt.store.delete_all(commit, obj.oid, obj.column_names)
        count = rt.store.insert(commit, obj.oid, columns, bound)
    if statement.args.get("overwrite"):
        rt.engine.execute(drop_if_exists("TABLE", staged))
    return Result.counts(inserted=count)


def insert_multi(rt: Runtime, statement: exp.MultitableInserts, overwrite: bool) -> Result:
    """INSERT [OVERWRITE] ALL | FIRST ... <query>: the query runs once (staged), then each
    INTO appends the staged rows its WHEN admits — ALL: every WHEN that holds; FIRST: only
    the first; ELSE: rows no WHEN took; with no WHEN at all, every INTO takes every row —
    in one commit (OVERWRITE empties each target first). The result has a column per INTO."""
    first = str(statement.args.get("kind") or "ALL").upper() == "FIRST"
    bound = rt.to_engine(rt.bind_for_read(statement.args["source"].copy()))
    groups = _when_groups(statement.expressions)
    conditions = [c for c, _ in groups if c is not None and not isinstance(c, exp.Boolean)]

    def held(condition: exp.Expression) -> Any:
        return exp.func("coalesce", condition.copy(), exp.false())

    counts: dict[str, int] = {}
    with rt.store.write("INSERT") as commit:
        staged = _stage(rt, "_sm_multi_insert", bound)
        targets = {  # each INTO's table, looked up once
            id(branch): _target(rt, _insert_table(branch.this), "INSERT")
            for _, branches in groups
            for branch in branches
        }
        if overwrite:
            for obj in {o.oid: o for o in targets.values()}.values():
                rt.store.delete_all(commit, obj.oid, obj.column_names)
        for index, (condition, branches) in enumerate(groups):
            earlier = [c for c, _ in groups[:index] if c in conditions]
            if isinstance(condition, exp.Boolean):  # ELSE: no WHEN held
                admit: Any = exp.not_(exp.or_(*[held(c) for c in conditions]))
            elif condition is None:
                admit = exp.true()
            elif first and earlier:
                admit = exp.and_(held(condition), exp.not_(exp.or_(*[held(c) for c in earlier])))
            else:
                admit = held(condition)
            for branch in branches:
                obj = targets[id(branch)]
                target = branch.this.this
                columns = _column_list(
                    obj, target.expressions if isinstance(target, exp.Schema) else None, target
                )
                values = branch.this.expression
                picked = (
                    [v.copy() for v in values.expressions[0].expressions]
                    if isinstance(values, exp.Values)
                    else [exp.Star()]
                )
                source = staged.copy()
                source.meta[BOUND] = True
                select = exp.select(*picked).from_(source).where(admit.copy())
                width = len(picked) if isinstance(values, exp.Values) else None
                if width is not None and width != len(columns):
                    raise SqlError(
                        f"INTO {obj.name} gives {width} values for {len(columns)} columns",
                        *position(values),
                    )
                count = rt.store.insert(
                    commit, obj.oid, columns, rt.to_engine(rt.bind_for_read(select))
                )
                label = f"number of rows inserted into {obj.name.name}"
                while label in counts:
                    label += "'"
                counts[label] = count
    rt.engine.execute(drop_if_exists("TABLE", staged))
    return Result(pa.table({k: [v] for k, v in counts.items()}))


def _stage(rt: Runtime, name: str, query: exp.Expression) -> exp.Table:
    """``query``'s rows in the scratch table ``name`` (read before anything is written)."""
    staged = exp.Table(this=quoted(name))
    rt.engine.execute(
        exp.Create(
            kind="TABLE",
            this=staged.copy(),
            expression=query,
            replace=True,
            properties=exp.Properties(expressions=[exp.TemporaryProperty()]),
        )
    )
    return staged


def _insert_table(insert: exp.Insert) -> exp.Expression:
    target = insert.this
    return target.this if isinstance(target, exp.Schema) else target


def _when_groups(
    branches: list[exp.Expression],
) -> list[tuple[exp.Expression | None, list[exp.Expression]]]:
    """The INTO clauses by WHEN: (condition, INTOs); the condition None when there is no
    WHEN at all, TRUE (a Boolean) for ELSE. sqlglot keeps a WHEN's condition on its first
    INTO only: an INTO without one belongs to the WHEN (or ELSE) before it."""
    conditional = any(b.args.get("expression") is not None for b in branches)
    groups: list[tuple[exp.Expression | None, list[exp.Expression]]] = []
    for branch in branches:
        condition = branch.args.get("expression")
        if branch.args.get("else_"):
            groups.append((exp.true(), [branch]))
        elif condition is not None or not conditional or not groups:
            groups.append((condition, [branch]))
        else:
            groups[-1][1].append(branch)
    return groups


def _set_version(assignments: list[exp.Expression], version: int) -> list[exp.Expression]:
    out = []
    for assignment in assignments:
        assignment = assignment.copy()
        if isinstance(assignment.this, exp.Column):  # DuckDB wants unqualified SET targets
            assignment.set("this", exp.column(quoted(identifier_value(assignment.this.this))))
        out.append(assignment)
    out.append(exp.EQ(this=exp.column(quoted(INSERT_VERSION)), expression=_version(version)))
    return out


def update(rt: Runtime, statement: exp.Update) -> Result:
    table = statement.this
    obj = _target(rt, table, "UPDATE")
    with rt.store.write("UPDATE") as commit:
        rewritten = statement.copy()
        rewritten.set("this", _physical(table, obj))
        rewritten.set("expressions", _set_version(statement.expressions, commit.version))
        _bind_subqueries(rt, rewritten, "expressions", "where")
        if rewritten.args.get("from_"):
            rewritten.set("from_", rt.bind_for_read(rewritten.args["from_"]))
        relations = []
        if rewritten.args.get("from_"):
            relations = [
                rewritten.args["from_"].this,
                *(j.this for j in rewritten.args.get("joins") or []),
            ]
        count = _run_in_place(rt, commit, obj, table, relations, rewritten)
    return Result.counts(updated=count)


def _bind_subqueries(rt: Runtime, statement: exp.Expression, *parts: str) -> None:
    """Bind the tables that subqueries in ``parts`` of ``statement`` read (``WHERE ID IN
    (SELECT ...)``, ``SET V = (SELECT ...)``), in place."""
    for part in parts:
        value = statement.args.get(part)
        for node in value if isinstance(value, list) else [value] if value else []:
            rt.bind_for_read(node)


def _run_in_place(
    rt: Runtime,
    commit: Any,
    obj: CatalogObject,
    table: exp.Table,
    relations: list[exp.Expression],
    rewritten: exp.Expression,
) -> int:
    """Run an UPDATE/DELETE rewritten onto the tracked table, logging the old images of the
    rows it may touch: those of the target that satisfy its WHERE with its other relations."""
    candidates = exp.select(col(ROW_ID, _alias(table))).from_(_physical(table, obj))
    for relation in relations:
        candidates = candidates.join(relation.copy(), join_type="cross")
    if rewritten.args.get("where"):
        candidates = candidates.where(rewritten.args["where"].this.copy())
    with rt.store.rewrite(commit, obj.oid, obj.column_names, rt.to_engine(candidates)):
        return rt.store._count_of(rt.to_engine(rewritten))


def delete(rt: Runtime, statement: exp.Delete) -> Result:
    table = statement.this
    obj = _target(rt, table, "DELETE")
    with rt.store.write("DELETE") as commit:
        rewritten = statement.copy()
        rewritten.set("this", _physical(table, obj))
        using = [rt.bind_for_read(u.copy()) for u in statement.args.get("using") or []]
        if using:
            rewritten.set("using", using)
        _bind_subqueries(rt, rewritten, "where")
        count = _run_in_place(rt, commit, obj, table, using, rewritten)
    return Result.counts(deleted=count)


def merge(rt: Runtime, statement: exp.Merge) -> Result:
    table = statement.this
    obj = _target(rt, table, "MERGE")
    alias = _alias(table)
    with rt.store.write("MERGE") as commit:
        rewritten = statement.copy()
        rewritten.set("this", _physical(table, obj))
        source = rt.bind_for_read(statement.args["using"].copy())
        rewritten.set("using", source)
        for when in rewritten.args["whens"].expressions:
            then = when.args.get("then")
            if isinstance(then, exp.Update):
                then.set("expressions", _set_version(then.expressions, commit.version))
            elif isinstance(then, exp.Insert):
                names = _column_list(
                    obj, then.this.expressions if isinstance(then.this, exp.Tuple) else None, then
                )
                then.set(
                    "this",
                    exp.Tuple(
                        expressions=[exp.column(quoted(n)) for n in names]
                        + [exp.column(quoted(INSERT_VERSION))]
                    ),
                )
                values = then.expression
                values.set("expressions", [*values.expressions, _version(commit.version)])
        candidates = (
            exp.select(col(ROW_ID, alias))
            .from_(_physical(table, obj))
            .join(source.copy(), on=statement.args["on"].copy())
        )
        if any(when.args.get("matched") for when in rewritten.args["whens"].expressions):
            _check_one_source_row(rt, obj, candidates)
        logged_before = commit.touched.get(obj.oid, 0)
        with rt.store.rewrite(
            commit, obj.oid, obj.column_names, rt.to_engine(candidates)
        ) as before:
            rt.engine.execute(rt.to_engine(rewritten))
            fresh = exp.EQ(this=col(INSERT_VERSION), expression=_version(commit.version))
            rows = rt.engine.rows(
                exp.select(
                    exp.func("count_if", fresh),
                    exp.func(
                        "count_if",
                        exp.and_(
                            fresh.copy(),
                            exp.In(
                                this=col(ROW_ID),
                                query=exp.select(col(ROW_ID)).from_(before).subquery(),
                            ),
                        ),
                    ),
                ).from_(data_table(obj.oid))
            )
        changed, updated = int(rows[0][0] or 0), int(rows[0][1] or 0)
        logged = commit.touched.get(obj.oid, 0) - logged_before
        counts = {"inserted": changed - updated, "updated": updated, "deleted": logged - updated}
    return Result.counts(**counts)


def _check_one_source_row(rt: Runtime, obj: CatalogObject, matches: exp.Select) -> None:
    """Snowflake's ERROR_ON_NONDETERMINISTIC_MERGE: a target row that a MATCHED clause would
    update or delete must meet one source row, or which one wins is undefined."""
    rows = exp.select(exp.column(ROW_ID)).from_(matches.subquery("_sm_m"))
    repeated = rows.group_by(exp.column(ROW_ID)).having("COUNT(*) > 1")
    count = rt.engine.rows(rt.to_engine(exp.select("COUNT(*)").from_(repeated.subquery("_sm_r"))))
    if count[0][0]:
        raise SqlError(
            f"Duplicate row detected during DML action: MERGE INTO {obj.name} meets "
            f"{count[0][0]} of its rows with more than one source row, so which one changes "
            "them is undefined. Make the source unique on the ON columns; nothing was changed"
        )


def truncate(rt: Runtime, statement: exp.TruncateTable) -> Result:
    for table in statement.expressions:
        obj = rt.catalog.find(_name(rt, table))
        if obj is None and statement.args.get("exists"):
            continue
        obj = _target(rt, table, "TRUNCATE")
        with rt.store.write("TRUNCATE") as commit:
            rt.store.delete_all(commit, obj.oid, obj.column_names)
    return Result.status("Statement executed successfully.")


def _name(rt: Runtime, table: exp.Expression):  # type: ignore[no-untyped-def]
    from snowmelt.sql.resolve import object_name

    return object_name(table, rt.context)


# -- bulk insert from Python -------------------------------------------------------------------
def to_arrow(data: Any) -> pa.Table:
    """Accept an Arrow table/batch, a pandas or polars DataFrame, or a list of dicts."""
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    if isinstance(data, list):
        return _from_rows(data)
    module = type(data).__module__
    if module.startswith("pandas"):
        return pa.Table.from_pandas(data, preserve_index=False)
    if module.startswith("polars"):
        return data.to_arrow()
    raise IngestError(
        f"Cannot insert a {type(data).__name__}: pass an Arrow table, a pandas or "
        "polars DataFrame, or a list of dicts",
        table="?",
    )


_UNREADABLE = (pa.ArrowException, OverflowError, TypeError, ValueError)


def _readable(values: list[Any]) -> str | None:
    """Why Arrow cannot hold ``values`` as one column, or None when it can."""
    try:
        pa.array(values)
    except _UNREADABLE as err:
        return str(err)
    return None


def _from_rows(rows: list[Any]) -> pa.Table:
    """A list of dicts as Arrow. When Arrow cannot read it, the first value at fault is
    named by row and column: one Arrow cannot hold, or of another kind than the values
    above it in its column."""
    try:
        return pa.Table.from_pylist(rows)
    except _UNREADABLE as err:
        if not all(isinstance(row, dict) for row in rows):
            raise IngestError(
                "Cannot insert a list of non-dicts: pass one dict per row", "?"
            ) from None
        for column in dict.fromkeys(key for row in rows for key in row):
            values = [row.get(column) for row in rows]
            if _readable(values) is None:
                continue
            low, high = 1, len(values)  # the shortest prefix Arrow cannot read ends at high
            while low < high:
                middle = (low + high) // 2
                low, high = (low, middle) if _readable(values[:middle]) else (middle + 1, high)
            value, alone = values[high - 1], _readable(values[high - 1 : high])
            above = next((type(v).__name__ for v in values[: high - 1] if v is not None), "")
            problem = (
                f"cannot be read: {alone}"
                if alone
                else f"does not go with the {above} values above it"
            )
            raise IngestError(
                f"row {high}, column {column!r} value {value!r} {problem}", "?", high, column
            ) from None
        raise IngestError(f"the rows cannot be read as one table: {err}", "?") from None


def insert_arrow(rt: Runtime, obj: CatalogObject, data: Any) -> int:
    """Validate and append a batch in one commit. A bad batch is rejected whole; a batch
    without rows writes nothing and commits nothing."""
    try:
        batch = to_arrow(data)
    except IngestError as err:
        raise IngestError(
            f"Batch for {obj.name} rejected: {err}; nothing was written",
            str(obj.name),
            err.row,
            err.column,
        ) from None
    by_upper = {name.upper(): name for name in batch.column_names}
    known = {c.name.upper(): c for c in obj.columns}
    unknown = [n for n in batch.column_names if n.upper() not in known]
    if unknown:
        raise IngestError(
            f"Batch for {obj.name} has column {unknown[0]!r}, which the table does "
            f"not have (columns: {', '.join(obj.column_names)})",
            table=str(obj.name),
            column=unknown[0],
        )
    if batch.num_rows == 0:
        return 0
    for column in obj.columns:
        if column.name.upper() not in by_upper and not column.nullable and column.default is None:
            raise IngestError(
                f"Batch for {obj.name} lacks NOT NULL column {column.name!r}",
                table=str(obj.name),
                column=column.name,
            )
    view = "_sm_batch"
    present = [c for c in obj.columns if c.name.upper() in by_upper]
    with rt.engine.register(view, batch):
        casts = {}
        checks: dict[str, exp.Condition] = {}
        for column in present:
            name = by_upper[column.name.upper()]
            field = batch.schema.field(name)
            casts[column.name] = _cast(col(name), column.type, field.type)
            problem = _problem(col(name), casts[column.name], column, field)
            if problem is not None:
                checks[name] = problem
        if checks:
            _reject_first_bad_row(rt, obj, view, checks)
        source = exp.select(*casts.values()).from_(quoted(view))
        with rt.store.write("INGEST") as commit:
            return rt.store.insert(commit, obj.oid, [c.name for c in present], source)


# Arrow types that always convert to these stored types (no per-row check needed).
_LOSSLESS = {
    "BIGINT": (pa.types.is_integer,),
    "DOUBLE": (pa.types.is_floating, pa.types.is_integer),
    "VARCHAR": (pa.types.is_string, pa.types.is_large_string),
    "BOOLEAN": (pa.types.is_boolean,),
    "DATE": (pa.types.is_date,),
    "TIMESTAMP": (pa.types.is_timestamp, pa.types.is_date),
    "TIMESTAMP WITH TIME ZONE": (pa.types.is_timestamp,),
}


def _cast(expression: exp.Expression, type_text: str, source: pa.DataType) -> exp.Expression:
    """The conversion of one incoming column to its stored type. Strings going into a
    VARIANT column are JSON text (parsed); other values are converted to JSON."""
    target = exp.DataType.build(type_text, dialect="duckdb")
    if target.this == exp.DataType.Type.JSON and not (
        pa.types.is_string(source) or pa.types.is_large_string(source)
    ):
        return exp.Anonymous(this="to_json", expressions=[expression])
    return exp.Cast(this=expression, to=target)


def _problem(
    value: exp.Column, cast: exp.Expression, column: Column, field: pa.Field
) -> exp.Condition | None:
    """A predicate true for rows of this column that cannot be stored, or None."""
    checks: list[exp.Condition] = []
    if not column.nullable and field.nullable:
        checks.append(exp.Is(this=value.copy(), expression=exp.null()))
    lossless = any(test(field.type) for test in _LOSSLESS.get(column.type.upper(), ()))
    if isinstance(cast, exp.Cast) and not lossless:
        target = cast.args["to"]
        fails: exp.Condition = exp.Is(
            this=exp.TryCast(this=value.copy(), to=target.copy()), expression=exp.null()
        )
        if target.this == exp.DataType.Type.JSON:
            fails = exp.Not(this=exp.func("json_valid", value.copy()))
        checks.append(
            exp.and_(exp.Not(this=exp.Is(this=value.copy(), expression=exp.null())), fails)
        )
    return exp.or_(*checks) if checks else None


def _reject_first_bad_row(
    rt: Runtime, obj: CatalogObject, view: str, checks: dict[str, exp.Condition]
) -> None:
    """One scan finds, per column, the first row that cannot be stored; the batch is
    rejected naming the earliest such row and its column."""
    numbered = (
        exp.select(exp.Star(), exp.Window(this=exp.func("row_number")).as_("_sm_i"))
        .from_(quoted(view))
        .subquery("_sm_b")
    )
    firsts = [
        exp.func("min", exp.If(this=check, true=exp.column("_sm_i"))).as_(f"c{i}")
        for i, check in enumerate(checks.values())
    ]
    found = rt.engine.rows(exp.select(*firsts).from_(numbered))[0]
    bad = [(row, name) for row, name in zip(found, checks, strict=True) if row is not None]
    if not bad:
        return
    index, name = min(bad)
    value = rt.engine.rows(
        exp.select(col(name))
        .from_(
            exp.select(exp.Star(), exp.Window(this=exp.func("row_number")).as_("_sm_i"))
            .from_(quoted(view))
            .subquery("_sm_b")
        )
        .where(exp.EQ(this=exp.column("_sm_i"), expression=exp.Literal.number(index)))
    )
    bad_value = value[0][0] if value else None
    column = next(c for c in obj.columns if c.name.upper() == name.upper())
    reason = (
        "is NULL in a NOT NULL column"
        if bad_value is None
        else f"value {bad_value!r} cannot be converted to {column.type}"
    )
    raise IngestError(
        f"Batch for {obj.name} rejected: row {index}, column {name!r} "
        f"{reason}; nothing was written",
        table=str(obj.name),
        row=int(index),
        column=name,
    )
