"""SQL user-defined functions: ``CREATE [OR REPLACE] [SECURE] FUNCTION [IF NOT EXISTS]
f(arg TYPE [DEFAULT expr], ...) RETURNS TYPE [LANGUAGE SQL] [COMMENT = '...'] AS 'expr'``
(or ``$$ expr $$``), ``DROP FUNCTION``, ``SHOW USER FUNCTIONS``, ``DESCRIBE FUNCTION``.

A scalar SQL function is inlined where it is called (``expand``): ``f(a, b)`` becomes
``CAST((body with the arguments in place of their names) AS RETURNS-type)``, before the
statement is planned — so a query, a DML statement, a view and a dynamic table see plain
expressions, and a dynamic table calling a function refreshes incrementally when its body
can. The function is read when the statement runs: a view keeps the body it was created
with, and so does a dynamic table — which records the functions it calls and, as on
Snowflake, fails its refreshes once one is replaced or dropped, until it is created again
(``planning.check_functions``).

Not supported, each refused with its name: other languages (Python, Java, JavaScript,
Scala), table functions (``RETURNS TABLE``), overloads (one function per name).
"""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa
from sqlglot import exp

from snowmelt.catalog import CatalogObject, Column
from snowmelt.ddl import check_schema, create_flags, drop_object, prepare_replace, status
from snowmelt.errors import ObjectNotFound, SqlError, UnsupportedError
from snowmelt.names import ObjectName, identifier_value
from snowmelt.result import Result
from snowmelt.runtime import Runtime
from snowmelt.show import listing, snowflake_type
from snowmelt.sql import commands
from snowmelt.sql.parse import parse_padded
from snowmelt.sql.resolve import normalize, object_name, position

MAX_DEPTH = 16  # functions calling functions


def create(rt: Runtime, create: exp.Create) -> Result:
    udf = create.this
    assert isinstance(udf, exp.UserDefinedFunction)
    name = object_name(udf.this, rt.context)
    replace, if_not_exists = create_flags(create, udf.this)
    props = {type(p): p for p in (create.args.get("properties") or exp.Properties()).expressions}
    language = props.get(exp.LanguageProperty)
    if language is not None and language.name.upper() != "SQL":
        raise UnsupportedError(
            f"LANGUAGE {language.name.upper()}",
            f"Functions in {language.name.upper()} are not supported by snowmelt (SQL "
            "functions are); compute the value before loading it, or write the function in SQL",
            *position(udf.this),
        )
    returns = props.get(exp.ReturnsProperty)
    if returns is None:
        raise SqlError(f"Function {name} needs RETURNS <type>", *position(udf.this))
    if returns.args.get("is_table") or not isinstance(returns.this, exp.DataType):
        raise UnsupportedError(
            "RETURNS TABLE",
            "Table functions (RETURNS TABLE) are not supported by snowmelt (scalar SQL "
            "functions are); use a view",
            *position(udf.this),
        )
    body = create.args.get("expression")
    if not isinstance(body, exp.RawString | exp.Literal):
        raise SqlError(f"Function {name} needs AS '<expression>'", *position(udf.this))
    args = []
    for definition in udf.expressions:
        if not isinstance(definition, exp.ColumnDef) or definition.args.get("kind") is None:
            raise SqlError(f"Function {name}: each argument needs a name and a type")
        default = next(
            (
                c.args["kind"].this.sql("snowflake")
                for c in definition.args.get("constraints") or []
                if isinstance(c.args.get("kind"), exp.DefaultColumnConstraint)
            ),
            None,
        )
        args.append(
            [identifier_value(definition.this), definition.args["kind"].sql("snowflake"), default]
        )
    comment = props.get(exp.SchemaCommentProperty)
    definition = {
        "args": args,
        "returns": returns.this.sql("snowflake"),
        "body": str(body.this).strip(),
    }
    parsed = _body(name, definition)  # the body parses, and reads only its arguments
    with rt.store.write("DDL"):
        check_schema(rt, name)
        existing = prepare_replace(rt, name, "FUNCTION", replace, if_not_exists)
        if existing is False:
            return status(f"{name.name} already exists, statement succeeded.")
        nulls: list[exp.Expression] = [exp.cast(exp.null(), t) for _, t, _ in args]
        probe = exp.select(expand(rt, _call(name, definition, parsed, nulls), 1))
        try:  # the body binds: its functions exist, its types fit
            rt.engine.columns_of(rt.to_engine(rt.bind_for_read(probe)))
        except Exception as err:
            raise SqlError(f"Function {name} does not compile: {err}", *position(udf.this)) from err
        if isinstance(existing, CatalogObject):
            drop_object(rt, existing)
        rt.catalog.add_object(
            CatalogObject(
                rt.catalog.next_oid(),
                name,
                "FUNCTION",
                rt.clock.now(),
                [Column(n, t) for n, t, _ in args],
                json.dumps(definition),
                0,
                0,
                comment=comment.this.name if comment is not None else None,
            )
        )
    return status(f"Function {name.name} successfully created.")


def drop(rt: Runtime, drop: exp.Drop) -> Result:
    table = (drop.args.get("tables") or [drop.this])[0]
    name = object_name(table, rt.context)
    with rt.store.write("DDL"):
        obj = rt.catalog.find(name)
        if obj is None or obj.kind != "FUNCTION":
            if drop.args.get("exists"):
                return status("Drop statement executed successfully (function already dropped).")
            raise ObjectNotFound(f"Function '{name}' does not exist.", name=str(name))
        given = drop.expressions
        if given and len(given) != len(obj.columns):
            raise ObjectNotFound(
                f"Function '{name}({', '.join(t.sql('snowflake') for t in given)})' does not "
                f"exist: it takes {_signature(obj)}.",
                name=str(name),
            )
        drop_object(rt, obj)
    return status(f"{name.name} successfully dropped.")


def show(rt: Runtime, command: commands.Show) -> Result:
    return listing(rt, command, "FUNCTION", _row, _SHOW_COLUMNS)


def _row(rt: Runtime, obj: CatalogObject) -> dict[str, Any]:
    definition = json.loads(obj.text or "{}")
    required = sum(1 for _, _, default in definition["args"] if default is None)
    return {
        "created_on": obj.created_on,
        "name": obj.name.name,
        "schema_name": obj.name.schema,
        "is_builtin": "N",
        "is_aggregate": "N",
        "is_ansi": "N",
        "min_num_arguments": required,
        "max_num_arguments": len(definition["args"]),
        "arguments": f"{obj.name.name}{_signature(obj)} RETURN {_type(definition['returns'])}",
        "description": obj.comment or "user-defined function",
        "catalog_name": obj.name.database,
        "is_table_function": "N",
        "valid_for_clustering": "N",
        "is_secure": "N",
        "is_external_function": "N",
        "language": "SQL",
    }


def describe(rt: Runtime, command: commands.Describe) -> Result:
    obj = rt.resolver.lookup(command.name, ("FUNCTION",))
    definition = json.loads(obj.text or "{}")
    rows = [
        ("signature", _signature(obj)),
        ("returns", _type(definition["returns"])),
        ("language", "SQL"),
        ("body", definition["body"]),
    ]
    return Result(pa.table({"property": [r[0] for r in rows], "value": [r[1] for r in rows]}))


def expand(rt: Runtime, expression: exp.Expression, depth: int = 0) -> exp.Expression:
    """Every call of a SQL function in ``expression`` replaced by its body."""
    calls = [
        (node, callee)
        for node in expression.find_all(exp.Anonymous)
        for callee in [_callee(node)]
        if callee is not None
    ]
    if not calls:
        return expression
    if depth >= MAX_DEPTH:
        raise SqlError(f"Functions call each other more than {MAX_DEPTH} levels deep")
    found = []
    for node, (target, parts) in calls:
        try:
            name = rt.resolver.object_name(exp.Table(**parts))
        except SqlError:
            continue
        obj = rt.catalog.find(name)
        if obj is not None and obj.kind == "FUNCTION":
            found.append((target, node, obj))
    if not found:
        return expression
    for target, node, obj in found:
        rt.functions_used.append(obj)
        definition = json.loads(obj.text or "{}")
        call = _call(obj.name, definition, _body(obj.name, definition), node.expressions)
        replaced = expand(rt, call, depth + 1)
        if target is expression:
            return replaced
        target.replace(replaced)
    return expression


def _callee(node: exp.Anonymous) -> tuple[exp.Expression, dict[str, Any]] | None:
    """The node a call ``[db.][schema.]f(...)`` occupies and the parts of its name."""
    if not isinstance(node.this, str):
        return None
    parent = node.parent
    if isinstance(parent, exp.Dot) and parent.expression is node:
        qualifier = parent.this
        if isinstance(qualifier, exp.Identifier):
            return parent, {"this": exp.to_identifier(node.this), "db": qualifier.copy()}
        if (
            isinstance(qualifier, exp.Dot)
            and isinstance(qualifier.this, exp.Identifier)
            and isinstance(qualifier.expression, exp.Identifier)
        ):
            return parent, {
                "this": exp.to_identifier(node.this),
                "db": qualifier.expression.copy(),
                "catalog": qualifier.this.copy(),
            }
        return None
    return node, {"this": exp.to_identifier(node.this)}


def _body(name: ObjectName, definition: dict[str, Any]) -> exp.Expression:
    text = definition["body"]
    try:
        parsed = parse_padded(f"SELECT ({text})")
    except Exception as err:
        raise SqlError(f"Function {name}: its body does not parse: {err}") from None
    assert isinstance(parsed, exp.Select)
    body = normalize(parsed.expressions[0].copy())  # detached from the SELECT around it
    names = {n.upper() for n, _, _ in definition["args"]}
    for column in body.find_all(exp.Column):
        if column.find_ancestor(exp.Select) is not None:
            continue  # inside a subquery: a table's column
        if column.table or identifier_value(column.this).upper() not in names:
            raise SqlError(
                f"Function {name} reads {column.sql('snowflake')}, which is not one of its "
                f"arguments ({', '.join(n for n, _, _ in definition['args']) or 'none'})"
            )
    return body


def _call(
    name: ObjectName, definition: dict[str, Any], body: exp.Expression, given: list[exp.Expression]
) -> exp.Expression:
    """``body`` with the ``given`` arguments (cast to their types, defaults for the rest)
    in place of their names, cast to the function's type."""
    args = definition["args"]
    required = sum(1 for _, _, default in args if default is None)
    if not required <= len(given) <= len(args):
        wanted = f"{required} to {len(args)}" if required != len(args) else str(len(args))
        raise SqlError(
            f"Function {name} takes {wanted} argument{'s' if len(args) != 1 else ''}, "
            f"{len(given)} given"
        )
    values = {}
    for i, (arg, type_, default) in enumerate(args):
        value = given[i].copy() if i < len(given) else parse_padded(f"SELECT {default}")
        if isinstance(value, exp.Select):
            value = value.expressions[0]
        values[arg.upper()] = exp.cast(value, exp.DataType.build(type_, dialect="snowflake"))
    call = body.copy()
    for column in list(call.find_all(exp.Column)):  # subqueries too: an argument wins
        argument = None if column.table else values.get(identifier_value(column.this).upper())
        if argument is not None:
            column.replace(argument.copy())
    if isinstance(call, exp.Column) and not call.table:
        call = values[identifier_value(call.this).upper()].copy()
    returns = exp.DataType.build(definition["returns"], dialect="snowflake")
    return exp.cast(exp.Paren(this=call), returns)


def _type(text: str) -> str:
    """A type as SHOW and DESCRIBE print it (FLOAT, NUMBER(38,0), VARCHAR(16777216))."""
    return snowflake_type(exp.DataType.build(text, dialect="snowflake").sql("duckdb"))


def _signature(obj: CatalogObject) -> str:
    return "(" + ", ".join(_type(c.type) for c in obj.columns) + ")"


_SHOW_COLUMNS = [
    ("created_on", pa.timestamp("us", tz="UTC")),
    ("name", pa.string()),
    ("schema_name", pa.string()),
    ("is_builtin", pa.string()),
    ("is_aggregate", pa.string()),
    ("is_ansi", pa.string()),
    ("min_num_arguments", pa.int64()),
    ("max_num_arguments", pa.int64()),
    ("arguments", pa.string()),
    ("description", pa.string()),
    ("catalog_name", pa.string()),
    ("is_table_function", pa.string()),
    ("valid_for_clustering", pa.string()),
    ("is_secure", pa.string()),
    ("is_external_function", pa.string()),
    ("language", pa.string()),
]
