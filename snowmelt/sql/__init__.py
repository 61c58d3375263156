"""The SQL front end: split a script into statements, parse them (sqlglot, Snowflake dialect
by default), classify them, resolve names against the catalog and translate to the engine's
dialect. Input: text. Output: sqlglot expressions and typed command objects; errors carry
the line and column of the original text.
"""
