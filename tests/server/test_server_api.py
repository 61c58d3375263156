"""The HTTP API of a real server process: SQL, ingest, dynamic tables, monitoring, security."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time

import pyarrow as pa
import pytest
from server_harness import ARROW, ROOT, ServerProcess, arrow_stream, stop_all

import snowmelt
from snowmelt.client import RemoteSession, connect_or_remote, find_server
from snowmelt.errors import DatabaseLockedError, IngestError, ObjectNotFound, SqlError
from snowmelt.server import serverfile

pytestmark = pytest.mark.slow

SCOPE = "?database=D&schema=S"


_SHARED: list[ServerProcess] = []  # the module's server, kept between tests


@pytest.fixture(autouse=True)
def _no_server_outlives_a_test():
    yield
    stop_all(keep=tuple(_SHARED))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    db = tmp_path_factory.mktemp("api") / "api.duckdb"
    proc = ServerProcess(db, "--max-body-bytes", "65536").start()
    _SHARED.append(proc)
    try:
        s = proc.session()
        s.sql("CREATE DATABASE D; CREATE SCHEMA D.S; CREATE WAREHOUSE WH")
        s.sql("CREATE TABLE RAW (ID INT NOT NULL, NAME STRING, AMOUNT NUMBER(10, 2))")
        s.sql("CREATE TABLE OTHER (ID INT)")
        s.insert("RAW", [{"ID": 1, "NAME": "a", "AMOUNT": 1.5}])
        s.sql(
            "CREATE DYNAMIC TABLE TOTALS TARGET_LAG = '1 second' WAREHOUSE = WH AS "
            "SELECT NAME, SUM(AMOUNT) AS TOTAL FROM RAW GROUP BY NAME"
        )
        s.close()
        yield proc
    finally:
        _SHARED.remove(proc)
        stop_all()


def _count(server, table="RAW"):
    status, body = server.json("POST", "/v1/sql", {"sql": f"SELECT COUNT(*) FROM D.S.{table}"})
    assert status == 200, body
    return body["rows"][0][0]


def test_server_file_is_owner_only_and_names_a_live_process(server):
    path = serverfile.path_for(server.db)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    info = find_server(server.db)
    assert info is not None and info.pid == server.pid and info.host == "127.0.0.1"
    assert len(info.token) >= 32


@pytest.mark.parametrize(
    "method, path",
    [
        ("POST", "/v1/sql"),
        ("GET", "/metrics"),
        ("GET", "/v1/dynamic-tables"),
        ("GET", "/openapi.json"),
        ("POST", "/v1/tables/RAW/rows"),
        ("POST", "/v1/dynamic-tables/D.S.TOTALS/refresh"),
    ],
)
def test_every_endpoint_but_health_needs_the_token(server, method, path):
    before = _count(server)
    missing = server.http(
        method,
        path,
        b'{"sql": "DROP TABLE D.S.RAW"}',
        {"Content-Type": "application/json"},
        token=None,
    )
    wrong = server.http(
        method,
        path,
        b'{"sql": "DROP TABLE D.S.RAW"}',
        {"Content-Type": "application/json"},
        token="not-the-token",
    )
    assert missing[0] == 401 and "bearer token" in json.loads(missing[2])["error"].lower()
    assert wrong[0] == 403 and "invalid bearer token" in json.loads(wrong[2])["error"].lower()
    assert _count(server) == before
    health = server.http("GET", "/health", token=None)
    assert health[0] == 200 and json.loads(health[2])["pid"] == server.pid


def test_sql_returns_json_or_arrow_and_carries_the_context(server):
    status, body = server.json("POST", "/v1/sql", {"sql": "USE SCHEMA D.S"})
    assert status == 200 and body["context"]["schema"] == "S"
    status, body = server.json(
        "POST",
        "/v1/sql",
        {"sql": "SELECT ID, NAME, AMOUNT FROM RAW ORDER BY ID", "database": "D", "schema": "S"},
    )
    assert status == 200
    assert body["columns"] == ["ID", "NAME", "AMOUNT"] and body["rows"][0] == [1, "a", 1.5]
    # a client's USE does not leak into other requests
    status, body = server.json("POST", "/v1/sql", {"sql": "SELECT * FROM RAW"})
    assert status == 400 and "no current database" in body["error"]
    status, headers, data = server.http(
        "POST",
        "/v1/sql",
        json.dumps({"sql": "SELECT * FROM D.S.RAW"}).encode(),
        {"Content-Type": "application/json", "Accept": ARROW},
    )
    assert status == 200 and headers["content-type"] == ARROW
    table = pa.ipc.open_stream(pa.py_buffer(data)).read_all()
    assert table.column_names == ["ID", "NAME", "AMOUNT"] and table.num_rows >= 1


def test_a_request_cannot_leave_a_transaction_or_variables_behind(server):
    status, body = server.json(
        "POST",
        "/v1/sql",
        {"sql": "SET N = 41; BEGIN; INSERT INTO D.S.RAW (ID, NAME, AMOUNT) VALUES ($N, 'tx', 1)"},
    )
    assert status == 200
    assert "The transaction left open by this request was rolled back." in body["notices"]
    status, body = server.json(
        "POST", "/v1/sql", {"sql": "SELECT COUNT(*) FROM D.S.RAW WHERE ID = 41"}
    )
    assert status == 200 and body["rows"] == [[0]]  # rolled back, and the server not held
    status, body = server.json("POST", "/v1/sql", {"sql": "SELECT $N"})
    assert status == 400 and "Session variable '$N' does not exist" in body["error"]


def test_a_clients_session_variables_carry_over_its_requests(server):
    with connect_or_remote(server.db) as one, connect_or_remote(server.db) as two:
        one.sql(
            "SET (N, S, D, T, X) = (41, 'text', '2026-01-02'::DATE,"
            " '2026-01-02 03:04:05'::TIMESTAMP_NTZ, 1.25::NUMBER(10, 2))"
        )
        row = one.sql("SELECT $N + 1, $S, $D + 1, $T, $X * 2").rows()[0]
        assert row[0] == 42 and row[1] == "text" and str(row[2]) == "2026-01-03"
        assert str(row[3]) == "2026-01-02 03:04:05" and str(row[4]) == "2.50"
        assert {r["name"] for r in one.sql("SHOW VARIABLES").dicts()} == {"N", "S", "D", "T", "X"}
        one.sql("UNSET N")
        with pytest.raises(SqlError, match=r"Session variable '\$N' does not exist"):
            one.sql("SELECT $N")
        with pytest.raises(SqlError, match=r"Session variable '\$S' does not exist"):
            two.sql("SELECT $S")  # another client's session
        assert one.sql("SELECT $S").scalar() == "text"
    # a malformed variable is a 400 naming it; the server answers the next request as usual
    status, body = server.json(
        "POST", "/v1/sql", {"sql": "SELECT 1", "variables": {"V": {"value": 1}}}
    )
    assert status == 400 and "Session variable 'V' cannot be read back" in body["error"]
    status, body = server.json("POST", "/v1/sql", {"sql": "SELECT CURRENT_SCHEMA()"})
    assert status == 200 and body["rows"] == [[None]]


def test_the_prompt_on_a_served_file_keeps_its_session_and_ends_cleanly(server):
    from snowmelt import repl

    shown, failed = [], []
    lines = ["USE SCHEMA D.S;", "SET X = 3;", "SELECT $X * 2 AS Y,", "COUNT(*) > 0 FROM RAW;"]
    pending = list(lines) + ["SELECT NOPE;", "SELECT $X;"]

    def read(prompt: str) -> str:
        if not pending:
            raise EOFError
        return pending.pop(0)

    with connect_or_remote(server.db) as s:
        repl.run(s, read, lambda r: shown.append(r.rows()), failed.append)
    assert shown[-2:] == [[(6, True)], [(3,)]] and len(failed) == 1 and "NOPE" in failed[0]


def test_sql_errors_are_json_with_position_and_no_traceback(server):
    status, body = server.json("POST", "/v1/sql", {"sql": "SELECT * FROM D.S.NOPE"})
    assert status == 404 and body["type"] == "ObjectNotFound" and "NOPE" in body["error"]
    status, body = server.json("POST", "/v1/sql", {"sql": "SELEC 1"})
    assert status == 400 and "error" in body
    status, _, data = server.http(
        "POST", "/v1/sql", b"{not json", {"Content-Type": "application/json"}
    )
    assert status == 422 and "Traceback" not in data.decode()
    assert json.loads(data)["error"].startswith("Invalid request")
    status, body = server.json("GET", "/v1/nothing-here")
    assert status == 404 and body == {"error": "Not Found"}


def _ingest(server, table, body, content_type, key=None, scope=SCOPE):
    headers = {"Content-Type": content_type}
    if key:
        headers["Idempotency-Key"] = key
    status, _, data = server.http("POST", f"/v1/tables/{table}/rows{scope}", body, headers)
    return status, json.loads(data)


def test_ingest_arrow_json_lines_and_csv(server):
    before = _count(server)
    batch = pa.table({"ID": [10, 11], "NAME": ["x", None], "AMOUNT": [2.25, 3.0]})
    assert _ingest(server, "RAW", arrow_stream(batch), ARROW)[1]["rows"] == 2
    lines = b'{"ID": 12, "NAME": "y", "AMOUNT": 1}\n\n{"ID": 13, "NAME": "z"}\n'
    assert _ingest(server, "RAW", lines, "application/x-ndjson")[1]["rows"] == 2
    csv = b"ID,NAME,AMOUNT\n14,w,9.5\n15,,\n"
    assert _ingest(server, "RAW", csv, "text/csv")[1]["rows"] == 2
    assert _ingest(server, "D.S.RAW", b'[{"ID": 16}]', "application/json", scope="")[0] == 200
    assert _count(server) == before + 7
    status, body = server.json(
        "POST",
        "/v1/sql",
        {"sql": "SELECT NAME, AMOUNT FROM D.S.RAW WHERE ID IN (13, 15) ORDER BY ID"},
    )
    assert body["rows"] == [["z", None], [None, None]]


def test_idempotency_key_loads_a_batch_once(server):
    before = _count(server)
    batch = arrow_stream(pa.table({"ID": [20, 21, 22]}))
    first = _ingest(server, "RAW", batch, ARROW, key="batch-20")
    again = _ingest(server, "RAW", batch, ARROW, key="batch-20")
    assert first == (
        200,
        {"table": "D.S.RAW", "rows": 3, "version": first[1]["version"], "duplicate": False},
    )
    assert again[1]["duplicate"] is True and again[1]["version"] == first[1]["version"]
    assert _count(server) == before + 3
    status, body = _ingest(server, "OTHER", batch, ARROW, key="batch-20")
    assert status == 409 and "another table" in body["error"]
    assert _count(server, "OTHER") == 0


@pytest.mark.parametrize(
    "case",
    [
        "oversize",
        "oversize_chunked",
        "malformed_arrow",
        "malformed_json",
        "not_objects",
        "unknown_table",
        "wrong_type_arrow",
        "wrong_type_json",
        "wrong_type_csv",
        "unknown_column",
        "null_in_not_null",
        "dynamic_table",
        "empty",
        "media_type",
    ],
)
def test_bad_batches_are_rejected_whole_with_a_clear_4xx(server, case):
    before = _count(server)
    good = [{"ID": 100 + i, "NAME": "ok"} for i in range(3)]
    if case == "oversize":
        status, body = _ingest(server, "RAW", b'{"ID": 1}\n' * 10000, "application/x-ndjson")
        expected, needle = 413, "too large"
    elif case == "oversize_chunked":
        chunks = (b'{"ID": 1}\n' * 1000 for _ in range(10))
        status, _, data = server.http(
            "POST", f"/v1/tables/RAW/rows{SCOPE}", chunks, {"Content-Type": "application/x-ndjson"}
        )  # chunked
        body = json.loads(data)
        expected, needle = 413, "too large"
    elif case == "malformed_arrow":
        status, body = _ingest(server, "RAW", b"\xff\xff\xff\xff garbage", ARROW)
        expected, needle = 400, "Malformed Arrow"
    elif case == "malformed_json":
        status, body = _ingest(server, "RAW", b'{"ID": 1}\n{"ID": 2,,}\n', "application/x-ndjson")
        expected, needle = 400, "line 2"
    elif case == "not_objects":
        status, body = _ingest(server, "RAW", b"[1, 2]", "application/json")
        expected, needle = 400, "array of objects"
    elif case == "unknown_table":
        status, body = _ingest(server, "NOPE", arrow_stream(pa.Table.from_pylist(good)), ARROW)
        expected, needle = 404, "NOPE"
    elif case == "wrong_type_arrow":
        bad = pa.table({"ID": ["1", "2", "three"], "NAME": ["a", "b", "c"]})
        status, body = _ingest(server, "RAW", arrow_stream(bad), ARROW)
        expected, needle = 422, "row 3"
        assert body["row"] == 3 and body["column"] == "ID"
    elif case == "wrong_type_json":
        lines = b'{"ID": 1}\n{"ID": 2, "AMOUNT": "lots"}\n'
        status, body = _ingest(server, "RAW", lines, "application/x-ndjson")
        expected, needle = 422, "row 2"
        assert body["column"] == "AMOUNT"
    elif case == "wrong_type_csv":
        status, body = _ingest(server, "RAW", b"ID,NAME\n1,a\nx,b\n", "text/csv")
        expected, needle = 422, "row 2"
    elif case == "unknown_column":
        status, body = _ingest(
            server, "RAW", b'{"ID": 1, "COLOUR": "red"}\n', "application/x-ndjson"
        )
        expected, needle = 422, "COLOUR"
    elif case == "null_in_not_null":
        status, body = _ingest(
            server, "RAW", b'{"ID": 1}\n{"ID": null, "NAME": "n"}\n', "application/x-ndjson"
        )
        expected, needle = 422, "NOT NULL"
    elif case == "dynamic_table":
        status, body = _ingest(server, "TOTALS", b'{"NAME": "a"}\n', "application/x-ndjson")
        expected, needle = 400, "only base tables"
    elif case == "empty":
        status, body = _ingest(server, "RAW", b"", "application/x-ndjson")
        expected, needle = 400, "Empty body"
    else:
        status, body = _ingest(server, "RAW", b"<rows/>", "application/xml")
        expected, needle = 400, "Content-Type"
    assert status == expected, body
    assert needle in body["error"] and "Traceback" not in body["error"]
    assert _count(server) == before  # nothing written


def test_dynamic_table_listing_history_refresh_suspend_resume(server):
    status, body = server.json("GET", "/v1/dynamic-tables")
    (totals,) = [t for t in body["dynamic_tables"] if t["name"] == "D.S.TOTALS"]
    assert totals["target_lag_sec"] == 1 and totals["scheduling_state"] == "ACTIVE"
    assert totals["lag_sec"] is not None and totals["last_refresh_state"] == "SUCCEEDED"
    status, body = server.json("POST", "/v1/dynamic-tables/D.S.TOTALS/refresh")
    assert status == 200 and body["refreshes"][0]["STATE"] == "SUCCEEDED"
    # new rows: the scheduler refreshes within the 1-second target lag, on its own
    assert _ingest(server, "RAW", b'{"ID": 40, "NAME": "s"}\n', "application/x-ndjson")[0] == 200
    deadline, triggers = time.monotonic() + 30, set()
    while "SCHEDULED" not in triggers and time.monotonic() < deadline:
        time.sleep(0.1)
        path = "/v1/dynamic-tables/TOTALS/history" + SCOPE + "&limit=500"
        triggers = {h["REFRESH_TRIGGER"] for h in server.json("GET", path)[1]["history"]}
    assert {"CREATION", "MANUAL", "SCHEDULED"} <= triggers
    assert server.json("POST", "/v1/dynamic-tables/D.S.TOTALS/suspend")[0] == 200
    health = server.json("GET", "/health", token=None)[1]
    assert health["status"] == "degraded" and health["suspended"] == ["D.S.TOTALS"]
    assert server.json("POST", "/v1/dynamic-tables/D.S.TOTALS/resume")[0] == 200
    status, body = server.json("POST", "/v1/dynamic-tables/D.S.NOPE/refresh")
    assert status == 404 and "NOPE" in body["error"]


def test_metrics_are_prometheus_text(server):
    _ingest(server, "RAW", b'{"ID": 30}\n', "application/x-ndjson")
    status, headers, data = server.http("GET", "/metrics")
    text = data.decode()
    assert status == 200 and headers["content-type"].startswith("text/plain")
    for family in (
        "snowmelt_dynamic_table_lag_seconds",
        "snowmelt_dynamic_table_target_lag_seconds",
        "snowmelt_refreshes_total",
        "snowmelt_refresh_duration_seconds",
        "snowmelt_ingested_rows_total",
    ):
        assert f"# TYPE {family}" in text
    assert 'snowmelt_dynamic_table_target_lag_seconds{table="D.S.TOTALS"} 1' in text
    assert 'table="D.S.TOTALS",action="REINITIALIZE",state="SUCCEEDED"} 1' in text
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert all(len(line.rsplit(" ", 1)) == 2 for line in lines)


def test_openapi_document_lists_the_api(server):
    status, doc = server.json("GET", "/openapi.json")
    assert status == 200
    assert {
        "/v1/sql",
        "/v1/tables/{name}/rows",
        "/v1/dynamic-tables",
        "/health",
        "/metrics",
        "/v1/dynamic-tables/{name}/refresh",
    } <= set(doc["paths"])


def test_remote_session_has_the_session_surface(server):
    with connect_or_remote(server.db) as s:
        assert isinstance(s, RemoteSession)
        s.use("D", "S")
        assert s.insert("RAW", pa.table({"ID": [40, 41], "NAME": ["r", "r"]})) == 2
        assert s.sql("SELECT COUNT(*) FROM RAW WHERE NAME = 'r'").scalar() == 2
        assert s.refresh("TOTALS").dicts()[0]["STATE"] == "SUCCEEDED"
        with pytest.raises(ObjectNotFound):
            s.sql("SELECT * FROM MISSING")
        with pytest.raises(SqlError):
            s.sql("SELECT FROM WHERE")
        with pytest.raises(IngestError) as info:
            s.insert("RAW", [{"ID": 1}, {"ID": "bad"}])
        assert (info.value.row, info.value.column) == (2, "ID")


def test_last_query_id_follows_each_client_and_result_scan_reads_any_id(server):
    with connect_or_remote(server.db) as one, connect_or_remote(server.db) as two:
        one.use("D", "S")
        two.use("D", "S")
        shown = one.sql("SHOW DYNAMIC TABLES")
        assert shown.query_id
        two.sql("SELECT 1 AS X")  # another client's statement, between one's two requests
        scanned = one.sql('SELECT "name" FROM TABLE(RESULT_SCAN(LAST_QUERY_ID()))')
        assert scanned.rows() == [("TOTALS",)]
        assert two.sql("SELECT * FROM TABLE(RESULT_SCAN(-1))").rows() == [(1,)]
        # by id, one client reads another's result; a chain runs within one request
        query = f"SELECT COUNT(*) FROM TABLE(RESULT_SCAN('{shown.query_id}'))"
        assert two.sql(query).scalar() == 1
        assert two.sql("SELECT 5 AS N ->> SELECT N * 2 FROM $1").scalar() == 10
    status, body = server.json("POST", "/v1/sql", {"sql": "SELECT 3 AS N"})
    assert status == 200 and body["query_id"] and body["context"]["query_ids"] == [body["query_id"]]


def test_a_script_gives_each_statements_result_and_the_ones_before_an_error(server):
    with connect_or_remote(server.db) as s:
        s.use("D", "S")
        first, second, third = s.execute_all(
            "SET N = 2; SELECT $N * 10 AS X, CURRENT_DATE() AS D; SHOW DYNAMIC TABLES"
        )
        assert first.message and second.rows()[0][0] == 20
        assert second.arrow().schema.field("D").type == pa.date32()  # types kept
        assert [r["name"] for r in third.dicts()] == ["TOTALS"]
        got = []
        with pytest.raises(SqlError, match="NOPE"):
            for result in s.run_each("SELECT 1 AS A; SET K = 9; SELECT NOPE FROM RAW; SELECT 3"):
                got.append(result.rows())
        assert got[0] == [(1,)] and len(got) == 2
        assert s.sql("SELECT $K").scalar() == 9  # what ran before the error stands
    # the CLI on a served file prints each result, then the error
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "snowmelt",
            "sql",
            "--db",
            str(server.db),
            "--format",
            "csv",
            "SELECT 1 AS A; SELECT 'b' AS B; SELECT NOPE",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and done.stdout.splitlines() == ["A", "1", "B", "b"]
    assert "NOPE" in done.stderr
    # and the other commands reading a served file (they read the catalog directly before)
    for command, expected in (
        (["show", "--like", "TOT%"], "TOTALS"),
        (["explain", "D.S.TOTALS"], "refresh_mode"),
        (["refresh", "D.S.TOTALS"], "SUCCEEDED"),
    ):
        ran = subprocess.run(
            [sys.executable, "-m", "snowmelt", command[0], "--db", str(server.db), *command[1:]],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert ran.returncode == 0, ran.stderr
        assert expected in ran.stdout


def test_a_second_server_or_a_direct_open_is_refused_with_the_owner(server):
    with pytest.raises(DatabaseLockedError, match=f"process {server.pid}"):
        snowmelt.session.Session(server.db)
    second = subprocess.run(
        [sys.executable, "-m", "snowmelt.server.main", "--db", str(server.db)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert second.returncode == 1 and f"already served by process {server.pid}" in second.stderr


def test_a_file_locked_by_another_program_names_that_process(tmp_path):
    db = tmp_path / "held.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb."
            f"connect({str(db)!r}); print('ready', flush=True); "
            "time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        proc = ServerProcess(db)
        with pytest.raises(RuntimeError, match=f"locked by process {holder.pid}"):
            proc.start()
    finally:
        holder.kill()
        holder.wait()


def test_sigterm_finishes_cleanly_and_removes_the_server_file(tmp_path):
    db = tmp_path / "term.duckdb"
    proc = ServerProcess(db).start()
    s = proc.session()
    s.sql("CREATE DATABASE D; CREATE SCHEMA D.S; CREATE WAREHOUSE WH")
    s.sql("CREATE TABLE RAW (ID INT)")
    s.sql(
        "CREATE DYNAMIC TABLE C TARGET_LAG = '1 second' WAREHOUSE = WH AS "
        "SELECT COUNT(*) AS N FROM RAW"
    )
    s.insert("RAW", [{"ID": i} for i in range(100)])
    time.sleep(0.6)
    assert proc.terminate(signal.SIGTERM) == 0
    assert not serverfile.path_for(db).exists() and find_server(db) is None
    local = connect_or_remote(db)
    assert not isinstance(local, RemoteSession)
    assert local.sql("SELECT COUNT(*) FROM D.S.RAW").scalar() == 100
    local.close()
    proc = ServerProcess(db).start()  # and it serves again
    assert proc.terminate(signal.SIGINT) == 0


def test_sigterm_lets_a_running_refresh_finish(tmp_path):
    import threading

    db = tmp_path / "busy.duckdb"
    proc = ServerProcess(db).start()
    s = proc.session()
    s.sql("CREATE DATABASE D; CREATE SCHEMA D.S; CREATE WAREHOUSE WH")
    s.sql("CREATE TABLE T (X INT)")
    s.insert("T", pa.table({"X": pa.array(range(20000), pa.int32())}))
    # a refresh that takes a while: 400 million pairs, only ever refreshed by hand
    s.sql(
        "CREATE DYNAMIC TABLE SLOW SCHEDULER = DISABLE WAREHOUSE = WH REFRESH_MODE = FULL "
        "INITIALIZE = ON_SCHEDULE AS SELECT COUNT(*) AS N FROM T AS A, T AS B "
        "WHERE (A.X * 7 + B.X) % 1000 = 3"
    )
    answer = {}
    started = time.monotonic()
    refresh = threading.Thread(
        target=lambda: answer.update(
            zip(
                ("status", "body"),
                proc.json("POST", "/v1/dynamic-tables/D.S.SLOW/refresh"),
                strict=True,
            ),
            seconds=time.monotonic() - started,
        )
    )
    refresh.start()
    time.sleep(0.4)
    assert proc.terminate(signal.SIGTERM) == 0
    refresh.join(60)
    assert answer["status"] == 200 and answer["body"]["refreshes"][0]["STATE"] == "SUCCEEDED"
    assert answer["seconds"] > 0.4  # it was still running when the signal came
    local = snowmelt.session.Session(db)
    assert local.sql("SELECT N FROM D.S.SLOW").scalar() == 400000
    local.close()


def test_a_stale_server_file_after_a_crash_is_ignored_and_replaced(tmp_path):
    db = tmp_path / "stale.duckdb"
    proc = ServerProcess(db).start()
    old = proc.info
    proc.kill()
    assert serverfile.path_for(db).exists() and find_server(db) is None
    restarted = ServerProcess(db).start()
    assert restarted.info.pid != old.pid and restarted.info.token != old.token
    assert restarted.json("GET", "/metrics", token=old.token)[0] == 403
    restarted.terminate()
