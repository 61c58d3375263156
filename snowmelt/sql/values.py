"""Snowflake names the columns of a ``VALUES`` relation ``COLUMN1``, ``COLUMN2``, ...;
DuckDB names them ``col0``, ``col1``, ... . Give every unaliased VALUES those names."""

from __future__ import annotations

from sqlglot import exp


def values_columns(expression: exp.Expr) -> exp.Expr:
    for values in list(expression.find_all(exp.Values)):
        alias = values.args.get("alias")
        if alias is not None and alias.columns:
            continue
        first = values.expressions[0] if values.expressions else None
        width = len(first.expressions) if isinstance(first, exp.Tuple) else 1
        columns = [exp.to_identifier(f"COLUMN{i}") for i in range(1, width + 1)]
        name = (
            alias.this.copy()
            if alias is not None and alias.this
            else exp.to_identifier("_sm_values")
        )
        values.set("alias", exp.TableAlias(this=name, columns=columns))
    return expression
