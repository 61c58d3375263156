"""The server: ``snowmelt serve`` owns one database file and serves it over HTTP.

DuckDB allows one writing process per file, so one process runs the engine, the target-lag
scheduler (``snowmelt.scheduler``) and an HTTP API (FastAPI on uvicorn, OpenAPI at
``/openapi.json``): SQL with JSON or Arrow IPC results, atomic and idempotent ingest of Arrow
IPC / JSON lines / CSV bodies, dynamic-table listing, history, refresh, suspend and resume,
``/health`` and Prometheus ``/metrics``.

Modules: ``main`` (process lifecycle, signals), ``app`` (routes and error mapping), ``auth``
(bearer token), ``ingest`` (body decoding, idempotency keys), ``metrics`` (table status and
Prometheus text), ``serverfile`` (the 0600 file beside the database that lets the CLI and
``snowmelt.connect`` find a running server), ``cli`` (the ``serve`` click command).
Clients: ``snowmelt.client.RemoteSession``.
"""
