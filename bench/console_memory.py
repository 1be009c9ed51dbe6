"""python -m bench.console_memory [--rows N]: the console server's memory with a large upload.

Starts the real console (`streamlit run app.py`) on a throw-away database, drives it with Debian's
chromium through Playwright (upload the synthetic N-row file, map, review), then closes the
browser session and waits until the server has let go of the session's draft. It samples the
server process's resident memory (VmRSS) the whole time and prints one table:
  start       after the first page view (engine created, modules loaded)
  review      once the review of the file is on screen, and the peak until then
  committed   the peak until the commit (started with "Commit now") completed
  closed      after the session is closed and its draft released (the reconnect window, then
              the sweeper: RELEASE_AFTER + SWEEP_EVERY seconds of pages/common.py)
Targets (issue 8): growth to the review at most 1.5 GB; after close, within 200 MB of start.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.generate import SHAPES, bench_file

OUT = Path(__file__).parent / "out"
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
WAIT_MS = 20 * 60_000


class RssSampler(threading.Thread):
    """Samples a process's VmRSS every `every` seconds; keeps the peak."""

    def __init__(self, pid: int, every: float = 0.1):
        super().__init__(daemon=True)
        self.pid, self.every, self.peak, self.running = pid, every, 0, True

    def current(self) -> int:
        """Resident memory in MB."""
        with open(f"/proc/{self.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) // 1024
        raise RuntimeError("no VmRSS")

    def run(self) -> None:
        while self.running:
            self.peak = max(self.peak, self.current())
            time.sleep(self.every)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.console_memory", description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--shape", choices=sorted(SHAPES), default="realistic",
                        help="the file's shape (bench.generate): like real exports, or its clean twin")
    parser.add_argument("--draft-ttl", type=float,
                        help="seconds a closed session's draft is kept (CONTACT_IMPORT_DRAFT_TTL; default the console's)")
    args = parser.parse_args(argv)
    if args.draft_ttl is not None:
        os.environ["CONTACT_IMPORT_DRAFT_TTL"] = str(args.draft_ttl)
    from core.storage.database import make_engine, scratch_database
    from pages.common import RELEASE_AFTER, SWEEP_EVERY
    from tests.console_server import console_server

    path = bench_file(OUT, args.rows, args.seed, shape=SHAPES[args.shape])
    server = os.environ.get("DATABASE_URL") or DEFAULT_URL
    with scratch_database(server, f"contact_import_memory_{os.getpid()}") as url:
        make_engine(url).dispose()  # the schema, before the server starts
        log = Path(tempfile.mkdtemp()) / "streamlit.log"
        with console_server(url, log, CONTACT_IMPORT_USER="bench") as (console, process):
            sampler = RssSampler(process.pid)
            figures = _drive(console, path, sampler, RELEASE_AFTER + 2 * SWEEP_EVERY + 10)
    _print(figures, args.rows)
    return 0


def _drive(console: str, path: Path, sampler: RssSampler, release_wait: float) -> dict:
    from playwright.sync_api import sync_playwright

    from tests.console_server import CHROMIUM, CHROMIUM_ARGS
    figures = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        page.goto(console)
        page.get_by_label("New source").wait_for()
        time.sleep(2)
        figures["start"] = sampler.current()
        sampler.start()
        started = time.monotonic()
        page.get_by_label("New source").fill("Memory bench")
        page.get_by_label("New source").press("Enter")
        page.get_by_role("button", name="Next: upload the file").click()
        page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(path))
        page.get_by_text("Map the columns of").wait_for()
        figures["mapped"] = sampler.current()
        page.get_by_role("button", name="Next: review").click()
        page.get_by_text("Review before anything is written").wait_for()
        figures["review"] = sampler.current()
        figures["review_peak"] = sampler.peak
        figures["upload_to_review_s"] = time.monotonic() - started
        page.get_by_role("button", name="Next: commit").click()
        page.get_by_role("button", name="Commit now").click()
        committing = time.monotonic()
        page.get_by_text("completed.").wait_for()
        figures["commit_s"] = time.monotonic() - committing
        figures["commit_peak"] = sampler.peak
        context.close()
        browser.close()
    closed = time.monotonic()
    while time.monotonic() - closed < release_wait:
        time.sleep(5)
    sampler.running = False
    figures["closed"] = sampler.current()
    figures["closed_after_s"] = time.monotonic() - closed
    return figures


def _print(figures: dict, rows: int) -> None:
    start = figures["start"]
    print(f"console server memory (VmRSS, MB), {rows:,}-row file uploaded in a real browser:")
    print(f"  start (first page view)      {start:>6}")
    print(f"  mapping step shown           {figures['mapped']:>6}")
    print(f"  review shown                 {figures['review']:>6}   growth {figures['review'] - start:+} "
          f"(peak {figures['review_peak']}, growth {figures['review_peak'] - start:+}); "
          f"upload to review {figures['upload_to_review_s']:.0f} s")
    print(f"  committed (peak so far)      {figures['commit_peak']:>6}   commit {figures['commit_s']:.0f} s")
    print(f"  session closed, {figures['closed_after_s']:.0f} s later  {figures['closed']:>6}   "
          f"vs start {figures['closed'] - start:+}")


if __name__ == "__main__":
    sys.exit(main())
