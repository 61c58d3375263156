"""A commit — one atomic write at a new version, and what it did to each table — and the log
of what this process's commits appended (``AppendLog``), which lets a consumer know a table's
net change over versions without reading it when those commits only appended.
``storage.Store`` opens commits and keeps the log.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Commit:
    """An open write: its version and what it touched (object id -> rows changed), and, per
    table, the rows it only appended (None once it removed or rewrote any row)."""

    version: int
    kind: str
    touched: dict[int, int] = field(default_factory=dict)
    appended: dict[int, int | None] = field(default_factory=dict)
    # per table, the rows it appended plus the rows it removed — its net change, when no row
    # it removed was one it had appended (a refresh removes first); None when not known
    moved: dict[int, int | None] = field(default_factory=dict)
    # run inside the transaction just before it commits, once each (a stream's offset moves)
    before_commit: dict[str, Callable[[], None]] = field(default_factory=dict)

    def touch(self, oid: int, rows: int = 0, how: str = "removed") -> None:
        """``how``: ``appended`` (new rows), ``removed`` (rows logged as deleted) or
        ``rewritten`` (changed in place: what it added is not counted)."""
        self.touched[oid] = self.touched.get(oid, 0) + rows
        before = self.appended.get(oid, 0)
        if how == "appended":
            self.appended[oid] = None if before is None else before + rows
        elif how == "rewritten" or rows:
            self.appended[oid] = None
        moved = self.moved.get(oid, 0)
        if how == "rewritten" or moved is None or (how == "removed" and rows and before != 0):
            self.moved[oid] = None  # in place, or possibly removing rows it appended
        elif rows or how == "appended":
            self.moved[oid] = moved + rows


class AppendLog:
    """What each commit of this process did to each table: the rows it appended, or None
    when it also removed or rewrote rows. When every commit over versions (a, b] only
    appended to a table, its net change over (a, b] is exactly those rows, all of weight
    +1 — known without reading the table (``appended``). Versions before the process
    opened the file, or forgotten (``keep`` per table), are unknown."""

    def __init__(self, opened_at: int, keep: int = 4096):
        self.floor: dict[int, int] = {}  # oid -> versions at or below are unknown
        self.opened_at = opened_at
        self.keep = keep
        self.versions: dict[int, list[int]] = {}
        self.rows: dict[int, list[int | None]] = {}
        self.moves: dict[int, list[int | None]] = {}

    def record(self, commit: Commit) -> None:
        for oid, rows in commit.appended.items():
            versions = self.versions.setdefault(oid, [])
            counts = self.rows.setdefault(oid, [])
            moves = self.moves.setdefault(oid, [])
            versions.append(commit.version)
            counts.append(rows)
            moves.append(commit.moved.get(oid))
            if len(versions) > self.keep:
                drop = len(versions) // 2
                self.floor[oid] = versions[drop - 1]
                del versions[:drop], counts[:drop], moves[:drop]

    def net_change(self, oid: int, after: int, upto: int) -> int | None:
        """How many rows ``oid``'s net change over versions (after, upto] has, when known
        without reading it: the rows appended when commits only appended, or the rows one
        commit appended and removed (a refresh: the usual interval a consumer reads)."""
        appended = self.appended(oid, after, upto)
        if appended is not None:
            return appended
        if after < max(self.opened_at, self.floor.get(oid, 0)):
            return None
        versions = self.versions.get(oid, [])
        first = bisect.bisect_right(versions, after)
        inside = [i for i in range(first, len(versions)) if versions[i] <= upto]
        return self.moves[oid][inside[0]] if len(inside) == 1 else None

    def appended(self, oid: int, after: int, upto: int) -> int | None:
        """Rows appended to ``oid`` over versions (after, upto] when that is all that
        happened to it; None when rows were removed or rewritten, or it is not known."""
        if after < max(self.opened_at, self.floor.get(oid, 0)):
            return None
        versions, counts = self.versions.get(oid, []), self.rows.get(oid, [])
        total = 0
        for i in range(bisect.bisect_right(versions, after), len(versions)):
            if versions[i] > upto:
                break
            rows = counts[i]
            if rows is None:
                return None
            total += rows
        return total
