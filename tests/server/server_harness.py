"""A real ``snowmelt serve`` in a subprocess, and raw HTTP helpers for the server tests."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from snowmelt.client import RemoteSession
from snowmelt.server import serverfile

ROOT = Path(__file__).resolve().parents[2]
ARROW = "application/vnd.apache.arrow.stream"
STARTED: list[ServerProcess] = []  # every server a test started; see ``stop_all``


def _die_with_parent() -> None:
    """In the child: get SIGKILL when the test process dies, so no server outlives a run."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def stop_all(keep: tuple[ServerProcess, ...] = ()) -> None:
    """Kill the servers still running but ``keep`` (a test may have failed half-way)."""
    for proc in [p for p in STARTED if p not in keep]:
        STARTED.remove(proc)
        proc.stop()


class ServerProcess:
    def __init__(self, db: Path, *args: str):
        self.db = Path(db)
        self.args = list(args)
        self.proc: subprocess.Popen[bytes] | None = None
        self.info: serverfile.ServerInfo | None = None
        self.log = self.db.with_name(self.db.name + ".log")

    def start(self, timeout: float = 30) -> ServerProcess:
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
        }
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "snowmelt.server.main",
                    "--db",
                    str(self.db),
                    "--port",
                    "0",
                    *self.args,
                ],
                env=env,
                stdout=log,
                stderr=log,
                preexec_fn=_die_with_parent,
            )
        STARTED.append(self)
        deadline = time.monotonic() + timeout
        path = serverfile.path_for(self.db)
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"server exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}"
                )
            info = serverfile.read(path)
            if info is not None and info.pid == self.proc.pid:
                self.info = info
                return self
            time.sleep(0.01)
        raise TimeoutError(f"server did not start:\n{self.log.read_text()[-3000:]}")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def kill(self) -> None:
        """SIGKILL: no cleanup at all, as in a crash or power loss."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def terminate(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        assert self.proc is not None
        os.kill(self.proc.pid, sig)
        return self.proc.wait(timeout)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.kill()

    def session(self) -> RemoteSession:
        assert self.info is not None
        return RemoteSession(self.info)

    def http(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        token: str | None = "default",
    ) -> tuple[int, dict[str, str], bytes]:
        assert self.info is not None
        all_headers = dict(headers or {})
        if token == "default":
            token = self.info.token
        if token is not None:
            all_headers["Authorization"] = f"Bearer {token}"
        conn = http.client.HTTPConnection(self.info.host, self.info.port, timeout=60)
        try:
            conn.request(method, path, body=body, headers=all_headers)
            response = conn.getresponse()
            return (
                response.status,
                {k.lower(): v for k, v in response.getheaders()},
                response.read(),
            )
        finally:
            conn.close()

    def json(self, method: str, path: str, payload: Any = None, **kw: Any) -> tuple[int, Any]:
        body = json.dumps(payload).encode() if payload is not None else None
        headers = {"Content-Type": "application/json"} if body is not None else {}
        status, _, data = self.http(method, path, body, headers, **kw)
        return status, json.loads(data) if data else None


def arrow_stream(table: Any) -> bytes:
    import pyarrow as pa

    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()
