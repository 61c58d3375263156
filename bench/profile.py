"""Where an incremental refresh of the medallion DAG spends its time, statement by statement.

    python -m bench.profile                                  # N = 10M, a 0.1% change
    python -m bench.profile --size 1e6 --fraction 0.01 --top 5

Builds the incremental copy of ``bench.medallion``'s DAG (no FULL copy) and warms it up like
the benchmark. Then, three times, fraction·N new bronze rows arrive and the DAG refreshes
table by table, upstream first, with every statement the engine runs recorded (DuckDB's
automatic checkpoint deferred, as in the benchmark). The first batch renders the statements
of paths the warm-up did not take; the second is timed bare (each statement's wall time);
the third runs under DuckDB's JSON profiler, which splits a statement's time into binding,
optimizing, physical planning and execution — what is left of its wall time is parsing and
the client. Printed per table: the refresh time, the number of statements and their time
(the rest is snowmelt's Python, BEGIN and COMMIT), the split, and the slowest statements.

This is the measurement behind the README's account of where a small refresh's time goes:
at 10M rows and 0.1%, DuckDB parsing, binding, optimizing and planning the generated
statements takes about 170 ms of the incremental DAG's 430.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from bench import medallion
from bench.refresh import deferred_checkpoints

PHASES = ("parse+client", "bind", "optimize", "plan", "execute")


@dataclass
class Statement:
    sql: str
    wall_ms: float
    phases: dict[str, float] = field(default_factory=dict)


@contextmanager
def recording(engine: Any, profile: bool) -> Iterator[list[Statement]]:
    """Every statement ``engine`` runs during the block, with its wall time; with
    ``profile``, also DuckDB's split of it (``PHASES``). The benchmark may look inside the
    engine: it wraps the two methods all statements go through, on this instance only."""
    found: list[Statement] = []
    con = engine._con
    fd, output = tempfile.mkstemp(suffix=".json")
    os.close(fd)

    def traced(method: Callable[..., Any]) -> Callable[..., Any]:
        def run(statement: Any, params: Any = None) -> Any:
            sql = engine._sql(statement)
            if profile:
                open(output, "w").close()
            started = time.perf_counter()
            try:
                return method(statement, params)
            finally:
                # no statement may run here: the caller has yet to fetch this one's result
                wall = (time.perf_counter() - started) * 1000
                found.append(Statement(sql, wall))
                if profile:
                    found[-1].phases = _phases(output, wall)

        return run

    if profile:  # written by each statement as it completes
        con.execute("SET enable_profiling = 'json'")
        con.execute(f"SET profiling_output = '{output}'")
    engine._run, engine.query = traced(engine._run), traced(engine.query)
    try:
        yield found
    finally:
        del engine._run, engine.query  # back to the class's methods
        if profile:
            con.execute("PRAGMA disable_profiling")
        os.unlink(output)


def _phases(path: str, wall_ms: float) -> dict[str, float]:
    try:
        with open(path) as handle:
            tree = json.load(handle)
    except ValueError:  # no profile written (a statement the profiler skips): all client
        return {"parse+client": wall_ms}
    bind = tree["planner"]["total_time"] * 1000
    optimize = tree["optimizer"].get("total_time", 0.0) * 1000
    plan = tree["physical_planner"]["total_time"] * 1000
    total = tree["query"]["total_time"] * 1000
    return {
        "parse+client": max(wall_ms - total, 0.0),
        "bind": bind,
        "optimize": optimize,
        "plan": plan,
        "execute": max(total - bind - optimize - plan, 0.0),
    }


def refresh_all(s: Any, profile: bool) -> list[tuple[str, float, list[Statement]]]:
    out = []
    for name in medallion.TABLES:
        table_oid = medallion._oid(s, name)
        with recording(s.rt.engine, profile) as found:
            started = time.perf_counter()
            (outcome,) = s.refresher.refresh([table_oid], "MANUAL", include_upstream=False)
            elapsed = (time.perf_counter() - started) * 1000
        if outcome.state != "SUCCEEDED" or outcome.action != "INCREMENTAL":
            raise SystemExit(f"{name}: {outcome.state} {outcome.action} {outcome.message}")
        out.append((name, elapsed, found))
    return out


def report(
    bare: list[tuple[str, float, list[Statement]]],
    profiled: list[tuple[str, float, list[Statement]]],
    top: int,
) -> str:
    head = (
        f"{'table':<36} {'refresh ms':>10} {'stmts':>5} {'stmt ms':>8} {'other ms':>8} | "
        + " ".join(f"{p:>12}" for p in PHASES)
    )
    lines = [head, "-" * len(head)]
    totals = {"refresh": 0.0, "stmts": 0.0, "count": 0.0, **dict.fromkeys(PHASES, 0.0)}
    for (name, elapsed, found), (_, _, split) in zip(bare, profiled, strict=True):
        spent = sum(f.wall_ms for f in found)
        phases = {p: sum(f.phases.get(p, 0.0) for f in split) for p in PHASES}
        lines.append(
            f"{name:<36} {elapsed:>10.1f} {len(found):>5} {spent:>8.1f} {elapsed - spent:>8.1f} | "
            + " ".join(f"{phases[p]:>12.1f}" for p in PHASES)
        )
        totals["refresh"] += elapsed
        totals["stmts"] += spent
        totals["count"] += len(found)
        for p in PHASES:
            totals[p] += phases[p]
    lines.append(
        f"{'DAG':<36} {totals['refresh']:>10.1f} {int(totals['count']):>5} "
        f"{totals['stmts']:>8.1f} {totals['refresh'] - totals['stmts']:>8.1f} | "
        + " ".join(f"{totals[p]:>12.1f}" for p in PHASES)
    )
    profiled_total = sum(totals[p] for p in PHASES)
    before = totals["parse+client"] + totals["bind"] + totals["optimize"] + totals["plan"]
    lines.append(
        f"\nBefore execution (parse, bind, optimize, plan): {before:.1f} of {profiled_total:.1f} "
        f"ms of statement time under the profiler ({before / max(profiled_total, 1e-9):.0%})."
    )
    slowest = sorted(
        ((f.wall_ms, name, f.sql) for name, _, found in bare for f in found), reverse=True
    )[:top]
    lines.append(f"\nThe {len(slowest)} slowest statements (timed bare):")
    for ms, name, sql in slowest:
        text = " ".join(sql.split())
        lines.append(f"  {ms:8.1f} ms  {name:<34} {text[:100]}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.profile",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--size", default="1e7", help="rows of bronze history (default 1e7)")
    parser.add_argument("--fraction", type=float, default=0.001, help="change (default 0.001)")
    parser.add_argument("--top", type=int, default=10, help="slowest statements to list")
    args = parser.parse_args(argv)
    size = int(float(args.size))

    def say(text: str) -> None:
        print(text, flush=True)

    s, feeds = medallion.build(size, say, modes=("INCREMENTAL",))
    medallion.ingest(s, feeds, 2000, 0.01)  # warm-up: compile every plan once
    for name in medallion.TABLES:
        medallion.timed(s, name, ("INCREMENTAL",))
    runs = []
    with deferred_checkpoints(s):  # as in the benchmark: no checkpoint inside a COMMIT
        for profile in (False, False, True):  # the first also renders paths warm-up missed
            medallion.ingest(s, feeds, size, args.fraction)
            s.rt.engine.checkpoint()  # each batch starts without the last one's upkeep
            runs.append(refresh_all(s, profile))
    say(f"\nN = {size:,}, change {args.fraction:.1%}, the incremental DAG:\n")
    say(report(runs[1], runs[2], args.top))
    s.close()


if __name__ == "__main__":
    main()
