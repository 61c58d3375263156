"""Talk to a running ``snowmelt serve``: ``RemoteSession`` has the ``Session`` surface.

``find_server(db_path)`` reads the server file beside a database and returns its
``ServerInfo`` when the server process is alive. ``connect_or_remote(path)`` returns a
``RemoteSession`` when a live server owns ``path``, and opens the file directly otherwise —
``snowmelt.connect`` uses it, so scripts, notebooks and the CLI work the same either way.

Results come back as Arrow IPC and become the same ``Result`` objects as in-process. Inserts
carry an idempotency key (one per call), so a request cut off by a dropped connection is
retried without risk of loading the batch twice. Only the standard library is used.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import pyarrow as pa

from snowmelt import errors
from snowmelt.result import Result
from snowmelt.server.serverfile import ServerInfo, live

ARROW_STREAM = "application/vnd.apache.arrow.stream"


class RemoteError(errors.SnowmeltError):
    """The server answered with an error that has no local counterpart."""

    def __init__(self, message: str, status: int, payload: dict[str, Any] | None = None):
        self.status = status
        self.payload = payload or {}
        super().__init__(message)


_ERROR_TYPES: dict[str, type[errors.SnowmeltError]] = {
    cls.__name__: cls
    for cls in (
        errors.SqlError,
        errors.UnsupportedError,
        errors.CatalogError,
        errors.ObjectNotFound,
        errors.ObjectExists,
        errors.DynamicTableError,
        errors.NotInitializedError,
        errors.RefreshError,
        errors.IngestError,
        errors.DatabaseLockedError,
    )
}


def _raise_for(status: int, payload: dict[str, Any]) -> None:
    """Re-raise a server error as the same snowmelt error class, attributes included."""
    message = str(payload.get("error") or f"HTTP {status}")
    cls = _ERROR_TYPES.get(str(payload.get("type")))
    if cls is None:
        raise RemoteError(message, status, payload)
    err = cls.__new__(cls)
    Exception.__init__(err, message)
    for attr in ("name", "code", "table", "row", "column", "line"):
        setattr(err, attr, payload.get(attr))
    if isinstance(err, errors.SqlError):
        err.bare_message = message
    raise err


def _result(arrow: bytes, message: str | None, query_id: str | None) -> Result:
    """A result the server sent: its rows as an Arrow IPC stream, its message and id."""
    result = Result(pa.ipc.open_stream(pa.py_buffer(arrow)).read_all(), message)
    result.query_id = query_id
    return result


def find_server(db_path: str | os.PathLike[str]) -> ServerInfo | None:
    """The live server owning ``db_path`` (from its server file), or None."""
    return live(db_path)


class RemoteSession:
    """A session on a database owned by a running server.

    >>> s = RemoteSession(find_server("shop.duckdb"))  # doctest: +SKIP
    >>> s.sql("SELECT COUNT(*) FROM RAW.ORDERS").scalar()  # doctest: +SKIP
    """

    def __init__(
        self,
        server: ServerInfo | str,
        token: str | None = None,
        timeout: float = 300.0,
        path: str | None = None,
    ):
        self.path: str | None
        if isinstance(server, ServerInfo):
            self.url, self.token, self.path = server.url, server.token, server.db
        else:
            self.url, self.token, self.path = server.rstrip("/"), token or "", path
        parts = urlsplit(self.url)
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port or 80
        self.timeout = timeout
        # the session's state the server hands back: current database, schema, warehouse,
        # role, the ids of the statements run so far (LAST_QUERY_ID counts back on them) and
        # the session variables
        self.context: dict[str, Any] = {
            "database": None,
            "schema": None,
            "warehouse": None,
            "role": None,
            "query_ids": [],
            "variables": {},
        }
        self.notices: list[str] = []
        self._local = threading.local()
        self._closed = False

    # -- transport ----------------------------------------------------------------------------
    def _connection(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = http.client.HTTPConnection(self._host, self._port, timeout=self.timeout)
            try:
                conn.connect()
            except OSError as err:
                raise errors.SnowmeltError(
                    f"Cannot reach the snowmelt server at {self.url}: {err}. Is it still running?"
                ) from None
            # headers and body go out in separate writes: do not let Nagle hold the body back
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._local.conn = conn
        return conn

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        retry: bool = False,
    ) -> tuple[int, dict[str, str], bytes]:
        """One HTTP exchange; ``retry`` re-sends once after a dropped connection."""
        if self._closed:
            raise errors.SnowmeltError("This RemoteSession is closed")
        all_headers = {"Authorization": f"Bearer {self.token}", **(headers or {})}
        for attempt in (0, 1):
            conn = self._connection()
            try:
                conn.request(method, path, body=body, headers=all_headers)
                response = conn.getresponse()
                data = response.read()
                return response.status, {k.lower(): v for k, v in response.getheaders()}, data
            except (ConnectionError, http.client.HTTPException, OSError) as err:
                conn.close()
                self._local.conn = None
                if attempt or not retry:
                    raise errors.SnowmeltError(
                        f"Lost the connection to the snowmelt server at {self.url}: {err}"
                    ) from None
        raise AssertionError("unreachable")

    def _json(self, method: str, path: str, payload: Any = None, retry: bool = False) -> Any:
        body = json.dumps(payload).encode() if payload is not None else None
        status, _, data = self.request(
            method,
            path,
            body,
            {"Content-Type": "application/json"} if body is not None else None,
            retry,
        )
        decoded = json.loads(data) if data else {}
        if status >= 400:
            _raise_for(status, decoded)
        return decoded

    # -- the Session surface ------------------------------------------------------------------
    def sql(self, text: str, dialect: str = "snowflake") -> Result:
        """Run statements on the server; returns the result of the last one."""
        body = json.dumps({"sql": text, "dialect": dialect, **self.context}).encode()
        status, headers, data = self.request(
            "POST", "/v1/sql", body, {"Content-Type": "application/json", "Accept": ARROW_STREAM}
        )
        if status >= 400:
            _raise_for(status, json.loads(data) if data else {})
        if "x-snowmelt-context" in headers:
            self.context.update(json.loads(headers["x-snowmelt-context"]))
        notices = json.loads(headers.get("x-snowmelt-notices", "[]"))
        self.notices.extend(notices)
        message = json.loads(headers.get("x-snowmelt-message", "null"))
        return _result(data, message, headers.get("x-snowmelt-query-id") or None)

    def insert(self, table: str, data: Any, idempotency_key: str | None = None) -> int:
        """Append rows (Arrow, pandas, polars or a list of dicts) in one atomic commit."""
        if isinstance(data, list):  # the server converts values and names a bad row/column
            body = "\n".join(json.dumps(r, default=str) for r in data).encode()
            content_type = "application/x-ndjson"
        else:
            from snowmelt.dml import to_arrow

            batch = to_arrow(data)
            sink = pa.BufferOutputStream()
            with pa.ipc.new_stream(sink, batch.schema) as writer:
                writer.write_table(batch)
            body, content_type = sink.getvalue().to_pybytes(), ARROW_STREAM
        key = idempotency_key or str(uuid.uuid4())
        status, _, reply = self.request(
            "POST",
            f"/v1/tables/{quote(table, safe='')}/rows{self._scope()}",
            body,
            {"Content-Type": content_type, "Idempotency-Key": key},
            retry=True,
        )
        decoded = json.loads(reply) if reply else {}
        if status >= 400:
            _raise_for(status, decoded)
        return int(decoded["rows"])

    def refresh(self, name: str) -> Result:
        decoded = self._json(
            "POST", f"/v1/dynamic-tables/{quote(name, safe='')}/refresh{self._scope()}"
        )
        return Result(pa.Table.from_pylist(decoded["refreshes"]))

    def run_each(self, text: str, dialect: str = "snowflake") -> Iterator[Result]:
        """Each statement's result (the server runs the script as one request); when one
        fails, the results before it, then its error."""
        body = json.dumps({"sql": text, "dialect": dialect, "each": True, **self.context})
        status, _, data = self.request(
            "POST", "/v1/sql", body.encode(), {"Content-Type": "application/json"}
        )
        decoded = json.loads(data) if data else {}
        for packed in decoded.get("results", []):
            arrow = base64.b64decode(packed["arrow"])
            yield _result(arrow, packed.get("message"), packed.get("query_id"))
        self.context.update(decoded.get("context") or {})  # after an error too: USE, SET
        if status >= 400:
            _raise_for(status, decoded)
        self.notices.extend(decoded.get("notices", []))

    def execute_all(self, text: str, dialect: str = "snowflake") -> list[Result]:
        return list(self.run_each(text, dialect))

    def explain(self, name: str) -> Result:
        """EXPLAIN DYNAMIC TABLE, as ``Session.explain``."""
        return self.sql(f"EXPLAIN DYNAMIC TABLE {name}")

    def use(self, database: str | None = None, schema: str | None = None) -> None:
        if database:
            self.sql(f"USE DATABASE {database}")
        if schema:
            self.sql(f"USE SCHEMA {schema}")

    def dynamic_tables(self) -> list[dict[str, Any]]:
        return list(self._json("GET", "/v1/dynamic-tables")["dynamic_tables"])

    def health(self) -> dict[str, Any]:
        return dict(self._json("GET", "/health"))

    in_transaction = False  # a request never leaves one open: the server rolls it back

    def rollback(self) -> None:
        """Nothing to undo here: what a request leaves open the server rolls back."""

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
        self._closed = True

    def __enter__(self) -> RemoteSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _scope(self) -> str:
        params = {
            k: v
            for k, v in (("database", self.context["database"]), ("schema", self.context["schema"]))
            if v
        }
        return f"?{urlencode(params)}" if params else ""

    def __repr__(self) -> str:
        return f"<RemoteSession {self.url} db={self.path}>"


def _reachable(info: ServerInfo, timeout: float = 2.0) -> bool:
    """Whether the server file's port accepts connections (guards against a reused pid)."""
    try:
        with socket.create_connection((info.host, info.port), timeout=timeout):
            return True
    except OSError:
        return False


def connect_or_remote(path: str | os.PathLike[str] | None = None, **kwargs: Any) -> Any:
    """A ``RemoteSession`` if a live server owns ``path``, else a local ``Session``.

    ``kwargs`` (``clock``, ``on_notice``) apply to local sessions only: a server runs on its
    own clock.
    """
    if path is not None and str(path) != ":memory:":
        info = find_server(path)
        if info is not None and _reachable(info):
            return RemoteSession(info)
    from snowmelt.session import Session

    return Session(os.fspath(path) if path is not None else None, **kwargs)
