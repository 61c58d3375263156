"""The HTTP API: routes, authentication, body limits and the mapping of errors to statuses.

Every route but ``/health`` needs the bearer token. Blocking engine work runs in the
threadpool and holds the engine lock for the whole statement, so HTTP handlers and the
scheduler thread share one session without interleaving. Errors are JSON
``{"error": message, "type": ...}``; a traceback never leaves the process.

Each SQL request runs in the context (current database, schema, warehouse, role) the client
sends and gets the context after the statement back, so ``USE`` from one client never
changes another's.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as dtime
from decimal import Decimal
from typing import Any, cast

import pyarrow as pa
from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlglot import exp
from sqlglot.errors import SqlglotError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from snowmelt import errors
from snowmelt.catalog import CatalogObject
from snowmelt.result import Result
from snowmelt.scheduler import Scheduler
from snowmelt.server import ingest, metrics
from snowmelt.server.auth import BearerToken
from snowmelt.session import Session
from snowmelt.sql.resolve import Context, Resolver, normalize
from snowmelt.variables import from_json, to_json

log = logging.getLogger("snowmelt.server")

ARROW_STREAM = ingest.ARROW_STREAM
DEFAULT_MAX_BODY = 64 * 1024 * 1024


@dataclass
class ServerState:
    """What the routes share: the one session, the scheduler, the token and counters."""

    session: Session
    token: str
    scheduler: Scheduler | None = None
    db: str = ""
    max_body_bytes: int = DEFAULT_MAX_BODY
    counters: metrics.Counters = field(default_factory=metrics.Counters)
    started: float = field(default_factory=time.monotonic)
    last_health: dict[str, Any] | None = None


class SqlRequest(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    sql: str = Field(description="One or more statements; the result of the last is returned")
    dialect: str = Field("snowflake", description="snowflake (default) or duckdb")
    database: str | None = Field(None, description="Current database for this request")
    schema_name: str | None = Field(None, alias="schema", description="Current schema")
    warehouse: str | None = None
    role: str | None = None
    each: bool = Field(
        False,
        description="Return every statement's result (JSON: each an Arrow IPC stream, base64), "
        "not only the last's; when one fails, the error carries the results before it",
    )
    variables: dict[str, Any] = Field(
        default_factory=dict,
        description="The client's session variables, as the last response's context gave them",
    )
    query_ids: list[str] = Field(
        default_factory=list,
        description="The client's earlier statements, as the last response's context gave "
        "them: LAST_QUERY_ID() and RESULT_SCAN(-n) count back through them",
    )


# -- errors --------------------------------------------------------------------------------------
def _status_for(err: Exception) -> int:
    if isinstance(err, ingest.BadBody):
        return 400
    if isinstance(err, errors.IngestError):
        return 422
    if isinstance(err, errors.ObjectNotFound):
        return 404
    if isinstance(
        err,
        (errors.ObjectExists, ingest.KeyConflict, errors.RefreshError, errors.NotInitializedError),
    ):
        return 409
    if isinstance(err, errors.DatabaseLockedError):
        return 503
    return 400


def _error_body(err: Exception) -> dict[str, Any]:
    body: dict[str, Any] = {"error": str(err), "type": type(err).__name__}
    for attr in ("name", "code", "table", "row", "column", "line"):
        value = getattr(err, attr, None)
        if value is not None and not callable(value):
            body[attr] = value
    return body


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, err: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            {"error": str(err.detail)}, err.status_code, headers=getattr(err, "headers", None)
        )

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, err: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in err.errors()
        )
        return JSONResponse({"error": f"Invalid request: {problems}"}, 422)

    @app.exception_handler(errors.SnowmeltError)
    async def snowmelt_error(_: Request, err: errors.SnowmeltError) -> JSONResponse:
        body = _error_body(err)
        done = getattr(err, "results_before", None)  # a script's results up to the error
        if done is not None:
            body["results"] = [packed(r) for r in done]
            body["context"] = getattr(err, "state_after", None)
        return JSONResponse(body, _status_for(err))

    @app.exception_handler(Exception)
    async def unexpected(_: Request, err: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return JSONResponse(
            {"error": f"Internal error ({type(err).__name__}): {err}", "type": "InternalError"}, 500
        )


# -- body limit and request counting (pure ASGI, no per-request task overhead) ------------------
class BodyLimit:
    """413 for bodies over ``max_bytes`` (declared or streamed); counts requests by route."""

    def __init__(self, app: Any, state: ServerState):
        self.app = app
        self.state = state

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.state.max_body_bytes
        status = {"code": 0}

        async def counted_send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        declared = dict(scope.get("headers") or []).get(b"content-length")
        too_big = declared is not None and declared.isdigit() and int(declared) > limit
        chunks: list[bytes] = []
        total, more = 0, scope["method"] not in ("GET", "HEAD", "OPTIONS")
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body = message.get("body", b"")
            total += len(body)
            too_big = too_big or total > limit
            if not too_big:
                chunks.append(body)
            else:
                chunks.clear()  # keep draining so the client can read the answer
            more = message.get("more_body", False)
        if too_big:
            response = JSONResponse(
                {"error": f"Request body too large: the limit is {limit} bytes; split the batch"},
                413,
            )
            await response(scope, receive, cast(Any, counted_send))
            self._count(scope, status["code"])
            return
        payload = b"".join(chunks)
        delivered = False

        async def replay() -> dict[str, Any]:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": payload, "more_body": False}
            return dict(await receive())

        await self.app(scope, replay, counted_send)
        self._count(scope, status["code"])

    def _count(self, scope: dict[str, Any], code: int) -> None:
        route = scope.get("route")
        path = getattr(route, "path", None) or "unmatched"
        self.state.counters.request(path, code)


# -- helpers ----------------------------------------------------------------------------------------
def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):  # scale 0 -> int, else float (Arrow keeps exact types)
        exponent = value.as_tuple().exponent
        return int(value) if isinstance(exponent, int) and exponent >= 0 else float(value)
    if isinstance(value, (datetime, date, dtime)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def table_json(table: pa.Table) -> dict[str, Any]:
    columns = [c.to_pylist() for c in table.columns]
    rows = [[_jsonable(v) for v in row] for row in zip(*columns, strict=True)] if columns else []
    return {
        "columns": table.column_names,
        "types": [str(t) for t in table.schema.types],
        "rows": rows,
    }


def arrow_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def packed(result: Result) -> dict[str, Any]:
    """One result of a script run with ``each``: its rows as a base64 Arrow IPC stream."""
    return {
        "arrow": base64.b64encode(arrow_bytes(result.arrow())).decode(),
        "message": result.message,
        "query_id": result.query_id,
    }


def _context_dict(context: Context) -> dict[str, str | None]:
    return {
        "database": context.database,
        "schema": context.schema,
        "warehouse": context.warehouse,
        "role": context.role,
    }


def _wants_arrow(request: Request) -> bool:
    return ARROW_STREAM in request.headers.get("accept", "")


def _table_ref(name: str) -> exp.Table:
    try:
        table = exp.to_table(name, dialect="snowflake")
    except (SqlglotError, ValueError):
        raise errors.SqlError(
            f"Invalid object name {name!r}: use NAME, SCHEMA.NAME or DATABASE.SCHEMA.NAME"
        ) from None
    normalized = normalize(table)
    assert isinstance(normalized, exp.Table)
    return normalized


def _quoted_name(obj: CatalogObject) -> str:
    return exp.table_(
        exp.to_identifier(obj.name.name, quoted=True),
        db=exp.to_identifier(obj.name.schema, quoted=True),
        catalog=exp.to_identifier(obj.name.database, quoted=True),
    ).sql("snowflake")


# -- the app ----------------------------------------------------------------------------------------
def create_app(state: ServerState) -> FastAPI:
    app = FastAPI(
        title="snowmelt",
        version=_version(),
        description="Snowflake-style dynamic tables on DuckDB: SQL, ingest, "
        "dynamic-table control and monitoring. Every route but /health "
        "needs 'Authorization: Bearer <token>' (token in the server file).",
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.add_middleware(BodyLimit, state=state)
    _install_error_handlers(app)
    auth = Depends(BearerToken(state.token))
    api = APIRouter(dependencies=[auth])
    session = state.session
    rt = session.rt

    def run_statements(
        text: str,
        dialect: str,
        context: Context,
        query_ids: list[str],
        each: bool = False,
        variables: dict[str, Any] | None = None,
    ) -> tuple[list[Result], dict[str, Any], list[str]]:
        """The script's results (every statement's with ``each``, else the last's), the
        client's state after it (context, query ids, variables) and the notices."""
        carried = from_json(variables or {})  # before the swap: a bad one changes nothing
        with rt.store.lock:  # one statement at a time; the context swap is private to it
            saved = (rt.context, rt.notices, rt.on_notice, session.variables, rt.results)
            rt.context, rt.notices, rt.on_notice = context, [], None
            # the client's session variables and statement ids, carried by its requests
            session.variables = carried
            rt.results = saved[4].for_request(query_ids)  # results shared, order the client's
            done: list[Result] = []

            def client_state() -> dict[str, Any]:
                return {
                    **_context_dict(rt.context),
                    "query_ids": list(rt.results.ids),
                    "variables": to_json(session.variables),
                }

            try:
                if each:
                    for result in session.run_each(text, dialect):
                        done.append(result)
                else:
                    done.append(session.sql(text, dialect))
                if session.in_transaction:  # it would hold the database after the request
                    session.rollback()
                    rt.notice("The transaction left open by this request was rolled back.")
                return done, client_state(), list(rt.notices)
            except BaseException as err:
                session.rollback()
                if each:  # what ran before the error stands: its results, USE, SET
                    err.results_before = done  # type: ignore[attr-defined]
                    err.state_after = client_state()  # type: ignore[attr-defined]
                raise
            finally:
                rt.context, rt.notices, rt.on_notice, session.variables, rt.results = saved

    def lookup(
        name: str, kinds: tuple[str, ...], database: str | None, schema: str | None
    ) -> CatalogObject:
        with rt.store.lock:
            return Resolver(rt.catalog, Context(database, schema)).lookup(_table_ref(name), kinds)

    def wake() -> None:
        if state.scheduler is not None:
            state.scheduler.wake()

    @app.get(
        "/health",
        tags=["monitoring"],
        summary="Liveness, and whether any table is failing, suspended or behind its lag",
    )
    async def health() -> dict[str, Any]:
        def compute() -> dict[str, Any]:
            base = {
                "pid": os.getpid(),
                "db": state.db,
                "uptime_sec": round(time.monotonic() - state.started, 3),
                "scheduler": bool(state.scheduler and state.scheduler.running),
            }
            # A long refresh holds the engine: answer from the last check rather than hang.
            if not rt.store.lock.acquire(timeout=0.25):
                cached = dict(state.last_health or {"status": "busy"})
                return {**cached, **base, "stale": True}
            try:
                summary = metrics.health(metrics.table_status(rt, rt.clock.now()))
            finally:
                rt.store.lock.release()
            state.last_health = summary
            return {**summary, **base, "stale": False}

        return await run_in_threadpool(compute)

    @api.get("/openapi.json", include_in_schema=False)
    async def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    @api.get(
        "/metrics",
        tags=["monitoring"],
        response_class=PlainTextResponse,
        summary="Prometheus text: lag, target lag, refresh counts and durations, ingest",
    )
    async def prometheus() -> PlainTextResponse:
        def render() -> str:
            extra = {
                "uptime_seconds": round(time.monotonic() - state.started, 3),
                "scheduler_running": int(bool(state.scheduler and state.scheduler.running)),
            }
            return metrics.prometheus(rt, rt.clock.now(), state.counters, extra)

        text = await run_in_threadpool(render)
        return PlainTextResponse(text, media_type="text/plain; version=0.0.4; charset=utf-8")

    @api.post(
        "/v1/sql",
        tags=["sql"],
        summary="Run SQL; JSON rows, or Arrow IPC when asked",
        responses={200: {"content": {ARROW_STREAM: {}}}},
    )
    async def sql(body: SqlRequest, request: Request) -> Response:
        context = Context(body.database, body.schema_name, body.warehouse, body.role)
        done, state, notices = await run_in_threadpool(
            run_statements,
            body.sql,
            body.dialect,
            context,
            body.query_ids,
            body.each,
            body.variables,
        )
        wake()
        if body.each:
            return JSONResponse(
                {"results": [packed(r) for r in done], "notices": notices, "context": state}
            )
        result = done[-1]
        table = result.arrow()
        if _wants_arrow(request):
            payload = await run_in_threadpool(arrow_bytes, table)
            return Response(
                payload,
                media_type=ARROW_STREAM,
                headers={
                    "X-Snowmelt-Context": json.dumps(state),
                    "X-Snowmelt-Notices": json.dumps(notices),
                    "X-Snowmelt-Message": json.dumps(result.message),
                    "X-Snowmelt-Query-Id": result.query_id or "",
                },
            )
        return JSONResponse(
            {
                **table_json(table),
                "message": result.message,
                "query_id": result.query_id,
                "notices": notices,
                "context": state,
            }
        )

    @api.post(
        "/v1/tables/{name}/rows",
        tags=["ingest"],
        summary="Append rows in one atomic commit (Arrow IPC stream, JSON lines, CSV)",
    )
    async def rows(
        name: str,
        request: Request,
        idempotency_key: str | None = Header(None, alias="Idempotency-Key"),
        database: str | None = Query(None),
        schema: str | None = Query(None),
    ) -> dict[str, Any]:
        body = await request.body()
        content_type = request.headers.get("content-type")

        def work() -> dict[str, Any]:
            batch = ingest.decode(body, content_type)
            obj = lookup(name, ("TABLE", "DYNAMIC TABLE", "VIEW"), database, schema)
            if obj.kind != "TABLE":
                raise errors.SqlError(
                    f"Cannot insert into {obj.kind.lower()} {obj.name}: only base tables take rows"
                )
            try:
                done = ingest.ingest(rt, obj, batch, idempotency_key)
            except errors.IngestError:
                state.counters.ingested(str(obj.name), 0, "rejected")
                raise
            state.counters.ingested(
                str(obj.name),
                0 if done.duplicate else done.rows,
                "duplicate" if done.duplicate else "committed",
            )
            return {
                "table": str(obj.name),
                "rows": done.rows,
                "version": done.version,
                "duplicate": done.duplicate,
            }

        return await run_in_threadpool(work)

    @api.get(
        "/v1/dynamic-tables",
        tags=["dynamic tables"],
        summary="Every dynamic table: state, lag, target lag, last refresh",
    )
    async def dynamic_tables() -> dict[str, Any]:
        status = await run_in_threadpool(metrics.table_status, rt, rt.clock.now())
        return {"dynamic_tables": _jsonable(status)}

    @api.get(
        "/v1/dynamic-tables/{name}/history",
        tags=["dynamic tables"],
        summary="Refresh history (DYNAMIC_TABLE_REFRESH_HISTORY), newest first",
    )
    async def history(
        name: str,
        limit: int = Query(100, ge=1, le=10000),
        database: str | None = Query(None),
        schema: str | None = Query(None),
    ) -> dict[str, Any]:
        def work() -> dict[str, Any]:
            from snowmelt.monitoring import refresh_history

            obj = lookup(name, ("DYNAMIC TABLE",), database, schema)
            with rt.store.lock:
                table = refresh_history(
                    rt,
                    {
                        "NAME": _quoted_name(obj),
                        "RESULT_LIMIT": limit,
                        "DATA_TIMESTAMP_START": datetime(1970, 1, 1, tzinfo=rt.clock.now().tzinfo),
                    },
                )
            return {"name": str(obj.name), "history": _jsonable(table.to_pylist())}

        return await run_in_threadpool(work)

    def alter(name: str, action: str, database: str | None, schema: str | None) -> Result:
        obj = lookup(name, ("DYNAMIC TABLE",), database, schema)
        done, _, _ = run_statements(
            f"ALTER DYNAMIC TABLE {_quoted_name(obj)} {action}",
            "snowflake",
            Context(database, schema),
            [],
        )
        return done[-1]

    @api.post(
        "/v1/dynamic-tables/{name}/refresh",
        tags=["dynamic tables"],
        summary="Refresh now (MANUAL trigger; upstream first, one data timestamp)",
    )
    async def refresh(
        name: str, database: str | None = Query(None), schema: str | None = Query(None)
    ) -> dict[str, Any]:
        result = await run_in_threadpool(alter, name, "REFRESH", database, schema)
        return {"refreshes": _jsonable(result.arrow().to_pylist())}

    @api.post(
        "/v1/dynamic-tables/{name}/suspend",
        tags=["dynamic tables"],
        summary="Suspend (cascades to consumers)",
    )
    async def suspend(
        name: str, database: str | None = Query(None), schema: str | None = Query(None)
    ) -> dict[str, Any]:
        await run_in_threadpool(alter, name, "SUSPEND", database, schema)
        return {"name": name, "scheduling_state": "SUSPENDED"}

    @api.post(
        "/v1/dynamic-tables/{name}/resume",
        tags=["dynamic tables"],
        summary="Resume (and consumers suspended because of it)",
    )
    async def resume(
        name: str, database: str | None = Query(None), schema: str | None = Query(None)
    ) -> dict[str, Any]:
        await run_in_threadpool(alter, name, "RESUME", database, schema)
        wake()
        return {"name": name, "scheduling_state": "ACTIVE"}

    app.include_router(api)
    _include_dashboard(app, state)
    return app


def _include_dashboard(app: FastAPI, state: ServerState) -> None:
    """The web dashboard (``snowmelt.server.dashboard``), when that module is installed."""
    try:
        from snowmelt.server import dashboard
    except ImportError:
        return
    app.include_router(dashboard.router(state))


def _version() -> str:
    from snowmelt import __version__

    return __version__
