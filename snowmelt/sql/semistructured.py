"""Snowflake semi-structured values (VARIANT, OBJECT, ARRAY) on DuckDB, stored as JSON.

Role: the rewrites of :data:`snowmelt.sql.translate.REWRITES` that follow from snowmelt's
central decision to store every semi-structured value as DuckDB ``JSON``: constructors
(ARRAY_CONSTRUCT, OBJECT_CONSTRUCT, ARRAY_AGG, SPLIT, TO_VARIANT) produce JSON, element access
(``v[0]``, ``v['k']``) becomes a JSON path, ``AS_<type>(v)`` checks the JSON kind, and a JSON
value compared with a string literal compares its unquoted text. It also holds what the cast
rewrite in ``translate`` asks of a JSON value (``_is_json``, ``_json_text``) and the small AST
helpers both modules use (``_type_of``, ``_is_func``, ``_each``), so that imports point one
way: ``translate`` -> ``semistructured``.

Inputs: a Snowflake-parsed, type-annotated sqlglot expression. Outputs: the rewritten
expression, changed in place like every rewrite. Unsupported uses raise the error that
``fail`` builds (``translate`` passes ``UnsupportedFunctionError``, as for
:mod:`snowmelt.sql.flatten`).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

DType = exp.DType
_JSON_TYPES = {DType.VARIANT, DType.OBJECT, DType.ARRAY, DType.JSON, DType.MAP, DType.STRUCT}


# --- helpers (translate.py uses them too, importing from here) ---------------------------


def _type_of(node: exp.Expr) -> DType | None:
    if isinstance(node, (exp.Cast, exp.TryCast)):
        return node.to.this
    if isinstance(node, exp.Paren):
        return _type_of(node.this)
    kind = node.type.this if node.type else None
    return None if kind in (None, DType.UNKNOWN, DType.NULL) else kind


def _is_json(node: exp.Expr) -> bool:
    """Whether ``node`` is known to evaluate to DuckDB JSON after translation."""
    if isinstance(node, (exp.JSONExtract, exp.GetExtract, exp.ParseJSON, exp.JSONObject)):
        return True
    if isinstance(node, exp.Anonymous) and node.name.lower() in {"to_json", "json", "json_array"}:
        return True
    if isinstance(node, exp.Coalesce):
        return _is_json(node.this)
    return _type_of(node) in _JSON_TYPES


def _json_text(node: exp.Expr) -> exp.Expr:
    """JSON -> its SQL string: strings unquoted, JSON null -> NULL (``node ->> '$'``)."""
    root = exp.JSONPath(expressions=[exp.JSONPathRoot()])
    return exp.JSONExtractScalar(this=node, expression=root)


def _json_kind(node: exp.Expr, *kinds: str) -> exp.Expr:
    kind = exp.func("json_type", node.copy())
    return exp.In(this=kind, expressions=[exp.Literal.string(k) for k in kinds])


def _is_func(node: exp.Expr, *names: str) -> bool:
    return isinstance(node, exp.Anonymous) and node.name.upper() in names


def _each(expression: exp.Expr, fn: Callable[[exp.Expr], exp.Expr]) -> exp.Expr:
    """Apply ``fn`` bottom-up (children first), in place; returns the possibly new root.

    Unlike ``Expression.transform`` (top-down, which skips the children of a replaced node)
    nested constructs such as ``v['a'][0]`` are each rewritten.
    """
    root = expression
    for node in reversed(list(expression.dfs())):
        new = fn(node)
        if new is not node:
            if node is root:
                root = new
            else:
                node.replace(new)
    return root


# --- rewrites ----------------------------------------------------------------------------


def rewrite_semi_structured(
    expression: exp.Expr, fail: Callable[[str, str], Exception]
) -> exp.Expr:
    """Make Snowflake semi-structured constructors and accessors produce/consume JSON."""

    def fn(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Array):  # ARRAY_CONSTRUCT(...) / [..] literal
            return exp.Anonymous(
                this="json_array", expressions=[e.copy() for e in node.expressions]
            )
        if isinstance(node, exp.Struct):  # OBJECT_CONSTRUCT: SQL NULL values drop the key
            return _object_construct(node, fail)
        if isinstance(node, exp.ToVariant):
            return exp.func("to_json", node.this.copy())
        if isinstance(node, exp.Bracket) and len(node.expressions) == 1:
            return _json_element(node.this.copy(), node.expressions[0].copy())
        if isinstance(node, exp.ArraySize):
            value = exp.func("to_json", node.this.copy())
            return exp.Case().when(
                _json_kind(value, "ARRAY"), exp.func("json_array_length", value.copy())
            )
        if isinstance(node, exp.Split | exp.StrtokToArray | exp.JSONKeys):  # ARRAYs are JSON
            return exp.func("to_json", node.copy())
        if isinstance(node, exp.GenerateSeries) and not isinstance(  # ARRAY_GENERATE_RANGE
            node.parent, exp.Table | exp.Unnest | exp.Lateral | exp.TableFromRows | exp.From
        ):
            return exp.func("to_json", node.copy())
        if isinstance(node, exp.Anonymous) and node.name.upper() in _IS_FUNCTIONS:
            value = exp.func("to_json", node.expressions[0].copy())
            return _json_kind(value, *_IS_FUNCTIONS[node.name.upper()])
        if isinstance(node, exp.Anonymous) and node.name.upper() in _AS_FUNCTIONS:
            kinds, target = _AS_FUNCTIONS[node.name.upper()]
            value = node.expressions[0]
            result = (
                _json_text(value.copy())
                if target == "VARCHAR"
                else (exp.cast(value.copy(), target) if target else value.copy())
            )
            return exp.Case().when(_json_kind(value, *kinds), result)
        if _is_func(node, "TO_TIMESTAMP_LTZ", "TO_TIMESTAMP_TZ") and len(node.expressions) == 1:
            return exp.cast(node.expressions[0].copy(), "TIMESTAMPTZ")
        return node

    for agg in list(expression.find_all(exp.ArrayAgg)):
        _wrap_array_agg(agg)
    return _each(expression, fn)


_IS_FUNCTIONS: dict[str, tuple[str, ...]] = {  # IS_<type>(variant): the JSON kind matches
    "IS_OBJECT": ("OBJECT",),
    "IS_VARCHAR": ("VARCHAR",),
    "IS_CHAR": ("VARCHAR",),
    "IS_BOOLEAN": ("BOOLEAN",),
    "IS_INTEGER": ("UBIGINT", "BIGINT", "HUGEINT"),
    "IS_DECIMAL": ("UBIGINT", "BIGINT", "HUGEINT", "DOUBLE"),
    "IS_DOUBLE": ("UBIGINT", "BIGINT", "HUGEINT", "DOUBLE"),
    "IS_REAL": ("UBIGINT", "BIGINT", "HUGEINT", "DOUBLE"),
}

_NUMBER_KINDS = ("UBIGINT", "BIGINT", "HUGEINT", "DOUBLE")
# AS_<type>(variant): the value when the JSON kind matches, else NULL.
_AS_FUNCTIONS: dict[str, tuple[tuple[str, ...], str | None]] = {
    "AS_VARCHAR": (("VARCHAR",), "VARCHAR"),
    "AS_CHAR": (("VARCHAR",), "VARCHAR"),
    "AS_DOUBLE": (_NUMBER_KINDS, "DOUBLE"),
    "AS_REAL": (_NUMBER_KINDS, "DOUBLE"),
    "AS_INTEGER": (_NUMBER_KINDS, "BIGINT"),
    "AS_NUMBER": (_NUMBER_KINDS, "DECIMAL(38, 0)"),
    "AS_DECIMAL": (_NUMBER_KINDS, "DECIMAL(38, 0)"),
    "AS_BOOLEAN": (("BOOLEAN",), "BOOLEAN"),
    "AS_OBJECT": (("OBJECT",), None),
    "AS_ARRAY": (("ARRAY",), None),
}


def _object_construct(node: exp.Struct, fail: Callable[[str, str], Exception]) -> exp.Expr:
    """to_json(map_from_entries(list_filter([{k, v: to_json(v)}, ...], e -> e.v IS NOT NULL)))

    json_object() would keep SQL NULLs as JSON nulls; Snowflake omits those keys but keeps
    JSON nulls (to_json of a JSON null is not SQL NULL, so it survives the filter).
    """
    entries = []
    for pair in node.expressions:
        key, value = (
            (pair.this, pair.expression) if isinstance(pair, exp.PropertyEQ) else (None, pair)
        )
        if key is None:
            raise fail("OBJECT_CONSTRUCT", "pass alternating keys and values")
        key_literal = exp.Literal.string(key.name) if isinstance(key, exp.Identifier) else key
        entries.append(
            exp.func(
                "struct_pack",
                exp.PropertyEQ(this=exp.to_identifier("k"), expression=key_literal.copy()),
                exp.PropertyEQ(
                    this=exp.to_identifier("v"), expression=exp.func("to_json", value.copy())
                ),
            )
        )
    element = exp.to_identifier("_snowmelt_e")
    keep = exp.Lambda(
        this=exp.Not(
            this=exp.Is(
                this=exp.Dot(this=exp.column(element), expression=exp.to_identifier("v")),
                expression=exp.null(),
            )
        ),
        expressions=[element],
    )
    filtered = exp.func("list_filter", exp.Array(expressions=entries), keep)
    if not entries:
        return exp.func("json", exp.Literal.string("{}"))
    return exp.func("to_json", exp.func("map_from_entries", filtered))


def _json_element(value: exp.Expr, index: exp.Expr) -> exp.Expr:
    """v[0] / v['key'] -> JSON path access (Snowflake arrays are 0-based like JSON paths)."""
    if isinstance(index, exp.Literal):
        part: exp.JSONPathPart = (
            exp.JSONPathKey(this=index.name)
            if index.is_string
            else exp.JSONPathSubscript(this=int(index.name))
        )
        index = exp.JSONPath(expressions=[exp.JSONPathRoot(), part])
    return exp.JSONExtract(this=value, expression=index)


def _wrap_array_agg(node: exp.ArrayAgg) -> None:
    """ARRAY_AGG -> JSON array; Snowflake returns [] (not NULL) when nothing is aggregated."""
    outer: exp.Expr = node
    while isinstance(outer.parent, (exp.WithinGroup, exp.Window, exp.Filter)):
        outer = outer.parent
    placeholder = exp.Null()
    outer.replace(placeholder)
    placeholder.replace(
        exp.Coalesce(
            this=exp.func("to_json", outer),
            expressions=[exp.func("json", exp.Literal.string("[]"))],
        )
    )


def json_comparisons(expression: exp.Expr) -> exp.Expr:
    """``v:k = 'text'``: Snowflake compares the variant's string; DuckDB would parse 'text'
    as JSON and fail. Compare the unquoted text instead (numbers already compare fine).
    In arithmetic a variant is a number (DOUBLE here), as Snowflake casts it."""

    def fn(node: exp.Expr) -> exp.Expr:
        if isinstance(
            node, (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Like, exp.ILike)
        ):
            for side, other in (("this", node.expression), ("expression", node.this)):
                if _is_json(node.args[side]) and isinstance(other, exp.Literal) and other.is_string:
                    node.set(side, _json_text(node.args[side].copy()))
        elif isinstance(node, (exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Mod)):
            # ``v:total + 1``: Snowflake casts a variant in arithmetic to a number
            for side in ("this", "expression"):
                if _is_json(node.args[side]):
                    node.set(side, exp.cast(node.args[side].copy(), "DOUBLE"))
        elif (
            isinstance(node, exp.In)
            and _is_json(node.this)
            and node.expressions
            and all(isinstance(e, exp.Literal) and e.is_string for e in node.expressions)
        ):
            node.set("this", _json_text(node.this.copy()))
        return node

    return _each(expression, fn)
