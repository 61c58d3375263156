"""Snowflake's ARRAY and OBJECT functions on values held as DuckDB JSON.

Role: one rewrite of :data:`snowmelt.sql.translate.REWRITES`, run right after the
semi-structured one (:mod:`snowmelt.sql.semistructured`, whose helpers it uses: imports point
``translate`` -> ``arrays`` -> ``semistructured``). snowmelt keeps every ARRAY, OBJECT and
VARIANT as JSON, while sqlglot renders Snowflake's array functions as DuckDB *list*
functions, which fail on JSON (``list_sort(JSON)``) or silently work on its text. Each function
here reads its array as a DuckDB list of JSON elements (``elements``: JSON nulls become
NULL), does the work with list functions and lambdas, and returns JSON again:

- ARRAY_CONTAINS, ARRAY_SLICE, TYPEOF; ARRAY_TO_STRING, ARRAY_APPEND/PREPEND, ARRAY_CAT,
  ARRAY_COMPACT, ARRAY_POSITION, ARRAYS_OVERLAP (the list function given JSON elements);
- ARRAY_DISTINCT (first occurrences, in order; NULL-safe), ARRAY_EXCEPT and
  ARRAY_INTERSECTION (as bags: ``[B, B, B] EXCEPT [B]`` keeps two), ARRAY_REMOVE, ARRAY_SORT
  (numbers by value, before strings; NULLs first or last), ARRAY_MIN/ARRAY_MAX (numbers by
  value, else by text; NULLs ignored), ARRAY_FLATTEN;
- OBJECT_INSERT (a key that exists is an error unless the update flag is TRUE; a NULL value
  leaves the object as it is), OBJECT_DELETE, OBJECT_PICK (keys, or one array of keys);
- aggregates: OBJECT_AGG (rows with a NULL key or value skipped; ``{}`` when none),
  ARRAY_UNIQUE_AGG (the distinct non-NULL values), ARRAY_UNION_AGG (the bag union of the
  arrays: each value as many times as the array holding it most often).

A value that is not an array (or object) gives NULL, as ARRAY_SIZE does. Inputs: a
Snowflake-parsed expression after the semi-structured rewrite; outputs: the rewritten
expression (changed in place, the possibly new root returned).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from snowmelt.sql.semistructured import _each, _json_kind, _json_text

_JSON_ELEMENTS = '["json"]'
_NUMBERS = ("UBIGINT", "BIGINT", "HUGEINT", "DOUBLE")


def rewrite_arrays(expression: exp.Expr, fail: Callable[[str, str], Exception]) -> exp.Expr:
    def fn(node: exp.Expr) -> exp.Expr:
        if isinstance(node, (exp.ArrayContains, exp.ArraySlice, exp.Typeof)):
            return _json_array_function(node)
        if isinstance(node, _LIST_FUNCTIONS):
            return _over_elements(node)
        handler = _HANDLERS.get(type(node))
        if handler is not None:
            return handler(node, fail)
        if isinstance(node, exp.Anonymous) and node.name.upper() in _NAMED:
            return _NAMED[node.name.upper()](node, fail)
        return node

    return _each(expression, fn)


# --- building blocks ------------------------------------------------------------------------


def elements(value: exp.Expr) -> exp.Expr:
    """A JSON array as a DuckDB list of its JSON elements (JSON nulls become NULL); not a
    CAST, since casts to ARRAY are Snowflake's and rewritten to JSON."""
    return exp.func(
        "from_json", exp.func("to_json", value.copy()), exp.Literal.string(_JSON_ELEMENTS)
    )


def _var(name: str) -> exp.Column:
    return exp.column(exp.to_identifier(name))


def _lambda(body: exp.Expr, *names: str) -> exp.Lambda:
    return exp.Lambda(this=body, expressions=[exp.to_identifier(n) for n in names])


def _when_array(value: exp.Expr, result: exp.Expr, *also: exp.Expr) -> exp.Expr:
    """``result`` when ``value`` (and each of ``also``) is an array, else NULL."""
    checks = [_json_kind(exp.func("to_json", v.copy()), "ARRAY") for v in (value, *also)]
    return exp.Case().when(exp.and_(*checks), result)


def _json_list(items: exp.Expr) -> exp.Expr:
    return exp.func("to_json", items)


def _same(a: exp.Expr, b: exp.Expr) -> exp.Expr:
    return exp.NullSafeEQ(this=a, expression=b)


def _count_in(items: exp.Expr, value: exp.Expr) -> exp.Expr:
    """How many elements of ``items`` are ``value`` (NULL-safe)."""
    match = _lambda(_same(_var("_sm_y"), value), "_sm_y")
    return exp.func("len", exp.func("list_filter", items, match))


def _is_number(element: exp.Expr) -> exp.Expr:
    return _json_kind(element, *_NUMBERS)


def _non_null(items: exp.Expr) -> exp.Expr:
    keep = exp.Not(this=exp.Is(this=_var("_sm_e"), expression=exp.null()))
    return exp.func("list_filter", items, _lambda(keep, "_sm_e"))


def _literal_bool(node: exp.Expr | None, default: bool) -> exp.Expr:
    return node.copy() if node is not None else exp.Boolean(this=default)


# --- functions that were list functions already ------------------------------------------


def _json_array_function(node: exp.ArrayContains | exp.ArraySlice | exp.Typeof) -> exp.Expr:
    """ARRAY_CONTAINS, ARRAY_SLICE and TYPEOF of a value as JSON (like ARRAY_SIZE: arrays
    and variants are JSON, other values are converted, as Snowflake converts them to
    VARIANT): the array read as a list of JSON elements (NULL when the value is not an
    array); TYPEOF with Snowflake's names."""
    value = exp.func("to_json", node.this.copy())
    if isinstance(node, exp.Typeof):
        kind = exp.func("json_type", value)
        names = {"BIGINT": "INTEGER", "UBIGINT": "INTEGER", "HUGEINT": "INTEGER"}
        names |= {"DOUBLE": "DECIMAL", "NULL": "NULL_VALUE"}
        case = exp.Case(this=kind)
        for duckdb_name, snowflake_name in names.items():
            case = case.when(exp.Literal.string(duckdb_name), exp.Literal.string(snowflake_name))
        return case.else_(kind.copy())
    items = elements(node.this)
    if isinstance(node, exp.ArrayContains):
        found = exp.func("list_contains", items, exp.func("to_json", node.expression.copy()))
        return exp.Case().when(_json_kind(value, "ARRAY"), found)
    sliced = node.copy()
    sliced.set("this", items)
    return exp.Case().when(_json_kind(value, "ARRAY"), exp.func("to_json", sliced))


_LIST_FUNCTIONS = (
    exp.ArrayToString,
    exp.ArrayAppend,
    exp.ArrayPrepend,
    exp.ArrayConcat,
    exp.ArrayCompact,
    exp.ArrayPosition,
    exp.ArrayOverlaps,
)


def _over_elements(node: exp.Expr) -> exp.Expr:
    """ARRAY_TO_STRING, ARRAY_APPEND/PREPEND, ARRAY_CAT, ARRAY_COMPACT, ARRAY_POSITION and
    ARRAYS_OVERLAP: sqlglot renders them as DuckDB list functions, so they are given lists of
    JSON elements (strings unquoted for ARRAY_TO_STRING, a value looked for or added as
    JSON) and an array they return is JSON again."""
    items = elements(node.this)
    if isinstance(node, exp.ArrayToString):
        text = _lambda(_json_text(_var("_sm_e")), "_sm_e")
        node.set("this", exp.func("list_transform", items, text))
        return node
    node.set("this", items)
    if isinstance(node, exp.ArrayOverlaps):
        node.set("expression", elements(node.expression))
        return node
    if isinstance(node, (exp.ArrayAppend, exp.ArrayPrepend, exp.ArrayPosition)):
        node.set("expression", exp.func("to_json", node.expression.copy()))
    if isinstance(node, exp.ArrayConcat):
        node.set("expressions", [elements(e) for e in node.expressions])
    return node if isinstance(node, exp.ArrayPosition) else exp.func("to_json", node)


# --- array functions ----------------------------------------------------------------------


def _distinct(node: exp.Expr, fail: Callable[[str, str], Exception]) -> exp.Expr:
    items = elements(node.this)
    first = exp.EQ(
        this=exp.func("list_position", items.copy(), _var("_sm_x")), expression=_var("_sm_i")
    )
    kept = exp.func("list_filter", items, _lambda(first, "_sm_x", "_sm_i"))
    return _when_array(node.this, _json_list(kept))


def _bag(a: exp.Expr, b: exp.Expr, keep_common: bool) -> exp.Expr:
    """``a`` EXCEPT ``b`` (``keep_common`` False) or INTERSECT ``b``, as bags, in ``a``'s
    order: the i-th element x of a is kept when the x's up to it in a outnumber (EXCEPT) or
    do not outnumber (INTERSECT) the x's in b."""
    left, right = elements(a), elements(b)
    prefix = exp.Bracket(
        this=left.copy(),
        expressions=[exp.Slice(this=exp.Literal.number(1), expression=_var("_sm_i"))],
    )
    seen = _count_in(prefix, _var("_sm_x"))
    there = _count_in(right, _var("_sm_x"))
    test = exp.LTE if keep_common else exp.GT
    kept = exp.func(
        "list_filter", left, _lambda(test(this=seen, expression=there), "_sm_x", "_sm_i")
    )
    return _when_array(a, _json_list(kept), b)


def _except(node: exp.Expr, fail: Callable[[str, str], Exception]) -> exp.Expr:
    return _bag(node.this, node.expression, keep_common=False)


def _intersect(node: exp.Expr, fail: Callable[[str, str], Exception]) -> exp.Expr:
    if len(node.expressions) != 2:
        raise fail("ARRAY_INTERSECTION", "pass exactly two arrays")
    return _bag(node.expressions[0], node.expressions[1], keep_common=True)


def _remove(node: exp.Expr, fail: Callable[[str, str], Exception]) -> exp.Expr:
    value = exp.func("to_json", node.expression.copy())
    other = exp.Not(this=_same(_var("_sm_e"), value))
    kept = exp.func("list_filter", elements(node.this), _lambda(other, "_sm_e"))
    missing = exp.Is(this=node.expression.copy(), expression=exp.null())
    return exp.Case().when(missing, exp.null()).else_(_when_array(node.this, _json_list(kept)))


def _sort_key(element: exp.Expr) -> exp.Expr:
    """Numbers by value, before strings and other values by their text."""
    return exp.func(
        "struct_pack",
        exp.PropertyEQ(
            this=exp.to_identifier("k"),
            expression=exp.Case()
            .when(_is_number(element), exp.Literal.number(0))
            .else_(exp.Literal.number(1)),
        ),
        exp.PropertyEQ(
            this=exp.to_identifier("n"),
            expression=exp.TryCast(this=element.copy(), to=exp.DataType.build("DOUBLE")),
        ),
        exp.PropertyEQ(this=exp.to_identifier("s"), expression=exp.cast(element.copy(), "VARCHAR")),
        exp.PropertyEQ(this=exp.to_identifier("j"), expression=element.copy()),
    )


def _sorted(items: exp.Expr, ascending: bool) -> exp.Expr:
    keyed = exp.func("list_transform", _non_null(items), _lambda(_sort_key(_var("_sm_e")), "_sm_e"))
    order = exp.Literal.string("ASC" if ascending else "DESC")
    back = _lambda(exp.Dot(this=_var("_sm_s"), expression=exp.to_identifier("j")), "_sm_s")
    return exp.func("list_transform", exp.func("list_sort", keyed, order), back)


def _sort(node: exp.Expr, fail: Callable[[str, str], Exception]) -> exp.Expr:
    items = elements(node.this)
    is_null = exp.Is(this=_var("_sm_e"), expression=exp.null())
    nulls = exp.func("list_filter", items.copy(), _lambda(is_null, "_sm_e"))
    ascending = _literal_bool(node.args.get("asc"), True)
    nulls_first = _literal_bool(node.args.get("nulls_first"), False)

    def arranged(asc: bool) -> exp.Expr:
        values = _sorted(items, asc)
        return (
            exp.Case()
            .when(nulls_first.copy(), exp.func("list_concat", nulls.copy(), values))
            .else_(exp.func("list_concat", values.copy(), nulls.copy()))
        )

    result = exp.Case().when(ascending, arranged(True)).else_(arranged(False))
    return _when_array(node.this, _json_list(result))


def _extreme(node: exp.Expr, fail: Callable[[str, str], Exception]) -> exp.Expr:
    """ARRAY_MAX / ARRAY_MIN: the largest (smallest) non-NULL element, compared as numbers
    when all are numbers, else as text; NULL when there is none."""
    items = _non_null(elements(node.this))
    better = exp.GT if isinstance(node, exp.ArrayMax) else exp.LT
    acc, e = _var("_sm_a"), _var("_sm_e")

    def reduced(key: Callable[[exp.Expr], exp.Expr]) -> exp.Expr:
        pick = exp.Case().when(better(this=key(e), expression=key(acc)), e.copy()).else_(acc.copy())
        return exp.func("list_reduce", items.copy(), _lambda(pick, "_sm_a", "_sm_e"))

    numbers = exp.func(
        "list_bool_and", exp.func("list_transform", items.copy(), _lambda(_is_number(e), "_sm_e"))
    )
    empty = exp.EQ(this=exp.func("len", items.copy()), expression=exp.Literal.number(0))
    result = (
        exp.Case()
        .when(empty, exp.null())
        .when(numbers, reduced(lambda v: exp.cast(v.copy(), "DOUBLE")))
        .else_(reduced(lambda v: exp.cast(v.copy(), "VARCHAR")))
    )
    return _when_array(node.this, result)


def _flatten(node: exp.Expr, fail: Callable[[str, str], Exception]) -> exp.Expr:
    """ARRAY_FLATTEN: the elements of the arrays in the array, one level; an element that is
    not an array fails the statement, as in Snowflake; a NULL element makes the result NULL."""
    items = elements(node.this)
    inner = exp.func("from_json", _var("_sm_e"), exp.Literal.string(_JSON_ELEMENTS))
    message = exp.Literal.string("ARRAY_FLATTEN: an element of the array is not an array")
    checked = (
        exp.Case()
        .when(_json_kind(_var("_sm_e"), "ARRAY"), inner)
        .when(exp.Is(this=_var("_sm_e"), expression=exp.null()), exp.null())
        .else_(exp.Anonymous(this="error", expressions=[message]))
    )
    parts = exp.func("list_transform", items.copy(), _lambda(checked, "_sm_e"))
    has_null = exp.func(
        "list_contains",
        exp.func(
            "list_transform",
            items,
            _lambda(exp.Is(this=_var("_sm_e"), expression=exp.null()), "_sm_e"),
        ),
        exp.true(),
    )
    result = exp.Case().when(has_null, exp.null()).else_(_json_list(exp.func("flatten", parts)))
    return _when_array(node.this, result)


# --- object functions ---------------------------------------------------------------------


def _pointer(key: exp.Expr) -> exp.Expr:
    """The JSON pointer of a top-level key (``/`` and ``~`` escaped)."""
    escaped = exp.func(
        "replace",
        exp.func(
            "replace",
            exp.cast(key.copy(), "VARCHAR"),
            exp.Literal.string("~"),
            exp.Literal.string("~0"),
        ),
        exp.Literal.string("/"),
        exp.Literal.string("~1"),
    )
    return exp.DPipe(this=exp.Literal.string("/"), expression=escaped)


def _when_object(value: exp.Expr, result: exp.Expr) -> exp.Expr:
    return exp.Case().when(_json_kind(exp.func("to_json", value.copy()), "OBJECT"), result)


def _without(obj: exp.Expr, keys: list[exp.Expr]) -> exp.Expr:
    """``obj`` without ``keys`` (a merge patch with NULLs removes keys, nothing else)."""
    pairs: list[exp.Expr] = []
    for key in keys:
        pairs += [exp.cast(key.copy(), "VARCHAR"), exp.null()]
    return exp.func(
        "json_merge_patch", exp.func("to_json", obj.copy()), exp.func("json_object", *pairs)
    )


def _insert(node: exp.Expr, fail: Callable[[str, str], Exception]) -> exp.Expr:
    obj, key, value = node.this, node.args["key"], node.args["value"]
    update = _literal_bool(node.args.get("update_flag"), False)
    exists = exp.func("json_exists", exp.func("to_json", obj.copy()), _pointer(key))
    duplicate = exp.Anonymous(
        this="error",
        expressions=[
            exp.DPipe(
                this=exp.Literal.string("OBJECT_INSERT: the object already has the key "),
                expression=exp.cast(key.copy(), "VARCHAR"),
            )
        ],
    )
    added = exp.func(
        "json_merge_patch",
        _without(obj, [key]),
        exp.func("json_object", exp.cast(key.copy(), "VARCHAR"), exp.func("to_json", value.copy())),
    )
    result = (
        exp.Case()
        .when(exp.and_(exists, exp.Not(this=exp.paren(update.copy()))), duplicate)
        .when(exp.Is(this=value.copy(), expression=exp.null()), exp.func("to_json", obj.copy()))
        .else_(added)
    )
    return _when_object(obj, result)


def _delete(node: exp.Expr, fail: Callable[[str, str], Exception]) -> exp.Expr:
    if len(node.expressions) < 2:
        raise fail("OBJECT_DELETE", "pass an object and at least one key")
    obj, keys = node.expressions[0], node.expressions[1:]
    return _when_object(obj, _without(obj, keys))


def _pick(node: exp.Expr, fail: Callable[[str, str], Exception]) -> exp.Expr:
    """OBJECT_PICK(obj, key, ...) or OBJECT_PICK(obj, array of keys): the object of those of
    its keys (rebuilt as text: the keys a JSON object holds, in its order)."""
    if len(node.expressions) < 2:
        raise fail("OBJECT_PICK", "pass an object and keys (or one array of keys)")
    obj, picks = node.expressions[0], node.expressions[1:]
    if len(picks) == 1 and not (isinstance(picks[0], exp.Literal) and picks[0].is_string):
        wanted = exp.func(
            "list_transform", elements(picks[0]), _lambda(_json_text(_var("_sm_k")), "_sm_k")
        )
    else:
        wanted = exp.Array(expressions=[exp.cast(p.copy(), "VARCHAR") for p in picks])
    value = exp.func("to_json", obj.copy())
    chosen = exp.func(
        "list_filter",
        exp.func("json_keys", value.copy()),
        _lambda(exp.func("list_contains", wanted, _var("_sm_k")), "_sm_k"),
    )
    # JSON concatenated as its text (a CAST of JSON to VARCHAR is Snowflake's: unquoted)
    member = exp.func("json_extract", value.copy(), _pointer(_var("_sm_k")))
    pair = exp.DPipe(
        this=exp.DPipe(this=exp.func("to_json", _var("_sm_k")), expression=exp.Literal.string(":")),
        expression=member,
    )
    body = exp.func(
        "array_to_string",
        exp.func("list_transform", chosen, _lambda(pair, "_sm_k")),
        exp.Literal.string(","),
    )
    text = exp.DPipe(
        this=exp.DPipe(this=exp.Literal.string("{"), expression=body),
        expression=exp.Literal.string("}"),
    )
    return _when_object(obj, exp.func("json", text))


# --- aggregates -----------------------------------------------------------------------------


def _or_empty(value: exp.Expr, empty: str) -> exp.Expr:
    return exp.Coalesce(this=value, expressions=[exp.func("json", exp.Literal.string(empty))])


def _object_agg(node: exp.Expr, fail: Callable[[str, str], Exception]) -> exp.Expr:
    key, value = node.this, node.expression
    if value is None:
        raise fail("OBJECT_AGG", "pass a key and a value")
    present = exp.and_(
        exp.Not(this=exp.Is(this=key.copy(), expression=exp.null())),
        exp.Not(this=exp.Is(this=value.copy(), expression=exp.null())),
    )
    entry = exp.func(
        "struct_pack",
        exp.PropertyEQ(this=exp.to_identifier("k"), expression=exp.cast(key.copy(), "VARCHAR")),
        exp.PropertyEQ(this=exp.to_identifier("v"), expression=exp.func("to_json", value.copy())),
    )
    entries = exp.Filter(this=exp.func("list", entry), expression=exp.Where(this=present))
    keys = exp.Filter(
        this=exp.func("list", exp.cast(key.copy(), "VARCHAR")),
        expression=exp.Where(this=present.copy()),
    )
    later = exp.LT(
        this=exp.func("list_position", keys.copy(), _var("_sm_k")), expression=_var("_sm_i")
    )
    repeated = exp.Bracket(
        this=exp.func("list_filter", keys.copy(), _lambda(later, "_sm_k", "_sm_i")),
        expressions=[exp.Literal.number(1)],
    )
    twice = exp.Anonymous(
        this="error",
        expressions=[
            exp.DPipe(this=exp.Literal.string("OBJECT_AGG: duplicate key "), expression=repeated)
        ],
    )
    unique = exp.EQ(
        this=exp.func("len", exp.func("list_distinct", keys.copy())),
        expression=exp.func("len", keys),
    )
    built = exp.func("to_json", exp.func("map_from_entries", entries))
    none = exp.Is(this=keys.copy(), expression=exp.null())  # no row with a key and a value
    return _or_empty(exp.Case().when(none, exp.null()).when(unique, built).else_(twice), "{}")


def _unique_agg(node: exp.Expr, fail: Callable[[str, str], Exception]) -> exp.Expr:
    values = exp.ArrayAgg(this=exp.Distinct(expressions=[exp.func("to_json", node.this.copy())]))
    present = exp.Not(this=exp.Is(this=node.this.copy(), expression=exp.null()))
    return _or_empty(_json_list(exp.Filter(this=values, expression=exp.Where(this=present))), "[]")


def _union_agg(node: exp.Expr, fail: Callable[[str, str], Exception]) -> exp.Expr:
    """The bag union of the arrays: each non-NULL value as many times as the array that holds
    it most often."""
    arrays = exp.func("list", elements(node.this))
    values = exp.func("list_distinct", exp.func("flatten", arrays.copy()))
    most = exp.func(
        "list_max",
        exp.func(
            "list_transform",
            arrays.copy(),
            _lambda(_count_in(_var("_sm_arr"), _var("_sm_v")), "_sm_arr"),
        ),
    )
    copies = exp.func("list_transform", exp.func("range", most), _lambda(_var("_sm_v"), "_sm_n"))
    union = exp.func("flatten", exp.func("list_transform", values, _lambda(copies, "_sm_v")))
    return _or_empty(_json_list(union), "[]")


_HANDLERS: dict[type[exp.Expr], Callable[[exp.Expr, Callable[[str, str], Exception]], exp.Expr]]
_HANDLERS = {
    exp.ArrayDistinct: _distinct,
    exp.ArrayExcept: _except,
    exp.ArrayIntersect: _intersect,
    exp.ArrayRemove: _remove,
    exp.ArraySort: _sort,
    exp.ArrayMax: _extreme,
    exp.ArrayMin: _extreme,
    exp.Flatten: _flatten,
    exp.ObjectInsert: _insert,
    exp.ObjectAgg: _object_agg,
    exp.ArrayUniqueAgg: _unique_agg,
    exp.ArrayUnionAgg: _union_agg,
}
_NAMED = {"OBJECT_DELETE": _delete, "OBJECT_PICK": _pick}
