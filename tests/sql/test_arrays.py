"""Snowflake's ARRAY and OBJECT functions on the JSON values snowmelt stores them as
(``snowmelt.sql.arrays``): results as Snowflake documents them, on table columns (the case
where the translator cannot see the types) and on literals."""

from __future__ import annotations

import json

import pytest

from snowmelt.errors import SqlError


@pytest.fixture
def t(session):
    session.sql(
        "CREATE TABLE T (ID INT, A ARRAY, B ARRAY, O OBJECT, V VARIANT, S VARCHAR);"
        'INSERT INTO T SELECT 1, PARSE_JSON(\'[3, "b", 1, 3, null, 10, "a", 1]\'), '
        'PARSE_JSON(\'[1, 3, 3, 7]\'), PARSE_JSON(\'{"a": 1, "b": {"c": 2}, "x/y": 3}\'), '
        "PARSE_JSON('[[1, 2], [3], []]'), 'text'"
    )
    return session


def one(session, sql: str):
    (row,) = session.sql(sql).rows()
    return [json.loads(v) if isinstance(v, str) and v[:1] in "[{" else v for v in row]


def test_array_set_functions_keep_snowflakes_bag_semantics(t):
    distinct, except_, common, removed = one(
        t,
        "SELECT ARRAY_DISTINCT(A), ARRAY_EXCEPT(A, B), ARRAY_INTERSECTION(A, B), "
        "ARRAY_REMOVE(A, 3) FROM T",
    )
    assert distinct == [3, "b", 1, None, 10, "a"]  # first occurrences, one NULL kept
    # bags: A has 3 twice and 1 twice, B has 1 once and 3 twice
    assert except_ == ["b", None, 10, "a", 1]
    assert common == [3, 1, 3]
    assert removed == ["b", 1, None, 10, "a", 1]
    assert one(
        t,
        "SELECT ARRAY_EXCEPT(ARRAY_CONSTRUCT('A', 'B', 'B', 'B', 'C'), ARRAY_CONSTRUCT('B')), "
        "ARRAY_REMOVE(A, NULL), ARRAY_DISTINCT(NULL), ARRAY_EXCEPT(A, NULL) FROM T",
    ) == [["A", "B", "B", "C"], None, None, None]


def test_array_sort_min_max_compare_numbers_by_value(t):
    asc, desc, nulls_first, low, high, text_high = one(
        t,
        "SELECT ARRAY_SORT(A), ARRAY_SORT(A, FALSE), ARRAY_SORT(B, TRUE, TRUE), "
        "ARRAY_MIN(B), ARRAY_MAX(B), ARRAY_MAX(ARRAY_CONSTRUCT('pear', 'apple', NULL)) FROM T",
    )
    assert asc == [1, 1, 3, 3, 10, "a", "b", None]  # 10 after 3: numbers, not text
    assert desc == [None, "b", "a", 10, 3, 3, 1, 1]  # descending: NULLs first by default
    assert nulls_first == [1, 3, 3, 7]
    assert (low, high, text_high) == ("1", "7", '"pear"')  # VARIANT results
    assert one(t, "SELECT ARRAY_MAX(ARRAY_CONSTRUCT()), ARRAY_MIN(S) FROM T") == [None, None]
    assert t.sql("SELECT ARRAY_MAX(B)::INT + 1 FROM T").scalar() == 8


def test_array_flatten_one_level_and_fail_on_a_non_array_element(t):
    assert one(t, "SELECT ARRAY_FLATTEN(V) FROM T") == [[1, 2, 3]]
    assert one(
        t, "SELECT ARRAY_FLATTEN(PARSE_JSON('[[1, [2]], null]')), ARRAY_FLATTEN(S) FROM T"
    ) == [None, None]
    with pytest.raises(SqlError, match="ARRAY_FLATTEN: an element of the array is not an array"):
        t.sql("SELECT ARRAY_FLATTEN(B) FROM T")


def test_object_insert_delete_pick(t):
    inserted, updated, unchanged, deleted, picked, by_array = one(
        t,
        "SELECT OBJECT_INSERT(O, 'z', 5), OBJECT_INSERT(O, 'b', 'new', TRUE), "
        "OBJECT_INSERT(O, 'q', NULL), OBJECT_DELETE(O, 'a', 'x/y', 'missing'), "
        "OBJECT_PICK(O, 'b', 'x/y', 'missing'), OBJECT_PICK(O, ARRAY_CONSTRUCT('a')) FROM T",
    )
    assert inserted == {"a": 1, "b": {"c": 2}, "x/y": 3, "z": 5}
    assert updated == {"a": 1, "b": "new", "x/y": 3}  # replaced, not merged into
    assert unchanged == {"a": 1, "b": {"c": 2}, "x/y": 3}  # a NULL value adds nothing
    assert deleted == {"b": {"c": 2}}
    assert picked == {"b": {"c": 2}, "x/y": 3}
    assert by_array == {"a": 1}
    with pytest.raises(SqlError, match="OBJECT_INSERT: the object already has the key a"):
        t.sql("SELECT OBJECT_INSERT(O, 'a', 2) FROM T")
    assert one(t, "SELECT OBJECT_DELETE(A, 'a'), OBJECT_PICK(S, 'a') FROM T") == [None, None]


def test_object_and_array_aggregates(t):
    t.sql(
        "CREATE TABLE E (G INT, K VARCHAR, N INT, ARR ARRAY);"
        "INSERT INTO E SELECT 1, 'a', 1, PARSE_JSON('[1, 1, 2]') UNION ALL "
        "SELECT 1, 'b', NULL, PARSE_JSON('[1, 2, 3, null]') UNION ALL "
        "SELECT 1, NULL, 3, NULL UNION ALL SELECT 2, 'c', 3, PARSE_JSON('[]')"
    )
    rows = t.sql(
        "SELECT G, OBJECT_AGG(K, N), ARRAY_UNIQUE_AGG(N), ARRAY_UNION_AGG(ARR) FROM E "
        "GROUP BY G ORDER BY G"
    ).rows()
    (g1, obj1, uniq1, union1), (g2, obj2, uniq2, union2) = rows
    assert json.loads(obj1) == {"a": 1}  # rows with a NULL key or value are skipped
    assert sorted(json.loads(uniq1)) == [1, 3]
    assert sorted(json.loads(union1)) == [1, 1, 2, 3]  # 1 twice: the most any array holds
    assert (json.loads(obj2), json.loads(uniq2), json.loads(union2)) == ({"c": 3}, [3], [])
    assert one(
        t, "SELECT OBJECT_AGG(K, N), ARRAY_UNIQUE_AGG(N), ARRAY_UNION_AGG(ARR) FROM E WHERE G > 5"
    ) == [{}, [], []]
    with pytest.raises(SqlError, match="OBJECT_AGG: duplicate key k"):  # as Snowflake
        t.sql("SELECT OBJECT_AGG('k', N) FROM E WHERE N IS NOT NULL")


def test_a_dynamic_table_with_these_functions_refreshes_incrementally(t):
    t.sql(
        "CREATE TABLE E (G INT, K VARCHAR, N INT, ARR ARRAY);"
        "INSERT INTO E SELECT 1, 'a', 1, PARSE_JSON('[1, 1, 2]') UNION ALL "
        "SELECT 2, 'c', 3, PARSE_JSON('[]')"
    )
    query = (
        "SELECT G, OBJECT_AGG(K, N) AS O, ARRAY_UNIQUE_AGG(N) AS U, ARRAY_UNION_AGG(ARR) AS UA, "
        "ARRAY_SORT(ARRAY_DISTINCT(ARRAY_UNION_AGG(ARR))) AS SORTED FROM E GROUP BY G"
    )
    t.sql(
        "CREATE DYNAMIC TABLE DT TARGET_LAG = '1 minute' WAREHOUSE = WH "
        f"REFRESH_MODE = INCREMENTAL AS {query}"
    )

    def normal(rows):  # JSON objects and arrays compared as values, arrays as bags
        out = []
        for g, o, u, ua, s in rows:
            out.append((g, json.loads(o), sorted(json.loads(u)), sorted(json.loads(ua)), s))
        return sorted(out)

    for change in (
        "INSERT INTO E SELECT 1, 'z', 9, PARSE_JSON('[5, 1]')",
        "UPDATE E SET N = 4, ARR = PARSE_JSON('[7, 7]') WHERE K = 'c'",
        "DELETE FROM E WHERE K = 'a'",
        "INSERT INTO E SELECT 3, 'q', NULL, NULL",
    ):
        t.sql(change)
        t.sql("ALTER DYNAMIC TABLE DT REFRESH")
        assert normal(t.sql("SELECT * FROM DT").rows()) == normal(t.sql(query).rows())
    actions = t.sql(
        "SELECT refresh_action FROM TABLE(INFORMATION_SCHEMA.DYNAMIC_TABLE_REFRESH_HISTORY()) "
        "WHERE name = 'DT' ORDER BY refresh_start_time"
    ).rows()
    assert [a for (a,) in actions] == ["REINITIALIZE"] + ["INCREMENTAL"] * 4
    assert one(t, "SELECT O, SORTED FROM DT WHERE G = 1") == [{"z": 9}, [1, 5]]
