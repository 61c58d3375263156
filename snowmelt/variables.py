"""Session variables and IDENTIFIER(): ``SET X = 5; SELECT * FROM T WHERE A = $X``.

``SET name = expr`` / ``SET (a, b) = (expr, expr)`` evaluates each expression once (it may
read earlier variables) and keeps the value in the session; ``UNSET name`` / ``UNSET (a, b)``
forgets it; ``SHOW VARIABLES`` lists them with Snowflake's columns. Names are
case-insensitive unless quoted, as in Snowflake.

Before a statement runs, each ``$name`` becomes a literal of its value (a variable that does
not exist is an error naming it), and each ``IDENTIFIER('name')`` — or
``IDENTIFIER($name)`` — becomes the object or column name it spells. The text a view or a
dynamic table keeps may not hold a variable: it would mean something else in another
session, so such a CREATE is refused.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa
from sqlglot import exp

from snowmelt.errors import SqlError
from snowmelt.result import Result
from snowmelt.runtime import Runtime
from snowmelt.sql.parse import Statement
from snowmelt.sql.resolve import position


@dataclass
class Variable:
    value: Any
    type: str
    created_on: datetime
    updated_on: datetime


def _name(node: exp.Expression) -> str:
    identifier = node.this if isinstance(node, exp.Column) else node
    if isinstance(identifier, exp.Identifier) and identifier.quoted:
        return str(identifier.this)
    return str(identifier.name).upper()


def set_variables(rt: Runtime, variables: dict[str, Variable], expression: exp.Set) -> Result:
    assigned: dict[str, Variable] = {}
    for item in expression.expressions:
        pair = item.this
        if not isinstance(pair, exp.EQ):
            raise SqlError("SET needs name = value", *position(item))
        targets = pair.this.expressions if isinstance(pair.this, exp.Tuple) else [pair.this]
        values = (
            pair.expression.expressions
            if isinstance(pair.expression, exp.Tuple)
            else [pair.expression]
        )
        if len(targets) != len(values):
            raise SqlError(
                f"SET gives {len(values)} values for {len(targets)} variables", *position(item)
            )
        for target, value in zip(targets, values, strict=True):
            bound = substitute(value.copy(), {**variables, **assigned})
            query = exp.select(exp.alias_(bound, "V"))
            result = rt.engine.query(rt.to_engine(rt.bind_for_read(query)))
            now = rt.clock.now()
            name = _name(target)
            created = variables[name].created_on if name in variables else now
            assigned[name] = Variable(
                result.column(0)[0].as_py(), _type_name(result.schema.field(0).type), created, now
            )
    variables.update(assigned)
    return Result.status("Statement executed successfully.")


def _type_name(arrow: pa.DataType) -> str:
    """Snowflake's name for a variable's type (SHOW VARIABLES)."""
    if pa.types.is_integer(arrow) or pa.types.is_decimal(arrow):
        return "FIXED"
    if pa.types.is_floating(arrow):
        return "REAL"
    if pa.types.is_string(arrow) or pa.types.is_large_string(arrow):
        return "TEXT"
    if pa.types.is_timestamp(arrow):
        return "TIMESTAMP_LTZ" if arrow.tz else "TIMESTAMP_NTZ"
    if pa.types.is_boolean(arrow):
        return "BOOLEAN"
    if pa.types.is_date(arrow):
        return "DATE"
    return str(arrow).upper()


def unset(variables: dict[str, Variable], statement: Statement) -> Result:
    """``UNSET name`` / ``UNSET (a, b)`` (sqlglot has no node for it: read from tokens)."""
    names = [
        t.text if t.text.startswith('"') else t.text.upper()
        for t in statement.tokens[1:]
        if t.text not in ("(", ")", ",", ";")
    ]
    if not names:
        raise SqlError("UNSET needs a variable name", statement.line, statement.column)
    for name in names:
        key = name.strip('"')
        if key not in variables:
            raise SqlError(
                f"Session variable '{key}' does not exist", statement.line, statement.column
            )
        del variables[key]
    return Result.status("Statement executed successfully.")


def to_json(variables: dict[str, Variable]) -> dict[str, dict[str, Any]]:
    """The variables as JSON (a server hands them to its client, which sends them back)."""

    def plain(value: Any) -> Any:
        if isinstance(value, datetime | date):
            return value.isoformat()
        return str(value) if isinstance(value, Decimal) else value

    return {
        name: {
            "value": plain(v.value),
            "type": v.type,
            "created_on": v.created_on.isoformat(),
            "updated_on": v.updated_on.isoformat(),
        }
        for name, v in variables.items()
    }


def from_json(data: dict[str, Any]) -> dict[str, Variable]:
    """``to_json``'s variables back, each value of its type; what does not read is an
    error naming the variable."""
    found: dict[str, Variable] = {}
    for name, item in data.items():
        try:
            value, kind = item["value"], str(item["type"])
            if value is not None and kind.startswith("TIMESTAMP"):
                value = datetime.fromisoformat(value)
            elif value is not None and kind == "DATE":
                value = date.fromisoformat(value)
            elif isinstance(value, str) and kind == "FIXED":
                value = Decimal(value)
            found[name] = Variable(
                value,
                kind,
                datetime.fromisoformat(item["created_on"]),
                datetime.fromisoformat(item["updated_on"]),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise SqlError(f"Session variable '{name}' cannot be read back: {err}") from None
    return found


def _text(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def show(variables: dict[str, Variable]) -> Result:
    rows = [
        {
            "session_id": 1,
            "created_on": v.created_on,
            "updated_on": v.updated_on,
            "name": name,
            "value": "" if v.value is None else _text(v.value),
            "type": v.type.upper(),
            "comment": "",
        }
        for name, v in sorted(variables.items())
    ]
    schema = pa.schema(
        [
            ("session_id", pa.int64()),
            ("created_on", pa.timestamp("us", tz="UTC")),
            ("updated_on", pa.timestamp("us", tz="UTC")),
            ("name", pa.string()),
            ("value", pa.string()),
            ("type", pa.string()),
            ("comment", pa.string()),
        ]
    )
    return Result(pa.Table.from_pylist(rows, schema=schema))


def uses_variables(expression: exp.Expression) -> bool:
    return any(_is_variable(p) for p in expression.find_all(exp.Parameter))


def _is_variable(node: exp.Parameter) -> bool:
    return isinstance(node.this, exp.Var | exp.Identifier)  # not $1 (a staged file's column)


def substitute(expression: exp.Expression, variables: dict[str, Variable]) -> exp.Expression:
    """``$name`` → its value's literal; then ``IDENTIFIER('...')`` → the name it spells."""
    for node in list(expression.find_all(exp.Parameter)):
        if not _is_variable(node):
            continue
        raw = str(node.this.name)
        key = raw if raw in variables else raw.upper()
        if key not in variables:
            raise SqlError(f"Session variable '${raw}' does not exist", *position(node))
        replacement: Any = exp.convert(variables[key].value)
        if node is expression:
            return typing.cast(exp.Expression, replacement)
        node.replace(replacement)
    for dynamic in list(expression.find_all(exp.DynamicIdentifier)):
        text = dynamic.this
        if not (isinstance(text, exp.Literal) and text.is_string):
            raise SqlError("IDENTIFIER() takes a string or a session variable", *position(dynamic))
        parent = dynamic.parent
        if isinstance(parent, exp.Table) and parent.this is dynamic:
            named = exp.to_table(text.name, dialect="snowflake")
            for part in ("this", "db", "catalog"):
                parent.set(part, named.args.get(part))
        else:
            dynamic.replace(exp.to_column(text.name, dialect="snowflake"))
    return expression
