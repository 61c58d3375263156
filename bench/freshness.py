"""Freshness under continuous load: a bronze -> silver (lag 1 s) -> gold (lag 5 s) pipeline
served by a real ``snowmelt serve`` process, fed over HTTP at a steady rate.

Prints, from one run:
  * observed lag p50 / p99 per dynamic table (time-weighted over the load window, from the
    refresh history), the server's own TIME_WITHIN_TARGET_LAG_RATIO (target: >= 0.99) and
    mean / maximum lag;
  * ingest throughput over HTTP (paced and flat out), in-process through the Python API,
    and DuckDB's own append speed for the same batches (one commit per batch everywhere).

    python bench/freshness.py                  # 60 s at 5,000 rows/s (the reference run)
    python bench/freshness.py --seconds 15     # a short run
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from snowmelt.server import serverfile  # noqa: E402

ARROW = "application/vnd.apache.arrow.stream"
SETUP = [
    "CREATE DATABASE BENCH; CREATE SCHEMA BENCH.S; CREATE WAREHOUSE WH",
    "CREATE TABLE BENCH.S.EVENTS (ID BIGINT, TS TIMESTAMP, CUSTOMER INT, AMOUNT DOUBLE,"
    " STATUS STRING)",
    "CREATE TABLE BENCH.S.EVENTS_FLAT_OUT (ID BIGINT, TS TIMESTAMP, CUSTOMER INT,"
    " AMOUNT DOUBLE, STATUS STRING)",
    "CREATE DYNAMIC TABLE BENCH.S.SILVER TARGET_LAG = '1 second' WAREHOUSE = WH AS"
    " SELECT ID, TS, CUSTOMER, AMOUNT, UPPER(STATUS) AS STATUS FROM BENCH.S.EVENTS"
    " WHERE AMOUNT > 0",
    "CREATE DYNAMIC TABLE BENCH.S.GOLD TARGET_LAG = '5 seconds' WAREHOUSE = WH AS"
    " SELECT CUSTOMER, COUNT(*) AS ORDERS, SUM(AMOUNT) AS REVENUE FROM BENCH.S.SILVER"
    " GROUP BY CUSTOMER",
]
TABLES = {"BENCH.S.SILVER": 1, "BENCH.S.GOLD": 5}


def make_batch(start_id: int, rows: int) -> pa.Table:
    ids = pa.array(range(start_id, start_id + rows), pa.int64())
    now = datetime.now(UTC).replace(tzinfo=None)
    return pa.table(
        {
            "ID": ids,
            "TS": pa.array([now] * rows, pa.timestamp("us")),
            "CUSTOMER": pa.array(
                [(i * 7919) % 1000 for i in range(start_id, start_id + rows)], pa.int32()
            ),
            "AMOUNT": pa.array(
                [((i * 37) % 2000) / 10 - 10 for i in range(start_id, start_id + rows)]
            ),
            "STATUS": pa.array([("new", "paid", "shipped")[i % 3] for i in range(rows)]),
        }
    )


def ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


class Server:
    def __init__(self, db: Path):
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.log = open(db.with_suffix(".log"), "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "snowmelt.server.main", "--db", str(db), "--port", "0"],
            env=env,
            stdout=self.log,
            stderr=self.log,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            info = serverfile.read(serverfile.path_for(db))
            if info is not None and info.pid == self.proc.pid:
                self.info = info
                break
            if self.proc.poll() is not None:
                raise SystemExit(f"server exited: see {self.log.name}")
            time.sleep(0.02)
        else:
            raise SystemExit("server did not start")
        self.conn = http.client.HTTPConnection(self.info.host, self.info.port, timeout=120)
        self.conn.connect()
        self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def call(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes]:
        self.conn.request(
            method,
            path,
            body=body,
            headers={"Authorization": f"Bearer {self.info.token}", **(headers or {})},
        )
        response = self.conn.getresponse()
        return response.status, response.read()

    def sql(self, text: str) -> dict:
        status, data = self.call(
            "POST",
            "/v1/sql",
            json.dumps({"sql": text}).encode(),
            {"Content-Type": "application/json"},
        )
        if status != 200:
            raise SystemExit(f"SQL failed ({status}): {data[:500]!r}")
        return json.loads(data)

    def ingest(self, table: str, body: bytes, key: str) -> None:
        status, data = self.call(
            "POST",
            f"/v1/tables/{table}/rows",
            body,
            {"Content-Type": ARROW, "Idempotency-Key": key},
        )
        if status != 200:
            raise SystemExit(f"ingest failed ({status}): {data[:500]!r}")

    def stop(self) -> None:
        self.conn.close()
        os.kill(self.proc.pid, signal.SIGTERM)
        self.proc.wait(60)
        self.log.close()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def observed_lags(
    history: list[dict], start: datetime, end: datetime, step: float = 0.01
) -> list[float]:
    """The lag sawtooth sampled every ``step`` seconds over [start, end]."""
    done = sorted(
        (
            (
                datetime.fromisoformat(h["REFRESH_END_TIME"]),
                datetime.fromisoformat(h["DATA_TIMESTAMP"]),
            )
            for h in history
            if h["STATE"] == "SUCCEEDED"
        ),
        key=lambda p: p[0],
    )
    lags, index, latest = [], 0, None
    t = start
    total = (end - start).total_seconds()
    for k in range(int(total / step)):
        t = start + (end - start) * (k * step / total)
        while index < len(done) and done[index][0] <= t:
            latest = done[index][1] if latest is None else max(latest, done[index][1])
            index += 1
        if latest is not None:
            lags.append((t - latest).total_seconds())
    return lags


def paced_http_ingest(
    server: Server, seconds: float, rate: int, batch_rows: int
) -> tuple[int, float, list[float]]:
    interval = batch_rows / rate
    sent, latencies = 0, []
    start = time.monotonic()
    k = 0
    while time.monotonic() - start < seconds:
        due = start + k * interval
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        body = ipc(make_batch(sent, batch_rows))
        t0 = time.perf_counter()
        server.ingest("BENCH.S.EVENTS", body, f"paced-{k}")
        latencies.append(time.perf_counter() - t0)
        sent += batch_rows
        k += 1
    return sent, time.monotonic() - start, latencies


def flat_out(seconds: float, batches: list[pa.Table], send) -> tuple[int, float]:  # noqa: ANN001
    rows, k = 0, 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        batch = batches[k % len(batches)]
        send(batch, k)
        rows += batch.num_rows
        k += 1
    return rows, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="load window (60)")
    parser.add_argument("--rate", type=int, default=5000, help="rows per second (5000)")
    parser.add_argument("--batch", type=int, default=500, help="rows per request (500)")
    parser.add_argument(
        "--throughput-seconds",
        type=float,
        default=5.0,
        help="length of each flat-out throughput measurement (5)",
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="snowmelt-freshness-"))
    print(
        f"snowmelt freshness benchmark: {args.rate} rows/s for {args.seconds:g} s in batches"
        f" of {args.batch}, {os.cpu_count()} CPUs, work dir {work}"
    )

    server = Server(work / "served.duckdb")
    for statement in SETUP:
        server.sql(statement)
    time.sleep(1.0)  # let the scheduler settle into its instants
    window_start = datetime.now(UTC)
    sent, elapsed, latencies = paced_http_ingest(server, args.seconds, args.rate, args.batch)
    window_end = datetime.now(UTC)

    print(
        f"\nPaced HTTP ingest: {sent:,} rows in {elapsed:.1f} s = {sent / elapsed:,.0f} rows/s"
        f" (request latency p50 {percentile(latencies, 0.5) * 1000:.1f} ms, p99 "
        f"{percentile(latencies, 0.99) * 1000:.1f} ms)"
    )
    print(
        f"\n{'table':<16}{'target':>8}{'lag p50':>10}{'lag p99':>10}{'max':>8}"
        f"{'within':>10}{'refreshes':>11}{'mean refresh':>14}  actions"
    )
    start_literal = window_start.strftime("%Y-%m-%d %H:%M:%S.%f")
    ratios = {}
    for name, target in TABLES.items():
        status, data = server.call("GET", f"/v1/dynamic-tables/{name}/history?limit=10000")
        history = json.loads(data)["history"]
        lags = observed_lags(history, window_start, window_end)
        metrics = server.sql(
            "SELECT TIME_WITHIN_TARGET_LAG_RATIO, MAXIMUM_LAG_SEC FROM TABLE(BENCH."
            f"INFORMATION_SCHEMA.DYNAMIC_TABLES(NAME => '{name}', REFRESH_DATA_TIMESTAMP_START"
            f" => '{start_literal}'::TIMESTAMP_LTZ))"
        )["rows"][0]
        ratios[name] = metrics[0]
        in_window = [
            h
            for h in history
            if h["STATE"] == "SUCCEEDED"
            and window_start <= datetime.fromisoformat(h["DATA_TIMESTAMP"]) <= window_end
        ]
        durations = [
            (
                datetime.fromisoformat(h["REFRESH_END_TIME"])
                - datetime.fromisoformat(h["REFRESH_START_TIME"])
            ).total_seconds()
            for h in in_window
        ]
        actions: dict[str, int] = {}
        for h in in_window:
            actions[h["REFRESH_ACTION"]] = actions.get(h["REFRESH_ACTION"], 0) + 1
        print(
            f"{name:<16}{target:>7}s{percentile(lags, 0.5):>9.2f}s{percentile(lags, 0.99):>9.2f}s"
            f"{max(lags):>7.2f}s{metrics[0]:>10.4f}{len(in_window):>11}"
            f"{statistics.mean(durations) * 1000 if durations else 0:>11.1f} ms  "
            + ", ".join(f"{k}={v}" for k, v in sorted(actions.items()))
        )

    batches = [make_batch(10_000_000 + i * args.batch, args.batch) for i in range(20)]
    bodies = [ipc(b) for b in batches]
    rows, secs = flat_out(
        args.throughput_seconds,
        batches,
        lambda b, k: server.ingest("BENCH.S.EVENTS_FLAT_OUT", bodies[k % len(bodies)], f"flat-{k}"),
    )
    http_rate = rows / secs
    counts = server.sql(
        "SELECT (SELECT COUNT(*) FROM BENCH.S.EVENTS), (SELECT COUNT(*) FROM BENCH.S.SILVER)"
    )["rows"][0]
    server.stop()

    import snowmelt

    session = snowmelt.connect(work / "in_process.duckdb")
    for statement in SETUP[:3]:
        session.sql(statement)
    rows_ip, secs_ip = flat_out(
        args.throughput_seconds, batches, lambda b, k: session.insert("BENCH.S.EVENTS_FLAT_OUT", b)
    )
    session.close()

    con = duckdb.connect(str(work / "plain.duckdb"))
    con.execute(
        "CREATE TABLE events (ID BIGINT, TS TIMESTAMP, CUSTOMER INTEGER, AMOUNT DOUBLE,"
        " STATUS VARCHAR)"
    )

    def duck_append(batch: pa.Table, k: int) -> None:
        con.register("batch", batch)
        con.execute("INSERT INTO events SELECT * FROM batch")  # autocommit: one commit each
        con.unregister("batch")

    rows_dk, secs_dk = flat_out(args.throughput_seconds, batches, duck_append)
    con.close()
    duck_rate, ip_rate = rows_dk / secs_dk, rows_ip / secs_ip

    print(
        f"\nIngest throughput, {args.batch}-row batches, one commit per batch, flat out for "
        f"{args.throughput_seconds:g} s each (same batches, same run):"
    )
    print(f"  DuckDB INSERT from Arrow (plain file)   {duck_rate:>12,.0f} rows/s   1.00x")
    print(
        f"  snowmelt in-process (Session.insert)    {ip_rate:>12,.0f} rows/s   "
        f"{ip_rate / duck_rate:.2f}x"
    )
    print(
        f"  snowmelt over HTTP (Arrow IPC, 1 conn)  {http_rate:>12,.0f} rows/s   "
        f"{http_rate / duck_rate:.2f}x   (scheduler running)"
    )
    print(f"\nRows at the end: EVENTS {counts[0]:,}, SILVER {counts[1]:,}")
    verdict = all(r is not None and r >= 0.99 for r in ratios.values())
    print(f"TIME_WITHIN_TARGET_LAG_RATIO >= 0.99 for every table: {'yes' if verdict else 'NO'}")


if __name__ == "__main__":
    main()
