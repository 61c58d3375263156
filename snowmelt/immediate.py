"""``EXECUTE IMMEDIATE``: run SQL held in a string, a ``$$ ... $$`` block or a session
variable, as Snowflake scripts do to build a statement from variables:

    SET tbl = 'RAW_ORDERS';
    SET q = 'SELECT COUNT(*) FROM ' || $tbl;
    EXECUTE IMMEDIATE $q;
    EXECUTE IMMEDIATE 'SELECT * FROM T WHERE ID = ? AND NAME = ?' USING (7, $name);

The SQL may hold several statements; they run in the session as if written in its place
(its context, variables and transaction), and the result is the last one's. ``USING``
binds ``?`` / ``:1`` placeholders, in order, to literals or session variables. An error
inside names its place in the SQL and is positioned at the EXECUTE IMMEDIATE. Snowflake
Scripting (``DECLARE`` / ``BEGIN ... END`` blocks, ``LET``, ``IF``, loops) is refused, named.
"""

from __future__ import annotations

import re
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.tokens import TokenType

from snowmelt.errors import SqlError, UnsupportedError
from snowmelt.result import Result
from snowmelt.sql.parse import Statement

_BLOCK = re.compile(r"^\s*(DECLARE\b|BEGIN\b(?!\s*(TRANSACTION|WORK)?\s*(;|$)))", re.I | re.S)


def is_execute_immediate(statement: Statement) -> bool:
    words = " ".join(statement.text.split()[:2]).upper()
    return isinstance(statement.expression, exp.Command) and words == "EXECUTE IMMEDIATE"


def run(session: Any, statement: Statement) -> Result:
    """Run the SQL ``statement`` (an EXECUTE IMMEDIATE) holds in ``session``."""
    text, values = _parse(session, statement)
    if _BLOCK.match(text):
        raise UnsupportedError(
            "Snowflake Scripting",
            "EXECUTE IMMEDIATE of a Snowflake Scripting block (DECLARE, BEGIN ... END) is not "
            "supported by snowmelt; give it the SQL statements themselves",
            statement.line,
            statement.column,
        )
    try:
        results = session.execute_all(text, params=values)
    except SqlError as err:  # positioned at this statement, its place in the SQL named
        where = f" at line {err.line}, column {err.column} of its SQL" if err.line else ""
        message = f"EXECUTE IMMEDIATE: {err.bare_message}{where}"
        if isinstance(err, UnsupportedError):
            raise UnsupportedError(
                err.construct, message, statement.line, statement.column
            ) from None
        raise SqlError(message, statement.line, statement.column) from None
    return results[-1] if results else Result.status("No statement to run.")


def _parse(session: Any, statement: Statement) -> tuple[str, list[Any] | None]:
    """The SQL text and the USING values."""
    rest = statement.text.split(None, 2)[2] if len(statement.text.split(None, 2)) > 2 else ""
    tokens = sqlglot.Dialect.get_or_raise("snowflake").tokenize(rest)
    problem = SqlError(
        "EXECUTE IMMEDIATE takes a string ('...' or $$ ... $$) or a session variable ($name), "
        "then optionally USING (value, ...)",
        statement.line,
        statement.column,
    )
    if not tokens:
        raise problem
    first = tokens[0]
    if first.token_type in (TokenType.STRING, TokenType.RAW_STRING, TokenType.HEREDOC_STRING):
        text, i = first.text, 1
    elif first.token_type == TokenType.PARAMETER and len(tokens) > 1:
        text, i = str(_variable(session, tokens[1].text, statement)), 2
    else:
        raise problem
    if i == len(tokens):
        return text, None
    if tokens[i].text.upper() != "USING" or len(tokens) < i + 3:
        raise problem
    inner = rest[tokens[i + 1].start : tokens[-1].end + 1].strip()
    if not (inner.startswith("(") and inner.endswith(")")):
        raise problem
    parsed = sqlglot.parse_one(f"SELECT {inner[1:-1]}", read="snowflake")
    values = []
    for node in parsed.expressions:
        if isinstance(node, exp.Parameter):
            values.append(_variable(session, node.name, statement))
        elif isinstance(node, exp.Literal | exp.Boolean | exp.Null | exp.Neg):
            values.append(node.to_py())
        else:
            raise SqlError(
                f"EXECUTE IMMEDIATE ... USING takes literals and session variables, not "
                f"{node.sql('snowflake')}",
                statement.line,
                statement.column,
            )
    return text, values


def _variable(session: Any, raw: str, statement: Statement) -> Any:
    key = raw if raw in session.variables else raw.upper()
    if key not in session.variables:
        raise SqlError(
            f"Session variable '${raw}' does not exist", statement.line, statement.column
        )
    return session.variables[key].value
