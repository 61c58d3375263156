"""Writes to base tables are change-tracked: versions, delete log, snapshots and changes."""

from __future__ import annotations

import pyarrow as pa
import pytest

from snowmelt.errors import IngestError, SnowmeltError, SqlError, UnsupportedError
from snowmelt.names import ObjectName


def _oid(session, name="T"):
    return session.rt.catalog.find(ObjectName("D", "S", name)).oid


def _change(session, name, after, upto):
    obj = session.rt.catalog.find(ObjectName("D", "S", name))
    q = session.rt.store.change(obj.oid, obj.column_names, after, upto)
    rows = session.rt.engine.rows(q.sql("duckdb"))
    return sorted((r[:-2] + (r[-1],) for r in rows), key=repr)


def _snapshot(session, name, version):
    obj = session.rt.catalog.find(ObjectName("D", "S", name))
    q = session.rt.store.snapshot(obj.oid, obj.column_names, version)
    return sorted(session.rt.engine.rows(q.sql("duckdb")), key=repr)


def test_each_write_is_one_version_and_changes_net_out(session):
    session.sql("CREATE TABLE T (K INT, V STRING)")
    v0 = session.rt.store.version
    session.sql("INSERT INTO T VALUES (1, 'a'), (2, 'b'), (2, 'b')")
    v1 = session.rt.store.version
    assert v1 == v0 + 1
    assert session.sql("UPDATE T SET V = 'c' WHERE K = 1").rows() == [(1,)]
    v2 = session.rt.store.version
    assert session.sql("DELETE FROM T WHERE K = 2").rows() == [(2,)]
    v3 = session.rt.store.version
    # the update is -old +new; the duplicate rows are deleted as two rows
    assert _change(session, "T", v1, v2) == [(1, "a", -1), (1, "c", 1)]
    assert _change(session, "T", v2, v3) == [(2, "b", -1), (2, "b", -1)]
    # inserted and deleted inside one window cancel
    assert _change(session, "T", v0, v3) == [(1, "c", 1)]
    # the change's size is counted without reading it (STATISTICS numRowsRead)
    for a, b in [(v0, v1), (v1, v2), (v2, v3), (v0, v3), (v1, v3), (v0, v2), (v3, v3)]:
        counted = session.rt.store.count_change(_oid(session), a, b)
        assert counted == len(_change(session, "T", a, b)), (a, b)
    assert _snapshot(session, "T", v1) == [(1, "a"), (2, "b"), (2, "b")]
    assert _snapshot(session, "T", v2) == [(1, "c"), (2, "b"), (2, "b")]
    assert _snapshot(session, "T", v3) == [(1, "c")]
    assert _snapshot(session, "T", v0) == []


@pytest.mark.parametrize("seed", range(4))
def test_change_sizes_known_from_appends_match_the_change(session, seed):
    """A table only appended to over (a, b] has a net change of exactly the rows appended,
    all of weight +1: the store knows that without reading the table. Any removal or
    in-place rewrite (UPDATE, DELETE, MERGE, TRUNCATE) in the interval makes it unknown, and
    the size is counted from the table."""
    import random

    rng = random.Random(seed)
    session.sql("CREATE TABLE T (K INT, V INT)")
    writes = [
        "INSERT INTO T VALUES ({k}, {v}), ({k}, {v})",
        "INSERT INTO T SELECT {k}, {v}",
        "UPDATE T SET V = {v} WHERE K = {k}",
        "DELETE FROM T WHERE K = {k}",
        "MERGE INTO T USING (SELECT {k} AS K, {v} AS V) S ON T.K = S.K "
        "WHEN NOT MATCHED THEN INSERT (K, V) VALUES (S.K, S.V)",
        "TRUNCATE TABLE T",
    ]
    versions = [session.rt.store.version]
    for _ in range(12):
        statement = rng.choices(writes, weights=[5, 5, 2, 2, 2, 1])[0]
        session.sql(statement.format(k=rng.randint(1, 4), v=rng.randint(1, 9)))
        versions.append(session.rt.store.version)
    store, oid = session.rt.store, _oid(session)
    known = 0
    for i, a in enumerate(versions):
        for b in versions[i:]:
            change = _change(session, "T", a, b)
            assert store.count_change(oid, a, b) == len(change), (a, b)
            appended = store.appends.appended(oid, a, b)
            if appended is not None:
                known += 1
                assert appended == len(change) and all(r[-1] == 1 for r in change), (a, b)
    assert known > len(versions)  # the fast path was taken, not only the count


def test_update_from_and_delete_using(session):
    session.sql("CREATE TABLE T (K INT, V INT); CREATE TABLE SRC (K INT, V INT)")
    session.sql(
        "INSERT INTO T VALUES (1, 0), (2, 0), (3, 0); INSERT INTO SRC VALUES (2, 20), (3, 30)"
    )
    assert session.sql("UPDATE T SET V = SRC.V FROM SRC WHERE T.K = SRC.K").scalar() == 2
    assert sorted(session.sql("SELECT * FROM T").rows()) == [(1, 0), (2, 20), (3, 30)]
    session.sql("DELETE FROM T USING SRC WHERE T.K = SRC.K AND SRC.V > 25")
    assert sorted(session.sql("SELECT * FROM T").rows()) == [(1, 0), (2, 20)]
    v = session.rt.store.version
    assert _change(session, "T", v - 1, v) == [(3, 30, -1)]


def test_merge_counts_and_tracks(session):
    session.sql("CREATE TABLE T (K INT, V INT); INSERT INTO T VALUES (1, 1), (2, 2), (3, 3)")
    before = session.rt.store.version
    result = session.sql("""MERGE INTO T USING (SELECT 1 AS K, 10 AS V UNION ALL SELECT 2, -1
                             UNION ALL SELECT 4, 40) S ON T.K = S.K
        WHEN MATCHED AND S.V < 0 THEN DELETE
        WHEN MATCHED THEN UPDATE SET V = S.V
        WHEN NOT MATCHED THEN INSERT (K, V) VALUES (S.K, S.V)""")
    assert result.dicts() == [
        {"number of rows inserted": 1, "number of rows updated": 1, "number of rows deleted": 1}
    ]
    assert sorted(session.sql("SELECT * FROM T").rows()) == [(1, 10), (3, 3), (4, 40)]
    assert _change(session, "T", before, session.rt.store.version) == [
        (1, 1, -1),
        (1, 10, 1),
        (2, 2, -1),
        (4, 40, 1),
    ]


def test_truncate_and_insert_overwrite(session):
    session.sql("CREATE TABLE T (K INT); INSERT INTO T VALUES (1), (2)")
    v = session.rt.store.version
    session.sql("INSERT OVERWRITE INTO T VALUES (3)")
    assert session.sql("SELECT K FROM T").rows() == [(3,)]
    assert _change(session, "T", v, session.rt.store.version) == [(1, -1), (2, -1), (3, 1)]
    session.sql("TRUNCATE TABLE T")
    assert session.sql("SELECT COUNT(*) FROM T").scalar() == 0
    session.sql("TRUNCATE TABLE IF EXISTS NOT_THERE")


def test_insert_overwrite_reads_its_own_table_before_emptying_it(session):
    session.sql("CREATE TABLE T (K INT, N STRING); INSERT INTO T VALUES (1, 'a'), (2, 'b')")
    v = session.rt.store.version
    assert session.sql("INSERT OVERWRITE INTO T SELECT K * 10, N FROM T WHERE K > 1").rows() == [
        (1,)
    ]
    assert session.sql("SELECT K, N FROM T").rows() == [(20, "b")]
    assert sorted(_change(session, "T", v, session.rt.store.version)) == [
        (1, "a", -1),
        (2, "b", -1),
        (20, "b", 1),
    ]
    with pytest.raises(SqlError, match="Could not convert"):  # a failing query loses nothing
        session.sql("INSERT OVERWRITE INTO T SELECT CAST(N AS INT), N FROM T")
    assert session.sql("SELECT K, N FROM T").rows() == [(20, "b")]


def test_insert_column_list_and_arity_errors(session):
    session.sql("CREATE TABLE T (A INT, B STRING, C INT DEFAULT 7)")
    session.sql("INSERT INTO T (B, A) VALUES ('x', 1)")
    assert session.sql("SELECT * FROM T").rows() == [(1, "x", 7)]
    with pytest.raises(SqlError, match="gives 2 values for 3 columns.*line 1"):
        session.sql("INSERT INTO T VALUES (1, 'y')")
    with pytest.raises(SqlError, match="Column 'NOPE' does not exist"):
        session.sql("INSERT INTO T (NOPE) VALUES (1)")


def test_dynamic_tables_refuse_dml(session):
    session.sql("CREATE TABLE T (A INT)")
    session.sql("CREATE DYNAMIC TABLE DT TARGET_LAG = '1 minute' WAREHOUSE = WH AS SELECT A FROM T")
    for statement in (
        "INSERT INTO DT VALUES (1)",
        "DELETE FROM DT",
        "UPDATE DT SET A = 1",
        "TRUNCATE TABLE DT",
    ):
        with pytest.raises(SqlError, match="only by refresh"):
            session.sql(statement)


def test_time_travel_at_timestamp_offset_and_before(session, clock):
    session.sql("CREATE TABLE T (A INT)")
    clock.advance(10)
    session.sql("INSERT INTO T VALUES (1)")
    first = clock.now()
    clock.advance(10)
    session.sql("INSERT INTO T VALUES (2)")
    clock.advance(10)
    session.sql("DELETE FROM T WHERE A = 1")
    clock.advance(5)
    assert session.sql("SELECT A FROM T").rows() == [(2,)]
    assert sorted(session.sql("SELECT A FROM T AT(OFFSET => -10)").rows()) == [(1,), (2,)]
    assert session.sql(
        f"SELECT A FROM T AT(TIMESTAMP => '{first.isoformat()}'::TIMESTAMP_LTZ)"
    ).rows() == [(1,)]
    assert (
        session.sql(
            f"SELECT A FROM T BEFORE(TIMESTAMP => '{first.isoformat()}'::TIMESTAMP_LTZ)"
        ).rows()
        == []
    )
    with pytest.raises(SqlError, match="not available"):
        session.sql("SELECT A FROM T AT(OFFSET => -100000)")


def test_statements_that_read_tables_honour_time_travel_like_a_query(session, clock):
    session.sql("CREATE TABLE T (A INT)")
    clock.advance(10)
    session.sql("INSERT INTO T VALUES (1)")
    clock.advance(10)
    session.sql("INSERT INTO T VALUES (2)")
    clock.advance(5)  # AT(OFFSET => -10) sees only A = 1
    session.sql("CREATE TABLE C AS SELECT A FROM T AT(OFFSET => -10)")
    assert session.sql("SELECT A FROM C").rows() == [(1,)]
    assert session.sql("INSERT INTO C SELECT A + 10 FROM T AT(OFFSET => -10)").rows() == [(1,)]
    session.sql(
        "UPDATE C SET A = A + 100 FROM (SELECT A AS K FROM T AT(OFFSET => -10)) X WHERE C.A = X.K"
    )
    assert sorted(session.sql("SELECT A FROM C").rows()) == [(11,), (101,)]
    session.sql(
        "MERGE INTO C USING (SELECT A FROM T BEFORE(OFFSET => -10)) S ON C.A = S.A "
        "WHEN NOT MATCHED THEN INSERT VALUES (S.A)"
    )
    assert sorted(session.sql("SELECT A FROM C").rows()) == [(1,), (11,), (101,)]
    session.sql("DELETE FROM C USING (SELECT A FROM T AT(OFFSET => -10)) X WHERE C.A = X.A")
    assert sorted(session.sql("SELECT A FROM C").rows()) == [(11,), (101,)]
    # a view keeps its clause and reads the instant when it is queried
    session.sql("CREATE VIEW V AS SELECT A FROM T AT(OFFSET => -10)")
    clock.advance(10)
    assert sorted(session.sql("SELECT A FROM V").rows()) == [(1,), (2,)]


def test_a_dynamic_table_cannot_time_travel(session):
    session.sql("CREATE TABLE T (A INT); INSERT INTO T VALUES (1)")
    session.sql("CREATE VIEW V AS SELECT A FROM T AT(OFFSET => -1)")
    lag = "TARGET_LAG = '1 minute' WAREHOUSE = WH"
    with pytest.raises(UnsupportedError, match=r"cannot use AT\(\.\.\.\) \(time travel\)") as info:
        session.sql(f"CREATE DYNAMIC TABLE X {lag} AS\nSELECT A FROM   T AT(OFFSET => -1)")
    assert (info.value.line, info.value.column) == (2, 17)
    with pytest.raises(UnsupportedError, match="time travel"):  # through a view too
        session.sql(f"CREATE DYNAMIC TABLE X {lag} AS SELECT A FROM V")
    assert session.sql("SHOW DYNAMIC TABLES").arrow().num_rows == 0


@pytest.mark.parametrize("kind", ["arrow", "pandas", "polars", "dicts"])
def test_insert_api_accepts_arrow_pandas_polars_and_dicts(session, kind):
    session.sql("CREATE TABLE T (ID INT, NAME STRING, PAYLOAD VARIANT, TS TIMESTAMP_NTZ)")
    rows = [
        {"ID": 1, "NAME": "a", "PAYLOAD": '{"x": 1}', "TS": "2024-01-01 00:00:00"},
        {"ID": 2, "NAME": None, "PAYLOAD": None, "TS": None},
    ]
    data = {
        "arrow": lambda: pa.Table.from_pylist(rows),
        "pandas": lambda: pa.Table.from_pylist(rows).to_pandas(),
        "polars": lambda: __import__("polars").from_dicts(rows),
        "dicts": lambda: rows,
    }[kind]()
    v = session.rt.store.version
    assert session.insert("T", data) == 2
    assert session.rt.store.version == v + 1
    assert session.sql("SELECT ID, NAME, PAYLOAD:x::INT FROM T ORDER BY ID").rows() == [
        (1, "a", 1),
        (2, None, None),
    ]


def test_insert_api_rejects_a_bad_batch_whole(session):
    session.sql("CREATE TABLE T (ID INT NOT NULL, AMOUNT FLOAT)")
    with pytest.raises(IngestError, match=r"row 3, column 'AMOUNT'.*'lots'") as info:
        session.insert(
            "T",
            [{"ID": 1, "AMOUNT": "1.5"}, {"ID": 2, "AMOUNT": None}, {"ID": 3, "AMOUNT": "lots"}],
        )
    assert (info.value.row, info.value.column) == (3, "AMOUNT")
    with pytest.raises(IngestError, match="column 'EXTRA'"):
        session.insert("T", [{"ID": 1, "EXTRA": 2}])
    with pytest.raises(IngestError, match="NOT NULL"):
        session.insert("T", [{"ID": None, "AMOUNT": 1.0}])
    assert session.sql("SELECT COUNT(*) FROM T").scalar() == 0


@pytest.mark.parametrize(
    "rows, row, column, reason",
    [
        ([{"ID": 1}, {"ID": 2**70}], 2, "ID", "cannot be read: .*too large"),
        ([{"ID": 1, "NAME": "a"}, {"ID": 2, "NAME": 5}], 2, "NAME", "5 does not go with the str"),
        ([{"ID": 1, "NAME": 1}, {"ID": 2, "NAME": 2.5}, {"ID": 3, "NAME": "x"}], 3, "NAME", "int"),
    ],
)
def test_a_list_arrow_cannot_read_is_rejected_naming_the_row_and_column(
    session, rows, row, column, reason
):
    session.sql("CREATE TABLE T (ID INT, NAME STRING)")
    v = session.rt.store.version
    with pytest.raises(IngestError, match=f"Batch for .*T rejected: row {row}, column '{column}'"):
        session.insert("T", rows)
    with pytest.raises(IngestError, match=reason) as info:
        session.insert("T", rows)
    assert (info.value.row, info.value.column, info.value.table) == (row, column, "D.S.T")
    assert "nothing was written" in str(info.value)
    assert session.rt.store.version == v and session.sql("SELECT COUNT(*) FROM T").scalar() == 0
    with pytest.raises(IngestError, match="list of non-dicts"):
        session.insert("T", [{"ID": 1}, 2])


def test_an_empty_batch_writes_and_commits_nothing(session):
    session.sql("CREATE TABLE T (ID INT NOT NULL)")
    v = session.rt.store.version
    assert session.insert("T", []) == 0
    assert session.insert("T", pa.table({"ID": pa.array([], pa.int64())})) == 0
    assert session.rt.store.version == v and session.sql("SELECT COUNT(*) FROM T").scalar() == 0


def test_duckdb_dialect_goes_through_change_tracking(session):
    session.sql("CREATE TABLE T (K INT, V STRING)")
    v = session.rt.store.version
    session.sql(
        "INSERT INTO T VALUES (1, 'a'), (2, 'b'); DELETE FROM T WHERE k = 2", dialect="duckdb"
    )
    assert session.sql("SELECT k, list_value(v) AS l FROM t", dialect="duckdb").rows() == [
        (1, ["a"])
    ]
    assert _change(session, "T", v, session.rt.store.version) == [(1, "a", 1)]


def test_array_functions_and_typeof_read_variant_array_and_object_columns(session):
    session.sql("CREATE TABLE T (V VARIANT, A ARRAY, O OBJECT, N INT)")
    session.sql(
        "INSERT INTO T SELECT PARSE_JSON('{\"a\": [1, 2, 3]}'), ARRAY_CONSTRUCT(1, 2), "
        "OBJECT_CONSTRUCT('k', 1), 2"
    )
    row = session.sql(
        "SELECT TYPEOF(V), TYPEOF(V:a), TYPEOF(A), TYPEOF(O), TYPEOF(N), "
        "ARRAY_CONTAINS(N::VARIANT, A), ARRAY_CONTAINS(N::VARIANT, V:a), "
        "ARRAY_CONTAINS(9::VARIANT, A), ARRAY_SLICE(V:a, 1, 3), ARRAY_SLICE(A, -1, 2) FROM T"
    ).rows()
    assert row == [
        ("OBJECT", "ARRAY", "ARRAY", "OBJECT", "INTEGER", True, True, False, "[2,3]", "[2]")
    ]


def test_to_char_formats_dates_and_times_with_snowflake_elements(session):
    session.sql("CREATE TABLE T (TS TIMESTAMP_NTZ, D DATE, N NUMBER(10, 2))")
    session.sql("INSERT INTO T VALUES ('2026-01-31 10:05:09.123', '2026-02-03', 1234.5)")
    row = session.sql(
        "SELECT TO_CHAR(TS, 'DD/MM/YYYY HH24:MI'), TO_VARCHAR(D, 'MON DD, YYYY'), "
        "TO_CHAR(TS, 'DY HH12:MI AM'), TO_CHAR(TS), TO_CHAR(N) FROM T"
    ).rows()
    assert row == [
        ("31/01/2026 10:05", "Feb 03, 2026", "Sat 10:05 AM", "2026-01-31 10:05:09.123", "1234.50")
    ]
    from snowmelt.sql.translate import UnsupportedFunctionError

    with pytest.raises(UnsupportedFunctionError, match=r"TO_CHAR.*number formats \('999,999.00'\)"):
        session.sql("SELECT TO_CHAR(N, '999,999.00') FROM T")


def test_subqueries_in_where_and_set_read_tables_and_log_exactly_the_rows_changed(session):
    session.sql("CREATE TABLE T (ID INT, V INT); INSERT INTO T VALUES (1, 10), (2, 20), (3, 30)")
    session.sql("CREATE TABLE LIMITS (M INT); INSERT INTO LIMITS VALUES (100)")
    v = session.rt.store.version
    session.sql(
        "UPDATE T SET V = (SELECT MAX(M) FROM LIMITS) WHERE ID IN (SELECT ID FROM T WHERE V > 15)"
    )
    session.sql("DELETE FROM T WHERE ID = (SELECT MAX(ID) FROM T)")
    assert session.sql("SELECT ID, V FROM T ORDER BY ID").rows() == [(1, 10), (2, 100)]
    assert sorted(_change(session, "T", v, session.rt.store.version)) == [
        (2, 20, -1),
        (2, 100, 1),
        (3, 30, -1),
    ]


def test_a_merge_whose_source_meets_a_row_twice_is_refused_and_changes_nothing(session):
    session.sql("CREATE TABLE T (ID INT, V INT); INSERT INTO T VALUES (1, 10)")
    two = "(SELECT 1 AS ID, 5 AS V UNION ALL SELECT 1, 6)"
    with pytest.raises(SqlError, match="Duplicate row detected during DML action.*1 of its rows"):
        session.sql(
            f"MERGE INTO T USING {two} S ON T.ID = S.ID WHEN MATCHED THEN UPDATE SET V = S.V"
        )
    assert session.sql("SELECT ID, V FROM T").rows() == [(1, 10)]
    # inserting unmatched rows is deterministic: duplicates in the source are fine
    session.sql(
        "MERGE INTO T USING (SELECT 2 AS ID, 1 AS V UNION ALL SELECT 2, 2) S ON T.ID = S.ID "
        "WHEN NOT MATCHED THEN INSERT (ID, V) VALUES (S.ID, S.V)"
    )
    assert session.sql("SELECT COUNT(*) FROM T WHERE ID = 2").scalar() == 2


def test_bind_parameters_are_values_never_sql(session):
    import datetime

    session.sql("USE SCHEMA D.S; CREATE TABLE T (ID INT, NAME VARCHAR, D DATE, J VARIANT)")
    hostile = "o'brien'); DROP TABLE T; --"
    session.sql(
        "INSERT INTO T SELECT ?, ?, ?, PARSE_JSON(?)",
        params=[1, hostile, datetime.date(2024, 1, 2), '{"a": 1}'],
    )
    session.sql("INSERT INTO T (ID, NAME) VALUES (:1, :2), (:1, :3)", params=[2, "x", "y"])
    assert session.sql("SELECT NAME, D, J:a::INT FROM T WHERE ID = ?", params=[1]).rows() == [
        (hostile, datetime.date(2024, 1, 2), 1)
    ]
    assert session.sql(
        "SELECT NAME FROM T WHERE ID = :id ORDER BY NAME", params={"id": 2}
    ).rows() == [("x",), ("y",)]
    session.sql("UPDATE T SET NAME = ? WHERE ID = ?", params=[None, 2])
    assert session.sql("SELECT COUNT(*) FROM T WHERE NAME IS NULL").scalar() == 2
    assert session.sql("SELECT ?; SELECT ? + 1", params=[1, 41]).scalar() == 42  # in order
    for sql, params, message in (
        ("SELECT ?", [], r"No parameter for placeholder \? number 1 \(0 given\)"),
        ("SELECT ?", [1, 2], r"not used by any placeholder: \[2\]"),
        ("SELECT :x", {"y": 1}, "No parameter for placeholder :x"),
        ("SELECT ?", {"a": 1}, r"Placeholder \? needs a sequence"),
        ("SELECT ?", "ab", "not a string"),
        ("CREATE VIEW V AS SELECT ?", [1], "Bind parameters are for queries and INSERT"),
    ):
        with pytest.raises(SqlError, match=message):
            session.sql(sql, params=params)
    assert session.sql("SELECT COUNT(*) FROM T").scalar() == 3  # nothing ran, nothing lost


def test_explain_shows_the_plan_of_a_query_with_the_users_names(session):
    import json

    session.sql("USE SCHEMA D.S; CREATE TABLE T (A INT, B VARCHAR); INSERT INTO T VALUES (1, 'x')")
    tabular = session.sql("EXPLAIN SELECT B, COUNT(*) FROM T GROUP BY B")
    assert tabular.columns == [
        "step",
        "id",
        "parent",
        "operation",
        "objects",
        "alias",
        "expressions",
        "partitionsTotal",
        "partitionsAssigned",
        "bytesAssigned",
    ]
    rows = tabular.dicts()
    assert rows[0]["parent"] is None and all(r["parent"] < r["id"] for r in rows[1:])
    scans = [r for r in rows if r["objects"]]
    assert [r["objects"] for r in scans] == ["D.S.T"]  # not the physical table
    assert "aggregates: count_star()" in " ".join(r["expressions"] or "" for r in rows)
    text = session.sql("EXPLAIN USING TEXT SELECT * FROM T").scalar()
    assert "D.S.T" in text and "_snowmelt_data" not in text
    plan = json.loads(session.sql("EXPLAIN USING JSON SELECT A FROM T WHERE A > 0").scalar())
    assert plan and "name" in plan[0]
    for sql, message in (
        ("EXPLAIN USING XML SELECT 1", r"TABULAR, TEXT or JSON, not 'XML' \(line 1, column 15\)"),
        ("EXPLAIN", "EXPLAIN needs a query"),
        ("EXPLAIN INSERT INTO T VALUES (1, 'y')", r"EXPLAIN INSERT is not supported"),
        ("SELECT 1;\n EXPLAIN SELECT * FROM NOPE", r"'D.S.NOPE' does not exist \(line 2"),
    ):
        with pytest.raises(SnowmeltError, match=message):
            session.sql(sql)
    assert session.sql("SELECT COUNT(*) FROM T").scalar() == 1  # EXPLAIN ran nothing


def test_multi_table_insert_all_first_else_and_overwrite(session):
    session.sql(
        "USE SCHEMA D.S; CREATE TABLE SRC (A INT, B VARCHAR);"
        "INSERT INTO SRC VALUES (1, 'x'), (2, 'y'), (3, NULL), (NULL, 'n');"
        "CREATE TABLE T1 (A INT, B VARCHAR); CREATE TABLE T2 (A INT, B VARCHAR);"
        "CREATE TABLE T3 (A INT, B VARCHAR); CREATE TABLE T4 (X INT)"
    )

    def rows(table):
        return sorted(session.sql(f"SELECT * FROM {table}").rows(), key=str)

    # unconditional: every INTO takes every row
    assert session.sql("INSERT ALL INTO T1 INTO T4 (X) VALUES (A) SELECT A, B FROM SRC").rows() == [
        (4, 4)
    ]
    # FIRST: a row goes to the first WHEN that holds (both INTOs of it), ELSE takes the rest
    result = session.sql(
        "INSERT FIRST WHEN A > 1 THEN INTO T2 INTO T3 WHEN A > 0 THEN INTO T3 "
        "ELSE INTO T2 VALUES (-1, B) SELECT A, B FROM SRC"
    )
    assert result.columns == [
        "number of rows inserted into T2",
        "number of rows inserted into T3",
        "number of rows inserted into T3'",
        "number of rows inserted into T2'",
    ]
    assert result.rows() == [(2, 2, 1, 1)]
    assert rows("T2") == [(-1, "n"), (2, "y"), (3, None)]
    assert rows("T3") == [(1, "x"), (2, "y"), (3, None)]
    # ALL with WHENs: every WHEN that holds; OVERWRITE empties the target first
    session.sql(
        "INSERT OVERWRITE ALL WHEN A >= 2 THEN INTO T4 VALUES (A * 10) "
        "WHEN A >= 3 THEN INTO T4 VALUES (A * 100) SELECT A FROM SRC"
    )
    assert rows("T4") == [(20,), (30,), (300,)]
    with pytest.raises(SqlError, match="INTO D.S.T4 gives 2 values for 1 columns"):
        session.sql("INSERT ALL INTO T1 INTO T4 VALUES (A, B) SELECT A, B FROM SRC")
    assert len(rows("T1")) == 4 and len(rows("T4")) == 3  # the failed statement wrote nothing


def test_text_values_for_zoned_timestamps_read_their_offsets(session):
    session.sql("ALTER SESSION SET TIMEZONE = 'UTC'")
    session.sql("CREATE TABLE Z (T TIMESTAMP_TZ, N INT)")
    session.sql(
        "INSERT INTO Z VALUES ('2026-01-01 12:00:00 +02:00', 1), (NULL, 2),"
        " ('2026-01-01 12:00:00Z', 3)"
    )
    session.sql("INSERT INTO Z (N, T) VALUES (4, '2026-01-01 10:00:00 -01:00')")
    hours = session.sql("SELECT N, HOUR(T) FROM Z ORDER BY N").rows()
    assert hours == [(1, 10), (2, None), (3, 12), (4, 11)]
