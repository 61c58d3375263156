"""Incremental vs full refresh, side by side: the demo's medallion DAG, or a sensor chain.

    python -m bench.refresh                       # medallion DAG, N = 10M, changes 0.1%, 1%
    python -m bench.refresh --sizes 1e6           # a quicker run
    python -m bench.refresh --dag sensor          # the sensor chain, N = 1M and 10M
    python -m bench.refresh --dag sensor --sizes 1e6 --fractions 0.001 --repeat 3

``--dag medallion`` (the default) is ``bench.medallion``: the demo's seven dynamic tables
(three silver — a cleaned filter/projection with LAG windows, a join with two dimensions, a
window-based sessionization — and four gold aggregates) over N rows of bronze history, an
incremental and a full copy refreshed side by side. ``--dag sensor`` is the chain below.

For each history size N a fresh in-memory database gets ``READINGS`` (N sensor readings, one
per device per minute, 1,000 devices, 2% flagged bad) and two identical pipelines over it, one
``REFRESH_MODE = INCREMENTAL`` and one ``FULL``:

    SILVER   cleaned readings                          (linear)
    HOURLY   per device and hour: count, avg, min, max (aggregate, reads SILVER)
    BY_TYPE  per sensor type, all time                 (aggregate, reads SILVER)

Then, per change fraction, it appends fraction·N new readings (the next minutes of the
series, a few of them late) and refreshes the incremental pipeline, then the full one,
upstream first (``measure``): incremental time, full time and their ratio per table and for
the chain (medians over three batches, timed bare); then a refresh with no change (NO_DATA)
per table; and the peak memory of one more batch (sampled every 20 ms during the refresh,
above the level before it). DuckDB's automatic checkpoint — which vacuums deleted rows and
would land inside whichever refresh's COMMIT crosses its threshold — is deferred while
measuring; a CHECKPOINT after each pipeline is timed as that pipeline's upkeep and reported
on its own row and in "chain + checkpoint". Both pipelines are compared at the end (EXCEPT ALL both ways),
so the timings are of correct refreshes.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

DEVICES = 1000
TYPES = ("temperature", "humidity", "pressure", "co2", "voc", "noise", "light", "vibration")
TABLES = ("SILVER", "HOURLY", "BY_TYPE")
QUERIES = {
    "SILVER": "SELECT DEVICE_ID, SENSOR_TYPE, TS, VALUE FROM READINGS "
    "WHERE STATUS = 'OK' AND VALUE IS NOT NULL",
    "HOURLY": "SELECT DEVICE_ID, DATE_TRUNC('hour', TS) AS HOUR, COUNT(*) AS N, "
    "AVG(VALUE) AS AVG_VALUE, MIN(VALUE) AS MIN_VALUE, MAX(VALUE) AS MAX_VALUE "
    "FROM SILVER{p} GROUP BY DEVICE_ID, DATE_TRUNC('hour', TS)",
    "BY_TYPE": "SELECT SENSOR_TYPE, COUNT(*) AS N, SUM(VALUE) AS TOTAL, AVG(VALUE) AS AVG_VALUE "
    "FROM SILVER{p} GROUP BY SENSOR_TYPE",
}
PIPELINES = {"I": "INCREMENTAL", "F": "FULL"}


# -- measurement ------------------------------------------------------------------------------
def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        import os

        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@contextmanager
def peak_memory(s: Any, every: float = 0.02) -> Iterator[list[int]]:
    """Yields ``[rss, duckdb]``, which end up holding the peak growth in bytes, during the
    block, of the process RSS and of the memory DuckDB's buffer manager accounts for
    (``duckdb_memory()``: hash tables, sorts, scratch tables, new data), sampled every
    ``every`` seconds from a second connection to the same database. 20 ms by default: a
    faster sampler on two cores slows the small incremental refreshes it watches far more
    than the full ones."""
    cursor = s.rt.engine._con.cursor()  # the benchmark may look inside the engine
    query = "SELECT sum(memory_usage_bytes) FROM duckdb_memory()"

    def duck() -> int:
        return int(cursor.execute(query).fetchall()[0][0] or 0)

    result = [0, 0]
    base = (rss_bytes(), duck())
    peak = list(base)
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], rss_bytes())
            peak[1] = max(peak[1], duck())
            time.sleep(every)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield result
    finally:
        done.set()
        thread.join()
        result[0] = max(peak[0], rss_bytes()) - base[0]
        result[1] = max(peak[1], duck()) - base[1]
        cursor.close()


@dataclass
class Row:
    size: int
    fraction: float
    table: str
    incremental_s: float = 0.0
    full_s: float = 0.0
    no_data_ms: float = 0.0
    inc_peak_mb: tuple[float, float] = (0.0, 0.0)  # DuckDB, RSS
    full_peak_mb: tuple[float, float] = (0.0, 0.0)
    inserted: int = 0
    deleted: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


# -- data --------------------------------------------------------------------------------------
def readings(start: int, count: int, late: float = 0.0, seed: int = 0) -> Any:
    """``count`` readings continuing the series at reading number ``start``."""
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(seed + start)
    i = np.arange(start, start + count, dtype=np.int64)
    device = (i % DEVICES).astype(np.int64)
    minute = i // DEVICES
    if late:
        back = rng.random(count) < late
        minute = np.where(back, np.maximum(minute - rng.integers(60, 600, count), 0), minute)
    ts = (np.datetime64("2026-01-01T00:00:00") + minute.astype("timedelta64[m]")).astype(
        "datetime64[us]"
    )
    kinds = np.array(TYPES, dtype=object)[device % len(TYPES)]
    value = np.round(rng.normal(50.0, 15.0, count), 3)
    bad = rng.random(count) < 0.02
    status = np.where(bad, "ERR", "OK").astype(object)
    value = np.where(rng.random(count) < 0.001, np.nan, value)
    return pa.table(
        {
            "DEVICE_ID": pa.array(device),
            "SENSOR_TYPE": pa.array(kinds, pa.string()),
            "TS": pa.array(ts),
            "VALUE": pa.array(value, from_pandas=True),
            "STATUS": pa.array(status, pa.string()),
        }
    )


# -- the run ----------------------------------------------------------------------------------
def build(size: int) -> Any:
    import snowmelt

    s = snowmelt.connect()
    s.sql(
        "CREATE DATABASE BENCH; CREATE SCHEMA BENCH.S; CREATE WAREHOUSE WH; "
        "USE SCHEMA BENCH.S; CREATE TABLE READINGS (DEVICE_ID INT, SENSOR_TYPE VARCHAR, "
        "TS TIMESTAMP_NTZ, VALUE DOUBLE, STATUS VARCHAR)"
    )
    step = 2_000_000
    for start in range(0, size, step):
        s.insert("READINGS", readings(start, min(step, size - start)))
    for suffix, mode in PIPELINES.items():
        for table in TABLES:
            query = QUERIES[table].format(p=f"_{suffix}")
            s.sql(
                f"CREATE DYNAMIC TABLE {table}_{suffix} TARGET_LAG = '1 minute' "
                f"WAREHOUSE = WH REFRESH_MODE = {mode} AS {query}"
            )
    return s


def oid(s: Any, name: str) -> int:
    from snowmelt.names import ObjectName

    obj = s.rt.catalog.find(ObjectName("BENCH", "S", name))
    assert obj is not None, name
    return int(obj.oid)


def timed_refresh(
    s: Any, table_oid: int, expect: tuple[str, ...], sample: bool = False
) -> tuple[float, tuple[int, int], Any]:
    """Refresh one table (its upstream is already fresh): seconds, peak growth in bytes
    (DuckDB, RSS; only when ``sample``), outcome."""
    gc.collect()
    with peak_memory(s) if sample else nullcontext([0, 0]) as peak:
        started = time.perf_counter()
        (outcome,) = s.refresher.refresh([table_oid], "MANUAL", include_upstream=False)
        elapsed = time.perf_counter() - started
    if outcome.state != "SUCCEEDED" or outcome.action not in expect:
        raise SystemExit(f"{outcome.name}: {outcome.state} {outcome.action} {outcome.message}")
    return elapsed, (peak[1], peak[0]), outcome


ROUNDS = 3  # timed change batches per fraction; a table's time is the median over them
UPKEEP = "(checkpoint)"  # the row of the CHECKPOINT run after each pipeline


@contextmanager
def deferred_checkpoints(s: Any) -> Iterator[None]:
    """DuckDB checkpoints — for an in-memory database: vacuums the rows deletes left behind
    and rewrites the row groups they touched — inside the COMMIT that takes the committed
    undo log past ``checkpoint_threshold``; that refresh pays for the writes of every refresh
    before it (measured: 100–400 ms landing on one gold table's commit). While measuring,
    the automatic checkpoint is deferred and one CHECKPOINT follows each pipeline, timed as
    that pipeline's upkeep."""
    engine = s.rt.engine
    engine.execute("SET checkpoint_threshold = '1TB'")
    try:
        yield
    finally:
        engine.execute("RESET checkpoint_threshold")


def checkpoint_s(s: Any) -> float:
    started = time.perf_counter()
    s.rt.engine.execute("CHECKPOINT")
    return time.perf_counter() - started


def measure(s: Any, tables: list[tuple[Row, int, int]], change: Callable[[], None]) -> Row:
    """Fill ``tables`` — (row, incremental oid, full oid), upstream first — over 1 + ROUNDS
    change batches. Each batch refreshes the whole incremental pipeline, then the whole full
    one, so neither runs in the other's wake of caches and freed memory; a CHECKPOINT after
    each pipeline does the deferred upkeep of its writes (``deferred_checkpoints``), timed
    on its own: the returned row. The first batch samples peak memory; the others are timed
    bare (a sampling thread slows the small refreshes it watches), and each time is the
    median over them."""
    times: dict[int, list[tuple[float, float]]] = {id(row): [] for row, _, _ in tables}
    first = tables[0][0]
    upkeep = Row(first.size, first.fraction, UPKEEP, extra={"upkeep": True})
    checkpoints: list[tuple[float, float]] = []
    with deferred_checkpoints(s):
        checkpoint_s(s)  # the history's own upkeep, before anything is timed
        for batch in range(1 + ROUNDS):
            change()
            sample = batch == 0
            for row, incremental, _ in tables:
                seconds, peak, outcome = timed_refresh(s, incremental, ("INCREMENTAL",), sample)
                times[id(row)].append((seconds, 0.0))
                if sample:
                    row.inc_peak_mb = (peak[0] / 2**20, peak[1] / 2**20)
                row.inserted, row.deleted = outcome.inserted, outcome.deleted
            after_incremental = checkpoint_s(s)
            for row, _, full in tables:
                seconds, peak, _ = timed_refresh(s, full, ("FULL",), sample)
                times[id(row)][-1] = (times[id(row)][-1][0], seconds)
                if sample:
                    row.full_peak_mb = (peak[0] / 2**20, peak[1] / 2**20)
            checkpoints.append((after_incremental, checkpoint_s(s)))
    for row, _, _ in tables:
        timed = times[id(row)][1:]
        row.incremental_s = statistics.median(t[0] for t in timed)
        row.full_s = statistics.median(t[1] for t in timed)
    upkeep.incremental_s = statistics.median(c[0] for c in checkpoints[1:])
    upkeep.full_s = statistics.median(c[1] for c in checkpoints[1:])
    return upkeep


def no_data_ms(s: Any, table_oid: int, repeat: int) -> float:
    """Median milliseconds of ``repeat`` NO_DATA refreshes of one table, timed bare (no
    memory sampler: a sampling thread would be most of what it measured)."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        (outcome,) = s.refresher.refresh([table_oid], "MANUAL", include_upstream=False)
        times.append((time.perf_counter() - started) * 1000)
        if outcome.action != "NO_DATA":
            raise SystemExit(f"{outcome.name}: {outcome.state} {outcome.action}, not NO_DATA")
    return statistics.median(times)


KEYS = {"SILVER": None, "HOURLY": ("DEVICE_ID", "HOUR"), "BY_TYPE": ("SENSOR_TYPE",)}


def compare(s: Any) -> list[str]:
    """Incremental and full pipelines hold the same rows: SILVER exactly (EXCEPT ALL both
    ways), aggregates group by group, doubles within 1e-9 relative (a SUM of doubles kept
    incrementally adds in another order than a one-pass AVG)."""
    problems = []
    for table, keys in KEYS.items():
        a, b = f"SELECT * FROM {table}_I", f"SELECT * FROM {table}_F"
        if keys is None:
            diff = s.sql(
                f"SELECT (SELECT COUNT(*) FROM ({a} EXCEPT ALL {b})) + "
                f"(SELECT COUNT(*) FROM ({b} EXCEPT ALL {a}))"
            ).scalar()
        else:
            schema = s.sql(f"{a} LIMIT 0").arrow().schema
            on = " AND ".join(f"i.{k} = f.{k}" for k in keys)
            differs = " OR ".join(
                f"abs(i.{c.name} - f.{c.name}) > 1e-9 * greatest(1, abs(f.{c.name})) OR "
                f"(i.{c.name} IS NULL) <> (f.{c.name} IS NULL)"
                if str(c.type) == "double"
                else f"i.{c.name} IS DISTINCT FROM f.{c.name}"
                for c in schema
            )
            diff = s.sql(
                f"SELECT COUNT(*) FROM {table}_I i FULL JOIN {table}_F f ON {on} WHERE {differs}"
            ).scalar()
        if diff:
            problems.append(f"{table}: {diff} rows differ between incremental and full")
    return problems


def run_size(
    size: int, fractions: list[float], repeat: int, say: Callable[[str], None]
) -> list[Row]:
    started = time.perf_counter()
    s = build(size)
    say(
        f"N = {size:,}: loaded and initialized both pipelines in "
        f"{time.perf_counter() - started:.1f} s"
    )
    rows: list[Row] = []
    appended = size
    # Warm-up: the first incremental refresh of a plan compiles it (parse, decompose,
    # translate, render: tens of ms, once per process); measure the steady state.
    s.insert("READINGS", readings(appended, 10, seed=3))
    appended += 10
    for suffix in PIPELINES:
        for name in TABLES:
            timed_refresh(s, oid(s, f"{name}_{suffix}"), ("INCREMENTAL", "FULL"))
    for fraction in fractions:
        count = max(1, int(size * fraction))

        def change(count: int = count) -> None:
            nonlocal appended
            s.insert("READINGS", readings(appended, count, late=0.01, seed=appended))
            appended += count

        done = [(Row(size, fraction, t), oid(s, f"{t}_I"), oid(s, f"{t}_F")) for t in TABLES]
        upkeep = measure(s, done, change)
        for row, incremental, _ in done:
            row.no_data_ms = no_data_ms(s, incremental, repeat)
            rows.append(row)
        rows.append(upkeep)
    problems = compare(s)
    for problem in problems:
        say("MISMATCH " + problem)
    s.close()
    return rows


def _mb(pair: tuple[float, float]) -> str:
    return f"{pair[0]:.0f}/{pair[1]:.0f}"


def table(rows: list[Row], total: str = "chain") -> str:
    width = max([8, len(total) + len(" + checkpoint")] + [len(r.table) for r in rows])
    head = (
        f"{'N':>11} {'change':>7} {'table':<{width}} {'incr s':>8} {'full s':>8} "
        f"{'full/incr':>9} "
        f"{'NO_DATA ms':>10} {'incr MB':>9} {'full MB':>9} {'ins':>7} {'del':>6}"
    )
    lines = [head, "-" * len(head)]
    groups: dict[tuple[int, float], list[Row]] = {}
    for r in rows:
        groups.setdefault((r.size, r.fraction), []).append(r)
    for (size, fraction), members in groups.items():

        def timing(
            name: str, inc: float, full: float, at: tuple[int, float] = (size, fraction)
        ) -> str:
            return (
                f"{at[0]:>11,} {at[1]:>7.1%} {name:<{width}} {inc:>8.3f} {full:>8.3f} "
                f"{full / inc:>8.0f}x"
            )

        tables = [r for r in members if not r.extra.get("upkeep")]
        upkeep = [r for r in members if r.extra.get("upkeep")]
        for r in tables:
            lines.append(
                f"{timing(r.table, r.incremental_s, r.full_s)} {r.no_data_ms:>10.2f} "
                f"{_mb(r.inc_peak_mb):>9} {_mb(r.full_peak_mb):>9} {r.inserted:>7,} "
                f"{r.deleted:>6,}"
            )
        lines += [timing(r.table, r.incremental_s, r.full_s) for r in upkeep]
        inc = sum(r.incremental_s for r in tables)
        full = sum(r.full_s for r in tables)
        peak_i = (max(r.inc_peak_mb[0] for r in tables), max(r.inc_peak_mb[1] for r in tables))
        peak_f = (max(r.full_peak_mb[0] for r in tables), max(r.full_peak_mb[1] for r in tables))
        lines.append(
            f"{timing(total, inc, full)} {sum(r.no_data_ms for r in tables):>10.2f} "
            f"{_mb(peak_i):>9} {_mb(peak_f):>9}"
        )
        for r in upkeep:
            inc, full = inc + r.incremental_s, full + r.full_s
            lines.append(timing(f"{total} + checkpoint", inc, full))
        lines.append("")
    lines.append("MB = peak growth during the refresh: DuckDB-accounted / process RSS.")
    lines.append(
        f"{UPKEEP} = the CHECKPOINT after each pipeline: DuckDB's deferred upkeep of its writes "
        "(vacuuming deleted rows), which would otherwise land inside some refresh's COMMIT."
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.refresh",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--dag",
        choices=("medallion", "sensor"),
        default="medallion",
        help="the demo's medallion DAG (default) or the sensor chain",
    )
    parser.add_argument(
        "--sizes",
        default=None,
        help="history sizes N, comma separated (1e6 notation accepted); "
        "default 10M for the medallion DAG, 1M and 10M for the sensor "
        "chain",
    )
    parser.add_argument(
        "--fractions", default="0.001,0.01", help="change sizes as fractions of N, comma separated"
    )
    parser.add_argument("--repeat", type=int, default=10, help="NO_DATA refreshes per table")
    args = parser.parse_args(argv)
    default = "10000000" if args.dag == "medallion" else "1000000,10000000"
    sizes = [int(float(x)) for x in (args.sizes or default).split(",") if x]
    fractions = [float(x) for x in args.fractions.split(",") if x]
    rows: list[Row] = []
    runner = run_size
    if args.dag == "medallion":
        from bench import medallion

        runner = medallion.run_size
    for size in sizes:
        rows += runner(size, fractions, args.repeat, lambda m: print(m, flush=True))
    print()
    if args.dag == "medallion":
        print(
            "Refresh of each table of the medallion DAG after change·N new bronze rows "
            "(incremental and full DAGs side by side, upstream first; 'DAG' is the sum):"
        )
    else:
        print(
            "Refresh of each table of the pipeline after appending change·N readings "
            "(incremental and full pipelines side by side, upstream first):"
        )
    print(table(rows, "DAG" if args.dag == "medallion" else "chain"))


if __name__ == "__main__":
    main()
