"""Persisted metadata: databases, schemas, objects, dynamic tables, dependencies, versions,
refresh and graph history — all in the hidden ``_snowmelt`` schema of the same file, so a
metadata change commits in the same transaction as the data it describes.

State changes only through numbered migrations (``catalog_model.MIGRATIONS``); the applied
number is kept in ``_snowmelt.meta``. Callers hold the engine's transaction; this module
never commits.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import threading
from datetime import datetime
from typing import Any

from snowmelt.catalog_dropped import Dropped
from snowmelt.catalog_model import (
    MIGRATIONS,
    CatalogObject,
    Column,
    DynamicTable,
    consumed_json,
)
from snowmelt.engines.base import Engine
from snowmelt.errors import ObjectNotFound
from snowmelt.names import META_SCHEMA, ObjectName

M = META_SCHEMA
__all__ = ["MIGRATIONS", "Catalog", "CatalogObject", "Column", "DynamicTable", "consumed_json"]

_DT_FIELDS = [f for f in DynamicTable.__dataclass_fields__]
# A steady-state refresh records its frontier in its history row only (the fewest
# statements): a table's frontier is its row's, unless its latest successful refresh is
# further on. Retention folds those rows back before it prunes the history.
_FRONTIER_FIELDS = ("data_version", "data_timestamp", "commit_version")
# the latest successful refresh of one table (``?`` = its oid), or of all (NULL), when it is
# ahead of the table's row
_LATEST_SUCCESS = (
    f'SELECT h.oid, h.data_version, h.data_timestamp, h.commit_version, h.consumed FROM "{M}".'
    f'refresh_history h JOIN "{M}".dynamic_tables d ON d.oid = h.oid'
    " WHERE (h.oid = ? OR ? IS NULL) AND h.state = 'SUCCEEDED'"
    " QUALIFY row_number() OVER (PARTITION BY h.oid ORDER BY h.refresh_id DESC) = 1"
    " AND h.data_version > coalesce(d.data_version, -1)"
)


class Catalog(Dropped):
    """Reads and writes the metadata tables.

    The file is the truth. Reads of objects, dynamic tables and dependencies are memoized
    (a refresh consults them many times, and a NO_DATA refresh must cost almost nothing);
    any write through this class, and any rolled-back transaction, drops the memo. That is
    sound because one process owns the file and every metadata write goes through here.
    Memoized values are returned as copies, so callers may mutate what they get.
    """

    def __init__(self, engine: Engine):
        self.engine = engine
        self._memo: dict[tuple[Any, ...], Any] = {}
        self._lock = getattr(engine, "lock", None) or threading.RLock()
        self._refresh_id: int | None = None
        hooks = getattr(engine, "on_rollback", None)
        if hooks is not None:
            hooks.append(self.invalidate)

    def invalidate(self) -> None:
        with self._lock:
            self._memo.clear()

    def _cached(self, key: tuple[Any, ...], load: Any) -> Any:
        # Under the engine lock: a load racing with a write on another thread must not
        # store a stale value after the write's invalidation.
        with self._lock:
            if key not in self._memo:
                self._memo[key] = load()
            return _copy(self._memo[key])

    # -- set-up -------------------------------------------------------------------------
    def migrate(self) -> None:
        exists = self.engine.rows(
            "SELECT count(*) FROM information_schema.tables"
            f" WHERE table_schema = '{M}' AND table_name = 'meta'"
        )[0][0]
        applied = 0
        if exists:
            row = self.engine.rows(f"SELECT value FROM \"{M}\".meta WHERE key = 'migration'")
            applied = int(row[0][0]) if row else 0
        for number, statements in enumerate(MIGRATIONS, start=1):
            if number <= applied:
                continue
            with self.engine.transaction():
                for statement in statements:
                    self.engine.execute(statement)
                self.engine.execute(
                    f"INSERT OR REPLACE INTO \"{M}\".meta VALUES ('migration', ?)", [str(number)]
                )

    # -- versions ----------------------------------------------------------------------
    def current_version(self) -> int:
        return int(self.engine.rows(f'SELECT coalesce(max(version), 0) FROM "{M}".versions')[0][0])

    def record_version(self, version: int, at: datetime, kind: str) -> None:
        self.engine.execute(f'INSERT INTO "{M}".versions VALUES (?, ?, ?)', [version, at, kind])

    def version_at(self, when: datetime, strictly_before: bool = False) -> int:
        op = "<" if strictly_before else "<="
        return int(
            self.engine.rows(
                f'SELECT coalesce(max(version), 0) FROM "{M}".versions WHERE committed_at {op} ?',
                [when],
            )[0][0]
        )

    def version_time(self, version: int) -> datetime | None:
        rows = self.engine.rows(
            f'SELECT committed_at FROM "{M}".versions WHERE version = ?', [version]
        )
        return rows[0][0] if rows else None

    def first_version_time(self) -> datetime | None:
        rows = self.engine.rows(f'SELECT min(committed_at) FROM "{M}".versions')
        return rows[0][0] if rows else None

    # -- databases and schemas -------------------------------------------------------------
    def database_exists(self, name: str) -> bool:
        return bool(self.engine.rows(f'SELECT 1 FROM "{M}".databases WHERE name = ?', [name]))

    def schema_exists(self, database: str, schema: str) -> bool:
        return bool(
            self.engine.rows(
                f'SELECT 1 FROM "{M}".schemas WHERE database = ? AND name = ?', [database, schema]
            )
        )

    def add_database(self, name: str, at: datetime, comment: str | None, transient: bool) -> None:
        self.engine.execute(
            f'INSERT INTO "{M}".databases VALUES (?, ?, ?, ?)', [name, at, comment, transient]
        )

    def add_schema(self, database: str, name: str, at: datetime, comment: str | None) -> None:
        self.engine.execute(
            f'INSERT INTO "{M}".schemas VALUES (?, ?, ?, ?)', [database, name, at, comment]
        )

    def remove_database(self, name: str) -> None:
        self.engine.execute(f'DELETE FROM "{M}".databases WHERE name = ?', [name])

    def remove_schema(self, database: str, name: str) -> None:
        self.engine.execute(
            f'DELETE FROM "{M}".schemas WHERE database = ? AND name = ?', [database, name]
        )

    def databases(self) -> list[tuple[str, datetime, str | None]]:
        return [
            (r[0], r[1], r[2])
            for r in self.engine.rows(
                f'SELECT name, created_on, comment FROM "{M}".databases ORDER BY name'
            )
        ]

    def schemas(self, database: str | None = None) -> list[tuple[str, str, datetime]]:
        return [(d, s, c) for d, s, c, _ in self.schemas_with_comments(database)]

    def schemas_with_comments(
        self, database: str | None = None
    ) -> list[tuple[str, str, datetime, str | None]]:
        sql = f'SELECT database, name, created_on, comment FROM "{M}".schemas'
        params: list[Any] = []
        if database:
            sql += " WHERE database = ?"
            params.append(database)
        rows = self.engine.rows(sql + " ORDER BY 1, 2", params)
        return [(r[0], r[1], r[2], r[3]) for r in rows]

    def set_container_comment(self, database: str, schema: str | None, text: str | None) -> None:
        """The comment of a database (``schema`` None) or of one of its schemas."""
        if schema is None:
            self.engine.execute(
                f'UPDATE "{M}".databases SET comment = ? WHERE name = ?', [text, database]
            )
        else:
            self.engine.execute(
                f'UPDATE "{M}".schemas SET comment = ? WHERE database = ? AND name = ?',
                [text, database, schema],
            )

    # -- objects ---------------------------------------------------------------------------
    def next_oid(self) -> int:
        return int(self.engine.rows(f"SELECT nextval('\"{M}\".oid_seq')")[0][0])

    def add_object(self, obj: CatalogObject) -> None:
        self.invalidate()
        self.engine.execute(
            f'INSERT INTO "{M}".objects VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, false, NULL)',
            [
                obj.oid,
                obj.name.database,
                obj.name.schema,
                obj.name.name,
                obj.kind,
                obj.created_on,
                obj.transient,
                obj.comment,
                _columns_json(obj.columns),
                obj.text,
                obj.generation,
                obj.last_change_version,
            ],
        )

    def _object_from_row(self, row: tuple[Any, ...]) -> CatalogObject:
        columns = [Column(**c) for c in json.loads(row[8])]
        return CatalogObject(
            oid=row[0],
            name=ObjectName(row[1], row[2], row[3]),
            kind=row[4],
            created_on=row[5],
            transient=bool(row[6]),
            comment=row[7],
            columns=columns,
            text=row[9],
            generation=row[10],
            last_change_version=row[11],
        )

    _OBJECT_COLUMNS = (
        "oid, database, schema, name, kind, created_on, transient, comment,"
        " columns, text, generation, last_change_version"
    )

    def find(self, name: ObjectName) -> CatalogObject | None:
        return self._cached(("find", name), lambda: self._find(name))  # type: ignore[no-any-return]

    def _find(self, name: ObjectName) -> CatalogObject | None:
        rows = self.engine.rows(
            f'SELECT {self._OBJECT_COLUMNS} FROM "{M}".objects WHERE NOT dropped'
            " AND database = ? AND schema = ? AND name = ?",
            [name.database, name.schema, name.name],
        )
        return self._object_from_row(rows[0]) if rows else None

    def get(self, oid: int) -> CatalogObject:
        return self._cached(("get", oid), lambda: self._get(oid))  # type: ignore[no-any-return]

    def _get(self, oid: int) -> CatalogObject:
        rows = self.engine.rows(
            f'SELECT {self._OBJECT_COLUMNS} FROM "{M}".objects WHERE oid = ?', [oid]
        )
        if not rows:
            raise ObjectNotFound(f"No object with id {oid}")
        return self._object_from_row(rows[0])

    def objects(
        self,
        kind: str | None = None,
        database: str | None = None,
        schema: str | None = None,
        every: bool = False,
    ) -> list[CatalogObject]:
        """Live objects: tables, dynamic tables and views, unless ``kind`` names another
        kind or ``every`` asks for sequences and functions too."""
        sql = f'SELECT {self._OBJECT_COLUMNS} FROM "{M}".objects WHERE NOT dropped'
        if kind is None and not every:
            sql += " AND kind IN ('TABLE', 'DYNAMIC TABLE', 'VIEW')"
        params: list[Any] = []
        for column, value in (("kind", kind), ("database", database), ("schema", schema)):
            if value is not None:
                sql += f" AND {column} = ?"
                params.append(value)
        rows = self.engine.rows(sql + " ORDER BY database, schema, name", params)
        return [self._object_from_row(r) for r in rows]

    def update_object(self, oid: int, **values: Any) -> None:
        self.invalidate()
        if "columns" in values:
            values["columns"] = _columns_json(values["columns"])
        if "name" in values:
            name: ObjectName = values.pop("name")
            values.update(database=name.database, schema=name.schema, name=name.name)
        sets = ", ".join(f"{k} = ?" for k in values)
        self.engine.execute(
            f'UPDATE "{M}".objects SET {sets} WHERE oid = ?', [*values.values(), oid]
        )

    def touch(self, oid: int, version: int, persist: bool = True) -> None:
        """Record that ``oid``'s rows changed at ``version`` (drives NO_DATA decisions of
        the tables that read it)."""
        with self._lock:
            for key, cached in self._memo.items():
                if key[0] in ("get", "find") and cached is not None and cached.oid == oid:
                    cached.last_change_version = version
        if not persist:
            return
        self.engine.execute(
            f'UPDATE "{M}".objects SET last_change_version = ? WHERE oid = ?', [version, oid]
        )

    # -- dynamic tables ----------------------------------------------------------------------
    def add_dynamic_table(self, dt: DynamicTable) -> None:
        self.invalidate()
        values = [getattr(dt, f) for f in _DT_FIELDS]
        values[_DT_FIELDS.index("plan")] = json.dumps(dt.plan)
        marks = ", ".join("?" for _ in values)
        self.engine.execute(
            f'INSERT INTO "{M}".dynamic_tables ({", ".join(_DT_FIELDS)}) VALUES ({marks})', values
        )

    def dynamic_table(self, oid: int) -> DynamicTable:
        return self._cached(("dt", oid), lambda: self._dynamic_table(oid))  # type: ignore[no-any-return]

    def _dynamic_table(self, oid: int) -> DynamicTable:
        fields = ", ".join(
            f"CASE WHEN h.oid IS NULL THEN d.{f} ELSE h.{f} END"
            if f in _FRONTIER_FIELDS
            else f"d.{f}"
            for f in _DT_FIELDS
        )
        rows = self.engine.rows(
            f'SELECT {fields} FROM "{M}".dynamic_tables d LEFT JOIN ({_LATEST_SUCCESS}) h'
            " ON h.oid = d.oid WHERE d.oid = ?",
            [oid, oid, oid],
        )
        if not rows:
            raise ObjectNotFound(f"Object id {oid} is not a dynamic table")
        values = dict(zip(_DT_FIELDS, rows[0], strict=True))
        values["plan"] = json.loads(values["plan"]) if values["plan"] else {}
        return DynamicTable(**values)

    def data_timestamp_before(self, oid: int, version: int) -> datetime | None:
        """The data timestamp dynamic table ``oid``'s rows had as of ``version``: that of its
        last successful refresh that read a version before it (None: not initialized yet)."""
        rows = self.engine.rows(
            f'SELECT data_timestamp FROM "{M}".refresh_history WHERE oid = ?'
            " AND state = 'SUCCEEDED' AND data_version < ? ORDER BY refresh_id DESC LIMIT 1",
            [oid, version],
        )
        return rows[0][0] if rows else None

    def update_dynamic_table(self, oid: int, **values: Any) -> None:
        with self._lock:
            cached = self._memo.get(("dt", oid))
            if cached is not None:  # keep the memo warm: refreshes update these every time
                for key, value in values.items():
                    setattr(cached, key, copy.deepcopy(value))
        if "plan" in values:
            values["plan"] = json.dumps(values["plan"])
        sets = ", ".join(f"{k} = ?" for k in values)
        self.engine.execute(
            f'UPDATE "{M}".dynamic_tables SET {sets} WHERE oid = ?', [*values.values(), oid]
        )

    def advance_frontier(
        self,
        oid: int,
        version: int,
        when: datetime,
        commit_version: int | None,
        consumed: list[tuple[int, int, int]],
    ) -> None:
        """A refresh moved the frontier of ``oid`` (data version and timestamp, commit
        version, and per input the version and generation consumed): its history row,
        written by the caller, is the durable record (``consumed_json``); this keeps the
        memo in step without a statement."""
        with self._lock:
            cached = self._memo.get(("dt", oid))
            if cached is not None:
                cached.data_version, cached.data_timestamp = version, when
                cached.commit_version = commit_version
            inputs = self._memo.get(("inputs", oid))
            if inputs is not None:
                now = {i: (v, g) for i, v, g in consumed}
                self._memo[("inputs", oid)] = [(i, *now.get(i, (v, g))) for i, v, g in inputs]

    def fold_frontiers(self) -> None:
        """Copy frontiers recorded only in history rows into the tables' and dependencies'
        rows (before the history is pruned): the consumed versions first, while the table's
        row still tells which history rows are ahead of it."""
        self.engine.execute(
            f'UPDATE "{M}".dependencies p SET consumed_version = c.version,'
            " consumed_generation = c.generation FROM (SELECT oid, unnest(from_json(consumed,"
            ' \'[{"input": "BIGINT", "version": "BIGINT", "generation": "BIGINT"}]\'),'
            f" recursive := true) FROM ({_LATEST_SUCCESS})) c"
            " WHERE p.oid = c.oid AND p.input_oid = c.input",
            [None, None],
        )
        self.engine.execute(
            f'UPDATE "{M}".dynamic_tables d SET data_version = h.data_version,'
            " data_timestamp = h.data_timestamp, commit_version = h.commit_version"
            f" FROM ({_LATEST_SUCCESS}) h WHERE h.oid = d.oid",
            [None, None],
        )

    def forget_consumed(self, oid: int) -> None:
        """Make the next refresh of ``oid`` read its sources again though none changed (a
        FULL table whose frozen region changed): what it consumed of each is forgotten,
        the generations are kept (so it is not a reinitialization)."""
        self.fold_frontiers()
        self.invalidate()
        self.engine.execute(
            f'UPDATE "{M}".dependencies SET consumed_version = -1 WHERE oid = ?', [oid]
        )

    # -- dependencies -------------------------------------------------------------------------
    def set_dependencies(self, oid: int, inputs: list[int]) -> None:
        self.invalidate()
        self.engine.execute(f'DELETE FROM "{M}".dependencies WHERE oid = ?', [oid])
        for input_oid in dict.fromkeys(inputs):
            self.engine.execute(
                f'INSERT INTO "{M}".dependencies VALUES (?, ?, NULL, NULL)', [oid, input_oid]
            )

    def inputs(self, oid: int) -> list[tuple[int, int | None, int | None]]:
        """(input oid, consumed version, consumed generation) for each input."""
        return self._cached(("inputs", oid), lambda: self._inputs(oid))  # type: ignore[no-any-return]

    def _inputs(self, oid: int) -> list[tuple[int, int | None, int | None]]:
        ahead = self.engine.rows(f"SELECT consumed FROM ({_LATEST_SUCCESS})", [oid, oid])
        now = {
            c["input"]: (c["version"], c["generation"])
            for c in (json.loads(ahead[0][0]) if ahead and ahead[0][0] else [])
        }
        return [
            (r[0], *now.get(r[0], (r[1], r[2])))
            for r in self.engine.rows(
                f'SELECT input_oid, consumed_version, consumed_generation FROM "{M}".dependencies'
                " WHERE oid = ? ORDER BY input_oid",
                [oid],
            )
        ]

    def consumers(self, oid: int) -> list[int]:
        return self._cached(("consumers", oid), lambda: self._consumers(oid))  # type: ignore[no-any-return]

    def _consumers(self, oid: int) -> list[int]:
        return [
            r[0]
            for r in self.engine.rows(
                f'SELECT d.oid FROM "{M}".dependencies d JOIN "{M}".objects o ON o.oid = d.oid'
                " WHERE d.input_oid = ? AND NOT o.dropped ORDER BY d.oid",
                [oid],
            )
        ]

    def set_consumed(self, oid: int, input_oid: int, version: int, generation: int) -> None:
        with self._lock:  # every refresh does this: patch the memo rather than drop it
            cached = self._memo.get(("inputs", oid))
            if cached is not None:
                self._memo[("inputs", oid)] = [
                    (i, version, generation) if i == input_oid else (i, v, g) for i, v, g in cached
                ]
        self.engine.execute(
            f'UPDATE "{M}".dependencies SET consumed_version = ?, consumed_generation = ?'
            " WHERE oid = ? AND input_oid = ?",
            [version, generation, oid, input_oid],
        )

    def repoint_inputs(self, old_oid: int, new_oid: int) -> None:
        self.invalidate()
        self.engine.execute(
            f'UPDATE "{M}".dependencies SET input_oid = ? WHERE input_oid = ?', [new_oid, old_oid]
        )

    # -- history --------------------------------------------------------------------------------
    def next_refresh_id(self) -> int:
        """Refresh ids come from memory (one process owns the file); gaps after a rollback
        are harmless."""
        if self._refresh_id is None:
            self._refresh_id = int(
                self.engine.rows(f'SELECT coalesce(max(refresh_id), 0) FROM "{M}".refresh_history')[
                    0
                ][0]
            )
        self._refresh_id += 1
        return self._refresh_id

    def add_refresh(self, row: dict[str, Any]) -> None:
        for key in (
            "last_completed_dependency",
            "statistics",
            "inputs_with_changed_data",
            "consumed",
        ):
            if row.get(key) is not None:
                row[key] = json.dumps(row[key])
        names = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        self.engine.execute(
            f'INSERT INTO "{M}".refresh_history ({names}) VALUES ({marks})', list(row.values())
        )

    def add_graph_version(self, row: dict[str, Any], at: datetime) -> None:
        """Close the open graph-history row of ``oid`` and open a new one."""
        self.invalidate()
        self.engine.execute(
            f'UPDATE "{M}".graph_history SET valid_to = ? WHERE oid = ? AND valid_to IS NULL',
            [at, row["oid"]],
        )
        if row.get("name") is None:  # dropped: only close
            return
        row = dict(row, valid_from=at, valid_to=None)
        for key in ("inputs", "scheduling_state"):
            row[key] = json.dumps(row[key])
        names = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        self.engine.execute(
            f'INSERT INTO "{M}".graph_history ({names}) VALUES ({marks})', list(row.values())
        )

    def graph_valid_from(self, oid: int) -> datetime | None:
        return self._cached(("graph", oid), lambda: self._graph_valid_from(oid))  # type: ignore[no-any-return]

    def _graph_valid_from(self, oid: int) -> datetime | None:
        rows = self.engine.rows(
            f'SELECT valid_from FROM "{M}".graph_history WHERE oid = ? AND valid_to IS NULL', [oid]
        )
        return rows[0][0] if rows else None

    # -- warehouses and grants (recorded, no compute meaning) -------------------------------------
    def put_warehouse(self, name: str, at: datetime, properties: dict[str, Any]) -> None:
        self.engine.execute(
            f'INSERT OR REPLACE INTO "{M}".warehouses VALUES (?, ?, ?)',
            [name, at, json.dumps(properties)],
        )

    def drop_warehouse(self, name: str) -> bool:
        found = bool(self.engine.rows(f'SELECT 1 FROM "{M}".warehouses WHERE name = ?', [name]))
        self.engine.execute(f'DELETE FROM "{M}".warehouses WHERE name = ?', [name])
        return found

    def warehouse_exists(self, name: str) -> bool:
        return bool(self.engine.rows(f'SELECT 1 FROM "{M}".warehouses WHERE name = ?', [name]))

    def add_grant(self, statement: str, at: datetime) -> None:
        self.engine.execute(f'INSERT INTO "{M}".grants VALUES (?, ?)', [statement, at])


def _columns_json(columns: list[Column]) -> str:
    return json.dumps([c.__dict__ for c in columns])


def _copy(value: Any) -> Any:
    """A memoized value for a caller to keep (and perhaps change): dynamic tables shallowly
    (the plan, large compiled SQL, is shared and never mutated in place), objects with their
    own column list, immutable values as they are."""
    if isinstance(value, DynamicTable):
        return dataclasses.replace(value)
    if isinstance(value, CatalogObject):
        return dataclasses.replace(value, columns=[dataclasses.replace(c) for c in value.columns])
    if value is None or isinstance(value, (int, str, datetime, ObjectName)):
        return value
    if isinstance(value, list) and all(
        isinstance(v, tuple) and all(i is None or isinstance(i, (int, str)) for i in v)
        for v in value
    ):
        return list(value)
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return copy.deepcopy(value)
