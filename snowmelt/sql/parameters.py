"""Bind parameters: ``s.sql("... WHERE ID = ?", params=[7])``.

The Snowflake connector's server-side styles: ``?`` takes the parameters in order, ``:1``,
``:2`` by number (1-based), ``:name`` from a mapping. Each placeholder of the parsed
statements becomes a literal of its value (``sqlglot``'s ``convert``: strings quoted, dates
and timestamps cast, lists and dicts as ARRAY and OBJECT constructors, None as NULL), so a
value can never change a statement's shape. A parameter left over, or a placeholder without
one, is an error naming it; nothing runs. Only queries and DML take parameters: a CREATE
keeps its text (a view's or a dynamic table's definition), which must not hold a value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlglot import exp

from snowmelt.errors import SqlError
from snowmelt.sql.parse import Statement

Parameters = Sequence[Any] | Mapping[str, Any]
_BINDABLE = (exp.Query, exp.Insert, exp.Update, exp.Delete, exp.Merge)


def _in_order(expression: exp.Expression) -> list[exp.Placeholder]:
    found = [n for n in expression.dfs() if isinstance(n, exp.Placeholder)]
    return sorted(
        found,
        key=lambda n: (n.meta.get("line", 0), n.meta.get("col", 0)),
    )


def bind_parameters(statements: list[Statement], params: Parameters) -> None:
    """Replace the placeholders of ``statements`` (in place) by ``params``' values."""
    if isinstance(params, str | bytes):
        raise SqlError("params must be a sequence or a mapping of values, not a string")
    named: Mapping[str, Any] | None = params if isinstance(params, Mapping) else None
    values: Sequence[Any] = [] if named is not None else params  # type: ignore[assignment]
    following = 0  # the next ? takes values[following]
    used: set[str | int] = set()
    for statement in statements:
        if statement.expression is None:
            continue  # a command snowmelt parses itself (SHOW, ...) has no placeholders
        placeholders = _in_order(statement.expression)
        if placeholders and not isinstance(statement.expression, _BINDABLE):
            raise SqlError(
                "Bind parameters are for queries and INSERT/UPDATE/DELETE/MERGE; this "
                "statement keeps its text (a view's or a dynamic table's definition)",
                statement.line,
                statement.column,
            )
        for node in placeholders:
            line, column = node.meta.get("line"), node.meta.get("col")
            label = str(node.this) if node.this is not None else ""
            key: str | int
            if named is not None:
                if not label or label.isdigit():
                    raise SqlError(
                        f"Placeholder {':' + label if label else '?'} needs a sequence of params",
                        line,
                        column,
                    )
                key = label if label in named else label.upper()
                if key not in named:
                    raise SqlError(f"No parameter for placeholder :{label}", line, column)
                value = named[key]
            else:
                if not label:
                    key, following = following, following + 1
                elif label.isdigit():
                    key = int(label) - 1
                else:
                    raise SqlError(f"Placeholder :{label} needs a mapping of params", line, column)
                if not 0 <= key < len(values):
                    what = f":{label}" if label else f"? number {key + 1}"
                    raise SqlError(
                        f"No parameter for placeholder {what} ({len(values)} given)", line, column
                    )
                value = values[key]
            used.add(key)
            node.replace(_literal(value, line, column))
    unused = (
        [k for k in named if k not in used]
        if named is not None
        else [i + 1 for i in range(len(values)) if i not in used]
    )
    if unused:
        raise SqlError(f"Parameters given but not used by any placeholder: {unused}")


def _literal(value: Any, line: int | None, column: int | None) -> exp.Expression:
    try:
        return exp.convert(value)  # type: ignore[return-value]
    except ValueError:
        raise SqlError(
            f"Cannot bind a parameter of type {type(value).__name__}", line, column
        ) from None
