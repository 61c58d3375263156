"""TABLE(GENERATOR(ROWCOUNT => n)) with SEQ1/2/4/8, UNIFORM and RANDOM: the way Snowflake
users make test data, in every statement that reads rows."""

from __future__ import annotations

import pytest

from snowmelt.sql.translate import UnsupportedFunctionError


def test_generator_rows_in_queries_ctas_insert_and_views(session):
    session.sql("USE SCHEMA D.S")
    rows = session.sql(
        "SELECT SEQ4() AS ID, SEQ8() AS BIG, UNIFORM(1, 6, RANDOM()) AS DIE "
        "FROM TABLE(GENERATOR(ROWCOUNT => 1000)) ORDER BY ID"
    ).rows()
    assert [r[0] for r in rows] == list(range(1000)) == [r[1] for r in rows]
    dice = {r[2] for r in rows}
    assert dice <= set(range(1, 7)) and len(dice) > 1  # integers in [1, 6], not one value
    session.sql(
        "CREATE TABLE T AS SELECT SEQ4() AS ID, 'item ' || SEQ4() AS NAME "
        "FROM TABLE(GENERATOR(ROWCOUNT => 5)) G"
    )
    session.sql("INSERT INTO T SELECT 100 + SEQ4(), 'extra' FROM TABLE(GENERATOR(ROWCOUNT => 2))")
    assert session.sql("SELECT ID, NAME FROM T ORDER BY ID").rows() == [
        (0, "item 0"),
        (1, "item 1"),
        (2, "item 2"),
        (3, "item 3"),
        (4, "item 4"),
        (100, "extra"),
        (101, "extra"),
    ]
    session.sql(
        "CREATE VIEW V AS SELECT ROW_NUMBER() OVER (ORDER BY SEQ4()) AS N "
        "FROM TABLE(GENERATOR(ROWCOUNT => 4))"
    )
    assert session.sql("SELECT SUM(N), COUNT(*) FROM V").rows() == [(10, 4)]
    assert session.sql("SELECT COUNT(*) FROM T, TABLE(GENERATOR(ROWCOUNT => 3))").scalar() == 21


@pytest.mark.parametrize(
    ("sql", "name", "reason"),
    [
        ("SELECT SEQ4() FROM T", "SEQ4", "numbers the rows of TABLE.GENERATOR"),
        (
            "SELECT SEQ4() FROM TABLE(GENERATOR(ROWCOUNT => 2)) A, "
            "TABLE(GENERATOR(ROWCOUNT => 2)) B",
            "SEQ4",
            "reading one generator",
        ),
        ("SELECT 1 FROM TABLE(GENERATOR(TIMELIMIT => 1))", "GENERATOR(TIMELIMIT)", "ROWCOUNT"),
    ],
)
def test_what_cannot_be_generated_is_named(session, sql, name, reason):
    session.sql("USE SCHEMA D.S; CREATE TABLE T (ID INT)")
    with pytest.raises(UnsupportedFunctionError, match=reason) as info:
        session.sql(sql)
    assert info.value.name == name
