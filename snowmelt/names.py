"""Object names: Snowflake's three-part ``DATABASE.SCHEMA.NAME`` and their DuckDB homes.

Unquoted Snowflake identifiers are case-insensitive and stored upper case; quoted ones keep
their case. A Snowflake schema ``DB.S`` lives in the DuckDB schema named ``"DB.S"`` (one
quoted identifier; an unquoted Snowflake name cannot contain a dot, so the mapping is
unambiguous). User-visible objects there are views; the change-tracked storage behind them
lives in the hidden schema ``_snowmelt_data`` under names derived from a stable object id,
so renaming an object never moves data.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

META_SCHEMA = "_snowmelt"
DATA_SCHEMA = "_snowmelt_data"
ROWID_SEQUENCE = "rowid_seq"

ROW_ID = "_sm_rowid"
INSERT_VERSION = "_sm_ver"
DELETE_VERSION = "_sm_del_ver"
WEIGHT = "_sm_weight"
HIDDEN_COLUMNS = (ROW_ID, INSERT_VERSION)


@dataclass(frozen=True, order=True)
class ObjectName:
    database: str
    schema: str
    name: str

    def __str__(self) -> str:
        return f"{self.database}.{self.schema}.{self.name}"

    @property
    def schema_key(self) -> str:
        """The DuckDB schema holding this object's user-visible view."""
        return f"{self.database}.{self.schema}"

    def view_table(self, alias: str | None = None) -> exp.Table:
        """The user-visible relation (a DuckDB view) as a sqlglot table."""
        table = exp.table_(
            exp.to_identifier(self.name, quoted=True),
            db=exp.to_identifier(self.schema_key, quoted=True),
        )
        if alias:
            table.set("alias", exp.TableAlias(this=exp.to_identifier(alias, quoted=True)))
        return table


def identifier_value(ident: exp.Identifier | str) -> str:
    """Snowflake case rule: unquoted identifiers fold to upper case."""
    if isinstance(ident, str):
        return ident.upper()
    return ident.this if ident.quoted else ident.this.upper()


def data_table(oid: int) -> exp.Table:
    """Live rows of a change-tracked table (user columns + row id + insert version)."""
    return exp.table_(
        exp.to_identifier(f"t{oid}", quoted=True), db=exp.to_identifier(DATA_SCHEMA, quoted=True)
    )


def sequence_table(oid: int) -> str:
    """The engine sequence behind the user's sequence ``oid`` (``CREATE SEQUENCE``)."""
    return f'"{DATA_SCHEMA}"."seq_{oid}"'


def delete_log(oid: int) -> exp.Table:
    """Deleted rows and old images of updates: user columns + row id + both versions."""
    return exp.table_(
        exp.to_identifier(f"t{oid}_dlog", quoted=True),
        db=exp.to_identifier(DATA_SCHEMA, quoted=True),
    )


def meta_table(name: str) -> exp.Table:
    return exp.table_(
        exp.to_identifier(name, quoted=True), db=exp.to_identifier(META_SCHEMA, quoted=True)
    )


def quoted(name: str) -> exp.Identifier:
    return exp.to_identifier(name, quoted=True)


def col(name: str, table: str | None = None) -> exp.Column:
    return exp.column(quoted(name), table=quoted(table) if table else None)


def drop_if_exists(kind: str, table: exp.Table, cascade: bool = False) -> exp.Drop:
    """``DROP <kind> IF EXISTS <table>`` as an expression."""
    return exp.Drop(kind=kind, tables=[table], exists=True, cascade=cascade)
