"""Crash safety: ingest over HTTP while the scheduler refreshes, SIGKILL the server at random
moments, restart it, and check that nothing acknowledged is lost or doubled, nothing
unacknowledged is half-present, and every dynamic table converges to its query's result."""

from __future__ import annotations

import http.client
import json
import random
import threading
import time

import pyarrow as pa
import pytest
from server_harness import ARROW, ServerProcess, arrow_stream, stop_all

pytestmark = pytest.mark.slow

KILLS = 22
BATCH_ROWS = 150
WORKERS = 2

SILVER_QUERY = "SELECT BATCH, SEQ, V * 2 AS W FROM D.S.RAW WHERE V % 5 <> 0"
GOLD_QUERY = f"SELECT BATCH, COUNT(*) AS N, SUM(W) AS S FROM ({SILVER_QUERY}) AS X GROUP BY BATCH"


def _batch(number: int) -> bytes:
    seq = list(range(BATCH_ROWS))
    return arrow_stream(
        pa.table(
            {"BATCH": [number] * BATCH_ROWS, "SEQ": seq, "V": [(number * 7 + s) % 11 for s in seq]}
        )
    )


def _sql(proc: ServerProcess, text: str) -> list[list]:
    status, body = proc.json("POST", "/v1/sql", {"sql": text})
    assert status == 200, body
    return body["rows"]


def _setup(proc: ServerProcess) -> None:
    _sql(proc, "CREATE DATABASE D; CREATE SCHEMA D.S; CREATE WAREHOUSE WH")
    _sql(proc, "CREATE TABLE D.S.RAW (BATCH INT, SEQ INT, V INT)")
    _sql(
        proc,
        "CREATE DYNAMIC TABLE D.S.SILVER TARGET_LAG = '1 second' WAREHOUSE = WH AS " + SILVER_QUERY,
    )
    _sql(
        proc,
        "CREATE DYNAMIC TABLE D.S.GOLD TARGET_LAG = '2 seconds' WAREHOUSE = WH AS "
        "SELECT BATCH, COUNT(*) AS N, SUM(W) AS S FROM D.S.SILVER GROUP BY BATCH",
    )


class Ingestor:
    """Workers that send numbered batches with idempotency keys until the server dies."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.next = 0
        self.acked: set[int] = set()
        self.pending: set[int] = set()  # sent, answer never received
        self.errors: list[str] = []

    def take(self) -> int:
        with self.lock:
            self.next += 1
            self.pending.add(self.next)
            return self.next

    def send(self, proc: ServerProcess, conn: http.client.HTTPConnection, number: int) -> None:
        conn.request(
            "POST",
            "/v1/tables/D.S.RAW/rows",
            body=_batch(number),
            headers={
                "Authorization": f"Bearer {proc.info.token}",
                "Content-Type": ARROW,
                "Idempotency-Key": f"batch-{number}",
            },
        )
        response = conn.getresponse()
        body = json.loads(response.read())
        if response.status != 200 or body["rows"] != BATCH_ROWS:
            with self.lock:
                self.errors.append(f"batch {number}: {response.status} {body}")
            return
        with self.lock:
            self.pending.discard(number)
            self.acked.add(number)

    def run(self, proc: ServerProcess, stop: threading.Event) -> None:
        conn = http.client.HTTPConnection(proc.info.host, proc.info.port, timeout=30)
        try:
            while not stop.is_set():
                self.send(proc, conn, self.take())
        except (OSError, http.client.HTTPException):
            return  # the server was killed mid-request: the batch stays pending
        finally:
            conn.close()


def _check_batches(proc: ServerProcess, ingestor: Ingestor) -> None:
    rows = _sql(proc, "SELECT BATCH, COUNT(*), COUNT(DISTINCT SEQ) FROM D.S.RAW GROUP BY BATCH")
    present = {batch: (count, distinct) for batch, count, distinct in rows}
    for batch, (count, distinct) in present.items():
        assert (count, distinct) == (BATCH_ROWS, BATCH_ROWS), f"batch {batch} is partial/doubled"
        assert batch in ingestor.acked or batch in ingestor.pending, f"batch {batch} never sent"
    missing = ingestor.acked - set(present)
    assert not missing, f"acknowledged batches lost: {sorted(missing)[:10]}"


def _check_consistent(proc: ServerProcess) -> None:
    """Right after a crash, each dynamic table holds whole batches: a consistent version."""
    expected = _sql(proc, f"SELECT BATCH, COUNT(*) FROM ({SILVER_QUERY}) GROUP BY BATCH")
    silver = _sql(proc, "SELECT BATCH, COUNT(*) FROM D.S.SILVER GROUP BY BATCH")
    expected_counts = dict(map(tuple, expected))
    for batch, count in silver:
        assert count == expected_counts[batch], f"SILVER holds part of batch {batch}"
    wrong = _sql(proc, f"SELECT COUNT(*) FROM (SELECT * FROM D.S.GOLD EXCEPT ALL {GOLD_QUERY})")
    assert wrong == [[0]], "GOLD holds an aggregate no whole set of batches gives"


def _differences(proc: ServerProcess) -> list[int]:
    return _sql(
        proc,
        f"""SELECT
        (SELECT COUNT(*) FROM (SELECT * FROM D.S.SILVER EXCEPT ALL {SILVER_QUERY})),
        (SELECT COUNT(*) FROM ({SILVER_QUERY} EXCEPT ALL SELECT * FROM D.S.SILVER)),
        (SELECT COUNT(*) FROM (SELECT * FROM D.S.GOLD EXCEPT ALL {GOLD_QUERY})),
        (SELECT COUNT(*) FROM ({GOLD_QUERY} EXCEPT ALL SELECT * FROM D.S.GOLD))""",
    )[0]


def test_sigkill_during_ingest_and_refresh_loses_nothing_acknowledged(tmp_path):
    rng = random.Random(20261127)
    db = tmp_path / "crash.duckdb"
    proc = ServerProcess(db).start()
    _setup(proc)
    ingestor = Ingestor()
    kills = 0
    try:
        for _ in range(KILLS):
            stop = threading.Event()
            workers = [
                threading.Thread(target=ingestor.run, args=(proc, stop)) for _ in range(WORKERS)
            ]
            for worker in workers:
                worker.start()
            time.sleep(rng.uniform(0.1, 0.8))
            proc.kill()
            kills += 1
            stop.set()
            for worker in workers:
                worker.join(30)
            assert not ingestor.errors, ingestor.errors[:3]
            proc = ServerProcess(db).start()
            _check_batches(proc, ingestor)
            _check_consistent(proc)
            # re-send what was never acknowledged, with the same keys: each lands exactly once
            conn = http.client.HTTPConnection(proc.info.host, proc.info.port, timeout=30)
            for number in sorted(ingestor.pending):
                ingestor.send(proc, conn, number)
            conn.close()
            assert not ingestor.pending and not ingestor.errors
            _check_batches(proc, ingestor)
        assert kills >= 20 and len(ingestor.acked) > KILLS
        # every dynamic table converges to its query's result (scheduler only, no manual refresh)
        deadline = time.monotonic() + 20
        while (diff := _differences(proc)) != [0, 0, 0, 0] and time.monotonic() < deadline:
            time.sleep(0.25)
        assert diff == [0, 0, 0, 0]
        total = _sql(proc, "SELECT COUNT(*), COUNT(DISTINCT BATCH) FROM D.S.RAW")[0]
        assert total == [len(ingestor.acked) * BATCH_ROWS, len(ingestor.acked)]
        history = _sql(
            proc,
            "SELECT COUNT(*) FROM TABLE(D.INFORMATION_SCHEMA."
            "DYNAMIC_TABLE_REFRESH_HISTORY(NAME => 'D.S.SILVER', "
            "RESULT_LIMIT => 10000)) WHERE REFRESH_TRIGGER = 'SCHEDULED'",
        )
        assert history[0][0] > KILLS  # the scheduler refreshed throughout
    finally:
        stop_all()
