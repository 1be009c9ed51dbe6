"""python -m bench.slow_clients [--connections N]: what slow clients cost the server (issue 21,
point 3), on a real server (`streamlit run server.py`) with its default deadlines (api.deadlines).

N connections (default 300), half sending a request's headers a byte every 2 s, half sending full
headers with a valid key (each its own, so no key's concurrency limit cuts it short) and then a
body a byte every 2 s. For each: the seconds until the server
answered 408 and closed it. Meanwhile, every second, the time an authorized GET /api/imports takes
on a new connection, and a console page's run in chromium (a click on a page of the sidebar until
the page is idle again), against the same before the attack. Then the server process's open file
descriptors and client connections: idle, at the attack's height, and after the last drop.
"""
from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

from bench.__main__ import DEFAULT_URL
from bench.console_speed import OBSERVE, timed

TRICKLE_SECONDS = 2.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.slow_clients", description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=300)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    from api import deadlines
    from core.access import local_actor
    from core.access.keys import create_key
    from core.storage.database import make_engine, scratch_database
    from tests.console_server import console_server

    server_url = os.environ.get("DATABASE_URL") or DEFAULT_URL
    with scratch_database(server_url, f"contact_import_bench_slow_{os.getpid()}") as url, \
            tempfile.TemporaryDirectory() as folder, console_server(url, Path(folder) / "server.log") as (base, process):
        engine = make_engine(url)
        key = create_key(engine, "bench calls", local_actor(), "importer")
        # each slow body its own key: one key would be held to its slots (api.limits), the rest 429
        slow_keys = [create_key(engine, f"bench slow {n}", local_actor(), "importer") for n in range(args.connections)]
        engine.dispose()
        address = urlparse(base)
        idle_ms = statistics.median(_call_ms(base, key) for _ in range(20))
        console = ConsolePage(base)
        idle_page_ms = statistics.median(console.run_ms() for _ in range(10))
        idle_fds = (_fds(process.pid), _client_sockets(process.pid, address.port))  # the browser's own included
        result = _attack(address.hostname, address.port, key, slow_keys, base, process.pid, idle_fds, console)
        console.close()
    header_drops, body_drops, during_ms, peak_fds, last_drop, page_ms = result
    print(f"{'clients':<34}{'n':>6}{'dropped after (s): median':>28}{'max':>8}{'bound':>8}")
    print(f"{'headers a byte every 2 s':<34}{len(header_drops):>6}{statistics.median(header_drops):>28.1f}"
          f"{max(header_drops):>8.1f}{deadlines.HEADER_SECONDS:>8.0f}")
    print(f"{'body a byte every 2 s (valid key)':<34}{len(body_drops):>6}{statistics.median(body_drops):>28.1f}"
          f"{max(body_drops):>8.1f}{deadlines.BODY_WINDOW_SECONDS:>8.0f}")
    print(f"GET /api/imports: idle {idle_ms:.1f} ms, during the attack median {statistics.median(during_ms):.1f} ms, "
          f"max {max(during_ms):.1f} ms ({len(during_ms)} calls)")
    print(f"a console page's run (click to idle, chromium): idle median {idle_page_ms:.0f} ms, during the attack "
          f"median {statistics.median(page_ms):.0f} ms (x{statistics.median(page_ms) / idle_page_ms:.2f}), "
          f"max {max(page_ms):.0f} ms ({len(page_ms)} runs)")
    print(f"server file descriptors: idle {idle_fds[0]} ({idle_fds[1]} client connections), at the height {peak_fds[0]} "
          f"({peak_fds[1]} client connections); "
          f"{last_drop[0]:.1f} s after the last drop {last_drop[2]} client connections, {last_drop[1]} descriptors "
          f"(the database pool grows with the attack's authenticated requests, to its size of 10)")
    return 0


def _attack(host: str, port: int, key: str, slow_keys: list[str], base: str, pid: int, idle_fds: tuple[int, int],
            console: ConsolePage):
    drops: dict[str, list[float]] = {"headers": [], "body": []}
    threads = []
    for n, slow_key in enumerate(slow_keys):
        kind = "headers" if n % 2 == 0 else "body"
        start = (f"POST /api/imports/ HTTP/1.1\r\nHost: x\r\nX-API-Key: {slow_key}\r\n".encode() * 50
                 if kind == "headers" else
                 (f"POST /api/contacts/bulk HTTP/1.1\r\nHost: x\r\nX-API-Key: {slow_key}\r\n"
                  "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n[").encode())
        threads.append(threading.Thread(target=_slow_client, daemon=True, args=(host, port, kind, start, drops)))
    for thread in threads:
        thread.start()
    during, page_ms, peak = [], [], (0, 0)
    while any(thread.is_alive() for thread in threads):
        during.append(_call_ms(base, key))
        page_ms.append(console.run_ms())
        peak = max(peak, (_fds(pid), _client_sockets(pid, port)))
        time.sleep(0.5)
    ended = time.monotonic()
    while _client_sockets(pid, port) > idle_fds[1] and time.monotonic() - ended < 60:
        time.sleep(0.1)
    return (drops["headers"], drops["body"], during, peak, (time.monotonic() - ended, _fds(pid), _client_sockets(pid, port)),
            page_ms)


def _slow_client(host: str, port: int, kind: str, start: bytes, drops: dict) -> None:
    connection = socket.create_connection((host, port))
    connection.settimeout(TRICKLE_SECONDS)
    began = time.monotonic()
    to_send = start if kind == "headers" else b" " * 100_000
    if kind == "body":
        connection.sendall(start)
    try:
        for byte in to_send:
            connection.sendall(bytes([byte]))
            try:
                if connection.recv(4096) is not None:
                    break  # the server answered (408) or closed
            except socket.timeout:
                pass
    except OSError:
        pass
    drops[kind].append(time.monotonic() - began)
    connection.close()


class ConsolePage:
    """The console in Debian's chromium: a page run is a click on a page of the sidebar, from the
    press until Streamlit's script stopped (bench.console_speed's observer)."""

    PAGES = ("Import history", "New import")

    def __init__(self, base: str):
        from playwright.sync_api import sync_playwright

        from tests.console_server import CHROMIUM, CHROMIUM_ARGS
        self.playwright = sync_playwright().start()
        self.browser = self.playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        self.page = self.browser.new_page(viewport={"width": 1400, "height": 1000})
        self.page.set_default_timeout(40_000)
        self.page.goto(base)
        self.page.get_by_label("New source").wait_for()
        self.page.evaluate(OBSERVE)
        self.here = "New import"  # the console's first page

    def run_ms(self) -> float:
        elsewhere = self.PAGES[0] if self.here == self.PAGES[1] else self.PAGES[1]
        link = self.page.get_by_role("link", name=elsewhere)
        try:
            seconds, _ = timed(self.page, link.click)
        except Exception:
            self.page.screenshot(path="/tmp/slow_page.png")
            Path("/tmp/slow_page.log").write_text(repr(self.page.evaluate("window.__speed && window.__speed.log.slice(-20)")))
            raise
        self.here = elsewhere
        return seconds * 1000

    def close(self) -> None:
        self.browser.close()
        self.playwright.stop()


def _call_ms(base: str, key: str) -> float:
    began = time.perf_counter()
    request = urllib.request.Request(f"{base}/api/imports?limit=1", headers={"X-API-Key": key})
    with urllib.request.urlopen(request, timeout=60) as answer:
        answer.read()
    return (time.perf_counter() - began) * 1000


def _fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def _client_sockets(pid: int, port: int) -> int:
    """The server's open connections from clients (not its listening socket, not its database pool)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            local_port, state, inode = int(fields[1].rsplit(":", 1)[1], 16), fields[3], fields[9]
            count += local_port == port and state != "0A" and inode in inodes
    return count


if __name__ == "__main__":
    sys.exit(main())
