"""What snowmelt's metadata is: the records the catalog reads and writes (objects, dynamic
tables, columns) and the numbered migrations that make its tables in ``_snowmelt``.
``snowmelt.catalog`` reads and writes them; this module holds no state and runs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from snowmelt.names import DATA_SCHEMA, META_SCHEMA, ROWID_SEQUENCE, ObjectName

M = META_SCHEMA

MIGRATIONS: list[list[str]] = [
    [
        f'CREATE SCHEMA IF NOT EXISTS "{M}"',
        f'CREATE SCHEMA IF NOT EXISTS "{DATA_SCHEMA}"',
        f'CREATE SEQUENCE IF NOT EXISTS "{DATA_SCHEMA}"."{ROWID_SEQUENCE}"',
        f'CREATE TABLE "{M}".meta (key VARCHAR PRIMARY KEY, value VARCHAR)',
        f'CREATE TABLE "{M}".versions (version BIGINT PRIMARY KEY, committed_at TIMESTAMPTZ,'
        " kind VARCHAR)",
        f'CREATE TABLE "{M}".databases (name VARCHAR PRIMARY KEY, created_on TIMESTAMPTZ,'
        " comment VARCHAR, transient BOOLEAN)",
        f'CREATE TABLE "{M}".schemas (database VARCHAR, name VARCHAR, created_on TIMESTAMPTZ,'
        " comment VARCHAR, PRIMARY KEY (database, name))",
        f'CREATE TABLE "{M}".objects (oid BIGINT PRIMARY KEY, database VARCHAR, schema VARCHAR,'
        " name VARCHAR, kind VARCHAR, created_on TIMESTAMPTZ, transient BOOLEAN,"
        " comment VARCHAR, columns JSON, text VARCHAR, generation BIGINT,"
        " last_change_version BIGINT, dropped BOOLEAN DEFAULT false)",
        f'CREATE TABLE "{M}".dynamic_tables (oid BIGINT PRIMARY KEY, target_lag_sec BIGINT,'
        " target_lag_type VARCHAR, warehouse VARCHAR, requested_mode VARCHAR,"
        " refresh_mode VARCHAR, refresh_mode_reason VARCHAR, initialize VARCHAR,"
        " scheduler VARCHAR, cluster_by VARCHAR, query_text VARCHAR, query_sql VARCHAR,"
        " state VARCHAR, state_reason_code VARCHAR, state_reason_message VARCHAR,"
        " suspended_on TIMESTAMPTZ, resumed_on TIMESTAMPTZ, initialized BOOLEAN,"
        " data_version BIGINT, data_timestamp TIMESTAMPTZ, commit_version BIGINT,"
        " consecutive_failures INTEGER, plan JSON, config_changed_at TIMESTAMPTZ)",
        f'CREATE TABLE "{M}".dependencies (oid BIGINT, input_oid BIGINT, consumed_version BIGINT,'
        " consumed_generation BIGINT, PRIMARY KEY (oid, input_oid))",
        f'CREATE TABLE "{M}".refresh_history (refresh_id BIGINT, oid BIGINT, name VARCHAR,'
        " schema_name VARCHAR, database_name VARCHAR, state VARCHAR, state_code VARCHAR,"
        " state_message VARCHAR, query_id VARCHAR, data_timestamp TIMESTAMPTZ,"
        " refresh_start_time TIMESTAMPTZ, refresh_end_time TIMESTAMPTZ,"
        " completion_target TIMESTAMPTZ, last_completed_dependency JSON, statistics JSON,"
        " refresh_action VARCHAR, refresh_trigger VARCHAR, target_lag_sec BIGINT,"
        " graph_history_valid_from TIMESTAMPTZ, inputs_with_changed_data JSON,"
        " warehouse VARCHAR, reinit_reason VARCHAR, data_version BIGINT,"
        " commit_version BIGINT)",
        f'CREATE TABLE "{M}".graph_history (oid BIGINT, name VARCHAR, schema_name VARCHAR,'
        " database_name VARCHAR, inputs JSON, target_lag_type VARCHAR, target_lag_sec BIGINT,"
        " query_text VARCHAR, valid_from TIMESTAMPTZ, valid_to TIMESTAMPTZ,"
        " scheduling_state JSON, scheduler VARCHAR)",
        f'CREATE TABLE "{M}".warehouses (name VARCHAR PRIMARY KEY, created_on TIMESTAMPTZ,'
        " properties JSON)",
        f'CREATE TABLE "{M}".grants (statement VARCHAR, created_on TIMESTAMPTZ)',
        f'CREATE SEQUENCE "{M}".oid_seq',
        f'CREATE SEQUENCE "{M}".refresh_seq',
    ],
    # a successful refresh's history row records its whole frontier, consumed versions too
    [f'ALTER TABLE "{M}".refresh_history ADD COLUMN consumed JSON'],
    # a dropped base table keeps its rows for UNDROP until retention purges them
    [f'ALTER TABLE "{M}".objects ADD COLUMN IF NOT EXISTS dropped_on TIMESTAMPTZ'],
    # ... and so does a dropped dynamic table, with its definition and sources
    [
        f'CREATE TABLE IF NOT EXISTS "{M}".dropped_dynamic_tables (oid BIGINT PRIMARY KEY,'
        " definition JSON, inputs JSON)"
    ],
    # SHOW DYNAMIC TABLES' is_clone
    [f'ALTER TABLE "{M}".dynamic_tables ADD COLUMN IF NOT EXISTS is_clone BOOLEAN DEFAULT false'],
    # FROZEN WHERE: the condition of a dynamic table's frozen region
    [f'ALTER TABLE "{M}".dynamic_tables ADD COLUMN IF NOT EXISTS frozen_where VARCHAR'],
    # a dropped schema or database is kept for UNDROP, with the objects dropped with it
    # (``version``: the dropping commit, shared by a database and its schemas)
    [
        f'CREATE TABLE IF NOT EXISTS "{M}".dropped_schemas (database VARCHAR, name VARCHAR,'
        " created_on TIMESTAMPTZ, comment VARCHAR, dropped_on TIMESTAMPTZ, version BIGINT,"
        " objects JSON)",
        f'CREATE TABLE IF NOT EXISTS "{M}".dropped_databases (name VARCHAR,'
        " created_on TIMESTAMPTZ, comment VARCHAR, transient BOOLEAN, dropped_on TIMESTAMPTZ,"
        " version BIGINT)",
    ],
]


@dataclass
class Column:
    name: str
    type: str  # DuckDB type text
    nullable: bool = True
    default: str | None = None
    comment: str | None = None


@dataclass
class CatalogObject:
    oid: int
    name: ObjectName
    kind: str  # TABLE, VIEW, DYNAMIC TABLE, SEQUENCE, FUNCTION, STREAM
    created_on: datetime
    columns: list[Column]
    text: str | None
    generation: int
    last_change_version: int
    transient: bool = False
    comment: str | None = None

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def tracked(self) -> bool:
        return self.kind in ("TABLE", "DYNAMIC TABLE")


@dataclass
class DynamicTable:
    oid: int
    target_lag_sec: int | None
    target_lag_type: str  # USER_DEFINED | DOWNSTREAM
    warehouse: str | None
    requested_mode: str
    refresh_mode: str
    refresh_mode_reason: str | None
    initialize: str
    scheduler: str | None
    cluster_by: str | None
    query_text: str
    query_sql: str  # the resolved query, Snowflake dialect, fully qualified
    state: str
    state_reason_code: str | None = None
    state_reason_message: str | None = None
    suspended_on: datetime | None = None
    resumed_on: datetime | None = None
    initialized: bool = False
    data_version: int | None = None
    data_timestamp: datetime | None = None
    commit_version: int | None = None
    consecutive_failures: int = 0
    plan: dict[str, Any] = field(default_factory=dict)
    config_changed_at: datetime | None = None
    is_clone: bool = False
    frozen_where: str | None = None  # FROZEN WHERE (condition), Snowflake SQL over its columns

    @property
    def incremental(self) -> bool:
        """Refreshed by its incremental plan: INCREMENTAL, or ADAPTIVE (which reinitializes
        instead when a change is too large, ``refresh.Refresher._action``)."""
        return self.refresh_mode in ("INCREMENTAL", "ADAPTIVE")


def consumed_json(consumed: list[tuple[int, int, int]]) -> list[dict[str, int]]:
    """The consumed versions a history row records: (input oid, version, generation)."""
    return [{"input": i, "version": v, "generation": g} for i, v, g in consumed]
