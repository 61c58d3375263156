"""Ingest over HTTP: decode a body into Arrow, append it in one commit, remember its key.

Bodies: Arrow IPC stream (``application/vnd.apache.arrow.stream``), JSON lines
(``application/x-ndjson``; ``application/json`` takes an array of objects) or CSV with a
header (``text/csv``). JSON and CSV values are converted by the same validation as Arrow
(``dml.insert_arrow``), so a bad value is reported with its row and column and the batch is
rejected whole.

Idempotency: a request may carry an ``Idempotency-Key``. The key is stored in
``_snowmelt.ingest_keys`` in the same transaction as the rows, so after a crash a key is
present exactly when its rows are; a retry with a committed key is acknowledged with the
original result and loads nothing. Keys are remembered for 7 days (pruned at server start).
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pyarrow as pa

from snowmelt import dml
from snowmelt.catalog import CatalogObject
from snowmelt.errors import SnowmeltError
from snowmelt.names import META_SCHEMA
from snowmelt.runtime import Runtime

ARROW_STREAM = "application/vnd.apache.arrow.stream"
NDJSON = ("application/x-ndjson", "application/jsonl", "application/json-lines")
KEYS_TABLE = f'"{META_SCHEMA}".ingest_keys'
MAX_KEY_LENGTH = 200
KEY_RETENTION_DAYS = 7.0


class BadBody(SnowmeltError):
    """The body could not be decoded (malformed Arrow, JSON or CSV); nothing was written."""

    def __init__(self, message: str, row: int | None = None):
        self.row = row
        super().__init__(message)


class KeyConflict(SnowmeltError):
    """An idempotency key was already used for a different table."""


@dataclass
class Ingested:
    rows: int
    version: int | None
    duplicate: bool = False


def ensure_keys_table(rt: Runtime, keep_days: float = KEY_RETENTION_DAYS) -> None:
    """Create the idempotency-key table if missing (server start; not a catalog migration)
    and forget keys older than ``keep_days``: a retry must come within that window."""
    with rt.store.lock:
        rt.engine.execute(
            f"CREATE TABLE IF NOT EXISTS {KEYS_TABLE} (key VARCHAR PRIMARY KEY,"
            " table_oid BIGINT, rows BIGINT, version BIGINT, committed_at TIMESTAMPTZ)"
        )
        rt.engine.execute(
            f"DELETE FROM {KEYS_TABLE} WHERE committed_at < ?",
            [rt.clock.now() - timedelta(days=keep_days)],
        )


def decode(body: bytes, content_type: str | None) -> pa.Table:
    """The rows of a request body as an Arrow table."""
    kind = (content_type or "").split(";")[0].strip().lower()
    if not body:
        raise BadBody("Empty body: send rows as an Arrow IPC stream, JSON lines or CSV")
    if kind == ARROW_STREAM:
        return _arrow(body)
    if kind in NDJSON:
        return _json_lines(body)
    if kind == "application/json":
        return _json_array(body)
    if kind in ("text/csv", "application/csv"):
        return _csv(body)
    raise BadBody(
        f"Unsupported Content-Type {content_type!r}: use {ARROW_STREAM}, "
        "application/x-ndjson, application/json or text/csv"
    )


def _arrow(body: bytes) -> pa.Table:
    try:
        reader = pa.ipc.open_stream(pa.py_buffer(body))
        return reader.read_all()
    except (pa.ArrowInvalid, pa.ArrowException, OSError) as err:
        raise BadBody(f"Malformed Arrow IPC stream: {err}") from None


def _json_lines(body: bytes) -> pa.Table:
    records = []
    for number, line in enumerate(body.decode("utf-8", errors="replace").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise BadBody(
                f"Malformed JSON on line {number}: {err.msg} (column {err.colno})", row=number
            ) from None
        if not isinstance(record, dict):
            raise BadBody(f"Line {number} is not a JSON object", row=number)
        records.append(record)
    return _records(records)


def _json_array(body: bytes) -> pa.Table:
    try:
        records = json.loads(body)
    except json.JSONDecodeError as err:
        raise BadBody(
            f"Malformed JSON: {err.msg} (line {err.lineno}, column {err.colno})"
        ) from None
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise BadBody("A JSON body must be an array of objects (or send JSON lines)")
    return _records(records)


def _records(records: list[dict[str, Any]]) -> pa.Table:
    """Records to Arrow. Columns whose values disagree in type go as text, so the table's
    own conversion reports the offending row rather than a bare inference error."""
    if not records:
        raise BadBody("No rows in the body")
    names = list(dict.fromkeys(k for r in records for k in r))
    arrays = {}
    for name in names:
        values = [r.get(name) for r in records]
        try:
            arrays[name] = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
            arrays[name] = pa.array(
                [None if v is None else v if isinstance(v, str) else json.dumps(v) for v in values],
                pa.string(),
            )
        if pa.types.is_struct(arrays[name].type) or pa.types.is_list(arrays[name].type):
            arrays[name] = pa.array(
                [None if v is None else json.dumps(v) for v in values], pa.string()
            )
    return pa.table(arrays)


def _csv(body: bytes) -> pa.Table:
    import pyarrow.csv as pacsv

    try:
        header = pacsv.read_csv(io.BytesIO(body.split(b"\n", 1)[0] + b"\n")).column_names
        options = pacsv.ConvertOptions(
            column_types={n: pa.string() for n in header},
            strings_can_be_null=True,
            null_values=["", "NULL"],
        )
        return pacsv.read_csv(io.BytesIO(body), convert_options=options)
    except (pa.ArrowInvalid, pa.ArrowException) as err:
        raise BadBody(f"Malformed CSV: {err}") from None


def ingest(rt: Runtime, obj: CatalogObject, batch: pa.Table, key: str | None) -> Ingested:
    """Append ``batch`` to base table ``obj`` in one commit, together with ``key``."""
    if key is not None and (not key or len(key) > MAX_KEY_LENGTH):
        raise BadBody(f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters")
    with rt.store.lock:  # held across the commit: see the report on Store.write
        if key is not None:
            found = rt.engine.rows(
                f"SELECT table_oid, rows, version FROM {KEYS_TABLE} WHERE key = ?", [key]
            )
            if found:
                table_oid, rows, version = found[0]
                if table_oid != obj.oid:
                    raise KeyConflict(
                        f"Idempotency-Key {key!r} was already used for another "
                        "table; use a new key per batch"
                    )
                return Ingested(int(rows), int(version), duplicate=True)
        with rt.store.write("INGEST") as commit:
            rows = dml.insert_arrow(rt, obj, batch)
            if key is not None:
                rt.engine.execute(
                    f"INSERT INTO {KEYS_TABLE} VALUES (?, ?, ?, ?, ?)",
                    [key, obj.oid, rows, commit.version, rt.clock.now()],
                )
        return Ingested(rows, commit.version)
