"""Dynamic-table DDL, validation, refresh, suspension and the monitoring surface."""

from __future__ import annotations

import json

import pytest

from snowmelt.errors import (
    DynamicTableError,
    NotInitializedError,
    ObjectNotFound,
    RefreshError,
    SqlError,
)
from snowmelt.testing import assert_matches_query

DT = "TARGET_LAG = '{lag}' WAREHOUSE = WH"


def _base(session):
    session.sql("CREATE TABLE T (K INT, V INT); INSERT INTO T VALUES (1, 10), (2, 20), (1, 5)")


def _history(session, name=None):
    where = f"NAME => '{name}'" if name else ""
    return session.sql(
        "SELECT NAME, STATE, REFRESH_ACTION, REFRESH_TRIGGER, STATISTICS, DATA_TIMESTAMP "
        f"FROM TABLE(INFORMATION_SCHEMA.DYNAMIC_TABLE_REFRESH_HISTORY({where})) "
        "ORDER BY REFRESH_END_TIME, NAME"
    ).dicts()


def test_create_refreshes_on_create_and_reads_like_a_table(session):
    _base(session)
    session.sql(
        f"CREATE DYNAMIC TABLE A {DT.format(lag='1 minute')} AS "
        "SELECT K, SUM(V) AS TOTAL FROM T GROUP BY K"
    )
    assert sorted(session.sql("SELECT * FROM A").rows()) == [(1, 15), (2, 20)]
    history = _history(session)
    assert [
        (h["NAME"], h["STATE"], h["REFRESH_ACTION"], h["REFRESH_TRIGGER"]) for h in history
    ] == [("A", "SUCCEEDED", "REINITIALIZE", "CREATION")]
    assert json.loads(history[0]["STATISTICS"])["numInsertedRows"] == 2


def test_on_schedule_leaves_table_uninitialized_until_refreshed(session):
    _base(session)
    session.sql(
        f"CREATE DYNAMIC TABLE A {DT.format(lag='1 minute')} INITIALIZE = ON_SCHEDULE "
        "AS SELECT K FROM T"
    )
    with pytest.raises(NotInitializedError, match="is not initialized"):
        session.sql("SELECT * FROM A")
    session.sql("ALTER DYNAMIC TABLE A REFRESH")
    assert len(session.sql("SELECT * FROM A")) == 3


def test_failed_initial_refresh_fails_create_and_leaves_nothing(session):
    session.sql("CREATE TABLE T (S STRING); INSERT INTO T VALUES ('1'), ('oops')")
    with pytest.raises(Exception, match="oops"):
        session.sql(
            f"CREATE DYNAMIC TABLE A {DT.format(lag='1 minute')} AS "
            "SELECT CAST(S AS INT) AS N FROM T"
        )
    with pytest.raises(ObjectNotFound):
        session.sql("SELECT * FROM A")
    assert session.sql("SHOW DYNAMIC TABLES").arrow().num_rows == 0
    assert _history(session) == []


@pytest.mark.parametrize(
    "ddl, message",
    [
        (
            "CREATE DYNAMIC TABLE A TARGET_LAG = '1 minute' WAREHOUSE = WH AS SELECT * FROM NOPE",
            "'D.S.NOPE' does not exist",
        ),
        ("CREATE DYNAMIC TABLE A WAREHOUSE = WH AS SELECT * FROM T", "TARGET_LAG is required"),
        (
            "CREATE DYNAMIC TABLE A TARGET_LAG = '1 minute' AS SELECT * FROM T",
            "WAREHOUSE is required",
        ),
        (
            "CREATE DYNAMIC TABLE A TARGET_LAG = '1 minute' SCHEDULER = DISABLE WAREHOUSE = WH AS "
            "SELECT * FROM T",
            "TARGET_LAG cannot be set when SCHEDULER = DISABLE",
        ),
        (
            "CREATE DYNAMIC TABLE A TARGET_LAG = 'soon' WAREHOUSE = WH AS SELECT * FROM T",
            "Invalid TARGET_LAG 'soon'",
        ),
        (
            "CREATE DYNAMIC TABLE A TARGET_LAG = '0 seconds' WAREHOUSE = WH AS SELECT * FROM T",
            "too short",
        ),
        (
            "CREATE DYNAMIC TABLE A TARGET_LAG = '1 minute' WAREHOUSE = WH REFRESH_MODE = SOMETIMES "
            "AS SELECT * FROM T",
            "Invalid REFRESH_MODE",
        ),
        (
            "CREATE OR REPLACE DYNAMIC TABLE IF NOT EXISTS A TARGET_LAG = '1 minute' WAREHOUSE = WH "
            "AS SELECT * FROM T",
            "cannot be used together",
        ),
        (
            "CREATE DYNAMIC TABLE A TARGET_LAG = '1 minute' WAREHOUSE = WH AS SELECT K, K FROM T",
            "two columns named 'K'",
        ),
    ],
)
def test_invalid_definitions_are_rejected_with_the_fix(session, ddl, message):
    _base(session)
    with pytest.raises((SqlError, DynamicTableError, ObjectNotFound), match=message):
        session.sql(ddl)
    assert session.sql("SHOW DYNAMIC TABLES").arrow().num_rows == 0


def test_lag_shorter_than_upstream_and_cycles_are_rejected(session):
    _base(session)
    session.sql(f"CREATE DYNAMIC TABLE A {DT.format(lag='5 minutes')} AS SELECT K, V FROM T")
    with pytest.raises(DynamicTableError, match="shorter than that of its upstream"):
        session.sql(f"CREATE DYNAMIC TABLE B {DT.format(lag='1 minute')} AS SELECT K FROM A")
    session.sql(f"CREATE DYNAMIC TABLE B {DT.format(lag='10 minutes')} AS SELECT K, V FROM A")
    with pytest.raises(DynamicTableError, match="cycle"):
        session.sql(
            f"CREATE OR REPLACE DYNAMIC TABLE A {DT.format(lag='5 minutes')} AS SELECT K, V FROM B"
        )
    with pytest.raises(DynamicTableError, match="cannot read itself"):
        session.sql(
            f"CREATE OR REPLACE DYNAMIC TABLE A {DT.format(lag='5 minutes')} AS SELECT K, V FROM A"
        )
    with pytest.raises(DynamicTableError, match="longer than that of its consumer"):
        session.sql("ALTER DYNAMIC TABLE A SET TARGET_LAG = '1 hour'")


def test_manual_refresh_refreshes_upstream_first_at_one_data_timestamp(session, clock):
    _base(session)
    session.sql(
        f"CREATE DYNAMIC TABLE A {DT.format(lag='1 minute')} AS SELECT K, V FROM T WHERE V > 5"
    )
    session.sql(
        f"CREATE DYNAMIC TABLE B {DT.format(lag='2 minutes')} AS "
        "SELECT K, COUNT(*) AS N FROM A GROUP BY K"
    )
    clock.advance(30)
    session.sql("INSERT INTO T VALUES (3, 30); DELETE FROM T WHERE K = 2")
    clock.advance(1)
    outcome = session.sql("ALTER DYNAMIC TABLE B REFRESH").dicts()
    assert [o["NAME"] for o in outcome] == ["D.S.A", "D.S.B"]
    assert len({o["DATA_TIMESTAMP"] for o in outcome}) == 1
    assert sorted(session.sql("SELECT * FROM B").rows()) == [(1, 1), (3, 1)]
    for name in ("A", "B"):
        assert_matches_query(session, name)
    # nothing changed since: NO_DATA, and no new version is written
    version = session.rt.store.version
    outcome = session.sql("ALTER DYNAMIC TABLE B REFRESH").dicts()
    assert [o["REFRESH_ACTION"] for o in outcome] == ["NO_DATA", "NO_DATA"]
    assert session.rt.store.version == version
    triggers = {(h["NAME"], h["REFRESH_TRIGGER"]) for h in _history(session)}
    assert ("A", "MANUAL") in triggers and ("B", "CREATION") in triggers


def test_scheduler_disable_table_refreshes_without_upstream(session):
    _base(session)
    session.sql(f"CREATE DYNAMIC TABLE A {DT.format(lag='1 minute')} AS SELECT K, V FROM T")
    session.sql("CREATE DYNAMIC TABLE B SCHEDULER = DISABLE WAREHOUSE = WH AS SELECT K FROM A")
    session.sql("INSERT INTO T VALUES (9, 9)")
    outcome = session.sql("ALTER DYNAMIC TABLE B REFRESH").dicts()
    assert [o["NAME"] for o in outcome] == ["D.S.B"]
    assert (9,) not in session.sql("SELECT K FROM B").rows()
    show = session.sql("SHOW DYNAMIC TABLES LIKE 'B'").dicts()[0]
    assert show["scheduler"] == "DISABLE" and show["target_lag"] is None


def test_suspend_cascades_and_resume_rules(session):
    _base(session)
    session.sql(f"CREATE DYNAMIC TABLE A {DT.format(lag='1 minute')} AS SELECT K, V FROM T")
    session.sql(f"CREATE DYNAMIC TABLE B {DT.format(lag='1 minute')} AS SELECT K FROM A")
    session.sql(f"CREATE DYNAMIC TABLE C {DT.format(lag='DOWNSTREAM')} AS SELECT K FROM T")
    session.sql("ALTER DYNAMIC TABLE A SUSPEND")
    states = {
        r["NAME"]: json.loads(r["SCHEDULING_STATE"])
        for r in session.sql(
            "SELECT NAME, SCHEDULING_STATE FROM TABLE(INFORMATION_SCHEMA.DYNAMIC_TABLES())"
        ).dicts()
    }
    assert states["A"]["state"] == "SUSPENDED" and states["A"]["reason_code"] == "USER_SUSPENDED"
    assert states["B"]["reason_code"] == "UPSTREAM_USER_SUSPENDED"
    assert states["C"]["state"] == "ACTIVE"
    with pytest.raises(DynamicTableError, match="Resume D.S.A first"):
        session.sql("ALTER DYNAMIC TABLE B RESUME")
    # a manual refresh still works on a suspended table
    session.sql("ALTER DYNAMIC TABLE A REFRESH")
    session.sql("ALTER DYNAMIC TABLE A RESUME")
    show = {r["name"]: r["scheduling_state"] for r in session.sql("SHOW DYNAMIC TABLES").dicts()}
    assert show == {"A": "ACTIVE", "B": "ACTIVE", "C": "ACTIVE"}
    # a table suspended by hand is not resumed by its upstream's resume
    session.sql(
        "ALTER DYNAMIC TABLE B SUSPEND; ALTER DYNAMIC TABLE A SUSPEND;ALTER DYNAMIC TABLE A RESUME"
    )
    show = {r["name"]: r["scheduling_state"] for r in session.sql("SHOW DYNAMIC TABLES").dicts()}
    assert show["B"] == "SUSPENDED"


def test_alter_set_rename_and_drop(session):
    _base(session)
    session.sql(f"CREATE DYNAMIC TABLE A {DT.format(lag='1 minute')} AS SELECT K FROM T")
    session.sql("ALTER DYNAMIC TABLE A SET TARGET_LAG = '2 hours' WAREHOUSE = WH2 COMMENT = 'x'")
    show = session.sql("SHOW DYNAMIC TABLES").dicts()[0]
    assert (show["target_lag"], show["warehouse"], show["comment"]) == ("2 hours", "WH2", "x")
    with pytest.raises(DynamicTableError, match="cannot be changed with ALTER"):
        session.sql("ALTER DYNAMIC TABLE A SET REFRESH_MODE = FULL")
    session.sql("ALTER DYNAMIC TABLE A RENAME TO A2")
    assert len(session.sql("SELECT * FROM A2")) == 3
    graph = session.sql(
        "SELECT NAME, TARGET_LAG_SEC FROM TABLE(INFORMATION_SCHEMA.DYNAMIC_TABLE_GRAPH_HISTORY())"
    ).rows()
    assert graph == [("A2", 7200)]
    session.sql("DROP DYNAMIC TABLE A2")
    with pytest.raises(ObjectNotFound):
        session.sql("DROP DYNAMIC TABLE A2")
    session.sql("DROP DYNAMIC TABLE IF EXISTS A2")
    session.sql("ALTER DYNAMIC TABLE IF EXISTS A2 REFRESH")


def test_show_and_describe_have_the_reference_columns(session):
    _base(session)
    session.sql(
        f"CREATE DYNAMIC TABLE A {DT.format(lag='DOWNSTREAM')} REFRESH_MODE = FULL "
        "CLUSTER BY (K) COMMENT = 'hello' AS SELECT K, V * 2 AS V2 FROM T"
    )
    show = session.sql("SHOW DYNAMIC TABLES LIKE 'a%' IN SCHEMA D.S")
    for column in (
        "created_on",
        "name",
        "database_name",
        "schema_name",
        "cluster_by",
        "rows",
        "bytes",
        "owner",
        "target_lag",
        "refresh_mode",
        "refresh_mode_reason",
        "warehouse",
        "comment",
        "text",
        "automatic_clustering",
        "scheduling_state",
        "last_suspended_on",
        "is_clone",
        "is_replica",
        "is_iceberg",
        "data_timestamp",
        "owner_role_type",
        "scheduler",
    ):
        assert column in show.columns
    row = show.dicts()[0]
    assert (row["target_lag"], row["refresh_mode"], row["refresh_mode_reason"], row["rows"]) == (
        "DOWNSTREAM",
        "FULL",
        "USER_SPECIFIED_FULL_REFRESH",
        3,
    )
    assert row["text"].startswith("CREATE DYNAMIC TABLE A")
    assert session.sql("SHOW DYNAMIC TABLES IN DATABASE OTHER_DB").arrow().num_rows == 0
    described = session.sql("DESCRIBE DYNAMIC TABLE A").dicts()
    assert [(d["name"], d["type"]) for d in described] == [
        ("K", "NUMBER(38,0)"),
        ("V2", "NUMBER(38,0)"),
    ]


def test_monitoring_functions_accept_reference_arguments(session, clock):
    _base(session)
    session.sql(f"CREATE DYNAMIC TABLE A {DT.format(lag='1 minute')} AS SELECT K FROM T")
    session.sql(f"CREATE DYNAMIC TABLE B {DT.format(lag='1 minute')} AS SELECT K FROM T")
    clock.advance(90)
    session.sql("INSERT INTO T VALUES (5, 5); ALTER DYNAMIC TABLE A REFRESH")
    clock.advance(30)
    rows = session.sql(
        "SELECT NAME, TARGET_LAG_SEC, TARGET_LAG_TYPE, MAXIMUM_LAG_SEC, "
        "TIME_ABOVE_TARGET_LAG_SEC, LATEST_DATA_TIMESTAMP, SCHEDULER, "
        "SCHEDULING_STATE:state::STRING AS STATE FROM TABLE("
        "INFORMATION_SCHEMA.DYNAMIC_TABLES(NAME => 'D.S.A'))"
    ).dicts()
    assert len(rows) == 1
    row = rows[0]
    assert (row["NAME"], row["TARGET_LAG_SEC"], row["TARGET_LAG_TYPE"], row["STATE"]) == (
        "A",
        60,
        "USER_DEFINED",
        "ACTIVE",
    )
    # lag reached 90 s before the manual refresh: 30 s above the 60 s target
    assert row["MAXIMUM_LAG_SEC"] == 90 and row["TIME_ABOVE_TARGET_LAG_SEC"] == 30
    assert (
        len(
            session.sql(
                "SELECT * FROM TABLE(INFORMATION_SCHEMA.DYNAMIC_TABLE_REFRESH_HISTORY("
                "NAME_PREFIX => 'D.S.', RESULT_LIMIT => 2))"
            )
        )
        == 2
    )
    assert (
        session.sql(
            "SELECT COUNT(*) FROM TABLE(INFORMATION_SCHEMA.DYNAMIC_TABLE_REFRESH_HISTORY"
            "(ERROR_ONLY => TRUE))"
        ).scalar()
        == 0
    )
    with pytest.raises(SqlError, match="no argument BOGUS"):
        session.sql("SELECT * FROM TABLE(INFORMATION_SCHEMA.DYNAMIC_TABLES(BOGUS => 1))")
    with pytest.raises(SqlError, match="RESULT_LIMIT"):
        session.sql("SELECT * FROM TABLE(INFORMATION_SCHEMA.DYNAMIC_TABLES(RESULT_LIMIT => 0))")


def test_failed_refresh_keeps_last_good_version_and_is_recorded(session):
    session.sql("CREATE TABLE T (S STRING); INSERT INTO T VALUES ('1')")
    session.sql(
        f"CREATE DYNAMIC TABLE A {DT.format(lag='1 minute')} AS SELECT CAST(S AS INT) AS N FROM T"
    )
    session.sql(f"CREATE DYNAMIC TABLE B {DT.format(lag='1 minute')} AS SELECT N + 1 AS M FROM A")
    session.sql("INSERT INTO T VALUES ('bad')")
    with pytest.raises(Exception, match="keeps its last good version"):
        session.sql("ALTER DYNAMIC TABLE B REFRESH")
    assert session.sql("SELECT * FROM A").rows() == [(1,)]
    failed = session.sql(
        "SELECT NAME, STATE, STATE_CODE FROM TABLE(INFORMATION_SCHEMA."
        "DYNAMIC_TABLE_REFRESH_HISTORY(ERROR_ONLY => TRUE))"
    ).rows()
    assert failed == [("A", "FAILED", "REFRESH_FAILED")]
    states = {
        r[0]: r[1]
        for r in session.sql(
            "SELECT NAME, LAST_COMPLETED_REFRESH_STATE FROM TABLE(INFORMATION_SCHEMA.DYNAMIC_TABLES())"
        ).rows()
    }
    assert states == {"A": "FAILED", "B": "UPSTREAM_FAILED"}


def test_reading_a_replaced_source_reinitializes(session):
    _base(session)
    session.sql(f"CREATE DYNAMIC TABLE A {DT.format(lag='1 minute')} AS SELECT K FROM T")
    session.sql("ALTER TABLE T ADD COLUMN W INT")
    outcome = session.sql("ALTER DYNAMIC TABLE A REFRESH").dicts()
    assert outcome[0]["REFRESH_ACTION"] == "REINITIALIZE"
    session.sql("CREATE OR REPLACE TABLE T (K INT); INSERT INTO T VALUES (42)")
    outcome = session.sql("ALTER DYNAMIC TABLE A REFRESH").dicts()
    assert outcome[0]["REFRESH_ACTION"] == "REINITIALIZE"
    assert session.sql("SELECT * FROM A").rows() == [(42,)]


def test_dropped_source_fails_refresh_with_a_clear_message(session):
    _base(session)
    session.sql(f"CREATE DYNAMIC TABLE A {DT.format(lag='1 minute')} AS SELECT K FROM T")
    session.sql("DROP TABLE T")
    with pytest.raises(Exception, match="was dropped") as info:
        session.sql("ALTER DYNAMIC TABLE A REFRESH")
    assert ".." not in str(info.value)  # one sentence ends once
    assert len(session.sql("SELECT * FROM A")) == 3


def test_create_or_alter_keeps_data_when_only_properties_change(session):
    _base(session)
    session.sql(f"CREATE DYNAMIC TABLE A {DT.format(lag='1 minute')} AS SELECT K FROM T")
    version = session.rt.store.version
    session.sql(f"CREATE OR ALTER DYNAMIC TABLE A {DT.format(lag='10 minutes')} AS SELECT K FROM T")
    assert session.sql("SHOW DYNAMIC TABLES").dicts()[0]["target_lag"] == "10 minutes"
    assert len(_history(session, "D.S.A")) == 1  # no refresh: data kept
    session.sql(
        f"CREATE OR ALTER DYNAMIC TABLE A {DT.format(lag='10 minutes')} AS SELECT K, V FROM T"
    )
    assert session.sql("SELECT * FROM A").columns == ["K", "V"]
    assert session.rt.store.version > version


def test_target_lag_downstream_quoted_and_bare(session):
    _base(session)
    session.sql(
        "CREATE DYNAMIC TABLE A TARGET_LAG = 'DOWNSTREAM' WAREHOUSE = WH AS SELECT K FROM T"
    )
    session.sql("CREATE DYNAMIC TABLE B TARGET_LAG = DOWNSTREAM WAREHOUSE = WH AS SELECT K FROM T")
    lags = {r["name"]: r["target_lag"] for r in session.sql("SHOW DYNAMIC TABLES").dicts()}
    assert lags == {"A": "DOWNSTREAM", "B": "DOWNSTREAM"}


def test_readme_monitoring_queries_work_as_written(session, clock):
    _base(session)
    session.sql(f"CREATE DYNAMIC TABLE A {DT.format(lag='1 minute')} AS SELECT K FROM T")
    clock.advance(15 * 60)
    stale = session.sql("""
        SELECT
            NAME,
            TIMESTAMPDIFF('minute', LAST_COMPLETED_REFRESH, CURRENT_TIMESTAMP()) AS minutes_since_refresh
        FROM TABLE(INFORMATION_SCHEMA.DYNAMIC_TABLES())
        WHERE DATABASE_NAME = 'D'
          AND TIMESTAMPDIFF('minute', LAST_COMPLETED_REFRESH, CURRENT_TIMESTAMP()) > 10""").rows()
    assert stale == [("A", 15)]
    recent = session.sql("""
        SELECT * FROM TABLE(INFORMATION_SCHEMA.DYNAMIC_TABLE_REFRESH_HISTORY(
            NAME_PREFIX => 'D'
        ))
        ORDER BY REFRESH_END_TIME DESC
        LIMIT 20""")
    assert len(recent) == 1 and "REFRESH_ACTION" in recent.columns


def test_explain_dynamic_table_through_sql(session):
    _base(session)
    session.sql(
        f"CREATE DYNAMIC TABLE A {DT.format(lag='1 minute')} REFRESH_MODE = FULL AS SELECT K FROM T"
    )
    row = session.sql("SELECT 1;\nEXPLAIN DYNAMIC TABLE A").dicts()[0]
    assert (row["name"], row["refresh_mode"], row["refresh_mode_reason"]) == (
        "D.S.A",
        "FULL",
        "USER_SPECIFIED_FULL_REFRESH",
    )
    with pytest.raises(ObjectNotFound, match="line 1, column 23"):
        session.sql("EXPLAIN DYNAMIC TABLE NOPE")


def test_a_column_list_names_and_comments_the_columns(session):
    session.sql("USE SCHEMA D.S; CREATE TABLE T (A INT, B VARCHAR); INSERT INTO T VALUES (1, 'x')")
    session.sql(
        "CREATE DYNAMIC TABLE DT (X COMMENT 'the x', Y) TARGET_LAG = '1 minute' "
        "WAREHOUSE = WH AS SELECT A, B FROM T"
    )
    described = [(r[0], r[9]) for r in session.sql("DESCRIBE DYNAMIC TABLE DT").rows()]
    assert described == [("X", "the x"), ("Y", None)]
    assert session.sql("SELECT X, Y FROM DT").rows() == [(1, "x")]


def test_a_division_by_zero_fails_the_refresh_and_keeps_the_last_rows(session):
    """Snowflake fails a refresh whose query divides by zero; so does snowmelt (DuckDB alone
    would store infinity), and the table keeps its last good rows."""
    session.sql(
        "CREATE TABLE C (K INT, HITS INT, VIEWS INT); INSERT INTO C VALUES (1, 1, 4);"
        "CREATE DYNAMIC TABLE RATE TARGET_LAG = '1 minute' WAREHOUSE = WH"
        " REFRESH_MODE = INCREMENTAL AS SELECT K, HITS / VIEWS AS R FROM C"
    )
    session.sql("INSERT INTO C VALUES (2, 3, 0)")
    with pytest.raises(RefreshError, match="Division by zero. The table keeps its last good"):
        session.sql("ALTER DYNAMIC TABLE RATE REFRESH")
    assert session.sql("SELECT * FROM RATE").rows() == [(1, 0.25)]
    session.sql("UPDATE C SET VIEWS = 6 WHERE K = 2; ALTER DYNAMIC TABLE RATE REFRESH")
    assert sorted(session.sql("SELECT * FROM RATE").rows()) == [(1, 0.25), (2, 0.5)]
