"""A real console server and Debian's chromium, for the browser and HTTP tests and the
console-memory benchmark: `streamlit run server.py` (the console and its API) on a free local
port, and Playwright's launch options."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from core.storage.embedded import PROJECT_ROOT

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Without the background-networking flags chromium keeps calling out, which this network refuses.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"{url} did not become healthy in {seconds} s")


@contextmanager
def console_server(database_url: str, log: Path, *options: str, port: int | None = None,
                   **env) -> Iterator[tuple[str, subprocess.Popen]]:
    """The console on 127.0.0.1 and a free port (or this one), on database_url, with more of
    streamlit run's options (e.g. --secrets.files); yields (url, process)."""
    port = port or free_port()
    if "--secrets.files" not in options and os.environ.get("CONTACT_IMPORT_SECRETS"):
        options = ("--secrets.files", os.environ["CONTACT_IMPORT_SECRETS"], *options)  # the tests' own, if any
    environment = {**os.environ, "DATABASE_URL": database_url, **env}
    with open(log, "w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "server.py", "--server.port", str(port),
             "--server.address", "127.0.0.1", "--server.headless", "true", *options],
            cwd=PROJECT_ROOT, env=environment, stdout=output, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process)
        yield url, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:  # a loaded machine: a server slow to stop is killed
            process.kill()
            process.wait(timeout=30)
