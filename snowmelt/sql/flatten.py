"""Rewrite Snowflake ``FLATTEN`` and ``SPLIT_TO_TABLE`` into DuckDB lateral subqueries.

sqlglot parses ``LATERAL FLATTEN(...)`` / ``TABLE(FLATTEN(...))`` into an ``exp.Explode``
wrapped in ``exp.Lateral`` / ``exp.TableFromRows`` and renders it for DuckDB as a broken
``CROSS JOIN UNNEST(input => ...)``. Because snowmelt stores every semi-structured value as
DuckDB ``JSON``, we instead emit a correlated subquery over DuckDB's ``json_each`` table
function, projecting Snowflake's six FLATTEN columns in Snowflake's order::

    LATERAL (SELECT CAST(NULL AS BIGINT) AS seq, <key>, <path>, <index>, je.value, <this>
             FROM json_each(X) AS je WHERE json_type(X) IN ('ARRAY', 'OBJECT')) AS f(...)

``X`` is the input cast to JSON (then narrowed by ``path =>``).  ``OUTER => TRUE`` is handled
*inside* the subquery (``(SELECT 1) LEFT JOIN json_each(X) ON ...``) so the subquery always
yields at least one row; this keeps the enclosing join untouched whatever its form (comma,
``JOIN ... ON TRUE``, first item of ``FROM``).

``SEQ`` cannot be reproduced: a lateral subquery has no handle on the identity of the outer
row. It is NULL in ``SELECT *`` and an explicit reference raises UnsupportedFunctionError.

``SPLIT_TO_TABLE(s, d)`` (``LATERAL`` or ``TABLE(...)``) becomes the same kind of subquery, one
row per part of ``s`` split on ``d`` (empty parts kept; an empty delimiter does not split; a
NULL string gives no row), with Snowflake's columns SEQ (as for FLATTEN), INDEX (1-based) and
VALUE::

    LATERAL (SELECT CAST(NULL AS BIGINT) AS seq, _r.range + 1 AS index,
             parts(s, d)[_r.range + 1] AS value FROM range(len(parts(s, d))) AS _r) AS t(...)
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp
from sqlglot.dialects.snowflake import Snowflake

# Snowflake's FLATTEN and SPLIT_TO_TABLE output columns, in order.
FLATTEN_COLUMNS: tuple[str, ...] = ("seq", "key", "path", "index", "value", "this")
SPLIT_COLUMNS: tuple[str, ...] = ("seq", "index", "value")
_JSON = exp.DataType.build("JSON")
_EACH = "_snowmelt_je"  # alias of the json_each relation inside the generated subquery


def _kwargs(explode: exp.Explode) -> dict[str, exp.Expr]:
    """Collect FLATTEN's named arguments; a bare first argument is ``input``."""
    args: dict[str, exp.Expr] = {}
    for position, arg in enumerate([explode.this, *explode.expressions]):
        if isinstance(arg, exp.Kwarg):
            args[arg.this.name.lower()] = arg.expression
        elif position == 0 and arg is not None:
            args["input"] = arg
    return args


def _is_true(node: exp.Expr | None) -> bool:
    return isinstance(node, exp.Boolean) and node.this is True


def _flatten_subquery(
    args: dict[str, exp.Expr], fail: Callable[[str, str], Exception]
) -> exp.Select:
    if "input" not in args:
        raise fail("FLATTEN", "pass the array or object as `input => <expr>`")
    if _is_true(args.get("recursive")) or "mode" in args:
        raise fail("FLATTEN", "only non-recursive FLATTEN without MODE is implemented")
    # to_json: a JSON value is kept as is, a DuckDB list/struct becomes JSON.
    source: exp.Expr = exp.func("to_json", args["input"].copy())
    prefix = ""
    if "path" in args:
        path = args["path"]
        if not path.is_string:
            raise fail("FLATTEN", "`path =>` must be a string literal")
        prefix = path.name
        source = exp.JSONExtract(this=source, expression=Snowflake().to_json_path(path.copy()))

    def src() -> exp.Expr:  # fresh copy each time: a node may have only one parent
        return source.copy()

    def kind_is(kind: str) -> exp.Expr:
        return exp.EQ(this=exp.func("json_type", src()), expression=exp.Literal.string(kind))

    col = exp.column  # json_each columns: key, value, fullkey, ...
    # json_each's fullkey is '$[0]' / '$.a'; Snowflake's PATH is '[0]' / 'a' (prefixed by path=>)
    relative = exp.func(
        "regexp_replace",
        col("fullkey", _EACH),
        exp.Literal.string(r"^\$\.?"),
        exp.Literal.string(""),
    )
    path_col: exp.Expr = relative
    if prefix:
        sep = (
            exp.Case()
            .when(kind_is("OBJECT"), exp.Literal.string("."))
            .else_(exp.Literal.string(""))
        )
        path_col = exp.DPipe(
            this=exp.DPipe(this=exp.Literal.string(prefix), expression=sep), expression=relative
        )
    projections = [
        exp.alias_(exp.cast(exp.null(), "BIGINT"), "seq"),
        exp.alias_(exp.Case().when(kind_is("OBJECT"), col("key", _EACH)), "key"),
        exp.alias_(path_col, "path"),
        exp.alias_(
            exp.Case().when(kind_is("ARRAY"), exp.cast(col("key", _EACH), "BIGINT")), "index"
        ),
        exp.alias_(col("value", _EACH), "value"),
        exp.alias_(src(), "this"),
    ]
    # Snowflake yields no rows for scalars/NULL/empty containers (json_each would emit one row
    # for a scalar), hence the container check.
    is_container = exp.In(
        this=exp.func("json_type", src()),
        expressions=[exp.Literal.string("ARRAY"), exp.Literal.string("OBJECT")],
    )
    each = exp.Table(
        this=exp.func("json_each", src()), alias=exp.TableAlias(this=exp.to_identifier(_EACH))
    )
    select = exp.select(*projections)
    if _is_true(args.get("outer")):
        # OUTER => TRUE: exactly one all-NULL row for zero-row expansions.
        one = exp.Subquery(
            this=exp.select(exp.Literal.number(1)),
            alias=exp.TableAlias(this=exp.to_identifier("_snowmelt_one")),
        )
        return select.from_(one, copy=False).join(
            each, on=is_container, join_type="LEFT", copy=False
        )
    return select.from_(each, copy=False).where(is_container, copy=False)


def _split_subquery(split: exp.SplitToTable) -> exp.Select:
    text, delimiter = split.this, split.expression

    def call(name: str, *args: exp.Expr) -> exp.Expr:  # DuckDB list functions, by name: the
        return exp.Anonymous(this=name, expressions=list(args))  # JSON rewrites leave them

    def parts() -> exp.Expr:
        string = exp.cast(text.copy(), "VARCHAR")
        whole = exp.EQ(this=delimiter.copy(), expression=exp.Literal.string(""))
        return (
            exp.Case()
            .when(whole, call("list_value", string.copy()))
            .else_(call("string_split", string, delimiter.copy()))
        )

    number = exp.Add(this=exp.column("range", "_snowmelt_r"), expression=exp.Literal.number(1))
    rows = exp.Table(
        this=exp.func("range", exp.cast(call("len", parts()), "BIGINT")),
        alias=exp.TableAlias(this=exp.to_identifier("_snowmelt_r")),
    )
    return (
        exp.select(
            exp.alias_(exp.cast(exp.null(), "BIGINT"), "seq"),
            exp.alias_(number, "index"),
            exp.alias_(call("list_extract", parts(), number.copy()), "value"),
        )
        .from_(rows)
        .where(exp.Not(this=exp.Is(this=text.copy(), expression=exp.null())))
    )


def _alias_columns(
    node: exp.Expr, names: tuple[str, ...] = FLATTEN_COLUMNS
) -> tuple[exp.TableAlias, list[str]]:
    """The relation alias (sqlglot invents `_flattened` when absent) and its column names."""
    alias = node.args.get("alias")
    name = alias.name if alias and alias.name else "_flattened"
    columns = [c.name for c in alias.columns] if alias and alias.columns else []
    columns += list(names[len(columns) :])
    new = exp.TableAlias(
        this=exp.to_identifier(name), columns=[exp.to_identifier(c) for c in columns]
    )
    return new, columns


def _retype_references(
    scope: exp.Select,
    alias: str,
    columns: list[str],
    multiple: bool,
    fail: Callable[[str, str], Exception],
    function: str = "FLATTEN",
) -> None:
    """Tag FLATTEN's VALUE/THIS references as JSON (so `::string` unquotes them) and reject
    SEQ (of FLATTEN or SPLIT_TO_TABLE: ``function``)."""
    names = FLATTEN_COLUMNS if function == "FLATTEN" else SPLIT_COLUMNS
    by_name = {c.lower(): names[i] for i, c in enumerate(columns)}
    for column in scope.find_all(exp.Column):
        table = column.table.lower()
        if table != alias.lower() and (table or multiple):
            continue
        role = by_name.get(column.name.lower())
        if role == "seq":
            raise fail(
                f"{function}.SEQ", f"use a key column of the {function} input instead of SEQ"
            )
        if function == "FLATTEN" and role in ("value", "this"):
            column.type = _JSON


def rewrite_flatten(expression: exp.Expr, fail: Callable[[str, str], Exception]) -> exp.Expr:
    """Replace every FLATTEN relation in ``expression`` by an equivalent lateral subquery.

    ``fail(name, hint)`` builds the exception raised for unsupported variants.
    """
    targets = [
        node
        for node in expression.find_all(exp.Lateral, exp.TableFromRows)
        if isinstance(node.this, (exp.Explode, exp.SplitToTable))
    ]
    for node in targets:
        if isinstance(node.this, exp.SplitToTable):
            function, select = "SPLIT_TO_TABLE", _split_subquery(node.this)
            alias, columns = _alias_columns(node, SPLIT_COLUMNS)
        else:
            function, select = "FLATTEN", _flatten_subquery(_kwargs(node.this), fail)
            alias, columns = _alias_columns(node)
        replacement = exp.Lateral(this=exp.Subquery(this=select), alias=alias)
        scope = node.find_ancestor(exp.Select)
        node.replace(replacement)
        if scope is not None:
            laterals = [n for n in scope.find_all(exp.Lateral) if n.parent_select is scope]
            _retype_references(scope, alias.name, columns, len(laterals) > 1, fail, function)
    return expression
