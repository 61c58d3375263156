"""Snowflake -> DuckDB translation of parsed SQL.

Design
------
sqlglot already transpiles most Snowflake functions to DuckDB while *generating* SQL
(``expression.sql(dialect="duckdb")``). This module only fixes what that generator gets wrong
or does not know, by rewriting the Snowflake-parsed AST *before* generation, in the style of
sqlglot's optimizer: every fix is a small named function and :data:`REWRITES` applies them in
order. Rewrites build sqlglot nodes only (no SQL string splicing) and leave table names and
identifier quoting alone (the caller has resolved them).

The central decision: snowmelt stores every semi-structured value (VARIANT, OBJECT, ARRAY) as
DuckDB ``JSON``. So constructors (ARRAY_CONSTRUCT, OBJECT_CONSTRUCT, ARRAY_AGG, SPLIT,
``::VARIANT``) produce JSON, element access (``v[0]``, ``v['k']``) becomes a JSON path, and a
JSON value cast to a string is *unquoted* as Snowflake does (DuckDB's plain cast keeps the
quotes). Where the operand's type is not visible in the SQL (a bare column), the cast dispatches
on ``typeof()``, which DuckDB folds at bind time.

Types come from sqlglot's ``annotate_types`` when the caller did not annotate already (a caller
that knows the schema may annotate first; those types are honoured, e.g. DATEADD on a DATE
column then stays a DATE as in Snowflake).

Window functions DuckDB lacks are rewritten to standard windows; CONDITIONAL_CHANGE_EVENT needs
a window over a window, so its SELECT is split into an inner query (LAG) and an outer one (SUM).
FLATTEN lives in :mod:`snowmelt.sql.flatten`; the semi-structured constructors, accessors and
comparisons in :mod:`snowmelt.sql.semistructured`; the ARRAY and OBJECT functions in
:mod:`snowmelt.sql.arrays`; where DuckDB's semantics differ on the same SQL (ASOF joins, HASH_AGG,
zoned timestamp text, division by zero) in :mod:`snowmelt.sql.differences`.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Callable

from sqlglot import exp
from sqlglot.dialects.snowflake import Snowflake
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.time import format_time

from snowmelt.errors import UnsupportedError
from snowmelt.sql.arrays import rewrite_arrays
from snowmelt.sql.differences import asof_joins, division_by_zero, hash_agg, timestamp_offsets
from snowmelt.sql.flatten import rewrite_flatten
from snowmelt.sql.resolve import position as position_of
from snowmelt.sql.semistructured import (
    _JSON_TYPES,
    _each,
    _is_func,
    _is_json,
    _json_text,
    _type_of,
    json_comparisons,
    rewrite_semi_structured,
)
from snowmelt.sql.values import values_columns

DType = exp.DType
# Snowflake integers are all NUMBER(38, 0); BIGINT is the practical, fast equivalent.
_INT_TYPES = {DType.INT, DType.BIGINT, DType.SMALLINT, DType.TINYINT} | {
    DType.UBIGINT,
    DType.UINT,
    DType.USMALLINT,
    DType.UTINYINT,
}
_TEXT_TYPES = {DType.TEXT, DType.VARCHAR, DType.CHAR, DType.NCHAR, DType.NVARCHAR}
_SIMPLE_TYPES: dict[DType, str] = {
    source: target
    for target, sources in (
        ("JSON", _JSON_TYPES),
        ("BIGINT", _INT_TYPES),
        ("VARCHAR", _TEXT_TYPES),
        ("DOUBLE", {DType.FLOAT, DType.DOUBLE}),  # Snowflake floats are all 64-bit
        ("TIMESTAMP", {DType.TIMESTAMP, DType.TIMESTAMPNTZ, DType.DATETIME}),
        ("TIMESTAMPTZ", {DType.TIMESTAMPLTZ, DType.TIMESTAMPTZ}),
        ("BLOB", {DType.BINARY, DType.VARBINARY}),
        ("DATE", {DType.DATE}),
        ("TIME", {DType.TIME}),
        ("BOOLEAN", {DType.BOOLEAN}),
    )
    for source in sources
}
# Units for which Snowflake's DATEADD on a DATE returns a DATE (DuckDB returns a TIMESTAMP).
_DATE_UNITS = {"DAY", "WEEK", "MONTH", "QUARTER", "YEAR"}
_UNBOUNDED_TO_CURRENT = dict(
    kind="ROWS", start="UNBOUNDED", start_side="PRECEDING", end="CURRENT ROW"
)


class UnsupportedFunctionError(Exception):
    """A Snowflake function that snowmelt's DuckDB engine cannot run; ``name`` names it."""

    def __init__(self, name: str, hint: str = "rewrite the query without it") -> None:
        self.name = name
        super().__init__(
            f"Function `{name}` is not supported by snowmelt's DuckDB engine (Snowflake "
            f"dialect); {hint}."
        )


def duckdb_type(datatype: exp.DataType) -> exp.DataType:
    """Map a Snowflake column type to the DuckDB type snowmelt stores."""
    if datatype.this == DType.DECIMAL:
        # Snowflake NUMBER defaults to (38, 0); NUMBER(p) means scale 0.
        params = [int(e.name) for e in datatype.expressions if e.name.isdigit()]
        precision, scale = (params + [38, 0][len(params) :])[:2]
        if scale == 0:
            # Integers (bare NUMBER is NUMBER(38, 0)) come back as Python ints, as from
            # Snowflake's connector. BIGINT covers +-9.2e18; sqlglot spells a bare NUMBER as
            # NUMBER(38, 0), so the declared precision cannot pick a wider type.
            return exp.DataType.build("BIGINT")
        return exp.DataType.build(f"DECIMAL({precision}, {scale})")
    mapped = _SIMPLE_TYPES.get(datatype.this)
    return exp.DataType.build(mapped) if mapped else datatype.copy()


# --- helpers -----------------------------------------------------------------------------


def _window_args(window: exp.Window) -> dict[str, exp.Expr | list[exp.Expr]]:
    return {
        k: v.copy() if isinstance(v, exp.Expr) else [e.copy() for e in v]
        for k in ("partition_by", "order")
        if (v := window.args.get(k))
    }


def _with_this(node: exp.Expr, this: exp.Expr) -> exp.Expr:
    new = node.copy()
    new.set("this", this)
    return new


# --- rewrites ----------------------------------------------------------------------------

_UNSUPPORTED_NODES = (
    exp.Seq1,
    exp.Seq2,
    exp.Seq4,
    exp.Seq8,
    exp.CurrentAccount,
    exp.CurrentAccountName,
    exp.CurrentRegion,
    exp.CurrentWarehouse,
    exp.CurrentOrganizationName,
    exp.CurrentClient,
    exp.CurrentIpAddress,
    exp.CurrentAvailableRoles,
    exp.CurrentSecondaryRoles,
    exp.CurrentStatement,
    exp.CurrentTransaction,
    exp.StarMap,
)
_UNSUPPORTED_NAMES = {
    "LAST_QUERY_ID",
    "INVOKER_ROLE",
    "IS_ROLE_IN_SESSION",
    "CURRENT_ACCOUNT",
    "CURRENT_REGION",
    "CURRENT_WAREHOUSE",
    "DYNAMIC_TABLE_REFRESH_BOUNDARY",
}


def _generated(select: exp.Select | None) -> bool:
    """Whether ``select`` reads one TABLE(GENERATOR(...)) directly: SEQ1/2/4/8 then number
    its rows (sqlglot renders them over the ``range`` column of DuckDB's ``range(n)``)."""
    if select is None or select.args.get("from_") is None:
        return False
    items = [select.args["from_"].this] + [j.this for j in select.args.get("joins") or []]
    generators = [
        i for i in items if isinstance(i, exp.TableFromRows) and isinstance(i.this, exp.Generator)
    ]
    return len(generators) == 1


def reject_unsupported(expression: exp.Expr) -> exp.Expr:
    """Fail early, by name, on Snowflake-only functions DuckDB cannot evaluate."""
    for generator in expression.find_all(exp.Generator):
        if generator.args.get("rowcount") is None or generator.args.get("timelimit") is not None:
            raise UnsupportedFunctionError(
                "GENERATOR(TIMELIMIT)", "give the number of rows: GENERATOR(ROWCOUNT => n)"
            )
    for node in expression.find_all(*_UNSUPPORTED_NODES, exp.Anonymous):
        name = node.name.upper() if isinstance(node, exp.Anonymous) else node.sql("snowflake")
        if isinstance(node, (exp.Seq1, exp.Seq2, exp.Seq4, exp.Seq8)):
            if _generated(node.parent_select):
                continue
            raise UnsupportedFunctionError(
                name.split("(")[0],
                "it numbers the rows of TABLE(GENERATOR(ROWCOUNT => n)) in a SELECT reading one "
                "generator; elsewhere use ROW_NUMBER() OVER (...)",
            )
        if isinstance(node, exp.Anonymous):
            if not (name.startswith("SYSTEM$") or name in _UNSUPPORTED_NAMES):
                continue
        elif isinstance(node, exp.StarMap):
            name = "OBJECT_CONSTRUCT(*)"
        else:
            name = name.split("(")[0]
        raise UnsupportedFunctionError(name, "remove it or compute the value before the query")
    return expression


def flatten(expression: exp.Expr) -> exp.Expr:
    """LATERAL FLATTEN / TABLE(FLATTEN) -> lateral json_each subquery (see flatten.py)."""
    return rewrite_flatten(expression, UnsupportedFunctionError)


def conditional_true_event(expression: exp.Expr) -> exp.Expr:
    """CONDITIONAL_TRUE_EVENT(c) OVER w -> running SUM(CASE WHEN c THEN 1 ELSE 0 END)."""

    def fn(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Window) and _is_func(node.this, "CONDITIONAL_TRUE_EVENT"):
            flag = exp.Case().when(node.this.expressions[0].copy(), exp.Literal.number(1))
            flag = flag.else_(exp.Literal.number(0))
            return exp.Window(
                this=exp.Sum(this=flag),
                **_window_args(node),
                spec=exp.WindowSpec(**_UNBOUNDED_TO_CURRENT),
            )
        return node

    return _each(expression, fn)


def ratio_to_report(expression: exp.Expr) -> exp.Expr:
    """RATIO_TO_REPORT(x) OVER (PARTITION BY p) -> x / NULLIF(SUM(x) OVER (...), 0).

    Snowflake returns NULL when the partition sum is 0; the window has no ORDER BY/frame.
    """

    def fn(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Window) and _is_func(node.this, "RATIO_TO_REPORT"):
            value = node.this.expressions[0]
            total = exp.Window(
                this=exp.Sum(this=value.copy()), partition_by=_window_args(node).get("partition_by")
            )
            return exp.Div(
                this=value.copy(),
                expression=exp.Nullif(this=total, expression=exp.Literal.number(0)),
            )
        return node

    return _each(expression, fn)


def boolean_functions(expression: exp.Expr) -> exp.Expr:
    """BOOLAND / BOOLOR / BOOLXOR / BOOLNOT: each argument is true when it rounds to a
    non-zero number (a BOOLEAN counts as 1 or 0), then SQL's three-valued AND / OR / XOR /
    NOT. sqlglot's ROUND(x, 0) alone fails on a BOOLEAN in DuckDB."""

    def truth(value: exp.Expr) -> exp.Expr:
        number = exp.func("round", exp.cast(value.copy(), "DOUBLE"))
        return exp.paren(exp.NEQ(this=number, expression=exp.Literal.number(0)))

    def fn(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Booland):
            return exp.paren(exp.And(this=truth(node.this), expression=truth(node.expression)))
        if isinstance(node, exp.Boolor):
            return exp.paren(exp.Or(this=truth(node.this), expression=truth(node.expression)))
        if isinstance(node, exp.Xor) and node.args.get("round_input"):
            return exp.paren(exp.NEQ(this=truth(node.this), expression=truth(node.expression)))
        if isinstance(node, exp.Boolnot):
            return exp.Not(this=truth(node.this))
        return node

    return _each(expression, fn)


def conditional_change_event(expression: exp.Expr) -> exp.Expr:
    """CONDITIONAL_CHANGE_EVENT(x) OVER w: running count of changes of x (NULLs ignored).

    That is SUM(changed) OVER w where changed = x <> LAG(x IGNORE NULLS) OVER w, a window over
    a window, which DuckDB rejects. The enclosing SELECT becomes
    ``SELECT <projections> FROM (SELECT <original with helper columns>) AS _snowmelt_cce``:
    the inner query computes ``changed`` plus the partition/order values, and every CCE-free
    piece of an affected projection is hoisted into a hidden inner column.
    """
    selects = [
        s
        for s in expression.find_all(exp.Select)
        if any(_is_cce(w) and w.parent_select is s for w in s.find_all(exp.Window))
    ]
    for select in reversed(selects):  # innermost first
        replacement = _split_cce_select(select)
        if select is expression:
            expression = replacement
    return expression


def _is_cce(node: exp.Expr) -> bool:
    return isinstance(node, exp.Window) and _is_func(node.this, "CONDITIONAL_CHANGE_EVENT")


def _split_cce_select(select: exp.Select) -> exp.Select:
    stray = [
        w
        for w in select.find_all(exp.Window)
        if _is_cce(w)
        and w.parent_select is select
        and not any(w in p.walk() for p in select.expressions)
    ]
    if stray:
        raise UnsupportedFunctionError(
            "CONDITIONAL_CHANGE_EVENT", "use it in the SELECT list (filter in an outer query)"
        )
    hidden: list[exp.Expr] = []  # inner helper columns (aliased)
    outputs: set[str] = set()  # output names the outer ORDER BY/QUALIFY may refer to

    def hoist(node: exp.Expr) -> exp.Column:
        name = f"_snowmelt_h{len(hidden)}"
        hidden.append(exp.alias_(node.copy(), name))
        return exp.column(name)

    def outer_window(window: exp.Window) -> exp.Window:
        value = window.this.expressions[0]
        lag = exp.Window(
            this=exp.IgnoreNulls(this=exp.Lag(this=value.copy())), **_window_args(window)
        )
        changed = (
            exp.Case()
            .when(exp.NEQ(this=value.copy(), expression=lag), exp.Literal.number(1))
            .else_(exp.Literal.number(0))
        )
        order = window.args.get("order")
        return exp.Window(
            this=exp.Sum(this=hoist(changed)),
            partition_by=[hoist(p) for p in window.args.get("partition_by") or []],
            order=exp.Order(expressions=[_with_this(o, hoist(o.this)) for o in order.expressions])
            if order
            else None,
            spec=exp.WindowSpec(**_UNBOUNDED_TO_CURRENT),
        )

    def split(node: exp.Expr) -> exp.Expr:
        """Rebuild ``node`` for the outer query: CCE windows become SUM windows over hidden
        columns, output-name references stay, every other CCE-free subtree is hoisted."""

        def is_output(n: exp.Expr) -> bool:
            return isinstance(n, exp.Column) and not n.table and n.name.lower() in outputs

        if isinstance(node, exp.Window) and _is_cce(node):
            return outer_window(node)
        if is_output(node):
            return node
        if isinstance(node, (exp.Literal, exp.Column)) or not any(
            _is_cce(n) or is_output(n) for n in node.walk()
        ):
            return node if isinstance(node, exp.Literal) else hoist(node)
        for key, child in list(node.args.items()):
            if isinstance(child, exp.Expr):
                node.set(key, split(child))
            elif isinstance(child, list):
                node.set(key, [split(c) if isinstance(c, exp.Expr) else c for c in child])
        return node

    inner_projections: list[exp.Expr] = []
    outer_projections: list[exp.Expr] = []
    for i, projection in enumerate(select.expressions):
        if projection.is_star:
            inner_projections.append(projection.copy())
            outer_projections.append(exp.Star())
        elif not any(_is_cce(n) for n in projection.walk()):
            name = projection.alias_or_name or f"_snowmelt_c{i}"
            inner_projections.append(exp.alias_(projection.unalias().copy(), name))
            outer_projections.append(exp.column(name))
        else:
            name = projection.alias_or_name if isinstance(projection, exp.Alias) else None
            body = split(projection.unalias().copy())
            outer_projections.append(exp.alias_(body, name) if name else body)
    outputs.update(p.alias_or_name.lower() for p in outer_projections if not p.is_star)
    # ORDER BY / QUALIFY run in the outer query (they may use the CCE result); their other
    # inputs are hoisted. DISTINCT/LIMIT/OFFSET must follow them out.
    outer = exp.Select(expressions=outer_projections)
    for key in ("qualify", "order"):
        clause = select.args.get(key)
        if clause is not None:
            select.set(key, None)
            if isinstance(clause, exp.Order):
                clause.set(
                    "expressions",
                    [
                        o if o.this.is_int else _with_this(o, split(o.this.copy()))
                        for o in clause.expressions
                    ],
                )
            else:
                clause.set("this", split(clause.this.copy()))
            outer.set(key, clause)
    for key in ("distinct", "limit", "offset"):
        if select.args.get(key) is not None:
            outer.set(key, select.args[key])
            select.set(key, None)
    hidden_names = [h.alias for h in hidden]
    named = [p.alias_or_name for p in inner_projections if not p.is_star]
    for star in (p for p in outer_projections if isinstance(p, exp.Star)):
        star.set("except_", [exp.column(n) for n in hidden_names + named])
    select.replace(outer)
    select.set("expressions", inner_projections + hidden)
    outer.set(
        "from_",
        exp.From(
            this=exp.Subquery(
                this=select, alias=exp.TableAlias(this=exp.to_identifier("_snowmelt_cce"))
            )
        ),
    )
    return outer


def semi_structured(expression: exp.Expr) -> exp.Expr:
    """Make Snowflake semi-structured constructors and accessors produce/consume JSON (see
    semistructured.py)."""
    return rewrite_semi_structured(expression, UnsupportedFunctionError)


def arrays(expression: exp.Expr) -> exp.Expr:
    """Snowflake's ARRAY and OBJECT functions on JSON values (see arrays.py)."""
    return rewrite_arrays(expression, UnsupportedFunctionError)


_NUMBER_FORMAT = re.compile(r"^[90.,$DGLSMIVX\s]+$", re.IGNORECASE)


def _to_char(node: exp.ToChar) -> exp.Expr:
    """TO_CHAR / TO_VARCHAR: no format is a cast; a date/time format (``'DD/MM/YYYY
    HH24:MI'``) becomes strftime with Snowflake's elements (sqlglot drops the format when
    it does not know the value is a timestamp, which gave the default text silently)."""
    fmt = node.args.get("format")
    if fmt is None:
        return exp.cast(node.this.copy(), "VARCHAR")
    if not (isinstance(fmt, exp.Literal) and fmt.is_string):
        raise UnsupportedFunctionError("TO_CHAR", "give its format as a string literal")
    if _NUMBER_FORMAT.match(fmt.name):
        raise UnsupportedFunctionError(
            "TO_CHAR", f"number formats ('{fmt.name}') are not supported; cast, or use ROUND"
        )
    python = format_time(fmt.name, Snowflake.TIME_MAPPING, Snowflake.TIME_TRIE)
    return exp.TimeToStr(this=node.this.copy(), format=exp.Literal.string(python))


def json_casts(expression: exp.Expr) -> exp.Expr:
    """Give casts Snowflake's semi-structured semantics and snowmelt's type mapping.

    ``x::VARIANT`` -> to_json(x) (DuckDB's cast would parse a string as JSON text);
    ``json::STRING`` -> ``json ->> '$'`` (unquoted string, JSON null -> NULL); casts to other
    types keep DuckDB's JSON cast, which already reads numbers/numeric strings/booleans.
    """

    def fn(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.ToChar):
            return _to_char(node)
        if isinstance(node, exp.ColumnDef) and node.args.get("kind"):
            node.set("kind", duckdb_type(node.args["kind"]))
        if not isinstance(node, (exp.Cast, exp.TryCast)):
            return node
        target, value = node.to, node.this
        if target.this in _JSON_TYPES:
            return exp.func("to_json", value.copy())
        if target.this in _TEXT_TYPES:
            if _is_json(value):
                return _json_text(value.copy())
            if isinstance(value, exp.Column) and _type_of(value) is None:
                # Unknown column type: typeof() is constant-folded by DuckDB's binder.
                is_json = exp.EQ(
                    this=exp.func("typeof", value.copy()), expression=exp.Literal.string("JSON")
                )
                plain = node.copy()
                plain.set("to", duckdb_type(target))
                return exp.Case().when(is_json, _json_text(value.copy())).else_(plain)
        node.set("to", duckdb_type(target))
        return node

    return _each(expression, fn)


def date_results(expression: exp.Expr) -> exp.Expr:
    """DATEADD(day|week|month|quarter|year, n, <DATE>) is a DATE in Snowflake; DuckDB's
    ``date + INTERVAL`` is a TIMESTAMP, so cast back when the argument is known to be a DATE."""

    def fn(node: exp.Expr) -> exp.Expr:
        if (
            isinstance(node, exp.DateAdd)
            and _type_of(node.this) == DType.DATE
            and node.text("unit").upper() in _DATE_UNITS
            and not isinstance(node.parent, exp.Cast)
        ):
            return exp.cast(node.copy(), "DATE")
        return node

    return _each(expression, fn)


def _annotate(expression: exp.Expr) -> exp.Expr:
    """Infer types with sqlglot unless the caller already did (it may know the schema)."""
    if expression.type is not None:
        return expression
    try:
        return annotate_types(expression, dialect="snowflake")
    except Exception:  # noqa: BLE001 - inference is best effort; rewrites then assume less
        return expression


# Order matters: FLATTEN tags its JSON columns before casts look at them; windows are
# rewritten before their arguments are; constructors become JSON before casts/comparisons.
def positional_columns(expression: exp.Expr) -> exp.Expr:
    """``$1``, ``$2``: Snowflake's columns by position in the FROM clause (of VALUES, a
    table, a staged file), DuckDB's ``#1``, ``#2``. (Session variables, ``$name``, were
    substituted before; bind parameters are ``?`` and ``:1``.)"""

    def fn(node: exp.Expr) -> exp.Expr:
        column = node if isinstance(node, exp.Column) else None
        position = column.this if column is not None else node
        if not (
            isinstance(position, exp.Parameter)
            and isinstance(position.this, exp.Literal)
            and position.this.is_int
        ):
            return node
        if column is not None and column.table:  # t.$1: one source, else by name
            select = column.find_ancestor(exp.Select)
            if select is None or select.args.get("joins"):
                text = column.sql("snowflake")
                raise UnsupportedError(
                    text,
                    f"{text}: a column by position of one of several sources is not "
                    "supported by snowmelt; name the column",
                    *position_of(column),
                )
        return exp.column(exp.Identifier(this=f"#{position.this.name}", quoted=False))

    return expression.transform(fn, copy=False)


REWRITES: tuple[Callable[[exp.Expr], exp.Expr], ...] = (
    timestamp_offsets,
    hash_agg,
    asof_joins,
    reject_unsupported,
    positional_columns,
    values_columns,
    _annotate,
    date_results,
    flatten,
    conditional_true_event,
    ratio_to_report,
    boolean_functions,
    conditional_change_event,
    semi_structured,
    arrays,
    json_comparisons,
    json_casts,
    division_by_zero,
)


def to_duckdb(expression: exp.Expression) -> exp.Expression:
    """Translate a Snowflake-parsed expression so that ``.sql(dialect="duckdb")`` runs on
    DuckDB with Snowflake semantics. The input is not mutated."""
    result: exp.Expr = expression.copy()
    for rewrite in REWRITES:
        result = rewrite(result)
    # sqlglot 30 types function nodes as Expr; statements/queries are Expressions.
    return typing.cast(exp.Expression, result)
