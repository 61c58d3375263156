"""Snowflake -> DuckDB translation, checked by value.

Every case parses Snowflake SQL, translates it with ``to_duckdb``, runs the result on an
in-memory DuckDB and compares the rows with what Snowflake documents/returns for that query.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import duckdb
import pytest
import sqlglot
from sqlglot import exp

from snowmelt.sql.translate import UnsupportedFunctionError, duckdb_type, to_duckdb

D = dt.date
TS = dt.datetime

SETUP = [
    "CREATE TABLE ev AS SELECT * FROM (VALUES "
    """(1, '{"type":"click","user":{"Name":"Ann","age":"31"},"tags":["a","b"],"n":5}'::JSON),"""
    """(2, '{"type":"view","user":{"Name":"Bob","age":40},"tags":[],"n":null}'::JSON),"""
    """(3, '{"type":"click","price":"12.5","tags":null}'::JSON)) AS t(id, v)""",
    "CREATE TABLE arrs AS SELECT * FROM (VALUES "
    """(1, '[10,20,30]'::JSON), (2, '[]'::JSON), (3, NULL::JSON),"""
    """(4, '{"a":1,"b":"x"}'::JSON), (5, '"scalar"'::JSON)) AS t(id, arr)""",
    "CREATE TABLE seqs AS SELECT * FROM (VALUES "
    "('a', 1, 1), ('a', 2, 1), ('a', 3, NULL), ('a', 4, 2), ('a', 5, 2), ('a', 6, 1),"
    "('b', 1, 7), ('b', 2, 8)) AS t(p, o, x)",
    "CREATE TABLE strs AS SELECT * FROM (VALUES (1, 'hello'), (2, NULL)) AS t(id, s)",
]


@pytest.fixture(scope="module")
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    for statement in SETUP:
        connection.execute(statement)
    yield connection
    connection.close()


def translate(sql: str) -> str:
    return to_duckdb(sqlglot.parse_one(sql, read="snowflake")).sql(dialect="duckdb")


def run(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[Any, ...]]:
    return con.execute(translate(sql)).fetchall()


def case(sql: str, *rows: tuple[Any, ...], id: str | None = None) -> Any:
    return pytest.param(sql, list(rows), id=id or sql[:60])


# --- 1. types ----------------------------------------------------------------------------

TYPE_CASES = [
    ("VARIANT", "JSON"),
    ("OBJECT", "JSON"),
    ("ARRAY", "JSON"),
    ("ARRAY(INT)", "JSON"),
    ("NUMBER", "BIGINT"),
    ("NUMBER(10,2)", "DECIMAL(10,2)"),
    ("NUMBER(10)", "BIGINT"),
    ("NUMBER(38, 0)", "BIGINT"),
    ("DECIMAL", "BIGINT"),
    ("NUMERIC(5,1)", "DECIMAL(5,1)"),
    ("INT", "BIGINT"),
    ("INTEGER", "BIGINT"),
    ("BIGINT", "BIGINT"),
    ("SMALLINT", "BIGINT"),
    ("TINYINT", "BIGINT"),
    ("BYTEINT", "BIGINT"),
    ("FLOAT", "DOUBLE"),
    ("FLOAT4", "DOUBLE"),
    ("FLOAT8", "DOUBLE"),
    ("DOUBLE", "DOUBLE"),
    ("REAL", "DOUBLE"),
    ("STRING", "VARCHAR"),
    ("TEXT", "VARCHAR"),
    ("VARCHAR(10)", "VARCHAR"),
    ("CHAR", "VARCHAR"),
    ("TIMESTAMP", "TIMESTAMP"),
    ("TIMESTAMP_NTZ", "TIMESTAMP"),
    ("DATETIME", "TIMESTAMP"),
    ("TIMESTAMP_LTZ", "TIMESTAMP WITH TIME ZONE"),
    ("TIMESTAMP_TZ", "TIMESTAMP WITH TIME ZONE"),
    ("DATE", "DATE"),
    ("TIME", "TIME"),
    ("BOOLEAN", "BOOLEAN"),
    ("BINARY", "BLOB"),
    ("VARBINARY", "BLOB"),
]


@pytest.mark.parametrize(("snowflake", "expected"), TYPE_CASES)
def test_duckdb_type_is_the_stored_type(
    con: duckdb.DuckDBPyConnection, snowflake: str, expected: str
) -> None:
    mapped = duckdb_type(exp.DataType.build(snowflake, dialect="snowflake"))
    # Executed: DuckDB must accept the type and report the expected one.
    relation = con.sql(f"SELECT CAST(NULL AS {mapped.sql(dialect='duckdb')}) AS c")
    assert str(relation.types[0]) == expected


CAST_CASES = [
    case(
        "SELECT CAST('12.7' AS NUMBER), '3.14159'::NUMBER(10,2), 7::INT", (13, Decimal("3.14"), 7)
    ),
    case(
        "SELECT '2.5'::FLOAT, '2024-05-17'::DATE, '2024-05-17 10:11:12'::TIMESTAMP_NTZ",
        (2.5, D(2024, 5, 17), TS(2024, 5, 17, 10, 11, 12)),
    ),
    case("SELECT 'abc'::VARIANT, 5::VARIANT, PARSE_JSON('[1]')::ARRAY", ('"abc"', "5", "[1]")),
    case("SELECT TRY_CAST('x' AS INT), TRY_CAST('5' AS INTEGER)", (None, 5)),
    case("SELECT 1::STRING, TO_VARCHAR(2.5), 'abc'::VARCHAR(2)", ("1", "2.5", "abc")),
]


@pytest.mark.parametrize(("sql", "expected"), CAST_CASES)
def test_casts(con: duckdb.DuckDBPyConnection, sql: str, expected: list[tuple[Any, ...]]) -> None:
    assert run(con, sql) == expected


def test_cast_result_types(con: duckdb.DuckDBPyConnection) -> None:
    sql = "SELECT 1::NUMBER AS a, 1::INT AS b, 1::FLOAT AS c, 1::VARIANT AS d, 1::BYTEINT AS e"
    types = [str(t) for t in con.sql(translate(sql)).types]
    assert types == ["BIGINT", "BIGINT", "DOUBLE", "JSON", "BIGINT"]


# --- 2. semi-structured --------------------------------------------------------------------

SEMI_CASES = [
    case("""SELECT PARSE_JSON('{"a b":{"C":1}}'):"a b".C::int""", (1,), id="quoted-path-key"),
    case(
        "SELECT OBJECT_CONSTRUCT(k, v):x::int FROM (VALUES ('x', 3)) t(k, v)",
        (3,),
        id="object-construct-dynamic-key",
    ),
    case("SELECT v:user.Name::string FROM ev ORDER BY id", ("Ann",), ("Bob",), (None,)),
    case("SELECT v:user.name::string FROM ev WHERE id = 1", (None,), id="path-keys-case-sensitive"),
    case("SELECT v:user.age::int FROM ev ORDER BY id", (31,), (40,), (None,)),
    case(
        "SELECT v:price::float, v:price::number(10,1) FROM ev WHERE id = 3", (12.5, Decimal("12.5"))
    ),
    case("SELECT v:type FROM ev WHERE id = 1", ('"click"',), id="variant-keeps-json"),
    case(
        "SELECT v:tags[0]::string, v:tags[1]::string, v:tags[5] FROM ev WHERE id = 1",
        ("a", "b", None),
    ),
    case(
        "SELECT v['user']['Name']::string, v['tags'][1]::string FROM ev WHERE id = 1", ("Ann", "b")
    ),
    case(
        "SELECT v:missing, v:missing::string, v:n::string FROM ev WHERE id = 2",
        (None, None, None),
        id="missing-and-json-null",
    ),
    case(
        "SELECT v:n IS NULL, v:missing IS NULL FROM ev WHERE id = 2",
        (False, True),
        id="json-null-is-not-sql-null",
    ),
    case(
        "SELECT v::string FROM ev WHERE id = 3",
        ('{"type":"click","price":"12.5","tags":null}',),
        id="column-cast-unquotes-object",
    ),
    case("SELECT s::string FROM strs ORDER BY id", ("hello",), (None,), id="varchar-column-cast"),
    case(
        "SELECT GET_PATH(v, 'user.Name')::string, GET(v, 'n')::int FROM ev WHERE id = 1", ("Ann", 5)
    ),
    case(
        "SELECT id FROM ev WHERE v:type = 'click' ORDER BY id",
        (1,),
        (3,),
        id="variant-equals-string",
    ),
    case("SELECT id FROM ev WHERE v:type IN ('view') AND v:user.age > 35", (2,)),
    case("SELECT COUNT(*) FROM ev WHERE v:n = 5", (1,)),
    case('SELECT PARSE_JSON(\'{"a":{"b":[1,2]}}\'):a.b[1]::int', (2,)),
    case("SELECT TRY_PARSE_JSON('{bad'), TRY_PARSE_JSON('[1]')", (None, "[1]")),
    case("SELECT ARRAY_CONSTRUCT(1, 'a', TRUE), ARRAY_CONSTRUCT()", ('[1,"a",true]', "[]")),
    case("SELECT OBJECT_CONSTRUCT('a', 1, 'b', 'x')", ('{"a":1,"b":"x"}',)),
    case(
        "SELECT OBJECT_CONSTRUCT('a', 1, 'b', NULL), OBJECT_CONSTRUCT()",
        ('{"a":1}', "{}"),
        id="object-construct-drops-sql-null",
    ),
    case(
        "SELECT OBJECT_CONSTRUCT('a', PARSE_JSON('null'))",
        ('{"a":null}',),
        id="object-construct-keeps-json-null",
    ),
    case("SELECT OBJECT_CONSTRUCT_KEEP_NULL('a', NULL)", ('{"a":null}',)),
    case("SELECT OBJECT_CONSTRUCT('k', ARRAY_CONSTRUCT(1, 2)):k[1]::int", (2,)),
    case("SELECT ARRAY_SIZE(ARRAY_CONSTRUCT(1, 2, 3)), ARRAY_SIZE(PARSE_JSON('{}'))", (3, None)),
    case("SELECT id, ARRAY_SIZE(v:tags) FROM ev ORDER BY id", (1, 2), (2, 0), (3, None)),
    case("SELECT TO_VARIANT(1.5), TO_VARIANT('s')", ("1.5", '"s"')),
    case("SELECT AS_VARCHAR(PARSE_JSON('\"s\"')), AS_VARCHAR(PARSE_JSON('1'))", ("s", None)),
    case(
        "SELECT AS_DOUBLE(PARSE_JSON('1.5')), AS_INTEGER(PARSE_JSON('7')), "
        "AS_BOOLEAN(PARSE_JSON('true')), AS_DOUBLE(PARSE_JSON('\"x\"'))",
        (1.5, 7, True, None),
    ),
    case("SELECT SPLIT('a,b,c', ',')[1]::string, ARRAY_SIZE(SPLIT('a,b,c', ','))", ("b", 3)),
    case(  # any delimiter character, empty tokens dropped; an ARRAY (JSON) like SPLIT's
        "SELECT STRTOK_TO_ARRAY('a b,,c', ' ,'), STRTOK_TO_ARRAY('a b', ' ')[1]::string",
        ('["a","b","c"]', "b"),
    ),
    case(
        'SELECT OBJECT_KEYS(PARSE_JSON(\'{"a": 1, "b": 2}\')), ARRAY_GENERATE_RANGE(0, 5, 2),'
        " ARRAY_SIZE(ARRAY_GENERATE_RANGE(0, 5, 2))",
        ('["a","b"]', "[0,2,4]", 3),
    ),
    case(
        "SELECT ARRAY_AGG(x) WITHIN GROUP (ORDER BY x) FROM (VALUES (2), (1), (NULL)) t(x)",
        ("[1,2]",),
    ),
    case("SELECT ARRAY_AGG(x) FROM (VALUES (NULL::INT)) t(x)", ("[]",), id="array-agg-empty"),
    case("SELECT ARRAY_AGG(x)[0]::int FROM (VALUES (4)) t(x)", (4,)),
    # arrays held as JSON: element lists, Snowflake's 0-based, end-exclusive slices
    case(
        "SELECT ARRAY_CONTAINS(2::VARIANT, PARSE_JSON('[1, 2]')), "
        "ARRAY_CONTAINS(9::VARIANT, ARRAY_CONSTRUCT(1, 2)), "
        "ARRAY_CONTAINS('y z'::VARIANT, PARSE_JSON('[\"x\", \"y z\"]')), "
        "ARRAY_CONTAINS(1::VARIANT, PARSE_JSON('{\"a\": 1}'))",
        (True, False, True, None),
        id="array-contains-json",
    ),
    case(
        "SELECT ARRAY_SLICE(PARSE_JSON('[0,1,2,3,4,5,6]'), 0, 2), "
        "ARRAY_SLICE(PARSE_JSON('[0,1,2,3,4,5,6]'), -5, -3), "
        "ARRAY_SLICE(ARRAY_CONSTRUCT(0, 1, 2), 1, 100), "
        'ARRAY_SIZE(ARRAY_SLICE(PARSE_JSON(\'["a", "b"]\'), 1, 2)), '
        "ARRAY_SLICE(PARSE_JSON('{}'), 0, 1)",
        ("[0,1]", "[2,3]", "[1,2]", 1, None),
        id="array-slice-json",
    ),
    case(
        "SELECT ARRAY_TO_STRING(PARSE_JSON('[\"a\", 1, null]'), '-'), "
        "ARRAY_APPEND(ARRAY_CONSTRUCT(1), 'x'), ARRAY_PREPEND(PARSE_JSON('[2]'), 1), "
        "ARRAY_CAT(ARRAY_CONSTRUCT(1), PARSE_JSON('[2, 3]')), "
        "ARRAY_COMPACT(PARSE_JSON('[1, null, 2]'))",
        ("a-1-", '[1,"x"]', "[1,2]", "[1,2,3]", "[1,2]"),
        id="array-list-functions-json",
    ),
    case(
        "SELECT ARRAY_POSITION(2::VARIANT, PARSE_JSON('[1, 2]')), "
        "ARRAY_POSITION(5::VARIANT, PARSE_JSON('[1, 2]')), "
        "ARRAYS_OVERLAP(PARSE_JSON('[1, 2]'), ARRAY_CONSTRUCT(2, 9)), "
        "ARRAYS_OVERLAP(PARSE_JSON('[1]'), ARRAY_CONSTRUCT(9)), "
        "IS_OBJECT(PARSE_JSON('{}')), IS_OBJECT(PARSE_JSON('[]')), "
        "IS_VARCHAR(PARSE_JSON('\"s\"')), IS_INTEGER(PARSE_JSON('1.5')), "
        "IS_DOUBLE(PARSE_JSON('1'))",
        (1, None, True, False, True, False, True, False, True),
        id="array-position-overlap-is-kind",
    ),
    case(
        "SELECT v:user.age + 1, 2 * v:n, v:n / 2, v:missing + 1 FROM ev WHERE id = 1",
        (32.0, 10.0, 2.5, None),
        id="variant-arithmetic-is-numeric",
    ),
    case(
        "SELECT TYPEOF(v:tags), TYPEOF(PARSE_JSON('{}')), TYPEOF(v:tags[0]), "
        "TYPEOF(PARSE_JSON('7')), TYPEOF(PARSE_JSON('1.5')), TYPEOF(PARSE_JSON('null')), "
        "TYPEOF(PARSE_JSON('true')), TYPEOF(v:missing) FROM ev WHERE id = 1",
        ("ARRAY", "OBJECT", "VARCHAR", "INTEGER", "DECIMAL", "NULL_VALUE", "BOOLEAN", None),
        id="typeof-json",
    ),
]


@pytest.mark.parametrize(("sql", "expected"), SEMI_CASES)
def test_semi_structured(
    con: duckdb.DuckDBPyConnection, sql: str, expected: list[tuple[Any, ...]]
) -> None:
    assert run(con, sql) == expected


# --- 3. functions ----------------------------------------------------------------------------

FUNCTION_CASES = [
    case("SELECT IFF(1 > 0, 'a', 'b'), IFF(NULL, 'a', 'b')", ("a", "b")),
    case("SELECT NVL(NULL, 2), NVL(1, 2), NVL2(NULL, 1, 2), NVL2(5, 1, 2)", (2, 1, 2, 1)),
    case("SELECT ZEROIFNULL(NULL), ZEROIFNULL(3), NULLIFZERO(0), NULLIFZERO(4)", (0, 3, None, 4)),
    case("SELECT DIV0(1, 0), DIV0(6, 3), DIV0NULL(1, NULL), DIV0NULL(1, 0)", (0, 2, 0, 0)),
    case(
        "SELECT DATEADD(day, 3, '2024-01-01'::date), DATEADD('month', 1, '2024-01-31'::date)",
        (D(2024, 1, 4), D(2024, 2, 29)),
        id="dateadd-date-stays-date",
    ),
    case(
        "SELECT DATEADD(year, 1, '2024-02-29'::date), DATEADD(quarter, 1, '2024-01-31'::date), "
        "DATEADD(week, 1, '2024-01-31'::date), DATEADD(day, -1, '2024-03-01'::date)",
        (D(2025, 2, 28), D(2024, 4, 30), D(2024, 2, 7), D(2024, 2, 29)),
    ),
    case(
        "SELECT DATEADD(hour, 2, '2024-01-01 10:00'::timestamp), "
        "DATEADD(hour, 1, '2024-01-01'::date)",
        (TS(2024, 1, 1, 12), TS(2024, 1, 1, 1)),
        id="dateadd-hour-on-date-is-timestamp",
    ),
    case(
        "SELECT TIMESTAMPADD(minute, 5, '2024-01-01 10:00'::timestamp), "
        "DATEADD(second, 30, '2024-01-01 10:00'::timestamp), "
        "DATEADD(millisecond, 30, '2024-01-01 10:00'::timestamp)",
        (TS(2024, 1, 1, 10, 5), TS(2024, 1, 1, 10, 0, 30), TS(2024, 1, 1, 10, 0, 0, 30000)),
    ),
    case(
        "SELECT DATEDIFF('hour', '2024-01-01 10:59'::timestamp, '2024-01-01 11:01'::timestamp)",
        (1,),
        id="datediff-counts-boundaries",
    ),
    case(
        "SELECT DATEDIFF(day, '2024-01-01 23:59'::timestamp, '2024-01-02 00:01'::timestamp), "
        "DATEDIFF(month, '2024-01-31'::date, '2024-02-01'::date), "
        "DATEDIFF(year, '2023-12-31'::date, '2024-01-01'::date)",
        (1, 1, 1),
    ),
    case(
        "SELECT DATEDIFF(week, '2024-01-06'::date, '2024-01-08'::date), "
        "DATEDIFF(minute, '2024-01-01 10:00:59'::timestamp, '2024-01-01 10:01:00'::timestamp), "
        "DATEDIFF(day, '2024-01-02'::date, '2024-01-01'::date)",
        (1, 1, -1),
    ),
    case(
        "SELECT TIMESTAMPDIFF(second, '2024-01-01 10:00:00.9'::timestamp, "
        "'2024-01-01 10:00:01.1'::timestamp)",
        (1,),
    ),
    case(
        "SELECT DATE_TRUNC('month', '2024-05-17 10:11'::timestamp), "
        "DATE_TRUNC(week, '2024-05-17'::date), DATE_TRUNC('quarter', '2024-05-17'::date)",
        (TS(2024, 5, 1), D(2024, 5, 13), D(2024, 4, 1)),
    ),
    case(
        "SELECT TIME_SLICE('2024-05-17 10:11:22'::timestamp, 15, 'MINUTE'), "
        "TIME_SLICE('2024-05-17 10:11:22'::timestamp, 15, 'MINUTE', 'END'), "
        "TIME_SLICE('2024-05-17 10:11:22'::timestamp, 1, 'DAY')",
        (TS(2024, 5, 17, 10), TS(2024, 5, 17, 10, 15), TS(2024, 5, 17)),
    ),
    case(
        "SELECT TO_TIMESTAMP('2024-05-17 10:11:12'), TO_TIMESTAMP_NTZ('2024-05-17 10:11:12'), "
        "TO_DATE('2024-05-17')",
        (TS(2024, 5, 17, 10, 11, 12), TS(2024, 5, 17, 10, 11, 12), D(2024, 5, 17)),
    ),
    case(
        "SELECT TO_TIMESTAMP('2024/05/17', 'YYYY/MM/DD'), TO_DATE('17.05.2024', 'DD.MM.YYYY'), "
        "TO_TIMESTAMP(1700000000)",
        (TS(2024, 5, 17), D(2024, 5, 17), TS(2023, 11, 14, 22, 13, 20)),
    ),
    case(
        "SELECT TRY_TO_TIMESTAMP('bad'), TRY_TO_TIMESTAMP('2024-05-17 10:11:12'), "
        "TRY_TO_DATE('nope')",
        (None, TS(2024, 5, 17, 10, 11, 12), None),
    ),
    case(
        "SELECT TO_TIMESTAMP_LTZ('2024-05-17 10:11:12')",
        (TS(2024, 5, 17, 10, 11, 12, tzinfo=dt.UTC),),
    ),
    case(  # an offset (or Z) after a space, as Snowflake writes and reads them
        "SELECT '2026-01-01 12:00:00 +02:00'::TIMESTAMP_TZ, '2026-01-01 12:00:00 -0800'::"
        "TIMESTAMP_LTZ, TO_TIMESTAMP_TZ('2026-01-01 12:00:00 Z'), "
        "TRY_CAST('2026-01-01 12:00:00.5 +01:00' AS TIMESTAMP_TZ)",
        (
            TS(2026, 1, 1, 10, tzinfo=dt.UTC),
            TS(2026, 1, 1, 20, tzinfo=dt.UTC),
            TS(2026, 1, 1, 12, tzinfo=dt.UTC),
            TS(2026, 1, 1, 11, 0, 0, 500000, tzinfo=dt.UTC),
        ),
    ),
    case(
        "SELECT TRY_TO_NUMBER('12.7'), TRY_TO_NUMBER('abc'), TRY_TO_DECIMAL('12.345', 10, 2), "
        "TRY_TO_DOUBLE('1.5e3'), TRY_TO_DOUBLE('x')",
        (13, None, Decimal("12.35"), 1500.0, None),
    ),
    case(
        "SELECT CURRENT_TIMESTAMP() IS NOT NULL, SYSDATE() <= CURRENT_TIMESTAMP()::TIMESTAMP_NTZ,"
        " CURRENT_DATE() IS NOT NULL",
        (True, True, True),
    ),
    case(
        "SELECT CONVERT_TIMEZONE('UTC', 'America/New_York', '2024-01-01 12:00:00'::timestamp_ntz)",
        (TS(2024, 1, 1, 7),),
    ),
    case(
        "SELECT CONVERT_TIMEZONE('America/New_York', '2024-01-01 12:00:00+00:00'::timestamp_tz)",
        (TS(2024, 1, 1, 7),),
        id="convert-timezone-2-arg-wall-clock",
    ),
    case(
        "SELECT SPLIT_PART('a,b,c', ',', 2), SPLIT_PART('a,b,c', ',', -1), "
        "SPLIT_PART('a,b,c', ',', 0), SPLIT_PART('a,b,c', ',', 5)",
        ("b", "c", "a", ""),
    ),
    case(
        "SELECT REGEXP_LIKE('abc', 'a.c'), REGEXP_LIKE('xabcx', 'abc'), 'abc' RLIKE 'ab', "
        "RLIKE('abc', 'a.*'), REGEXP_LIKE('ABC', 'abc', 'i')",
        (True, False, False, True, True),
    ),
    case(
        r"SELECT REGEXP_SUBSTR('hello 123 world 456', '\\d+'), "
        r"REGEXP_SUBSTR('hello 123 world 456', '\\d+', 1, 2), REGEXP_SUBSTR('abc', 'z'), "
        r"REGEXP_SUBSTR('key=val', '(\\w+)=(\\w+)', 1, 1, 'e', 2)",
        ("123", "456", None, "val"),
    ),
    case(
        "SELECT CONTAINS('abc', 'b'), STARTSWITH('abc', 'a'), ENDSWITH('abc', 'c'), "
        "CONTAINS(NULL, 'b')",
        (True, True, True, None),
    ),
    case(
        "SELECT LISTAGG(x, ',') WITHIN GROUP (ORDER BY x) FROM (VALUES ('b'), ('a'), ('c')) t(x)",
        ("a,b,c",),
    ),
    case(
        "SELECT LISTAGG(DISTINCT x, '|') WITHIN GROUP (ORDER BY x DESC) "
        "FROM (VALUES ('b'), ('a'), ('b')) t(x)",
        ("b|a",),
    ),
    case(
        "SELECT COUNT_IF(x > 1), BOOLOR_AGG(x > 2), BOOLAND_AGG(x > 0), "
        "APPROX_COUNT_DISTINCT(x), MEDIAN(x), ANY_VALUE(x) IS NOT NULL "
        "FROM (VALUES (2), (1), (3), (4)) t(x)",
        (3, True, True, 4, 2.5, True),
    ),
    case(
        "SELECT MIN_BY(a, b), MAX_BY(a, b) FROM (VALUES ('x', 2), ('y', 1), ('z', 3)) t(a, b)",
        ("y", "z"),
    ),
    case(
        "SELECT HASH(1) = HASH(1), HASH(1) <> HASH(2), MD5('abc')",
        (True, True, "900150983cd24fb0d6963f7d28e17f72"),
    ),
    case("SELECT SQUARE(3), SQUARE(1.5)", (9, 2.25)),
    case(
        "SELECT DAYNAME('2024-05-17'::date), MONTHNAME('2024-05-17'::date), "
        "DAYOFWEEK('2024-05-19'::date), DAYOFWEEK('2024-05-17'::date), "
        "DAYOFWEEKISO('2024-05-19'::date)",
        ("Fri", "May", 0, 5, 7),
    ),
    case(
        "SELECT HOUR('2024-05-17 10:11:12'::timestamp), MINUTE('2024-05-17 10:11:12'::timestamp)",
        (10, 11),
    ),
    case(
        "SELECT DATE_PART('year', '2024-05-17'::date), DATE_PART(dow, '2024-05-19'::date), "
        "EXTRACT(month FROM '2024-05-17'::date), DATE_PART(epoch_second, '2024-05-17'::timestamp)",
        (2024, 0, 5, 1715904000),
    ),
    case(
        "SELECT LAST_DAY('2024-02-10'::date), LAST_DAY('2024-02-10'::date, 'year')",
        (D(2024, 2, 29), D(2024, 12, 31)),
    ),
    case(
        "SELECT EQUAL_NULL(NULL, NULL), EQUAL_NULL(1, NULL), EQUAL_NULL(1, 1)", (True, False, True)
    ),
    case("SELECT UUID_STRING() IS NOT NULL, LENGTH(UUID_STRING())", (True, 36)),
]


@pytest.mark.parametrize(("sql", "expected"), FUNCTION_CASES)
def test_functions(
    con: duckdb.DuckDBPyConnection, sql: str, expected: list[tuple[Any, ...]]
) -> None:
    assert run(con, sql) == expected


# --- 4. window functions ---------------------------------------------------------------------

WINDOW_CASES = [
    case(
        "SELECT o, ABS(x - 10) + CONDITIONAL_CHANGE_EVENT(x) OVER (ORDER BY o) FROM seqs "
        "WHERE p = 'b' ORDER BY o",
        (1, 3),
        (2, 3),
        id="cce-beside-function",
    ),
    case(
        "SELECT o, CONDITIONAL_TRUE_EVENT(x > 1) OVER (PARTITION BY p ORDER BY o) FROM seqs "
        "WHERE p = 'a' ORDER BY o",
        (1, 0),
        (2, 0),
        (3, 0),
        (4, 1),
        (5, 2),
        (6, 2),
    ),
    case(
        "SELECT o, CONDITIONAL_CHANGE_EVENT(x) OVER (PARTITION BY p ORDER BY o) AS c FROM seqs "
        "ORDER BY p, o",
        (1, 0),
        (2, 0),
        (3, 0),
        (4, 1),
        (5, 1),
        (6, 2),
        (1, 0),
        (2, 1),
        id="cce-nulls-ignored",
    ),
    case(
        "SELECT p, MAX(c) FROM (SELECT p, CONDITIONAL_CHANGE_EVENT(x) OVER (PARTITION BY p "
        "ORDER BY o) AS c FROM seqs) GROUP BY p ORDER BY p",
        ("a", 2),
        ("b", 1),
        id="cce-in-subquery",
    ),
    case(
        "SELECT s.o, CONDITIONAL_CHANGE_EVENT(s.x) OVER (PARTITION BY s.p ORDER BY s.o DESC) "
        "+ 100 AS c FROM seqs AS s WHERE s.p = 'a' QUALIFY c > 100 ORDER BY s.o",
        (1, 102),
        (2, 102),
        (3, 101),
        (4, 101),
        (5, 101),
        id="cce-expr-qualify-order",
    ),
    case(
        "SELECT *, CONDITIONAL_CHANGE_EVENT(x) OVER (ORDER BY o) AS c FROM seqs WHERE p = 'b'",
        ("b", 1, 7, 0),
        ("b", 2, 8, 1),
        id="cce-with-star",
    ),
    case(
        "SELECT x, RATIO_TO_REPORT(x) OVER () FROM (VALUES (1), (3)) t(x) ORDER BY x",
        (1, 0.25),
        (3, 0.75),
    ),
    case(
        "SELECT p, x, RATIO_TO_REPORT(x) OVER (PARTITION BY p) FROM (VALUES ('a', 2), ('a', 2), "
        "('b', 0)) t(p, x) ORDER BY p",
        ("a", 2, 0.5),
        ("a", 2, 0.5),
        ("b", 0, None),
    ),
    case(
        "SELECT x FROM (VALUES (1), (2), (3)) t(x) QUALIFY ROW_NUMBER() OVER (ORDER BY x DESC) = 1",
        (3,),
        id="qualify",
    ),
    case(
        "SELECT ARRAY_AGG(x) OVER (ORDER BY x ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) "
        "FROM (VALUES (1), (2)) t(x) ORDER BY x",
        ("[1]",),
        ("[1,2]",),
    ),
]


@pytest.mark.parametrize(("sql", "expected"), WINDOW_CASES)
def test_windows(con: duckdb.DuckDBPyConnection, sql: str, expected: list[tuple[Any, ...]]) -> None:
    assert run(con, sql) == expected


# --- 5. FLATTEN --------------------------------------------------------------------------------

FLATTEN_CASES = [
    case(
        "SELECT a.id, f.value::int, f.index FROM arrs a, LATERAL FLATTEN(input => a.arr) f "
        "WHERE a.id = 1 ORDER BY f.index",
        (1, 10, 0),
        (1, 20, 1),
        (1, 30, 2),
    ),
    case(
        "SELECT a.id, f.key, f.value::string, f.index, f.path FROM arrs a, "
        "LATERAL FLATTEN(input => a.arr) f WHERE a.id = 4 ORDER BY f.key",
        (4, "a", "1", None, "a"),
        (4, "b", "x", None, "b"),
        id="flatten-object",
    ),
    case(
        "SELECT COUNT(*) FROM arrs a, LATERAL FLATTEN(input => a.arr) f",
        (5,),
        id="flatten-skips-empty-null-scalar",
    ),
    case(
        "SELECT a.id, f.value, f.index FROM arrs a, LATERAL FLATTEN(input => a.arr, "
        "outer => TRUE) f WHERE a.id IN (2, 3, 5) ORDER BY a.id",
        (2, None, None),
        (3, None, None),
        (5, None, None),
        id="flatten-outer",
    ),
    case(
        "SELECT e.id, t.value::string FROM ev e, LATERAL FLATTEN(input => e.v:tags) t "
        "ORDER BY 1, 2",
        (1, "a"),
        (1, "b"),
    ),
    case(
        "SELECT e.id, t.value::string FROM ev e JOIN LATERAL FLATTEN(input => e.v:tags) t "
        "ON TRUE ORDER BY 1, 2",
        (1, "a"),
        (1, "b"),
        id="join-lateral",
    ),
    case(
        "SELECT e.id, t.value::string FROM ev e, TABLE(FLATTEN(input => e.v:tags)) t ORDER BY 1, 2",
        (1, "a"),
        (1, "b"),
        id="table-flatten",
    ),
    case(
        "SELECT e.id, t.value::string FROM ev e LEFT JOIN LATERAL FLATTEN(input => e.v:tags, "
        "outer => TRUE) t ON TRUE ORDER BY 1, 2",
        (1, "a"),
        (1, "b"),
        (2, None),
        (3, None),
    ),
    case(
        "SELECT f.value:x::int, f.this::string FROM TABLE(FLATTEN(input => "
        'PARSE_JSON(\'[{"x":1},{"x":2}]\'))) f ORDER BY 1',
        (1, '[{"x":1},{"x":2}]'),
        (2, '[{"x":1},{"x":2}]'),
        id="value-path-and-this",
    ),
    case(
        'SELECT f.value::int, f.path FROM TABLE(FLATTEN(input => PARSE_JSON(\'{"a":{"b":[5]}}\'),'
        " path => 'a.b')) f",
        (5, "a.b[0]"),
        id="flatten-path",
    ),
    case(
        "SELECT value::string FROM TABLE(FLATTEN(SPLIT('x;y', ';'))) ORDER BY 1",
        ("x",),
        ("y",),
        id="flatten-positional-split",
    ),
    case(
        "SELECT e.id, COUNT(f.value) FROM ev e, LATERAL FLATTEN(input => e.v:tags, outer => TRUE)"
        " f GROUP BY e.id ORDER BY e.id",
        (1, 2),
        (2, 0),
        (3, 0),
    ),
    case(
        "SELECT e.id, u.value::string FROM ev e, LATERAL FLATTEN(input => e.v:user) u "
        "WHERE u.key = 'Name' ORDER BY 1",
        (1, "Ann"),
        (2, "Bob"),
    ),
]


@pytest.mark.parametrize(("sql", "expected"), FLATTEN_CASES)
def test_flatten(con: duckdb.DuckDBPyConnection, sql: str, expected: list[tuple[Any, ...]]) -> None:
    assert run(con, sql) == expected


# --- 6. pass-through ---------------------------------------------------------------------------

PASS_CASES = [
    case(
        "SELECT 'ABC' ILIKE 'a%', 'abc' LIKE ANY ('x%', 'a%'), 'abc' ILIKE ANY ('A%')",
        (True, True, True),
    ),
    case("SELECT '1'::int + 1, 1::string || 'x'", (2, "1x")),
    case("SELECT id FROM strs WHERE s IS NOT NULL", (1,)),
    case("WITH c AS (SELECT 1 AS a) SELECT a + 1 FROM c", (2,)),
    case(  # arguments round to a number first (0.3 is false); NULL is SQL's unknown
        "SELECT BOOLAND(TRUE, FALSE), BOOLAND(1, -2), BOOLAND(0.3, 1), BOOLAND(NULL, 0), "
        "BOOLAND(NULL, 1), BOOLOR(0, NULL), BOOLOR(0.6, 0), BOOLXOR(2, 0), BOOLXOR(1, 1), "
        "BOOLXOR(NULL, 1), BOOLNOT(0), BOOLNOT(TRUE), BOOLNOT(NULL)",
        (False, True, False, False, None, None, True, True, False, None, True, False, None),
        id="BOOLAND/BOOLOR/BOOLXOR/BOOLNOT",
    ),
    case(
        "SELECT BOOLAND(x, o) FROM seqs WHERE p = 'a' ORDER BY o",
        (True,),
        (True,),
        (None,),
        (True,),
        (True,),
        (True,),
    ),
]


@pytest.mark.parametrize(("sql", "expected"), PASS_CASES)
def test_pass_through(
    con: duckdb.DuckDBPyConnection, sql: str, expected: list[tuple[Any, ...]]
) -> None:
    assert run(con, sql) == expected


# --- 7. unsupported ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sql", "name"),
    [
        ("SELECT SEQ4()", "SEQ4"),
        ("SELECT SEQ8()", "SEQ8"),
        ("SELECT SEQ1()", "SEQ1"),
        ("SELECT SEQ2()", "SEQ2"),
        ("SELECT CURRENT_ACCOUNT()", "CURRENT_ACCOUNT"),
        ("SELECT CURRENT_REGION()", "CURRENT_REGION"),
        ("SELECT CURRENT_WAREHOUSE()", "CURRENT_WAREHOUSE"),
        ("SELECT SYSTEM$WAIT(1)", "SYSTEM$WAIT"),
        ("SELECT OBJECT_CONSTRUCT(*) FROM ev", None),
        ("SELECT f.seq FROM arrs a, LATERAL FLATTEN(input => a.arr) f", "FLATTEN.SEQ"),
        (
            "SELECT f.value FROM TABLE(FLATTEN(input => PARSE_JSON('[]'), recursive => TRUE)) f",
            "FLATTEN",
        ),
        (
            "SELECT o FROM seqs QUALIFY CONDITIONAL_CHANGE_EVENT(x) OVER (ORDER BY o) > 0",
            "CONDITIONAL_CHANGE_EVENT",
        ),
    ],
)
def test_unsupported_functions_are_named(sql: str, name: str | None) -> None:
    with pytest.raises(UnsupportedFunctionError) as info:
        translate(sql)
    expected = name or "OBJECT_CONSTRUCT(*)"
    assert info.value.name == expected
    assert str(info.value).startswith(
        f"Function `{expected}` is not supported by snowmelt's DuckDB engine (Snowflake dialect); "
    )


# --- 8. contract -------------------------------------------------------------------------------


def test_input_is_not_mutated() -> None:
    sql = (
        "SELECT v:a::string, ARRAY_CONSTRUCT(1), CONDITIONAL_CHANGE_EVENT(x) OVER (ORDER BY o) "
        "FROM t, LATERAL FLATTEN(input => t.arr) f"
    )
    parsed = sqlglot.parse_one(sql, read="snowflake")
    before = parsed.sql(dialect="snowflake")
    to_duckdb(parsed)
    assert parsed.sql(dialect="snowflake") == before


def test_identifiers_and_table_names_untouched() -> None:
    sql = 'SELECT "MyCol", t."Other" FROM "DB"."SCH"."Tbl" AS t'
    out = translate(sql)
    assert '"MyCol"' in out and 't."Other"' in out and '"DB"."SCH"."Tbl"' in out


def test_caller_annotated_types_are_honoured(con: duckdb.DuckDBPyConnection) -> None:
    """A caller that knows the schema may annotate first: DATEADD on a DATE column is a DATE."""
    from sqlglot.optimizer.annotate_types import annotate_types

    con.execute("CREATE TEMP TABLE dates AS SELECT DATE '2024-01-31' AS d")
    parsed = sqlglot.parse_one("SELECT DATEADD(month, 1, dates.d) FROM dates", read="snowflake")
    annotated = annotate_types(parsed, schema={"dates": {"d": "DATE"}}, dialect="snowflake")
    sql = to_duckdb(annotated).sql(dialect="duckdb")
    assert con.execute(sql).fetchall() == [(D(2024, 2, 29),)]


def test_division_by_zero_fails_as_on_snowflake(con):
    for sql in ("SELECT 1 / 0", "SELECT 0 / 0", "SELECT 1.5 / 0.0"):
        with pytest.raises(duckdb.Error, match="Division by zero"):
            run(con, sql)
    assert run(con, "SELECT x / y FROM (VALUES (1, 2)) t(x, y)") == [(0.5,)]
    # DIV0, NULLIF and a guarding CASE keep their meaning
    assert run(con, "SELECT DIV0(1, 0), 1 / NULLIF(0, 0)") == [(0, None)]
    guarded = "SELECT CASE WHEN y = 0 THEN 0 ELSE x / y END FROM (VALUES (1, 0), (4, 2)) t(x, y)"
    assert run(con, guarded) == [(0,), (2,)]
