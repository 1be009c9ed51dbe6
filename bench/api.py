"""python -m bench.api [--rows N] [--runs R]: the same file through the CLI and through the HTTP API.

Per run, on empty tables each time: `python -m core import FILE` (a subprocess: its wall time and
peak RSS), then the seed's flow over real HTTP against `streamlit run server.py` (what `./dev
start` runs): POST /api/imports/, the file posted with curl to /api/contacts/bulk (multipart, with
X-Import-ID and on_invalid=skip, as the CLI skips invalid rows), PUT completed. The API's time is the bulk call's; the server's peak RSS is the
server process's VmHWM (its own baseline included). Prints one table of medians and the ratio.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from bench.__main__ import DEFAULT_URL, OUT, _truncate
from bench.generate import SHAPES, bench_file


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.api", description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--shape", choices=sorted(SHAPES), default="realistic",
                        help="the file's shape (bench.generate): like real exports, or its clean twin")
    args = parser.parse_args(argv)
    from core.storage.database import make_engine, scratch_database

    path = bench_file(OUT, args.rows, args.seed, shape=SHAPES[args.shape])
    server_url = os.environ.get("DATABASE_URL") or DEFAULT_URL
    with scratch_database(server_url, f"contact_import_bench_api_{os.getpid()}") as url:
        engine = make_engine(url)
        runs = [_run(engine, url, path) for _ in range(args.runs)]
        engine.dispose()
    _print(args.rows, runs)
    return 0


def _run(engine, url: str, path: Path) -> dict:
    _truncate(engine)
    cli_seconds, cli_peak = _cli_import(url, path)
    _truncate(engine)
    api_seconds, server_peak, answer = _api_import(engine, url, path)
    print(f"# cli {cli_seconds:.1f}s, api {api_seconds:.1f}s, server peak {server_peak:.0f} MB, "
          f"{answer['created']} created", file=sys.stderr, flush=True)
    return {"cli": cli_seconds, "cli_peak": cli_peak, "api": api_seconds, "server_peak": server_peak,
            "health_ms": answer["latencies"]["health"], "list_ms": answer["latencies"]["list"]}


def _cli_import(url: str, path: Path) -> tuple[float, float]:
    with tempfile.NamedTemporaryFile("r") as peak:  # GNU time writes the process's own peak RSS
        started = time.perf_counter()
        subprocess.run(["/usr/bin/time", "-f", "%M", "-o", peak.name, sys.executable, "-m", "core", "import",
                        str(path), "--source", "bench", "--json"],
                       check=True, capture_output=True, env={**os.environ, "DATABASE_URL": url})
        seconds = time.perf_counter() - started
        return seconds, int(Path(peak.name).read_text().split()[-1]) / 1024


def _api_import(engine, url: str, path: Path) -> tuple[float, float, dict]:
    from core.access import local_actor
    from core.access.keys import create_key
    from tests.console_server import console_server

    key = create_key(engine, f"bench {time.time()}", local_actor())
    with tempfile.TemporaryDirectory() as folder, console_server(url, Path(folder) / "server.log") as (base, server):
        headers = ["-H", f"X-API-Key: {key}"]
        created = _curl("-X", "POST", f"{base}/api/imports/", *headers, "-H", "Content-Type: application/json",
                        "-d", json.dumps({"source": "bench", "file_name": path.name}))
        started = time.perf_counter()
        with _latency_probe(f"{base}/_stcore/health", f"{base}/api/imports?limit=1", key) as latencies:
            answer = _curl("-X", "POST", f"{base}/api/contacts/bulk?on_invalid=skip", *headers, "-H",
                           f"X-Import-ID: {created['importId']}", "-F", f"file=@{path}")
        seconds = time.perf_counter() - started
        _curl("-X", "PUT", f"{base}/api/imports/{created['importId']}", *headers,
              "-H", "Content-Type: application/json", "-d", '{"status": "completed"}')
        answer["latencies"] = latencies
        return seconds, _peak_mb(server.pid), answer


@contextmanager
def _latency_probe(health_url: str, list_url: str, key: str):
    """While the bulk call runs, what other users get: the server's health answer (its event loop)
    and a small API read (its thread pool and the GIL), twice a second; yields their worst, in ms."""
    worst = {"health": 0.0, "list": 0.0}
    stop = threading.Event()

    def probe() -> None:
        while not stop.is_set():
            for name, url, headers in (("health", health_url, {}), ("list", list_url, {"X-API-Key": key})):
                started = time.perf_counter()
                with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=120) as answer:
                    answer.read()
                worst[name] = max(worst[name], (time.perf_counter() - started) * 1000)
            stop.wait(0.5)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    try:
        yield worst
    finally:
        stop.set()
        thread.join(timeout=130)


def _curl(*args: str) -> dict:
    done = subprocess.run(["curl", "-sS", "--fail-with-body", *args], capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"curl {args[:3]} failed: {done.stdout[:500]} {done.stderr[:200]}")
    return json.loads(done.stdout)


def _peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _print(rows: int, runs: list[dict]) -> None:
    median = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    print(f"medians of {len(runs)} run(s); the CLI import of the same file in the same run is the baseline")
    print(f"{'rows':>10} {'CLI s':>7} {'API s':>7} {'API/CLI':>8} {'CLI peak MB':>12} {'server peak MB':>15} "
          f"{'worst health ms':>16} {'worst API read ms':>18}")
    print(f"{rows:>10,} {median['cli']:>7.1f} {median['api']:>7.1f} {median['api'] / median['cli']:>8.2f} "
          f"{median['cli_peak']:>12.0f} {median['server_peak']:>15.0f} {median['health_ms']:>16.0f} "
          f"{median['list_ms']:>18.0f}")


if __name__ == "__main__":
    sys.exit(main())
