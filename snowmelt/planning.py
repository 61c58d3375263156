"""Planning a dynamic table's query: what it reads, the columns it makes, the refresh mode
and incremental plan — at CREATE, and again at a refresh when a source was replaced.

A query is planned from its qualified form (three-part names, ``ddl.qualify_names``). The
incremental compiler reads tables, so a query that reads views is analysed with their
definitions inlined. When it refreshes incrementally the table keeps that inlined query;
a FULL table keeps reading the views by name. Either way the plan records the views it went
through (their texts) and the query as written, qualified (``through_views``): the sources
a table depends on are the tables under those views.

When a refresh finds that a name the table reads now means something else — a view
replaced with another definition, a table dropped and created again or replaced or
altered, a view replaced by a table — it re-plans the table from ``through_views`` (``replan``), in the refresh's own
commit, and reinitializes it, as Snowflake reinitializes a dynamic table whose base object
was replaced. The table's columns are fixed: when the query now makes other columns or
other types, the refresh fails with what changed, and the table keeps its last good version.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from snowmelt import ivm, results
from snowmelt.catalog import CatalogObject, Column, DynamicTable
from snowmelt.ddl import qualify_names, refresh_view
from snowmelt.errors import DynamicTableError, RefreshError, SqlError, UnsupportedError
from snowmelt.monitoring import record_graph
from snowmelt.names import ObjectName, identifier_value
from snowmelt.properties import Options, format_lag
from snowmelt.query import TRANSLATED, inline_views
from snowmelt.runtime import Runtime
from snowmelt.show import snowflake_type
from snowmelt.sql.parse import parse_padded
from snowmelt.sql.resolve import normalize, position


@dataclass
class Planned:
    """A dynamic table's query, planned."""

    sources: list[CatalogObject]  # the tracked tables it reads, through views
    query: exp.Expression  # the query the table keeps (views inlined when incremental)
    through_views: exp.Expression  # the query as written, qualified
    views: list[CatalogObject]  # the views it reads, nested ones included
    described: list[tuple[str, str]]  # its output: engine names and types
    analysis: ivm.Analysis

    def record(self) -> dict[str, Any]:
        """The plan a dynamic table keeps in the catalog."""
        return dict(
            self.analysis.plan,
            state_columns=[c.__dict__ for c in self.analysis.state_columns],
            strategy=self.analysis.strategy,
            views=[
                {"name": [v.name.database, v.name.schema, v.name.name], "text": v.text}
                for v in self.views
            ],
            through_views=self.through_views.sql("snowflake"),
        )


def plan_query(
    rt: Runtime,
    name: ObjectName,
    query: exp.Expression,
    options: Options,
    written: exp.Expression | None = None,
) -> Planned:
    """Plan ``query`` (normalized) for the dynamic table ``name``. ``written`` is the query
    as the statement has it, for the positions of errors (default ``query``)."""
    _refuse_computed(name, query)  # before ``$n`` is read as a column by position
    query = name_positions(rt, name, query)
    sources = rt.resolver.sources(query)
    qualified = qualify_names(rt, query.copy())
    views: list[CatalogObject] = []
    inlined = inline_views(rt, qualified.copy(), inlined=views)
    _refuse_time_travel(name, written if written is not None else query, inlined)
    _refuse_computed(name, inlined)  # a view's
    _validate_sources(rt, name, sources, options)
    # the views' definitions as they are now (the engine's own views of them may be older)
    described = rt.engine.columns_of(rt.to_engine(rt.bind_for_read(inlined.copy())))
    analysis = _resolve_mode(rt, name, inlined, sources, options)
    views = list({v.oid: v for v in views}.values())
    kept = inlined if views and analysis.mode == "INCREMENTAL" else qualified
    return Planned(sources, kept, qualified, views, described, analysis)


def name_positions(rt: Runtime, name: ObjectName, query: exp.Expression) -> exp.Expression:
    """``$1``, ``t.$2`` in a dynamic table's query (Snowflake's columns by position in the
    FROM clause, or in one source of it), replaced by the columns they are: an incremental
    plan reshapes FROM clauses, where a position would point at another column."""
    for select in list(query.find_all(exp.Select)):
        found = [
            p
            for p in select.find_all(exp.Parameter)
            if isinstance(p.this, exp.Literal)
            and p.this.is_int
            and p.find_ancestor(exp.Select) is select
        ]
        if not found:
            continue
        sources = _from_columns(rt, select)
        for parameter in found:
            number = int(parameter.this.name)
            parent = parameter.parent
            qualifier_of = parent.table if isinstance(parent, exp.Column) else ""
            target: exp.Expression = parent if qualifier_of else parameter  # type: ignore[assignment]
            text = target.sql("snowflake")
            if sources is None:
                raise SqlError(
                    f"Dynamic table {name}: {text} (a column by position) can only be "
                    "resolved over tables, views and subqueries with named columns; name "
                    "the column",
                    *position(select),
                )
            columns = [
                (qualifier, column)
                for qualifier, names in sources
                if not qualifier_of or qualifier.upper() == qualifier_of.upper()
                for column in names
            ]
            if not 1 <= number <= len(columns):
                raise SqlError(
                    f"Dynamic table {name}: {text} is not a column of its FROM clause",
                    *position(select),
                )
            qualifier, column = columns[number - 1]
            target.replace(exp.column(column, table=qualifier or None, quoted=True))
    return query


def _from_columns(rt: Runtime, select: exp.Select) -> list[tuple[str, list[str]]] | None:
    """Each source of a SELECT's FROM clause with the columns it makes, in order; None when
    a source's columns are not known here (a table function, VALUES, ``SELECT *``)."""
    from_ = select.args.get("from_")
    if from_ is None:
        return None
    found: list[tuple[str, list[str]]] = []
    for source in [from_.this, *(j.this for j in select.args.get("joins") or [])]:
        if isinstance(source, exp.Table) and isinstance(source.this, exp.Identifier):
            names = rt.resolver.lookup(source).column_names
        elif isinstance(source, exp.Subquery) and isinstance(source.this, exp.Query):
            names = source.this.named_selects
            if "*" in names or len(names) != len(source.this.selects):
                return None
        else:
            return None
        found.append((source.alias_or_name, names))
    return found


def resolved_mode(requested: str, analysis: ivm.Analysis, kept: str | None = None) -> str:
    """The mode SHOW reports. AUTO resolves to ADAPTIVE when the query can refresh
    incrementally (Snowflake, since 2026-11-20), except for a table that already resolved
    to INCREMENTAL (``kept``): existing tables keep their mode."""
    if analysis.mode != "INCREMENTAL":
        return analysis.mode
    if requested == "AUTO":
        return "INCREMENTAL" if kept == "INCREMENTAL" else "ADAPTIVE"
    return requested


def functions_record(rt: Runtime) -> list[dict[str, Any]]:
    """The SQL functions the statement being planned calls, as a plan keeps them."""
    used = {f.oid: f for f in rt.functions_used}.values()
    return [{"oid": f.oid, "name": [f.name.database, f.name.schema, f.name.name]} for f in used]


def check_functions(rt: Runtime, obj: CatalogObject, dt: DynamicTable) -> None:
    """A dynamic table holds the bodies of the SQL functions it calls, inlined when it was
    created. As on Snowflake, once one of them is replaced (or dropped) its refreshes fail,
    keeping its rows, until the table is created again."""
    for used in dt.plan.get("functions", []):
        name = ObjectName(*used["name"])
        now = rt.catalog.find(name)
        if now is None or now.oid != used["oid"]:
            how = "dropped" if now is None else "replaced"
            raise RefreshError(
                f"Dynamic table {obj.name} calls function {name}, which was {how} after the "
                "table was created; the table holds the body it had then. Create the "
                "dynamic table again (CREATE OR REPLACE) to use the function as it is now.",
                name=str(obj.name),
                code="FUNCTION_CHANGED",
            )


def changed_sources(rt: Runtime, obj: CatalogObject, dt: DynamicTable) -> dict[str, str]:
    """The names ``obj`` reads that mean something else since it was planned, each with
    how (a view with another definition, a table dropped and created again, replaced or
    altered); raises when one is gone."""
    changed = {}
    for view in dt.plan.get("views", []):
        name = ObjectName(*view["name"])
        current = rt.catalog.find(name)
        if current is None:
            raise _dropped(obj, name, "VIEW")
        if current.kind != "VIEW" or current.text != view["text"]:
            changed[str(name)] = "was replaced"
    for input_oid, _, generation in rt.catalog.inputs(obj.oid):
        source = rt.catalog.get(input_oid)
        current = rt.catalog.find(source.name)
        if current is None:
            raise _dropped(obj, source.name, source.kind)
        if current.oid != input_oid:
            changed[str(source.name)] = "was dropped and created again"
        elif dt.initialized and generation is None:  # restored, or repointed to a replacement
            changed[str(source.name)] = "is read from scratch (what was read of it is not known)"
        elif dt.initialized and generation != current.generation:
            changed[str(source.name)] = "was replaced or altered"
    return changed


def _dropped(obj: CatalogObject, name: ObjectName, kind: str) -> RefreshError:
    fix = "Create it again" if kind == "VIEW" else f"Restore it (UNDROP {kind}) or create it again"
    return RefreshError(
        f"Dynamic table {obj.name} reads {name}, which was dropped. {fix}, or replace the "
        "dynamic table.",
        name=str(obj.name),
        code="SOURCE_DROPPED",
    )


def replan(
    rt: Runtime, obj: CatalogObject, dt: DynamicTable, changed: dict[str, str]
) -> DynamicTable:
    """Plan ``obj`` again from the query as written, its sources being what their names
    mean now; fails when that changes the table's columns. Writes the new plan, sources and
    hidden state columns (in the caller's commit) and returns the table's new record."""
    text = dt.plan.get("through_views") or (None if dt.plan.get("views") else dt.query_sql)
    what = ", ".join(changed)
    if text is None:  # planned by a version that kept only the inlined query
        raise RefreshError(
            f"Dynamic table {obj.name} reads {what}, which changed since the table was "
            "created, and its plan holds the old definition. Replace the dynamic table "
            "(CREATE OR REPLACE) to read it as it is now.",
            name=str(obj.name),
            code="VIEW_CHANGED",
        )
    options = Options(
        target_lag_sec=dt.target_lag_sec,
        target_lag_type=dt.target_lag_type,
        refresh_mode=dt.requested_mode,
        frozen_where=dt.frozen_where,
    )
    try:
        planned = plan_query(rt, obj.name, normalize(parse_padded(text)), options)
    except RefreshError:
        raise
    except Exception as err:  # the query no longer binds, or cannot be refreshed as asked
        raise RefreshError(
            f"Dynamic table {obj.name} reads {what}, which changed, and its query no longer "
            f"works: {err}",
            name=str(obj.name),
            code="SOURCE_CHANGED",
        ) from err
    _same_columns(obj, planned.described, what)
    old_state = [Column(**c) for c in dt.plan.get("state_columns", [])]
    new_state = planned.analysis.state_columns
    if [(c.name, c.type) for c in old_state] != [(c.name, c.type) for c in new_state]:
        for column in old_state:
            rt.store.drop_column(obj.oid, column.name)
        for column in new_state:
            rt.store.add_column(obj.oid, column)
        refresh_view(rt, obj)
    rt.catalog.update_dynamic_table(
        obj.oid,
        refresh_mode=resolved_mode(dt.requested_mode, planned.analysis, dt.refresh_mode),
        refresh_mode_reason=planned.analysis.reason,
        query_sql=planned.query.sql("snowflake"),
        # the functions' bodies are the ones the table was created with (through_views)
        plan=dict(planned.record(), functions=dt.plan.get("functions", [])),
    )
    rt.catalog.set_dependencies(obj.oid, [s.oid for s in planned.sources])
    record_graph(rt, obj.oid)
    return rt.catalog.dynamic_table(obj.oid)


def _same_columns(obj: CatalogObject, described: list[tuple[str, str]], what: str) -> None:
    had = [(c.name, c.type) for c in obj.columns]
    if len(described) != len(had):
        detail = f"{len(described)} columns where the table has {len(had)}"
    else:
        differ = [  # as Snowflake names them: INTEGER and BIGINT are both NUMBER(38,0)
            f"{name} is {snowflake_type(new)} where the table has {snowflake_type(old)}"
            for (name, old), (_, new) in zip(had, described, strict=True)
            if snowflake_type(old) != snowflake_type(new)
        ]
        if not differ:
            return
        detail = "; ".join(differ)
    raise RefreshError(
        f"Dynamic table {obj.name} reads {what}, which changed: its query now gives "
        f"{detail}. A dynamic table's columns are fixed; replace it (CREATE OR REPLACE) to "
        "take the new shape.",
        name=str(obj.name),
        code="SOURCE_CHANGED",
    )


def output_names(query: exp.Expression, described: list[tuple[str, str]]) -> list[str]:
    select = query if isinstance(query, exp.Select) else None
    if select is None or any(
        isinstance(e, exp.Star) or (isinstance(e, exp.Column) and isinstance(e.this, exp.Star))
        for e in select.expressions
    ):
        return [n.upper() if n == n.lower() and not n.startswith('"') else n for n, _ in described]
    names = []
    for expression in select.expressions:
        if isinstance(expression, exp.Alias):
            names.append(identifier_value(expression.args["alias"]))
        elif isinstance(expression, exp.Column):
            names.append(identifier_value(expression.this))
        else:
            names.append(expression.sql("snowflake").upper())
    return names


def _validate_sources(
    rt: Runtime, name: ObjectName, sources: list[CatalogObject], options: Options
) -> None:
    for source in sources:
        if source.name == name:
            raise DynamicTableError(f"Dynamic table {name} cannot read itself", name=str(name))
        if source.kind not in ("TABLE", "DYNAMIC TABLE"):
            raise DynamicTableError(
                f"Dynamic table {name} reads {source.name}, a "
                f"{source.kind.lower()}, which snowmelt cannot track",
                name=str(name),
            )
        if source.kind == "DYNAMIC TABLE":
            if _reads(rt, source.oid, name):
                raise DynamicTableError(
                    f"Dynamic table {name} would form a cycle: {source.name} already reads "
                    f"{name}. Remove that dependency first.",
                    name=str(name),
                )
            upstream = rt.catalog.dynamic_table(source.oid)
            if (
                options.target_lag_type == "USER_DEFINED"
                and upstream.target_lag_type == "USER_DEFINED"
                and upstream.target_lag_sec is not None
                and options.target_lag_sec is not None
                and options.target_lag_sec < upstream.target_lag_sec
            ):
                raise DynamicTableError(
                    f"TARGET_LAG of {name} ({format_lag(options.target_lag_sec, 'USER_DEFINED')})"
                    f" is shorter than that of its upstream dynamic table {source.name} "
                    f"({format_lag(upstream.target_lag_sec, 'USER_DEFINED')}). Use a lag of at "
                    "least the upstream's, or make the upstream's shorter or DOWNSTREAM.",
                    name=str(name),
                )


def _reads(rt: Runtime, oid: int, name: ObjectName, seen: set[int] | None = None) -> bool:
    """Whether dynamic table ``oid`` reads (transitively) the object called ``name``."""
    seen = seen or set()
    if oid in seen:
        return False
    seen.add(oid)
    for input_oid, _, _ in rt.catalog.inputs(oid):
        source = rt.catalog.get(input_oid)
        if source.name == name:
            return True
        if source.kind == "DYNAMIC TABLE" and _reads(rt, input_oid, name, seen):
            return True
    return False


def _refuse_time_travel(name: ObjectName, query: exp.Expression, inlined: exp.Expression) -> None:
    """A refresh reads every source as of the table's data timestamp (views' included).
    The clause is looked for in the query as written first, where it has its position."""
    travel = next(query.find_all(exp.HistoricalData), None) or next(
        inlined.find_all(exp.HistoricalData), None
    )
    if travel is not None:
        raise UnsupportedError(
            f"{travel.name}(...) (time travel)",
            f"Dynamic table {name} cannot use {travel.name}(...) (time travel): a dynamic "
            "table reads its sources as of its data timestamp. Query the history with AT "
            "outside the dynamic table, or copy it into a table.",
            *position(travel.find_ancestor(exp.Table) or travel),  # the table it follows
        )


def _refuse_computed(name: ObjectName, query: exp.Expression) -> None:
    """A refresh computes the query from stored rows at its data timestamp: a kept statement
    result or a monitoring table function has no such state (FLATTEN, SPLIT_TO_TABLE and
    GENERATOR are computed from the row or the query itself)."""
    found: list[exp.Expression] = [
        node for node in query.find_all(exp.TableFromRows) if not isinstance(node.this, TRANSLATED)
    ]
    found += [table for table, _ in results.piped_references(query)]
    if found:
        text = found[0].sql("snowflake")
        raise UnsupportedError(
            text,
            f"Dynamic table {name} cannot read {text}: a dynamic table reads tables, views "
            "and dynamic tables (FLATTEN, SPLIT_TO_TABLE and GENERATOR among table "
            "functions). Copy the rows into a table and read that.",
            *position(found[0]),
        )


def _resolve_mode(
    rt: Runtime,
    name: ObjectName,
    query: exp.Expression,
    sources: list[CatalogObject],
    options: Options,
) -> ivm.Analysis:
    infos = {}
    upstream_full = None
    for source in sources:
        mode = None
        if source.kind == "DYNAMIC TABLE":
            mode = rt.catalog.dynamic_table(source.oid).refresh_mode
            if mode == "FULL":
                upstream_full = source.name
        infos[source.name] = ivm.SourceInfo(source.name, source.kind, source.column_names, mode)
    if options.refresh_mode == "FULL":
        return ivm.Analysis(mode="FULL", reason="USER_SPECIFIED_FULL_REFRESH")
    if options.frozen_where is not None:
        if options.refresh_mode in ("INCREMENTAL", "ADAPTIVE"):
            raise DynamicTableError(
                f"Dynamic table {name} has a frozen region (FROZEN WHERE), which snowmelt "
                f"refreshes in FULL mode only (each refresh recomputes the active rows); use "
                f"REFRESH_MODE = FULL or AUTO instead of {options.refresh_mode}.",
                name=str(name),
            )
        return ivm.Analysis(
            mode="FULL",
            reason="FROZEN_REGION",
            message="snowmelt refreshes a table with a frozen region (FROZEN WHERE) in FULL "
            "mode, recomputing its active rows only",
        )
    analysis = ivm.analyze(query, infos)
    if analysis.mode != "INCREMENTAL":
        if options.refresh_mode in ("INCREMENTAL", "ADAPTIVE"):
            where = f" (line {analysis.line}, column {analysis.column})" if analysis.line else ""
            raise DynamicTableError(
                f"Dynamic table {name} cannot be refreshed incrementally: {analysis.message}"
                f"{where}. Use REFRESH_MODE = FULL or AUTO, or rewrite the query "
                f"(REFRESH_MODE = {options.refresh_mode} needs an incremental plan).",
                name=str(name),
            )
        return analysis
    if upstream_full is not None and options.refresh_mode == "AUTO":
        return ivm.Analysis(
            mode="FULL",
            reason="UPSTREAM_USES_FULL_REFRESH",
            message=f"upstream dynamic table {upstream_full} uses FULL refresh",
        )
    return analysis
