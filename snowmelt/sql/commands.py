"""Statements sqlglot does not model, parsed from their tokens into typed commands.

``ALTER DYNAMIC TABLE``, ``DROP DYNAMIC TABLE``, ``CREATE DYNAMIC TABLE ... CLONE``,
``CREATE / DROP STREAM``, ``SHOW ...``, ``DESCRIBE ...``,
``EXPLAIN DYNAMIC TABLE``, warehouse DDL, ``GRANT``/``REVOKE`` and ``USE WAREHOUSE|ROLE``.
Each parser consumes the whole token list or raises an error that points at the token.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.tokens import TokenType

from snowmelt.errors import UnsupportedError
from snowmelt.sql.cursor import Cursor as _Cursor
from snowmelt.sql.cursor import end as _end
from snowmelt.sql.parse import Statement


@dataclass
class AlterDynamicTable:
    name: exp.Table
    if_exists: bool
    action: str  # SUSPEND RESUME REFRESH RENAME SET UNSET SWAP CLUSTER
    new_name: exp.Table | None = None
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass
class DropObject:
    kind: str
    name: exp.Table
    if_exists: bool


@dataclass
class Show:
    what: str  # DYNAMIC TABLES, TABLES, VIEWS, SCHEMAS, DATABASES, WAREHOUSES, ...
    like: str | None = None
    in_kind: str | None = None  # ACCOUNT DATABASE SCHEMA (TABLE: SHOW COLUMNS IN TABLE t)
    in_name: exp.Table | None = None
    terse: bool = False
    starts_with: str | None = None  # STARTS WITH 'prefix'
    limit: int | None = None  # LIMIT n
    limit_from: str | None = None  # LIMIT n FROM 'name'


@dataclass
class Describe:
    kind: str  # DYNAMIC TABLE, TABLE, VIEW
    name: exp.Table


@dataclass
class DescribeResult:
    """DESCRIBE RESULT 'query id' | LAST_QUERY_ID([n])."""

    query_id: str | None = None
    index: int = -1  # LAST_QUERY_ID(index) when no id is given


@dataclass
class AlterSequence:
    name: exp.Table
    if_exists: bool
    action: str  # INCREMENT COMMENT RENAME
    increment: int | None = None
    comment: str | None = None
    new_name: exp.Table | None = None


@dataclass
class CloneDynamicTable:
    """CREATE [OR REPLACE] [TRANSIENT] DYNAMIC TABLE [IF NOT EXISTS] t CLONE s
    [AT | BEFORE (...)] [COPY GRANTS] [TARGET_LAG = ...] [WAREHOUSE = ...]"""

    name: exp.Table
    source: exp.Table  # with its ``when`` (exp.HistoricalData) for AT / BEFORE
    replace: bool = False
    if_not_exists: bool = False
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass
class CreateStream:
    """CREATE [OR REPLACE] STREAM [IF NOT EXISTS] s [COPY GRANTS] ON {TABLE | DYNAMIC TABLE |
    VIEW | ...} t [AT | BEFORE (...)] [APPEND_ONLY = b] [SHOW_INITIAL_ROWS = b] [COMMENT = '']"""

    name: exp.Table
    on_kind: str  # TABLE, DYNAMIC TABLE, VIEW, ...
    source: exp.Table  # with its ``when`` for AT / BEFORE
    replace: bool = False
    if_not_exists: bool = False
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass
class Explain:
    name: exp.Table


@dataclass
class Warehouse:
    action: str  # CREATE ALTER DROP USE
    name: str
    if_exists: bool = False
    if_not_exists: bool = False
    replace: bool = False
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass
class Recorded:
    """A statement kept for the record only (GRANT, REVOKE, USE ROLE)."""

    kind: str
    text: str


@dataclass
class Transaction:
    action: str  # BEGIN COMMIT ROLLBACK


Command = (
    AlterDynamicTable
    | CloneDynamicTable
    | CreateStream
    | AlterSequence
    | DropObject
    | Show
    | Describe
    | DescribeResult
    | Explain
    | Warehouse
    | Recorded
    | Transaction
)


def parse_command(statement: Statement) -> Command:
    c = _Cursor(statement)
    if c.accept("ALTER", "DYNAMIC", "TABLE"):
        return _alter_dynamic_table(c)
    if c.accept("ALTER", "SEQUENCE"):
        return _alter_sequence(c)
    if c.accept("DROP", "DYNAMIC", "TABLE"):
        if_exists = c.accept("IF", "EXISTS")
        name = c.name()
        _end(c)
        return DropObject("DYNAMIC TABLE", name, if_exists)
    if c.accept("SHOW"):
        return _show(c)
    if c.accept("DESCRIBE") or c.accept("DESC"):
        if c.accept("RESULT"):
            return _describe_result(c)
        kind = (
            "DYNAMIC TABLE"
            if c.accept("DYNAMIC", "TABLE")
            else "TABLE"
            if c.accept("TABLE")
            else "VIEW"
            if c.accept("VIEW")
            else "SEQUENCE"
            if c.accept("SEQUENCE")
            else "FUNCTION"
            if c.accept("FUNCTION")
            else "STREAM"
            if c.accept("STREAM")
            else None
        )
        if kind is None:
            raise c.error(
                "DESCRIBE supports DYNAMIC TABLE, TABLE, VIEW, SEQUENCE, FUNCTION and STREAM"
            )
        name = c.name()
        if kind == "FUNCTION" and c.accept("("):  # the argument types: one function a name
            while c.peek() is not None and not c.accept(")"):
                c.i += 1
        _end(c)
        return Describe(kind, name)
    if c.word() == "CREATE" and "STREAM" in statement.words[:6]:
        return _create_stream(c)
    if c.accept("DROP", "STREAM"):
        if_exists = c.accept("IF", "EXISTS")
        name = c.name()
        _end(c)
        return DropObject("STREAM", name, if_exists)
    if c.word() == "CREATE" and "CLONE" in statement.words:
        return _clone_dynamic_table(c)
    if c.accept("EXPLAIN", "DYNAMIC", "TABLE"):
        name = c.name()
        _end(c)
        return Explain(name)
    if c.word() in ("CREATE", "ALTER", "DROP", "USE") and "WAREHOUSE" in statement.words[:4]:
        return _warehouse(c)
    if c.word() in ("GRANT", "REVOKE"):
        return Recorded(c.word() or "", statement.text)
    if c.accept("USE", "ROLE") or c.accept("USE", "SECONDARY"):
        return Recorded("USE ROLE", statement.text)
    if c.word() in ("BEGIN", "COMMIT", "ROLLBACK"):
        return Transaction(c.word() or "")
    if c.accept("START", "TRANSACTION"):
        return Transaction("BEGIN")
    raise UnsupportedError(
        statement.words[0],
        f"Statement {' '.join(statement.words[:3])!r} "
        "is not supported by snowmelt (Snowflake dialect)",
        statement.line,
        statement.column,
    )


def _alter_dynamic_table(c: _Cursor) -> AlterDynamicTable:
    if_exists = c.accept("IF", "EXISTS")
    name = c.name()
    word = c.word()
    if word in ("SUSPEND", "RESUME") and c.word(1) != "RECLUSTER":
        c.i += 1
        _end(c)
        return AlterDynamicTable(name, if_exists, word)
    if c.accept("REFRESH"):
        c.accept("COPY", "SESSION")
        _end(c)
        return AlterDynamicTable(name, if_exists, "REFRESH")
    if c.accept("RENAME", "TO"):
        new = c.name()
        _end(c)
        return AlterDynamicTable(name, if_exists, "RENAME", new_name=new)
    if c.accept("SWAP", "WITH"):
        new = c.name()
        _end(c)
        return AlterDynamicTable(name, if_exists, "SWAP", new_name=new)
    if c.accept("SET"):
        if c.word() in ("FROZEN", "IMMUTABLE") and c.word(1) == "WHERE":
            c.i += 2
            return AlterDynamicTable(
                name, if_exists, "SET", properties={"FROZEN_WHERE": c.group_text()}
            )
        props = c.properties()
        if not props:
            raise c.error("Expected a property after SET")
        return AlterDynamicTable(name, if_exists, "SET", properties=props)
    if c.accept("UNSET"):
        return AlterDynamicTable(name, if_exists, "UNSET", properties=c.properties())
    if word in ("CLUSTER", "SUSPEND", "RESUME", "DROP"):
        return AlterDynamicTable(name, if_exists, "CLUSTER", properties={"text": c.statement.text})
    raise c.error("Expected SUSPEND, RESUME, REFRESH, RENAME TO, SWAP WITH, SET or UNSET")


STREAM_PROPERTIES = ("APPEND_ONLY", "INSERT_ONLY", "SHOW_INITIAL_ROWS", "COMMENT")


def _create_stream(c: _Cursor) -> CreateStream:
    c.expect("CREATE")
    replace = c.accept("OR", "REPLACE")
    c.expect("STREAM")
    if_not_exists = c.accept("IF", "NOT", "EXISTS")
    if replace and if_not_exists:
        raise c.statement.error("CREATE OR REPLACE and IF NOT EXISTS cannot be used together")
    name = c.name()
    c.accept("COPY", "GRANTS")
    c.expect("ON")
    kinds = (("DYNAMIC", "TABLE"), ("EXTERNAL", "TABLE"), ("TABLE",), ("VIEW",), ("STAGE",))
    on_kind = next((" ".join(k) for k in kinds if c.accept(*k)), None)
    if on_kind is None:
        raise c.error("Expected TABLE, DYNAMIC TABLE or VIEW after ON")
    source = _historical_name(c)
    properties: dict[str, Any] = {}
    while not c.done():
        key = c.word()
        if key not in STREAM_PROPERTIES:
            raise c.error("A stream takes APPEND_ONLY, INSERT_ONLY, SHOW_INITIAL_ROWS and COMMENT")
        c.i += 1
        c.expect("=")
        properties[str(key)] = c.value()
    return CreateStream(name, on_kind, source, replace, if_not_exists, properties)


def _historical_name(c: _Cursor) -> exp.Table:
    """An object name, with the AT | BEFORE (...) clause after it when there is one."""
    first = c.i
    source = c.name()
    if c.word() in ("AT", "BEFORE"):  # sqlglot reads the clause off a FROM
        c.i += 1
        if c.word() != "(":
            raise c.error("Expected ( after AT or BEFORE")
        c.value()  # the whole ( ... ) group
        tokens = c.tokens[first : c.i]
        text = c.statement.padded[tokens[0].start : tokens[-1].end + 1]
        try:
            parsed = sqlglot.parse_one(f"SELECT * FROM {text}", read="snowflake")
        except sqlglot.ParseError as err:
            raise c.statement.error(f"Cannot read {text!r}: {err}", tokens[0]) from None
        table = parsed.find(exp.Table)
        assert table is not None
        source.set("when", table.args.get("when"))
    return source


CLONE_PROPERTIES = ("TARGET_LAG", "WAREHOUSE")


def _clone_dynamic_table(c: _Cursor) -> CloneDynamicTable:
    c.expect("CREATE")
    replace = c.accept("OR", "REPLACE")
    c.accept("TRANSIENT")
    c.expect("DYNAMIC", "TABLE")
    if_not_exists = c.accept("IF", "NOT", "EXISTS")
    if replace and if_not_exists:
        raise c.statement.error("CREATE OR REPLACE and IF NOT EXISTS cannot be used together")
    name = c.name()
    c.expect("CLONE")
    source = _historical_name(c)
    properties: dict[str, Any] = {}
    while not c.done():
        if c.accept("COPY", "GRANTS"):
            continue
        key = c.word()
        if key not in CLONE_PROPERTIES:
            raise c.error(
                "A clone of a dynamic table takes COPY GRANTS, TARGET_LAG and WAREHOUSE "
                "(its query and modes are the source's)"
            )
        c.i += 1
        c.expect("=")
        properties[str(key)] = c.value()
    return CloneDynamicTable(name, source, replace, if_not_exists, properties)


def _alter_sequence(c: _Cursor) -> AlterSequence:
    """ALTER SEQUENCE [IF EXISTS] s { SET INCREMENT [BY | =] n | INCREMENT [BY | =] n
    | SET COMMENT = '...' | UNSET COMMENT | RENAME TO t }"""
    if_exists = c.accept("IF", "EXISTS")
    name = c.name()
    if c.accept("RENAME", "TO"):
        new_name = c.name()
        _end(c)
        return AlterSequence(name, if_exists, "RENAME", new_name=new_name)
    if c.accept("UNSET", "COMMENT"):
        _end(c)
        return AlterSequence(name, if_exists, "COMMENT")
    c.accept("SET")
    if c.accept("COMMENT"):
        c.accept("=")
        token = c.peek()
        if token is None or token.token_type != TokenType.STRING:
            raise c.error("Expected a quoted comment")
        c.i += 1
        _end(c)
        return AlterSequence(name, if_exists, "COMMENT", comment=token.text)
    if c.accept("INCREMENT"):
        c.accept("BY") or c.accept("=")
        negative = c.accept("-")
        token = c.peek()
        if token is None or token.token_type != TokenType.NUMBER:
            raise c.error("Expected an integer INCREMENT")
        c.i += 1
        _end(c)
        value = int(token.text)
        return AlterSequence(name, if_exists, "INCREMENT", increment=-value if negative else value)
    raise c.error("Expected SET INCREMENT, SET COMMENT, UNSET COMMENT or RENAME TO")


def _show(c: _Cursor) -> Show:
    terse = c.accept("TERSE")
    for what in (
        ("DYNAMIC", "TABLES"),
        ("TABLES",),
        ("VIEWS",),
        ("SCHEMAS",),
        ("DATABASES",),
        ("WAREHOUSES",),
        ("VARIABLES",),
        ("COLUMNS",),
        ("OBJECTS",),
        ("SEQUENCES",),
        ("USER", "FUNCTIONS"),
        ("FUNCTIONS",),
        ("STREAMS",),
    ):
        if c.accept(*what):
            show = Show(" ".join(what), terse=terse)
            break
    else:
        raise c.error(
            "SHOW supports DYNAMIC TABLES, TABLES, VIEWS, OBJECTS, SEQUENCES, USER FUNCTIONS, "
            "STREAMS, SCHEMAS, DATABASES, WAREHOUSES, VARIABLES and COLUMNS"
        )
    if c.accept("LIKE"):
        token = c.peek()
        if token is None or token.token_type != TokenType.STRING:
            raise c.error("Expected a quoted pattern after LIKE")
        show.like = token.text
        c.i += 1
    if c.accept("IN"):
        if c.accept("ACCOUNT"):
            show.in_kind = "ACCOUNT"
        elif show.what == "COLUMNS" and (
            c.accept("TABLE") or c.accept("VIEW") or c.accept("DYNAMIC", "TABLE")
        ):
            show.in_kind, show.in_name = "TABLE", c.name()
        else:
            kind = "DATABASE" if c.accept("DATABASE") else "SCHEMA" if c.accept("SCHEMA") else None
            if kind is None and c.peek() is None:
                raise c.error("Expected ACCOUNT, DATABASE or SCHEMA after IN")
            show.in_name = c.name()
            depth = len([p for p in (show.in_name.args.get("db"),) if p]) + 1
            show.in_kind = kind or (
                "SCHEMA" if depth == 2 else "DATABASE" if depth == 1 else "SCHEMA"
            )
    if c.accept("STARTS", "WITH"):
        show.starts_with = _quoted(c, "Expected a quoted name after STARTS WITH")
    if c.accept("LIMIT"):
        token = c.peek()
        if token is None or token.token_type != TokenType.NUMBER or not token.text.isdigit():
            raise c.error("Expected a number of rows after LIMIT")
        show.limit = int(token.text)
        c.i += 1
        if c.accept("FROM"):
            show.limit_from = _quoted(c, "Expected a quoted name after LIMIT n FROM")
    _end(c)
    if show.terse and show.what not in _TERSE:
        raise UnsupportedError(
            f"SHOW TERSE {show.what}",
            f"SHOW TERSE {show.what} is not supported (TERSE applies to SHOW {', '.join(_TERSE)})",
            c.statement.line,
            c.statement.column,
        )
    return show


_TERSE = ("TABLES", "VIEWS", "OBJECTS", "SCHEMAS", "DATABASES")


def _describe_result(c: _Cursor) -> DescribeResult:
    token = c.peek()
    if token is not None and token.token_type == TokenType.STRING:
        c.i += 1
        _end(c)
        return DescribeResult(query_id=token.text)
    if not c.accept("LAST_QUERY_ID", "("):
        raise c.error("Expected a query id ('...') or LAST_QUERY_ID() after DESCRIBE RESULT")
    sign = -1 if c.accept("-") else 1
    index = -1
    token = c.peek()
    if token is not None and token.token_type == TokenType.NUMBER and token.text.isdigit():
        index = sign * int(token.text)
        c.i += 1
    c.expect(")")
    _end(c)
    return DescribeResult(index=index)


def _quoted(c: _Cursor, message: str) -> str:
    token = c.peek()
    if token is None or token.token_type != TokenType.STRING:
        raise c.error(message)
    c.i += 1
    return token.text


def _warehouse(c: _Cursor) -> Warehouse:
    action = c.word() or ""
    c.i += 1
    replace = c.accept("OR", "REPLACE")
    c.expect("WAREHOUSE")
    if_exists = c.accept("IF", "EXISTS")
    if_not_exists = c.accept("IF", "NOT", "EXISTS")
    token = c.peek()
    if token is None:
        raise c.error("Expected a warehouse name")
    name = token.text if token.token_type == TokenType.IDENTIFIER else token.text.upper()
    c.i += 1
    c.accept("WITH")
    c.accept("SET")
    props = c.properties()
    return Warehouse(action, name, if_exists, if_not_exists, replace, props)


# Clauses of statements sqlglot cannot parse (it falls back to a bare command), named when
# a statement holds one: the user learns what to remove, not that "CREATE" is unsupported.
_UNPARSED_CLAUSES = (
    ("REFRESH", "USING"),
    ("START", "AT"),
    ("BACKFILL", "FROM"),
    ("WITH", "ROW", "ACCESS", "POLICY"),
    ("WITH", "MASKING", "POLICY"),
    ("MASKING", "POLICY"),
    ("WITH", "TAG"),
    ("ICEBERG",),
    ("EXTERNAL_VOLUME",),
)


_CREATE_MODIFIERS = {"OR", "REPLACE", "ALTER", "TRANSIENT", "TEMPORARY", "TEMP", "SECURE"}


def unsupported_syntax(statement: Statement) -> UnsupportedError:
    """The error for a statement sqlglot parsed as a bare command: the first clause of
    ``_UNPARSED_CLAUSES`` it holds, with its position, else its first words."""
    words = [t.text.upper() for t in statement.tokens]
    for clause in _UNPARSED_CLAUSES:
        for i in range(len(words) - len(clause) + 1):
            if tuple(words[i : i + len(clause)]) == clause:
                token = statement.tokens[i]
                name = " ".join(clause)
                return UnsupportedError(
                    name,
                    f"{name} is not supported by snowmelt; remove it from the statement",
                    token.line,  # tokens of the padded text: script positions
                    token.col - len(token.text) + 1,
                )
    words = list(statement.words)
    if words[:1] == ["CREATE"]:  # CREATE [OR REPLACE] [modifiers] KIND ...: name the kind
        rest = [w for w in words[1:4] if w not in _CREATE_MODIFIERS]
        known = ("TABLE", "VIEW", "DYNAMIC", "DATABASE", "SCHEMA", "SEQUENCE", "FUNCTION")
        if rest and rest[0] not in known:
            return UnsupportedError(
                f"CREATE {rest[0]}",
                f"CREATE {rest[0]} is not supported by snowmelt",
                statement.line,
                statement.column,
            )
    head = " ".join(statement.words[:3])
    return UnsupportedError(
        statement.words[0] if statement.words else "statement",
        f"Statement {head!r} uses syntax snowmelt cannot parse (Snowflake dialect)",
        statement.line,
        statement.column,
    )
