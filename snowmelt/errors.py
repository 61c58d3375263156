"""The error hierarchy: one root, every error keeps its inputs and names the next step.

Only the edges (CLI, server, scheduler loop) catch broadly. Messages name the object, the
cause and what to do next; SQL errors carry the line and column of the statement text.
"""

from __future__ import annotations


class SnowmeltError(Exception):
    """Root of every error snowmelt raises on purpose."""


class SqlError(SnowmeltError):
    """A statement could not be parsed or is invalid; carries line and column (1-based)."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None):
        self.line = line
        self.column = column
        self.bare_message = message
        where = f" (line {line}, column {column})" if line is not None else ""
        super().__init__(f"{message}{where}")


class UnsupportedError(SqlError):
    """A statement, clause or function that snowmelt does not support, named."""

    def __init__(
        self, construct: str, message: str, line: int | None = None, column: int | None = None
    ):
        self.construct = construct
        super().__init__(message, line, column)


class CatalogError(SnowmeltError):
    """An object is missing, already exists, or the request contradicts the catalog."""

    def __init__(self, message: str, name: str | None = None):
        self.name = name
        super().__init__(message)


class ObjectNotFound(CatalogError):
    pass


class ObjectExists(CatalogError):
    pass


class DynamicTableError(CatalogError):
    """A dynamic-table definition or operation is invalid (cycle, lag, mode, ...)."""


class NotInitializedError(DynamicTableError):
    """Reading a dynamic table created with INITIALIZE = ON_SCHEDULE before its first refresh."""


class RefreshError(SnowmeltError):
    """A refresh failed; the table keeps its last good version."""

    def __init__(self, message: str, name: str, code: str = "REFRESH_FAILED"):
        self.name = name
        self.code = code
        super().__init__(message)


class IngestError(SnowmeltError):
    """A batch was rejected whole; nothing was written. Names the row/column at fault."""

    def __init__(self, message: str, table: str, row: int | None = None, column: str | None = None):
        self.table = table
        self.row = row
        self.column = column
        super().__init__(message)


class DatabaseLockedError(SnowmeltError):
    """Another process holds the database file."""

    def __init__(self, message: str, path: str, holder: str | None = None):
        self.path = path
        self.holder = holder
        super().__init__(message)


class DatabaseFileError(SnowmeltError):
    """The database file cannot be opened: a missing folder, a directory, not a DuckDB file."""

    def __init__(self, message: str, path: str):
        self.path = path
        super().__init__(message)
