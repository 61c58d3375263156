"""Split scripts into statements and parse each, keeping positions in the original text.

Each statement is parsed on its own with the text before it blanked out (newlines kept), so
the line and column sqlglot reports are those of the script the user wrote. Statements that
sqlglot does not model (``ALTER DYNAMIC TABLE``, ``SHOW``, ``DESCRIBE``, warehouse DDL,
``EXPLAIN DYNAMIC TABLE``) are recognised from their leading keywords and left to
``snowmelt.sql.commands``.
"""

from __future__ import annotations

import logging
import re
import typing
from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import Token, TokenType

from snowmelt.errors import SqlError

# sqlglot warns on stderr when it falls back to a Command; snowmelt handles those itself.
logging.getLogger("sqlglot").setLevel(logging.ERROR)

COMMAND_PREFIXES = (
    ("ALTER", "DYNAMIC", "TABLE"),
    ("ALTER", "SEQUENCE"),
    ("DROP", "DYNAMIC", "TABLE"),
    ("CREATE", "STREAM"),
    ("CREATE", "OR", "REPLACE", "STREAM"),
    ("DROP", "STREAM"),
    ("SHOW",),
    ("DESCRIBE",),
    ("DESC",),
    ("EXPLAIN", "DYNAMIC", "TABLE"),
    ("CREATE", "WAREHOUSE"),
    ("CREATE", "OR", "REPLACE", "WAREHOUSE"),
    ("ALTER", "WAREHOUSE"),
    ("DROP", "WAREHOUSE"),
    ("GRANT",),
    ("REVOKE",),
    ("USE", "WAREHOUSE"),
    ("USE", "ROLE"),
    ("USE", "SECONDARY"),
    ("BEGIN",),
    ("START", "TRANSACTION"),
    ("COMMIT",),
    ("ROLLBACK",),
)


def is_command(words: list[str]) -> bool:
    """A statement snowmelt parses itself (``snowmelt.sql.commands``): one of
    ``COMMAND_PREFIXES``, or ``CREATE ... DYNAMIC TABLE t CLONE s ...`` (sqlglot parses a
    clone of a dynamic table only without AT/BEFORE and properties)."""
    if any(tuple(words[: len(p)]) == p for p in COMMAND_PREFIXES):
        return True
    head = words[:8]
    return (
        head[:1] == ["CREATE"]
        and "DYNAMIC" in head
        and "CLONE" in words
        and "AS" not in words[: words.index("CLONE")]
    )


@dataclass
class Statement:
    """One statement of a script: its text, where it starts, its tokens and its parse."""

    text: str
    line: int
    column: int
    tokens: list[Token]
    expression: exp.Expression | None  # None for commands snowmelt parses itself
    padded: str  # the statement with everything before it blanked (for re-parsing)
    dialect: str = "snowflake"
    # clauses read here and blanked out of ``padded`` (sqlglot cannot parse them): REQUIRE
    # USER, EXECUTE AS USER (their text) and FROZEN / IMMUTABLE WHERE (its condition) of
    # CREATE DYNAMIC TABLE
    clauses: dict[str, str] = field(default_factory=dict)
    piped: bool = False  # follows ``->>``: its FROM clauses may read $1, $2 (``results``)

    @property
    def words(self) -> list[str]:
        return [t.text.upper() for t in self.tokens]

    def starts_with(self, *words: str) -> bool:
        return tuple(self.words[: len(words)]) == words

    def error(self, message: str, token: Token | None = None) -> SqlError:
        if token is None:
            return SqlError(message, self.line, self.column)
        return SqlError(message, token.line, max(1, token.col - len(token.text) + 1))


def split(text: str, dialect: str = "snowflake") -> list[Statement]:
    """Split ``text`` into statements (comments and empty statements dropped)."""
    glot = sqlglot.Dialect.get_or_raise(dialect)
    try:
        tokens = glot.tokenize(text)
    except TokenError as err:
        line, column = _token_error_position(text, str(err))
        raise SqlError(f"Cannot read the SQL: {err}", line, column) from None
    statements: list[Statement] = []
    chunk: list[Token] = []
    depth, piped = 0, False
    for token in [*tokens, None]:
        kind = token.token_type if token is not None else None
        depth += {TokenType.L_PAREN: 1, TokenType.R_PAREN: -1}.get(kind, 0)  # type: ignore[arg-type]
        pipe = kind == TokenType.DARROW and depth == 0 and dialect == "snowflake"
        if token is not None and kind != TokenType.SEMICOLON and not pipe:
            chunk.append(token)
            continue
        if pipe and not chunk and token is not None:
            raise SqlError(
                "The pipe operator ->> needs a statement before it",
                token.line,
                max(1, token.col - len(token.text) + 1),
            )
        if chunk:
            statements.append(_statement(text, chunk, glot, dialect))
            statements[-1].piped = piped
        elif piped:  # `a ->> ;`
            raise SqlError("The pipe operator ->> needs a statement after it", *_end(text))
        chunk, depth, piped = [], 0, pipe
    if piped:
        raise SqlError("The pipe operator ->> needs a statement after it", *_end(text))
    return statements


def _end(text: str) -> tuple[int, int]:
    lines = text.rstrip().split("\n")
    return len(lines), len(lines[-1]) + 1


def _statement(text: str, chunk: list[Token], glot: sqlglot.Dialect, dialect: str) -> Statement:
    start, end = chunk[0].start, chunk[-1].end + 1
    if chunk[0].token_type == TokenType.COMMAND and len(chunk) == 2:
        # e.g. EXPLAIN: sqlglot swallows the rest of the statement as one string token;
        # tokenize that rest again so commands can read it word by word.
        # (the string token's own offsets point at its end, so slice from the command's end)
        cut = chunk[0].end + 1
        padded_rest = re.sub(r"[^\n]", " ", text[:cut]) + text[cut : chunk[1].end + 1]
        chunk = [chunk[0], *glot.tokenize(padded_rest)]
    if chunk[-1].token_type == TokenType.STRING or text[end : end + 1] in ("'", '"'):
        # a quoted last token: its end offset excludes the closing quote
        while end < len(text) and text[end] in "'\"":
            end += 1
    padded = re.sub(r"[^\n]", " ", text[:start]) + text[start:end]
    first = chunk[0]
    line, column = first.line, max(1, first.col - len(first.text) + 1)
    statement = Statement(text[start:end], line, column, chunk, None, padded, dialect)
    _dynamic_table_clauses(statement)
    if not is_command(statement.words):
        _check_tokens(statement)
        statement.expression = parse_padded(statement.padded, glot, dialect)
        _check_complete(statement, statement.expression)
    return statement


def _dynamic_table_clauses(statement: Statement) -> None:
    """``REQUIRE USER``, ``EXECUTE AS USER u [USE SECONDARY ROLES ALL | NONE]`` and
    ``FROZEN WHERE (condition)`` (or its older spelling ``IMMUTABLE WHERE``) of a CREATE
    DYNAMIC TABLE, before its AS: taken out of ``padded`` (blanked, so positions hold) into
    ``clauses``, for ``dynamic.create`` to apply."""
    words = statement.words
    if words[:1] != ["CREATE"] or "DYNAMIC" not in words[:6]:
        return
    tokens, i = statement.tokens, 0
    while i < len(tokens):
        if words[i] == "AS" and (i == 0 or words[i - 1] != "EXECUTE"):
            return  # the query
        size = 0
        if words[i : i + 2] == ["REQUIRE", "USER"]:
            size = 2
        elif words[i : i + 3] == ["EXECUTE", "AS", "USER"] and i + 3 < len(tokens):
            size = 4
            if words[i + 4 : i + 7] == ["USE", "SECONDARY", "ROLES"] and i + 7 < len(tokens):
                size = 8
        elif words[i] in ("FROZEN", "IMMUTABLE") and words[i + 1 : i + 3] == ["WHERE", "("]:
            size = _group_end(tokens, i + 2) - i + 1
        if not size:
            i += 1
            continue
        first, last = tokens[i], tokens[i + size - 1]
        end = last.end + 1
        while end < len(statement.padded) and statement.padded[end] in "'\"":
            end += 1  # a quoted last token's end offset excludes its quote
        if words[i] in ("FROZEN", "IMMUTABLE"):  # the condition, inside the parentheses
            key, text = "FROZEN WHERE", statement.padded[tokens[i + 2].end + 1 : last.start]
        else:
            key = " ".join(words[i : i + 3]) if size > 2 else "REQUIRE USER"
            text = statement.padded[first.start : end]
        statement.clauses[key] = text.strip()
        blank = re.sub(r"[^\n]", " ", statement.padded[first.start : end])
        statement.padded = statement.padded[: first.start] + blank + statement.padded[end:]
        i += size


def _group_end(tokens: list[Token], opening: int) -> int:
    """The index of the parenthesis closing the one at ``opening`` (the last token when
    unbalanced: the parser then reports it)."""
    depth = 0
    for j in range(opening, len(tokens)):
        depth += {TokenType.L_PAREN: 1, TokenType.R_PAREN: -1}.get(tokens[j].token_type, 0)
        if depth == 0:
            return j
    return len(tokens) - 1


def _check_tokens(statement: Statement) -> None:
    """Syntax errors sqlglot's tokens show and its parser lets through (it drops the empty
    item of ``A,, B`` and accepts ``IN ()``), which Snowflake rejects."""
    tokens = statement.tokens
    for before, token, after in zip([None, *tokens[:-1]], tokens, [*tokens[1:], None], strict=True):
        kind = token.token_type
        if kind == TokenType.COMMA and before is not None and before.token_type == kind:
            raise statement.error("Syntax error: an empty item between two commas", token)
        if (
            kind == TokenType.L_PAREN
            and before is not None
            and before.token_type == TokenType.IN
            and after is not None
            and after.token_type == TokenType.R_PAREN
        ):
            raise statement.error("Syntax error: IN () needs at least one value", before)
    if tokens[0].token_type == TokenType.DELETE and (
        len(tokens) < 2 or tokens[1].token_type != TokenType.FROM
    ):
        raise statement.error(
            "Syntax error: expected FROM after DELETE", tokens[min(1, len(tokens) - 1)]
        )


def _check_complete(statement: Statement, expression: exp.Expression) -> None:
    """Statements sqlglot parses without their required part, or with a clause keyword
    read as an alias (``FROM T GROUP``, ``SELECT A ORDER``)."""
    for alias in expression.find_all(exp.TableAlias, exp.Alias):
        name = alias.args.get("this" if isinstance(alias, exp.TableAlias) else "alias")
        if (
            isinstance(name, exp.Identifier)
            and not name.quoted
            and name.name.upper() in ("GROUP", "ORDER")
        ):
            line, col = name.meta.get("line"), name.meta.get("col")
            message = f"Syntax error: expected BY after {name.name.upper()}"
            if line is None or col is None:
                raise statement.error(message)
            raise SqlError(message, line, max(1, col - len(name.name) + 1))
    if isinstance(expression, exp.Insert) and expression.args.get("default"):
        raise statement.error(
            "INSERT ... DEFAULT VALUES is not supported by snowmelt: list the values "
            "(INSERT INTO <table> (<column>) VALUES (...)) and let the others default",
            statement.tokens[-1],
        )
    if isinstance(expression, exp.Insert) and expression.expression is None:
        raise statement.error(
            "Syntax error: INSERT INTO <table> needs VALUES (...) or a query",
            statement.tokens[-1],
        )
    if isinstance(expression, exp.Update) and not expression.expressions:
        raise statement.error(
            "Syntax error: UPDATE needs SET <column> = <value>", statement.tokens[-1]
        )


_REQUIRED = re.compile(r"Required keyword: '\w+' missing for <class '[\w.]*?(\w+)'>")
_TOKEN = re.compile(r"<Token token_type: TokenType\.(\w+), text: (.*?), line: .*?>")
_NODE_WORDS = {  # sqlglot's node class -> what the user wrote
    "Add": "'+' expression",
    "Sub": "'-' expression",
    "Mul": "'*' expression",
    "Div": "'/' expression",
    "Mod": "'%' expression",
    "DPipe": "'||' expression",
    "EQ": "'=' comparison",
    "NEQ": "'<>' comparison",
    "GT": "'>' comparison",
    "GTE": "'>=' comparison",
    "LT": "'<' comparison",
    "LTE": "'<=' comparison",
    "Where": "WHERE clause",
    "Having": "HAVING clause",
    "Qualify": "QUALIFY clause",
    "Order": "ORDER BY clause",
    "Group": "GROUP BY clause",
    "Limit": "LIMIT clause",
    "Values": "VALUES clause",
}


def _describe(message: str) -> str:
    """sqlglot's parse error in the user's words: no Python class or token reprs."""
    message = _REQUIRED.sub(
        lambda m: f"incomplete {_NODE_WORDS.get(m.group(1), m.group(1).upper())}", message
    )
    return _TOKEN.sub(
        lambda m: "the end of the statement" if m.group(1) == "SENTINEL" else repr(m.group(2)),
        message,
    )


def parse_padded(
    padded: str, glot: sqlglot.Dialect | None = None, dialect: str = "snowflake"
) -> exp.Expression:
    glot = glot or sqlglot.Dialect.get_or_raise(dialect)
    try:
        parsed = glot.parse(padded)
    except ParseError as err:
        first = err.errors[0] if err.errors else {}
        description = _describe(first.get("description", str(err)))
        near = first.get("highlight")
        message = f"Syntax error: {description}" + (f" near {near!r}" if near else "")
        raise SqlError(message, first.get("line"), first.get("col")) from None
    except TokenError as err:
        raise SqlError(f"Cannot read the SQL: {err}") from None
    if not parsed or parsed[0] is None:
        raise SqlError("Empty statement")
    return typing.cast(exp.Expression, parsed[0])


def _token_error_position(text: str, message: str) -> tuple[int | None, int | None]:
    match = re.search(r"[Ll]ine (\d+), [Cc]ol(?:umn)?:? (\d+)", message)
    return (int(match.group(1)), int(match.group(2))) if match else (None, None)
