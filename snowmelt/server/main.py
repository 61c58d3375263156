"""The server process: open the database, start the scheduler, serve HTTP, shut down cleanly.

``serve(db, host, port)`` binds the socket first (port 0 picks a free one), then writes the
server file with the real port, so a client that finds the file can connect at once.
SIGTERM or SIGINT stops the scheduler from starting new rounds, lets uvicorn finish the
requests in flight, waits for a running refresh to finish, closes the database (DuckDB
checkpoints on close) and removes the server file. After SIGKILL the file stays behind;
clients see it is stale because its process is gone, and the next start replaces it.

Run as ``snowmelt serve`` or ``python -m snowmelt.server.main --db PATH --port 0``.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from snowmelt.errors import SnowmeltError
from snowmelt.server import serverfile
from snowmelt.server.app import DEFAULT_MAX_BODY, ServerState, create_app
from snowmelt.server.auth import new_token

log = logging.getLogger("snowmelt.server")


class ServerRunningError(SnowmeltError):
    """Another ``snowmelt serve`` already owns the database."""

    def __init__(self, message: str, info: serverfile.ServerInfo):
        self.info = info
        super().__init__(message)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY on accepted connections only when the
    # listening socket says TCP, and without it every response waits ~40 ms for delayed ACKs.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        raise SnowmeltError(
            f"Cannot listen on {host}:{port}: {err.strerror}. Choose another "
            "--port, or --port 0 for a free one."
        ) from None
    sock.listen(2048)  # accept into the backlog before uvicorn's loop starts
    sock.set_inheritable(True)
    return sock


def _events(kind: str, details: dict[str, Any]) -> None:
    if kind in ("tick", "round"):
        return
    level = logging.WARNING if kind in ("suspended", "error") else logging.INFO
    log.log(level, "scheduler %s: %s", kind, details)


def serve(
    db: str | os.PathLike[str] = "snowmelt.duckdb",
    host: str = "127.0.0.1",
    port: int = 0,
    max_body_bytes: int = DEFAULT_MAX_BODY,
    log_level: str = "warning",
    announce: Any = None,
) -> int:
    """Serve ``db`` until SIGTERM/SIGINT; returns the process exit code.

    ``announce`` (e.g. ``print``) receives one line with the URL once the server listens.
    """
    import uvicorn

    from snowmelt.scheduler import Scheduler
    from snowmelt.server import ingest
    from snowmelt.session import Session

    logging.basicConfig(
        level=getattr(logging, log_level.upper(), logging.WARNING),
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    path = Path(db).expanduser().resolve()
    info_path = serverfile.path_for(path)
    running = serverfile.live(path)
    if running is not None and running.pid != os.getpid():
        raise ServerRunningError(
            f"Database {path} is already served by process {running.pid}"
            f" at {running.url}; stop it first (kill -TERM "
            f"{running.pid}).",
            running,
        )
    session = Session(path)  # DatabaseLockedError names the process holding the file
    try:
        ingest.ensure_keys_table(session.rt)
        sock = _bind(host, port)
    except BaseException:
        session.close()
        raise
    actual_host, actual_port = sock.getsockname()[:2]
    token = new_token()
    scheduler = Scheduler(session.rt, session.refresher, events=_events)
    state = ServerState(
        session=session,
        token=token,
        scheduler=scheduler,
        db=str(path),
        max_body_bytes=max_body_bytes,
    )
    app = create_app(state)
    config = uvicorn.Config(
        app, log_level=log_level, access_log=False, timeout_graceful_shutdown=30, lifespan="off"
    )

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            scheduler.request_stop()  # stop scheduling at once; a running round finishes
            super().handle_exit(sig, frame)

    server = Server(config)

    def early_exit(sig: int, frame: Any) -> None:  # a signal before uvicorn took over
        server.handle_exit(sig, frame)

    previous = {sig: signal.signal(sig, early_exit) for sig in (signal.SIGTERM, signal.SIGINT)}
    info = serverfile.ServerInfo(
        host=str(actual_host),
        port=int(actual_port),
        pid=os.getpid(),
        token=token,
        db=str(path),
        started_at=datetime.now(UTC).isoformat(),
    )
    try:
        scheduler.start()
        serverfile.write(info_path, info)
        if announce is not None:
            announce(
                f"snowmelt serving {path} at {info.url} (pid {info.pid}); token in {info_path}"
            )
        server.run(sockets=[sock])
    finally:
        scheduler.stop()
        with session.rt.store.lock:  # waits for any statement still running
            session.close()
        serverfile.remove(info_path, os.getpid())
        sock.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m snowmelt.server.main", description="Serve a snowmelt database over HTTP."
    )
    parser.add_argument("--db", default="snowmelt.duckdb")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--max-body-bytes", type=int, default=DEFAULT_MAX_BODY)
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    try:
        return serve(
            args.db,
            args.host,
            args.port,
            args.max_body_bytes,
            args.log_level,
            announce=lambda line: print(line, file=sys.stderr, flush=True),
        )
    except SnowmeltError as err:
        print(f"Error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
