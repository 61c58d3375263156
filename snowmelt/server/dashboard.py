"""The web dashboard: a page at ``/``, its script and style under ``/static/``, and its JSON.

``router(state)`` returns an ``APIRouter`` that ``create_app`` includes. Everything the page
needs ships in ``snowmelt/server/static`` (hand-written JS, SVG and CSS; no CDN, no build):

* ``GET /`` and ``GET /static/<file>``: no authentication, because they hold no data. They are
  sent with a strict Content-Security-Policy (scripts and styles from this origin only, no
  inline code, ``connect-src 'self'``, no framing) and ``Referrer-Policy: no-referrer``.
* ``GET /v1/graph``: nodes (base tables and dynamic tables, each with layer, state,
  freshness, current lag vs target, last refresh, laid out in columns by layer) and edges
  (dependencies), from ``snowmelt.monitor.collect``.
* ``GET /v1/dynamic-tables/{name}/detail``: the definition, resolved refresh mode and its
  reason, the SQL a refresh runs (``Session.explain``), the lag sawtooth over time and the
  refresh timeline.

**Access.** The JSON routes need the server's bearer token like the rest of ``/v1``. The page
gets it from the URL fragment: ``snowmelt dashboard --db DB`` prints
``http://HOST:PORT/#token=...`` (read from the owner-only server file). A fragment is never
sent to the server nor in a Referer header; the page moves it into ``sessionStorage`` (this
tab only, gone when it closes) and strips it from the address bar at once. Without a token
the page asks for one. Requests carry ``Authorization: Bearer``, so there is no cookie and
hence no cross-site request forgery to defend against.
"""

from __future__ import annotations

from datetime import datetime
from importlib import resources
from typing import Any

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from snowmelt import monitor
from snowmelt.errors import SnowmeltError
from snowmelt.server.auth import BearerToken
from snowmelt.sql.resolve import Context

STATIC_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".html": "text/html; charset=utf-8",
}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; font-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-cache",
}
HISTORY_LIMIT = 300  # refreshes behind the lag chart and the timeline


def _static(name: str) -> bytes | None:
    folder = resources.files("snowmelt.server").joinpath("static")
    if (
        "/" in name
        or "\\" in name
        or name.startswith(".")
        or not any(name.endswith(ext) for ext in STATIC_TYPES)
    ):
        return None
    entry = folder.joinpath(name)
    return entry.read_bytes() if entry.is_file() else None


class LockedSession:
    """``session.sql`` under the engine lock, in a private context (as ``/v1/sql`` runs).

    Use as a context manager to hold the lock across several statements, so one status is
    read from one state of the database.
    """

    def __init__(self, session: Any):
        self.session = session
        self.path = getattr(session, "path", None)
        self._rt = session.rt

    def __enter__(self) -> LockedSession:
        self._rt.store.lock.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self._rt.store.lock.release()

    def sql(self, text: str) -> Any:
        rt = self._rt
        with rt.store.lock:
            saved = (rt.context, rt.notices, rt.on_notice)
            rt.context, rt.notices, rt.on_notice = Context(), [], None
            try:
                return self.session.sql(text)
            finally:
                rt.context, rt.notices, rt.on_notice = saved


# -- the graph ---------------------------------------------------------------------------------------
def graph(status: dict[str, Any]) -> dict[str, Any]:
    """Nodes and edges of the pipeline, with a layered layout (``column``, ``row``)."""
    nodes = {
        t["qualified_name"]: {**t, "id": t["qualified_name"]}
        for t in [*status["base_tables"], *status["dynamic_tables"]]
    }
    edges = []
    for t in status["dynamic_tables"]:
        for source in t["inputs"]:
            if source not in nodes:  # a view (or a dropped table) read by a dynamic table
                database, schema, name = (source.split(".") + ["", "", ""])[:3]
                nodes[source] = {
                    "id": source,
                    "qualified_name": source,
                    "name": name,
                    "schema": schema,
                    "database": database,
                    "kind": "VIEW",
                    "layer": monitor.layer_of(schema),
                    "rows": None,
                    "consumers": [],
                }
            edges.append({"source": source, "target": t["qualified_name"]})
    _layout(nodes, edges)
    labels: dict[int, dict[str, int]] = {}
    for node in nodes.values():
        counts = labels.setdefault(node["column"], {})
        counts[node["layer"]] = counts.get(node["layer"], 0) + 1
    columns = [
        {"index": c, "layer": max(sorted(counts), key=lambda k: counts[k])}
        for c, counts in sorted(labels.items())
    ]
    return {
        "generated_at": status["generated_at"],
        "source": status["source"],
        "summary": status["summary"],
        "columns": columns,
        "nodes": sorted(nodes.values(), key=lambda n: (n["column"], n["row"])),
        "edges": edges,
    }


def _layout(nodes: dict[str, dict[str, Any]], edges: list[dict[str, str]]) -> None:
    """Columns: medallion layers in order, other layers by depth; every edge points right.

    Rows: a few barycentre sweeps, which keeps edges between neighbouring columns short.
    """
    parents: dict[str, list[str]] = {n: [] for n in nodes}
    children: dict[str, list[str]] = {n: [] for n in nodes}
    for e in edges:
        parents[e["target"]].append(e["source"])
        children[e["source"]].append(e["target"])
    column: dict[str, int] = {}

    def place(node: str, seen: frozenset[str] = frozenset()) -> int:
        if node in column:
            return column[node]
        layer = nodes[node]["layer"]
        own = monitor.MEDALLION.index(layer) if layer in monitor.MEDALLION else 0
        ups = [place(p, seen | {node}) for p in parents[node] if p not in seen]
        column[node] = max([own, *(u + 1 for u in ups)])
        return column[node]

    for node in sorted(nodes):
        place(node)
    used = sorted(set(column.values()))  # close gaps (e.g. no SILVER layer at all)
    for node in nodes:
        nodes[node]["column"] = used.index(column[node])
    by_column: dict[int, list[str]] = {}
    for node in sorted(nodes, key=lambda n: (nodes[n]["kind"] != "TABLE", n)):
        by_column.setdefault(nodes[node]["column"], []).append(node)
    rank = {n: float(i) for members in by_column.values() for i, n in enumerate(members)}
    for sweep in range(6):
        neighbours = parents if sweep % 2 == 0 else children
        order = sorted(by_column) if sweep % 2 == 0 else sorted(by_column, reverse=True)
        for c in order:
            members = by_column[c]
            centre = {
                n: (
                    sum(rank[m] for m in neighbours[n]) / len(neighbours[n])
                    if neighbours[n]
                    else rank[n]
                )
                for n in members
            }
            members.sort(key=lambda n: (centre[n], n))
            for i, n in enumerate(members):
                rank[n] = float(i)
    for members in by_column.values():
        for i, n in enumerate(members):
            nodes[n]["row"] = i


# -- one table ---------------------------------------------------------------------------------------
def lag_series(history: list[dict[str, Any]], now: str) -> list[dict[str, Any]]:
    """The lag sawtooth: it drops at each successful refresh and grows until the next.

    ``history`` is newest first (as ``recent_refreshes`` returns it); points are oldest
    first as ``{"t": iso, "lag_sec": seconds}``, ending at ``now``.
    """
    done = sorted(
        (h for h in history if h["state"] == "SUCCEEDED" and h["end_time"] and h["data_timestamp"]),
        key=lambda h: h["end_time"],
    )
    points: list[dict[str, Any]] = []
    current: datetime | None = None
    for h in done:
        end, data = (
            datetime.fromisoformat(h["end_time"]),
            datetime.fromisoformat(h["data_timestamp"]),
        )
        if current is not None:
            points.append({"t": h["end_time"], "lag_sec": (end - current).total_seconds()})
        current = data if current is None or data > current else current
        points.append({"t": h["end_time"], "lag_sec": (end - current).total_seconds()})
    if current is not None:
        points.append(
            {"t": now, "lag_sec": (datetime.fromisoformat(now) - current).total_seconds()}
        )
    return points


def detail(session: Any, name: str) -> dict[str, Any]:
    """Everything the page shows for one dynamic table (``name`` fully qualified)."""
    locked = LockedSession(session)
    with locked:
        status = monitor.collect(locked)
        wanted = name.upper()
        found = [t for t in status["dynamic_tables"] if t["qualified_name"] == name] or [
            t
            for t in status["dynamic_tables"]
            if f".{t['qualified_name']}".upper().endswith(f".{wanted}")
        ]
        table = found[0] if len(found) == 1 else None
        if table is None:
            raise HTTPException(
                404,
                f"Dynamic table {name} does not exist (use the "
                "qualified name DATABASE.SCHEMA.NAME)",
            )
        show: dict[str, Any] = next(
            (
                r
                for r in locked.sql("SHOW DYNAMIC TABLES IN ACCOUNT").dicts()
                if (r["database_name"], r["schema_name"], r["name"])
                == (table["database"], table["schema"], table["name"])
            ),
            {},
        )
        history = monitor.recent_refreshes(locked, HISTORY_LIMIT, table["qualified_name"])
        plan = _explain(session, table)
    return {
        "table": table,
        "generated_at": status["generated_at"],
        "definition": show.get("text"),
        "explain": plan,
        "history": history,
        "lag_series": lag_series(history, status["generated_at"]),
    }


def _explain(session: Any, table: dict[str, Any]) -> dict[str, Any]:
    from sqlglot import exp

    quoted = exp.table_(
        exp.to_identifier(table["name"], quoted=True),
        db=exp.to_identifier(table["schema"], quoted=True),
        catalog=exp.to_identifier(table["database"], quoted=True),
    )
    try:
        row = session.explain(quoted).dicts()[0]
    except SnowmeltError as err:  # show why in the panel instead of failing all of it
        return {
            "refresh_mode": table["refresh_mode"],
            "refresh_mode_reason": table["refresh_mode_reason"],
            "strategy": None,
            "sql": [],
            "error": f"{type(err).__name__}: {err}",
        }
    return {
        "refresh_mode": row.get("refresh_mode"),
        "refresh_mode_reason": row.get("refresh_mode_reason"),
        "strategy": row.get("strategy"),
        "sql": [
            {"title": key[:-4].replace("_", " "), "sql": value}
            for key, value in row.items()
            if key.endswith("_sql") and value
        ],
        "error": None,
    }


# -- the router --------------------------------------------------------------------------------------
def router(state: Any) -> APIRouter:
    """The dashboard's routes; ``state`` is the server's ``ServerState``."""
    pages = APIRouter(tags=["dashboard"])
    api = APIRouter(tags=["dashboard"], dependencies=[Depends(BearerToken(state.token))])

    @pages.get("/", include_in_schema=False)
    async def index() -> Response:
        return Response(
            _static("index.html") or b"", media_type=STATIC_TYPES[".html"], headers=SECURITY_HEADERS
        )

    @pages.get("/static/{name}", include_in_schema=False)
    async def static(name: str) -> Response:
        body = _static(name)
        if body is None:
            raise HTTPException(404, f"No static file {name!r}")
        suffix = name[name.rfind(".") :]
        return Response(body, media_type=STATIC_TYPES[suffix], headers=SECURITY_HEADERS)

    @api.get("/v1/graph", summary="The pipeline graph: tables, dependencies, state, lag")
    async def pipeline_graph() -> dict[str, Any]:
        def work() -> dict[str, Any]:
            locked = LockedSession(state.session)
            with locked:
                return graph(monitor.collect(locked))

        return await run_in_threadpool(work)

    @api.get(
        "/v1/dynamic-tables/{name}/detail",
        summary="Definition, mode and reason, refresh SQL, lag over time, refreshes",
    )
    async def table_detail(name: str) -> dict[str, Any]:
        return await run_in_threadpool(detail, state.session, name)

    combined = APIRouter()
    combined.include_router(pages)
    combined.include_router(api)
    return combined
