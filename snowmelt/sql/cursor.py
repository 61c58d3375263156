"""A cursor over a statement's tokens, for the commands snowmelt parses itself
(``commands``): look ahead, accept words, read names, values and properties, and raise an
error that points at the token where the text stops making sense."""

from __future__ import annotations

from typing import Any

from sqlglot import exp
from sqlglot.tokens import Token, TokenType

from snowmelt.errors import SqlError
from snowmelt.sql.parse import Statement


class Cursor:
    def __init__(self, statement: Statement):
        self.statement = statement
        self.tokens = statement.tokens
        self.i = 0

    def peek(self, offset: int = 0) -> Token | None:
        j = self.i + offset
        return self.tokens[j] if j < len(self.tokens) else None

    def word(self, offset: int = 0) -> str | None:
        token = self.peek(offset)
        return token.text.upper() if token is not None else None

    def accept(self, *words: str) -> bool:
        if all(self.word(k) == w for k, w in enumerate(words)):
            self.i += len(words)
            return True
        return False

    def expect(self, *words: str) -> None:
        if not self.accept(*words):
            raise self.error(f"Expected {' '.join(words)}")

    def error(self, message: str) -> SqlError:
        token = self.peek() or (self.tokens[-1] if self.tokens else None)
        found = (
            f", found {token.text!r}"
            if token is not None and self.peek() is not None
            else " at end of statement"
        )
        return self.statement.error(message + found, token)

    def done(self) -> bool:
        return self.i >= len(self.tokens)

    def name(self) -> exp.Table:
        parts: list[exp.Identifier] = []
        while True:
            token = self.peek()
            if token is None or token.token_type in (TokenType.SEMICOLON, TokenType.L_PAREN):
                raise self.error("Expected an object name")
            quoted = token.token_type == TokenType.IDENTIFIER
            ident = exp.to_identifier(token.text, quoted=quoted)
            ident.meta["line"], ident.meta["col"] = token.line, token.col
            parts.append(ident)
            self.i += 1
            if self.peek() is not None and self.peek().token_type == TokenType.DOT:  # type: ignore[union-attr]
                self.i += 1
                continue
            break
        if len(parts) > 3:
            raise self.statement.error("An object name has at most three parts", self.peek(-1))
        padded: list[exp.Identifier | None] = [None] * (3 - len(parts)) + list(parts)
        return exp.Table(this=padded[2], db=padded[1], catalog=padded[0])

    def value(self) -> Any:
        token = self.peek()
        if token is None:
            raise self.error("Expected a value")
        self.i += 1
        if token.token_type == TokenType.STRING:
            return token.text
        if token.token_type == TokenType.NUMBER:
            return float(token.text) if "." in token.text else int(token.text)
        if token.token_type == TokenType.L_PAREN:  # ( ... ) groups, kept as text
            depth, parts = 1, []
            while depth and not self.done():
                t = self.peek()
                assert t is not None
                self.i += 1
                depth += {TokenType.L_PAREN: 1, TokenType.R_PAREN: -1}.get(t.token_type, 0)
                if depth:
                    parts.append(t.text)
            return " ".join(parts)
        return token.text.upper() if token.token_type != TokenType.IDENTIFIER else token.text

    def group_text(self) -> str:
        """The text inside the parenthesized group at the cursor (as written), consumed."""
        opening = self.peek()
        if opening is None or opening.token_type != TokenType.L_PAREN:
            raise self.error("Expected (")
        start = self.i
        self.value()
        closing = self.tokens[self.i - 1]
        if self.i - start < 2 or closing.token_type != TokenType.R_PAREN:
            raise self.error("Expected )")
        text = self.statement.padded[opening.end + 1 : closing.start].strip()
        if not self.done():
            raise self.error("Unexpected text")
        return text

    def properties(self) -> dict[str, Any]:
        props: dict[str, Any] = {}
        while not self.done():
            key = self.word()
            assert key is not None
            self.i += 1
            if self.accept("="):
                props[key] = self.value()
            else:
                props[key] = True
        return props


def end(c: Cursor) -> None:
    if not c.done():
        raise c.error("Unexpected text")
