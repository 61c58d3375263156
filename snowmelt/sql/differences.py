"""Where DuckDB's own semantics differ from Snowflake's on the same SQL, rewritten so a query
means what it means on Snowflake (part of ``translate``'s rewrites):

* ``ASOF JOIN ... MATCH_CONDITION``: Snowflake keeps every left row; DuckDB's plain ASOF is
  an inner join, and has no MATCH_CONDITION clause;
* ``HASH_AGG``: DuckDB has none;
* ``'... 12:00:00 +02:00'::TIMESTAMP_TZ``: DuckDB reads the text after the space as a time
  zone name;
* ``a / 0``: Snowflake fails, DuckDB returns infinity or NaN.
"""

from __future__ import annotations

import re

from sqlglot import exp

from snowmelt.errors import UnsupportedError
from snowmelt.sql.resolve import position as position_of

DType = exp.DType


def asof_joins(expression: exp.Expr) -> exp.Expr:
    """``l ASOF JOIN r MATCH_CONDITION (l.t >= r.t) ON l.k = r.k`` -> DuckDB's ``l ASOF LEFT
    JOIN r ON l.k = r.k AND l.t >= r.t``: Snowflake keeps every left row (the right side
    null-padded when nothing matches), DuckDB's plain ASOF JOIN is inner. ``USING (k)`` is
    written out as ``ON`` over the left table of the FROM clause (DuckDB's ASOF USING would
    read its last column as the inequality)."""
    for join in list(expression.find_all(exp.Join)):
        if str(join.args.get("method") or "").upper() != "ASOF":
            continue
        match = join.args.get("match_condition")
        line, column = position_of(join.this)
        if match is None:
            raise UnsupportedError(
                "ASOF JOIN",
                "ASOF JOIN needs MATCH_CONDITION (left.t >= right.t), with >=, >, <= or <",
                line,
                column,
            )
        if not isinstance(match, exp.GTE | exp.GT | exp.LTE | exp.LT):
            raise UnsupportedError(
                "MATCH_CONDITION",
                f"MATCH_CONDITION ({match.sql('snowflake')}): the comparison must be >=, >, "
                "<= or <",
                *position_of(match),
            )
        condition: exp.Expr = match.copy()
        using = join.args.get("using") or []
        if using:
            select = join.parent
            joins = select.args.get("joins") or [] if isinstance(select, exp.Select) else []
            first = select is not None and bool(joins) and joins[0] is join
            left = select.args.get("from_") if select is not None and first else None
            if left is None or not left.this.alias_or_name:
                raise UnsupportedError(
                    "ASOF JOIN ... USING",
                    "ASOF JOIN ... USING after another join is not supported by snowmelt; "
                    "write the equalities with ON",
                    line,
                    column,
                )
            name = left.this.alias_or_name
            right = join.this.alias_or_name
            for key in using:
                condition = exp.and_(
                    exp.EQ(
                        this=exp.column(key.copy(), name),
                        expression=exp.column(key.copy(), right),
                    ),
                    condition,
                )
            join.set("using", None)
        elif join.args.get("on") is not None:
            condition = exp.and_(join.args["on"], condition)
        join.set("match_condition", None)
        join.set("side", "LEFT")
        join.set("kind", None)
        join.set("on", condition)
    return expression


def hash_agg(expression: exp.Expr) -> exp.Expr:
    """``HASH_AGG(x, ...)``, ``HASH_AGG(*)``, ``HASH_AGG(DISTINCT x)``: an order-independent
    64-bit hash of the rows — the sum of their hashes modulo 2^64, signed, 0 over no rows —
    which DuckDB lacks. Equal bags of rows give equal values (the usual use: comparing a
    table with a query or a copy); the values differ from Snowflake's, as ``HASH`` does."""

    def fn(node: exp.Expr) -> exp.Expr:
        if not isinstance(node, exp.HashAgg):
            return node
        distinct = isinstance(node.this, exp.Distinct)
        args = list(node.this.expressions) if distinct else [node.this, *node.expressions]
        if len(args) == 1 and isinstance(args[0], exp.Star):
            hashed = exp.func("hash", exp.Var(this="*COLUMNS(*)"))  # DuckDB's unpacking
        else:
            hashed = exp.func("hash", *[a.copy() for a in args])
        wide = exp.cast(hashed, "HUGEINT")
        total = exp.Sum(this=exp.Distinct(expressions=[wide]) if distinct else wide)
        span = exp.Literal.number(2**64)
        rest = exp.Mod(this=exp.func("coalesce", total, exp.Literal.number(0)), expression=span)
        signed = exp.Case(
            ifs=[
                exp.If(
                    this=exp.GTE(this=rest.copy(), expression=exp.Literal.number(2**63)),
                    true=exp.Sub(this=rest.copy(), expression=span.copy()),
                )
            ],
            default=rest.copy(),
        )
        return exp.cast(signed, "BIGINT")

    return expression.transform(fn, copy=False)


_OFFSET_AFTER_SPACE = re.compile(r"(\d)\s+([+-]\d{2}(?::?\d{2})?|Z)\s*$")


def timestamp_offsets(expression: exp.Expr) -> exp.Expr:
    """``'2026-01-01 12:00:00 +00:00'::TIMESTAMP_TZ``: Snowflake reads an offset (or ``Z``)
    after a space; DuckDB takes the space as the start of a time zone name and fails. In a
    string literal cast to a zoned timestamp, the space goes."""

    def fn(node: exp.Expr) -> exp.Expr:
        if (
            isinstance(node, exp.Cast)
            and isinstance(node.this, exp.Literal)
            and node.this.is_string
            and node.to.this in (DType.TIMESTAMPTZ, DType.TIMESTAMPLTZ)
        ):
            fixed = _OFFSET_AFTER_SPACE.sub(r"\1\2", node.this.name)
            if fixed != node.this.name:
                node.set("this", exp.Literal.string(fixed))
        return node

    return expression.transform(fn, copy=False)


def division_by_zero(expression: exp.Expr) -> exp.Expr:
    """``a / b`` with ``b`` zero: Snowflake fails (``Division by zero``), DuckDB returns
    infinity or NaN — a rate over an empty group would be stored silently. The divisor is
    checked, so the query (or the refresh) fails as on Snowflake; ``DIV0`` and
    ``NULLIF(b, 0)`` keep their meaning, and a non-zero literal divisor is left alone."""

    def fn(node: exp.Expr) -> exp.Expr:
        if not isinstance(node, exp.Div):
            return node
        divisor = node.expression
        if isinstance(divisor, exp.Nullif) or (
            isinstance(divisor, exp.Literal) and not divisor.is_string and float(divisor.name)
        ):
            return node
        node.set(
            "expression",
            exp.Case(
                ifs=[
                    exp.If(
                        this=exp.EQ(this=divisor.copy(), expression=exp.Literal.number(0)),
                        true=exp.func("error", exp.Literal.string("Division by zero")),
                    )
                ],
                default=divisor.copy(),
            ),
        )
        return node

    return expression.transform(fn, copy=False)
