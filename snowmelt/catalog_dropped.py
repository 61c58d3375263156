"""The catalog's records of what was dropped, kept for UNDROP until retention purges them:
objects marked dropped (a table's rows stay in storage), a dropped dynamic table's definition
and sources, a dropped schema with the objects dropped with it, a dropped database. A mixin
of ``catalog.Catalog``: the same transaction rules (callers hold it; nothing commits here).
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from typing import Any

from snowmelt.catalog_model import CatalogObject, DynamicTable
from snowmelt.engines.base import Engine
from snowmelt.errors import ObjectNotFound
from snowmelt.names import META_SCHEMA, ObjectName

M = META_SCHEMA


class Dropped:
    """Dropped objects, schemas and databases; what it needs of ``Catalog`` is below."""

    engine: Engine
    _OBJECT_COLUMNS: str

    def invalidate(self) -> None:
        raise NotImplementedError

    def _object_from_row(self, row: tuple[Any, ...]) -> CatalogObject:
        raise NotImplementedError

    def dynamic_table(self, oid: int) -> DynamicTable:
        raise NotImplementedError

    def inputs(self, oid: int) -> list[tuple[int, int | None, int | None]]:
        raise NotImplementedError

    def add_dynamic_table(self, dt: DynamicTable) -> None:
        raise NotImplementedError

    def set_dependencies(self, oid: int, inputs: list[int]) -> None:
        raise NotImplementedError

    # -- dropped schemas and databases ------------------------------------------------------
    def keep_dropped_schema(
        self, database: str, name: str, at: datetime, version: int, objects: list[int]
    ) -> None:
        """Schema ``database.name`` is being dropped (by the commit at ``version``) with
        ``objects``: keep what UNDROP SCHEMA needs (before ``remove_schema``)."""
        self.engine.execute(
            f'INSERT INTO "{M}".dropped_schemas SELECT database, name, created_on, comment, ?,'
            f' ?, ? FROM "{M}".schemas WHERE database = ? AND name = ?',
            [at, version, json.dumps(objects), database, name],
        )

    def keep_dropped_database(self, name: str, at: datetime, version: int) -> None:
        self.engine.execute(
            f'INSERT INTO "{M}".dropped_databases SELECT name, created_on, comment, transient,'
            f' ?, ? FROM "{M}".databases WHERE name = ?',
            [at, version, name],
        )

    def dropped_schemas(
        self, database: str, name: str | None = None, version: int | None = None
    ) -> list[dict[str, Any]]:
        """Kept dropped schemas of ``database`` (named ``name``, or dropped by the commit at
        ``version``), the latest drop first."""
        rows = self.engine.rows(
            f'SELECT name, created_on, comment, version, objects FROM "{M}".dropped_schemas'
            " WHERE database = ? AND (name = ? OR ? IS NULL) AND (version = ? OR ? IS NULL)"
            " ORDER BY version DESC",
            [database, name, name, version, version],
        )
        return [
            {
                "database": database,
                "name": r[0],
                "created_on": r[1],
                "comment": r[2],
                "version": r[3],
                "objects": json.loads(r[4] or "[]"),
            }
            for r in rows
        ]

    def dropped_database(self, name: str) -> dict[str, Any] | None:
        """The latest kept drop of database ``name``."""
        rows = self.engine.rows(
            f'SELECT created_on, comment, transient, version FROM "{M}".dropped_databases'
            " WHERE name = ? ORDER BY version DESC LIMIT 1",
            [name],
        )
        if not rows:
            return None
        created_on, comment, transient, version = rows[0]
        return {
            "name": name,
            "created_on": created_on,
            "comment": comment,
            "transient": transient,
            "version": version,
        }

    def forget_dropped(self, database: str, schema: str | None, version: int) -> None:
        """A kept drop restored: schema ``database.schema`` (None: the database)."""
        if schema is None:
            self.engine.execute(
                f'DELETE FROM "{M}".dropped_databases WHERE name = ? AND version = ?',
                [database, version],
            )
        else:
            self.engine.execute(
                f'DELETE FROM "{M}".dropped_schemas WHERE database = ? AND name = ?'
                " AND version = ?",
                [database, schema, version],
            )

    def purge_dropped_containers(self, before: datetime) -> list[int]:
        """Forget the schemas and databases dropped before ``before`` (their tables' rows go
        too: ``purgeable``); returns the objects they held."""
        rows = self.engine.rows(
            f'SELECT objects FROM "{M}".dropped_schemas WHERE dropped_on < ?', [before]
        )
        self.engine.execute(f'DELETE FROM "{M}".dropped_schemas WHERE dropped_on < ?', [before])
        self.engine.execute(f'DELETE FROM "{M}".dropped_databases WHERE dropped_on < ?', [before])
        return [oid for (objects,) in rows for oid in json.loads(objects or "[]")]

    # -- dropped objects ------------------------------------------------------------------------
    def mark_dropped(self, oid: int, retained_since: datetime | None = None) -> None:
        """``oid`` is gone; with ``retained_since``, its rows are kept for UNDROP (until
        ``purgeable`` lists it)."""
        self.invalidate()
        self.engine.execute(
            f'UPDATE "{M}".objects SET dropped = true, dropped_on = ? WHERE oid = ?',
            [retained_since, oid],
        )
        self.engine.execute(f'DELETE FROM "{M}".dynamic_tables WHERE oid = ?', [oid])
        self.engine.execute(f'DELETE FROM "{M}".dependencies WHERE oid = ?', [oid])

    def last_dropped(self, name: ObjectName, kind: str) -> CatalogObject | None:
        """The most recently dropped ``kind`` named ``name`` whose rows are still kept."""
        rows = self.engine.rows(
            f'SELECT {self._OBJECT_COLUMNS} FROM "{M}".objects WHERE dropped AND dropped_on IS'
            " NOT NULL AND database = ? AND schema = ? AND name = ? AND kind = ?"
            " ORDER BY dropped_on DESC, oid DESC LIMIT 1",
            [name.database, name.schema, name.name, kind],
        )
        return self._object_from_row(rows[0]) if rows else None

    def undrop(self, oid: int) -> None:
        self.invalidate()
        self.engine.execute(
            f'UPDATE "{M}".objects SET dropped = false, dropped_on = NULL WHERE oid = ?', [oid]
        )

    def purgeable(self, before: datetime) -> list[int]:
        """Dropped objects kept since before ``before``: their rows may go."""
        rows = self.engine.rows(
            f'SELECT oid FROM "{M}".objects WHERE dropped AND dropped_on < ? ORDER BY oid',
            [before],
        )
        return [int(r[0]) for r in rows]

    def mark_purged(self, oid: int) -> None:
        self.engine.execute(f'UPDATE "{M}".objects SET dropped_on = NULL WHERE oid = ?', [oid])
        self.engine.execute(f'DELETE FROM "{M}".dropped_dynamic_tables WHERE oid = ?', [oid])

    def keep_dropped_dynamic_table(self, oid: int) -> None:
        """Keep dynamic table ``oid``'s definition and sources for UNDROP (before it is
        marked dropped, which removes them from the live catalog)."""
        dt = dataclasses.asdict(self.dynamic_table(oid))
        definition = json.dumps(dt, default=lambda v: v.isoformat())
        inputs = json.dumps([i for i, _, _ in self.inputs(oid)])
        self.engine.execute(
            f'INSERT OR REPLACE INTO "{M}".dropped_dynamic_tables VALUES (?, ?, ?)',
            [oid, definition, inputs],
        )

    def restore_dynamic_table(self, oid: int) -> DynamicTable:
        """Put back a dropped dynamic table's definition and sources (UNDROP). Its inputs'
        consumed versions are not known any more: its next refresh plans it again and
        reinitializes it."""
        rows = self.engine.rows(
            f'SELECT definition, inputs FROM "{M}".dropped_dynamic_tables WHERE oid = ?', [oid]
        )
        if not rows:
            raise ObjectNotFound(f"Dynamic table {oid} was not kept")
        values = json.loads(rows[0][0])
        for key in ("suspended_on", "resumed_on", "data_timestamp", "config_changed_at"):
            if values.get(key):
                values[key] = datetime.fromisoformat(values[key])
        dt = DynamicTable(**values)
        self.add_dynamic_table(dt)
        self.set_dependencies(oid, json.loads(rows[0][1]))
        self.engine.execute(f'DELETE FROM "{M}".dropped_dynamic_tables WHERE oid = ?', [oid])
        return dt
