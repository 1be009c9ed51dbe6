"""python -m bench.http [--seconds S] [--clients N] [--big ROWS]: what API clients get from a real
server (`streamlit run server.py`, what `./dev start` runs), on a throw-away database (issue 20):

  keep-alive   median ms of a health check and of an authorized GET /api/imports, each on a new
               connection and on one reused connection (a stall here is Nagle's algorithm meeting
               the client's delayed ACK);
  small bulks  N concurrent clients with one key, each sending 1-row (then 100-row) bulks as their
               own imports (no X-Import-ID) for S seconds: requests/s, contacts/s, p50 and p99 (the
               server lets the key have N requests in progress: CONTACT_IMPORT_KEY_CONCURRENCY);
  beside a big import  50-row bulks of unrelated emails sent back to back, alone and while the
               CLI imports a ROWS-row file into the same database: the longest wait of each.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from itertools import count
from pathlib import Path
from urllib.parse import urlparse

from bench.__main__ import DEFAULT_URL, OUT
from bench.generate import REALISTIC, bench_file

NEXT = count()  # unique emails across every client and run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.http", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--big", type=int, default=300_000, help="rows of the big import (0: skip)")
    args = parser.parse_args(argv)
    from core.access import local_actor
    from core.access.keys import create_key
    from core.storage.database import make_engine, scratch_database
    from tests.console_server import console_server

    server_url = os.environ.get("DATABASE_URL") or DEFAULT_URL
    with scratch_database(server_url, f"contact_import_bench_http_{os.getpid()}") as url, \
            tempfile.TemporaryDirectory() as folder, \
            console_server(url, Path(folder) / "server.log", CONTACT_IMPORT_KEY_CONCURRENCY=str(args.clients)) as (base, _):
        engine = make_engine(url)
        key = create_key(engine, "bench http", local_actor(), "importer")
        engine.dispose()
        address = urlparse(base)
        client = Client(address.hostname, address.port, key)
        rows = [("keep-alive", *keep_alive(client))]
        for size in (1, 100):
            rows.append((f"{size}-row bulks", *small_bulks(client, size, args.clients, args.seconds)))
        if args.big:
            rows += beside_a_big_import(client, url, args.big)
    for line in rows:
        print("  ".join(str(cell) for cell in line))
    return 0


class Client:
    """One API key on one server; each thread makes its own connections."""

    def __init__(self, host: str, port: int, key: str):
        self.host, self.port, self.key = host, port, key

    def connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.host, self.port, timeout=300)

    def call(self, connection, method: str, path: str, body=None) -> tuple[int, float]:
        headers = {"X-API-Key": self.key, "Content-Type": "application/json"}
        started = time.perf_counter()
        connection.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
        answer = connection.getresponse()
        answer.read()
        return answer.status, (time.perf_counter() - started) * 1000


def keep_alive(client: Client, calls: int = 200) -> tuple:
    """(health new ms, health reused ms, API new ms, API reused ms), medians."""
    medians = []
    for path in ("/_stcore/health", "/api/imports?limit=1"):
        for reuse in (False, True):
            connection, times = client.connect(), []
            for _ in range(calls):
                if not reuse:
                    connection.close()
                    connection = client.connect()
                status, ms = client.call(connection, "GET", path)
                assert status == 200, (path, status)
                times.append(ms)
            connection.close()
            medians.append(f"{statistics.median(times):.1f} ms")
    return ("health new", medians[0], "health reused", medians[1], "API new", medians[2], "API reused", medians[3])


def contacts(size: int) -> list[dict]:
    numbers = [next(NEXT) for _ in range(size)]
    return [{"full_name": f"Bench {n}", "email": f"bench.{n}.{os.getpid()}@example.com",
             "linkedin_profile": f"https://linkedin.com/in/bench-{n}"} for n in numbers]


def small_bulks(client: Client, size: int, clients: int, seconds: float) -> tuple:
    """Every client sends bulks of size rows back to back for seconds; each is its own import."""
    times: list[float] = []
    failures = []
    deadline = time.monotonic() + seconds

    def send() -> None:
        connection = client.connect()
        while time.monotonic() < deadline:
            status, ms = client.call(connection, "POST", "/api/contacts/bulk", contacts(size))
            (times if status == 201 else failures).append(ms)
        connection.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=send) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    times.sort()
    return ("requests/s", f"{len(times) / elapsed:.1f}", "contacts/s", f"{len(times) * size / elapsed:,.0f}",
            "p50", f"{statistics.median(times):.0f} ms", "p99", f"{times[int(len(times) * 0.99) - 1]:.0f} ms",
            "failed", len(failures))


def longest_wait(client: Client, until: threading.Event | None, calls: int = 50) -> tuple[float, int]:
    """50-row bulks back to back (until the event, or `calls` of them): the longest, in ms."""
    connection, worst, sent = client.connect(), 0.0, 0
    while (until is None and sent < calls) or (until is not None and not until.is_set()):
        status, ms = client.call(connection, "POST", "/api/contacts/bulk", contacts(50))
        assert status == 201, status
        worst, sent = max(worst, ms), sent + 1
    connection.close()
    return worst, sent


def beside_a_big_import(client: Client, url: str, rows: int) -> list[tuple]:
    alone, _ = longest_wait(client, None)
    path = bench_file(OUT, rows, shape=REALISTIC)
    finished = threading.Event()

    def big() -> None:
        subprocess.run([sys.executable, "-m", "core", "import", str(path), "--source", "bench big"],
                       check=True, capture_output=True, env={**os.environ, "DATABASE_URL": url})
        finished.set()

    thread = threading.Thread(target=big)
    started = time.perf_counter()
    thread.start()
    during, sent = longest_wait(client, finished)
    thread.join()
    big_seconds = time.perf_counter() - started
    return [("50-row bulk, longest wait", "alone", f"{alone:.0f} ms", f"during a {rows:,}-row import "
             f"({big_seconds:.0f} s, {sent} bulks)", f"{during:.0f} ms", "ratio", f"{during / alone:.0f}x")]


if __name__ == "__main__":
    sys.exit(main())
