"""Binding a compiled statement's placeholders: each reader reads only the source columns the
statement can use (``canonical.read_names``), and results stay those of a full refresh."""

from __future__ import annotations

from typing import Any

import pytest
import sqlglot
from sqlglot import exp

from snowmelt.clock import ManualClock
from snowmelt.ivm.canonical import bind_placeholders, read_names
from snowmelt.session import Session

from .conftest import sent_statements


def names_of(sql: str) -> frozenset[str] | None:
    tree = sqlglot.parse_one(sql, read="duckdb")
    (table,) = [t for t in tree.find_all(exp.Table) if t.name.startswith("_sm_ph_")]
    return read_names(table)


@pytest.mark.parametrize(
    ("sql", "names"),
    [
        (
            'SELECT "c"."a", SUM("c"."b") AS s FROM "_sm_ph_change_0" AS "c" GROUP BY "c"."a"',
            {"A", "B"},
        ),
        ("SELECT a, b + 1 FROM \"_sm_ph_new_0\" WHERE lower(z) = 'x'", {"A", "B", "Z"}),
        (  # a column of the other relation is left out; an unqualified one kept (superset)
            'SELECT x.a, y.c, d FROM "_sm_ph_old_0" AS x JOIN other AS y ON x.k = y.k',
            {"A", "K", "D"},
        ),
        (
            'SELECT x.a FROM "_sm_ph_new_0" AS x WHERE x.k IN (SELECT x.q FROM other)',
            {"A", "K", "Q"},
        ),
        ('SELECT * FROM "_sm_ph_new_0"', None),
        ('SELECT x.* FROM "_sm_ph_new_0" AS x', None),
        ('SELECT a FROM "_sm_ph_new_0" AS x JOIN other USING (k)', None),
        ('SELECT a FROM "_sm_ph_new_0" AS x NATURAL JOIN other', None),
        ('SELECT count(*) FROM "_sm_ph_change_0"', set()),
    ],
)
def test_read_names_is_every_column_the_select_may_take(sql: str, names: set[str] | None) -> None:
    assert names_of(sql) == (None if names is None else frozenset(names))


def test_bind_placeholders_hands_each_reader_its_names() -> None:
    seen: list[tuple[str, int, Any]] = []

    def reader(kind: str, leaf: int, names: frozenset[str] | None) -> exp.Expr:
        seen.append((kind, leaf, names))
        return exp.select("1 AS one")

    tree = sqlglot.parse_one(
        'SELECT c.a FROM "_sm_ph_change_0" AS c UNION ALL SELECT * FROM "_sm_ph_new_1"'
    )
    bound = bind_placeholders(tree, reader)
    assert seen == [("change", 0, frozenset({"A"})), ("new", 1, None)]
    assert "_sm_ph_" not in bound.sql().replace('AS "_sm_ph_', "")


def test_a_refresh_reads_only_the_columns_it_uses_of_a_wide_source(
    session: Session, clock: ManualClock
) -> None:
    wide = ", ".join(f"C{i} INT" for i in range(40))
    session.sql(f"CREATE TABLE W (K INT, V INT, {wide})")
    session.sql(
        "CREATE DYNAMIC TABLE A TARGET_LAG = '1 minute' WAREHOUSE = WH REFRESH_MODE = INCREMENTAL"
        " AS SELECT K, SUM(V) AS S, COUNT(DISTINCT C7) AS D FROM W GROUP BY K"
    )
    fill = ", ".join(str(i) for i in range(40))
    session.sql(f"INSERT INTO W VALUES (1, 10, {fill}), (2, 20, {fill})")
    session.sql("ALTER DYNAMIC TABLE A REFRESH")
    clock.advance(60)
    changed = fill.replace("7", "70")
    session.sql(f"INSERT INTO W VALUES (1, 5, {changed}); DELETE FROM W WHERE K = 2")
    with sent_statements(session) as statements:
        session.sql("ALTER DYNAMIC TABLE A REFRESH")
    reads = [s for s in statements if "_sm_ivm_" in s and '"V"' in s]
    assert reads, "the refresh read no change of W"
    assert not any('"C3"' in s or '"C39"' in s for s in reads)
    assert any('"C7"' in s for s in reads)
    got = session.sql("SELECT K, S, D FROM A ORDER BY K").fetchall()
    assert got == [(1, 15, 2)]
    (action,) = session.sql(
        "SELECT REFRESH_ACTION FROM TABLE(INFORMATION_SCHEMA.DYNAMIC_TABLE_REFRESH_HISTORY())"
        " WHERE NAME = 'A' ORDER BY REFRESH_END_TIME DESC LIMIT 1"
    ).fetchall()[0]
    assert action == "INCREMENTAL"
