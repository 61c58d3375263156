"""The server file: how clients find a running server for a database.

``snowmelt serve --db data.duckdb`` writes ``data.duckdb.server.json`` beside the database,
holding host, port, pid and the bearer token, with owner-only permissions (0600, written to
a temporary file and renamed, so no reader ever sees a partial file). A clean shutdown
removes it; after a crash it stays behind and is recognised as stale because its process is
gone (``live``).
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

SUFFIX = ".server.json"


@dataclass(frozen=True)
class ServerInfo:
    host: str
    port: int
    pid: int
    token: str
    db: str
    started_at: str = ""

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


def path_for(db_path: str | os.PathLike[str]) -> Path:
    """The server file of a database: ``<db file>.server.json``."""
    db = Path(db_path).expanduser().resolve()
    return db.with_name(db.name + SUFFIX)


def write(path: Path, info: ServerInfo) -> None:
    """Write atomically with mode 0600 (the token must not be readable by other users)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, json.dumps(asdict(info), indent=2).encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp, 0o600)  # in case the umask was stricter than needed, keep exactly 0600
    os.replace(tmp, path)


def read(path: Path) -> ServerInfo | None:
    try:
        data = json.loads(path.read_text())
        return ServerInfo(
            host=str(data["host"]),
            port=int(data["port"]),
            pid=int(data["pid"]),
            token=str(data["token"]),
            db=str(data.get("db", "")),
            started_at=str(data.get("started_at", "")),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists and is not a zombie."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def live(db_path: str | os.PathLike[str]) -> ServerInfo | None:
    """The running server for ``db_path``, or None (no file, or a stale one)."""
    info = read(path_for(db_path))
    if info is None or not pid_alive(info.pid):
        return None
    return info


def remove(path: Path, pid: int | None = None) -> None:
    """Remove the file if it is ours (``pid``), or unconditionally when ``pid`` is None."""
    if pid is not None:
        info = read(path)
        if info is not None and info.pid != pid:
            return
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
