"""Ad-hoc queries: bind names, answer time travel from change tracking, expand monitoring
table functions, translate and run.

* ``t AT(TIMESTAMP => ts)`` / ``AT(OFFSET => -s)`` / ``BEFORE(...)`` become the snapshot of
  ``t`` at the last version committed at (or before) that instant (``Runtime.bind_for_read``,
  which every statement reading tables uses).
* ``TABLE(INFORMATION_SCHEMA.DYNAMIC_TABLES(...))`` and friends are computed from the
  catalog (``snowmelt.monitoring``) and exposed to the query as registered Arrow tables.
* ``EXPLAIN <query>`` shows DuckDB's plan of the query so bound and translated.
"""

from __future__ import annotations

import json
import re
from contextlib import ExitStack
from typing import Any

import pyarrow as pa
from sqlglot import exp

from snowmelt import frozen, results, streams
from snowmelt.catalog import CatalogObject
from snowmelt.errors import SqlError, UnsupportedError
from snowmelt.get_ddl import expand_get_ddl
from snowmelt.information_schema import expand_information_schema
from snowmelt.monitoring import TABLE_FUNCTIONS, kwargs_of
from snowmelt.names import quoted
from snowmelt.result import Result
from snowmelt.runtime import Runtime
from snowmelt.sql.resolve import position


def run_query(rt: Runtime, statement: exp.Expression) -> Result:
    with ExitStack() as stack:
        return Result(rt.engine.query(_engine_query(rt, statement, stack)))


def _engine_query(rt: Runtime, statement: exp.Expression, stack: ExitStack) -> exp.Expression:
    expression = inline_views(rt, snowflake_output_names(statement.copy()))
    expression = frozen.metadata_columns(rt, expression)  # before the clock: it may read it
    expression = current_time_from_clock(rt, expression)  # after views: theirs too
    expression = expand_get_ddl(rt, expression)
    expression = streams.expand_has_data(rt, expression)
    expression = expand_computed(rt, expression, stack)
    return rt.to_engine(rt.bind_for_read(expression))


def expand_computed(rt: Runtime, expression: exp.Expression, stack: ExitStack) -> exp.Expression:
    """The relations snowmelt computes rather than stores — the monitoring table functions,
    INFORMATION_SCHEMA, RESULT_SCAN and a ->> chain's ``$n`` — registered for the life of
    ``stack`` in their places (queries, and through ``Runtime.scope`` DML and CTAS)."""
    expression = results.bind_last_query_id(rt.results, expression)
    expression = expand_table_functions(rt, expression, stack)
    return expand_information_schema(rt, expression, stack)


_PHYSICAL_TABLE = re.compile(r"(?:\w+\.)?_snowmelt_data\.t(\d+)\b")


def explain_query(rt: Runtime, statement: exp.Expression, form: str) -> Result:
    """EXPLAIN [USING TABULAR | TEXT | JSON] <query>: DuckDB's plan of the query as snowmelt
    runs it. TABULAR (the default) is a row per operator in Snowflake's columns (``step``,
    ``id``, ``parent``, ``operation``, ``objects``, ``expressions``; the partition and byte
    columns are NULL: DuckDB has no such estimates), tables named as the user names them;
    TEXT and JSON are one row with the plan in ``content``."""
    with ExitStack() as stack:
        sql = _engine_query(rt, statement, stack).sql("duckdb")
        plan = rt.engine.rows(f"EXPLAIN (FORMAT {'TEXT' if form == 'TEXT' else 'JSON'}) {sql}")

    def user_name(match: re.Match[str]) -> str:
        name = str(rt.catalog.get(int(match.group(1))).name)
        return name.ljust(len(match.group(0))) if form == "TEXT" else name  # keep the boxes

    text = _PHYSICAL_TABLE.sub(user_name, str(plan[0][1]))
    if form in ("TEXT", "JSON"):
        return Result(pa.table({"content": [text]}))
    rows: list[dict[str, Any]] = []

    def walk(node: dict[str, Any], parent: int | None) -> None:
        number = len(rows)
        info = node.get("extra_info", {})
        table = info.get("Table")
        expressions = [
            f"{key.lower()}: {', '.join(v) if isinstance(v, list) else v}"
            for key, v in info.items()
            if key not in ("Table", "Estimated Cardinality") and v
        ]
        rows.append(
            {
                "step": 1,
                "id": number,
                "parent": parent,
                "operation": node.get("name"),
                "objects": table,
                "alias": None,
                "expressions": "; ".join(expressions) or None,
                "partitionsTotal": None,
                "partitionsAssigned": None,
                "bytesAssigned": None,
            }
        )
        for child in node.get("children", []):
            walk(child, number)

    for root in json.loads(text):
        walk(root, None)
    return Result(pa.Table.from_pylist(rows, schema=_EXPLAIN_SCHEMA))


_EXPLAIN_SCHEMA = pa.schema(
    [
        ("step", pa.int64()),
        ("id", pa.int64()),
        ("parent", pa.int64()),
        ("operation", pa.string()),
        ("objects", pa.string()),
        ("alias", pa.string()),
        ("expressions", pa.string()),
        ("partitionsTotal", pa.int64()),
        ("partitionsAssigned", pa.int64()),
        ("bytesAssigned", pa.int64()),
    ]
)


def snowflake_output_names(expression: exp.Expression) -> exp.Expression:
    """Name unaliased result columns as Snowflake does (``COUNT(*)``, ``SUM(AMOUNT)``)."""
    if isinstance(expression, exp.Select):
        for node in expression.expressions:
            if not isinstance(node, exp.Alias | exp.Column | exp.Star) and node.alias == "":
                node.replace(
                    exp.alias_(
                        node.copy(), exp.to_identifier(node.sql("snowflake").upper(), quoted=True)
                    )
                )
    return expression


def current_time_from_clock(rt: Runtime, expression: exp.Expression) -> exp.Expression:
    """``CURRENT_TIMESTAMP`` and friends read the session's clock, so monitoring queries
    agree with the lag snowmelt computes (and tests can move time)."""
    now = rt.clock.now()
    for node in list(expression.find_all(exp.CurrentTimestamp, exp.CurrentDate)):
        literal = exp.Cast(
            this=exp.Literal.string(now.isoformat()), to=exp.DataType.build("TIMESTAMPTZ")
        )
        if isinstance(node, exp.CurrentDate):
            literal = exp.Cast(this=literal, to=exp.DataType.build("DATE"))
        node.replace(literal)
    return expression


def inline_views(
    rt: Runtime,
    expression: exp.Expression,
    depth: int = 0,
    inlined: list[CatalogObject] | None = None,
) -> exp.Expression:
    """Replace references to snowmelt views by their (qualified) queries.

    Views are evaluated by snowmelt rather than as DuckDB views, so a view over a
    monitoring table function (``GOLD.V_DYNAMIC_TABLE_STATUS``) is computed at query time.
    With ``inlined``, the views are also listed there, nested ones included, and the
    positions their bodies were parsed with (lines and columns of the views' own texts, not
    of the statement that reads them) are dropped.
    """
    if depth > 32:
        raise SqlError("Views nest more than 32 levels deep (a view that reads itself?)")
    from snowmelt.sql.parse import parse_padded
    from snowmelt.sql.resolve import normalize, table_references

    for table in table_references(expression):
        obj = rt.catalog.find(rt.resolver.object_name(table)) if _resolvable(rt, table) else None
        if obj is None or obj.kind != "VIEW":
            continue
        body = inline_views(rt, normalize(parse_padded(obj.text or "")), depth + 1, inlined)
        if inlined is not None:
            inlined.append(obj)
            for node in body.walk():
                for key in ("line", "col", "start", "end"):
                    node.meta.pop(key, None)
        alias = table.alias if table.args.get("alias") else obj.name.name
        new = exp.Subquery(this=body, alias=exp.TableAlias(this=quoted(alias)))
        if table is expression:
            return new
        table.replace(new)
    return expression


def _resolvable(rt: Runtime, table: exp.Table) -> bool:
    try:
        rt.resolver.object_name(table)
    except SqlError:
        return False
    return True


# Table functions the translation turns into SQL (FLATTEN, GENERATOR, SPLIT_TO_TABLE).
TRANSLATED = (exp.Explode, exp.Generator, exp.SplitToTable)
_TRANSLATED_NAMES = ("FLATTEN", "GENERATOR", "SPLIT_TO_TABLE")
_SCAN = "RESULT_SCAN"  # a kept statement result (``results``)


def expand_table_functions(
    rt: Runtime, expression: exp.Expression, stack: ExitStack
) -> exp.Expression:
    for table, number in results.piped_references(expression):  # a ->> chain's $n
        rows = results.piped(rt.results, table, number)
        rt.expose(stack, f"_sm_pipe_{number}", rows, table, f"_sm_pipe_{number}")
    for number, node in enumerate(list(expression.find_all(exp.TableFromRows))):
        if isinstance(node.this, TRANSLATED):
            continue  # SQL: the translation makes them DuckDB relations (sql.flatten, range(n))
        call = node.this
        function = call.expression if isinstance(call, exp.Dot) else call
        name = (
            function.name
            if isinstance(function, exp.Anonymous)
            else function.sql("snowflake").split("(")[0]
        ).upper()
        if name == _SCAN:
            rows = results.scanned(rt.results, function)
            rt.expose(stack, f"_sm_fn_{number}", rows, node, name)
            continue
        producer = TABLE_FUNCTIONS.get(name)
        if producer is None:
            raise UnsupportedError(
                name,
                f"Table function {name} is not supported by snowmelt "
                f"(supported: {', '.join(sorted([*TABLE_FUNCTIONS, *_TRANSLATED_NAMES, _SCAN]))})",
                *position(node),
            )
        rt.expose(stack, f"_sm_fn_{number}", producer(rt, kwargs_of(rt, function)), node, name)
    return expression
