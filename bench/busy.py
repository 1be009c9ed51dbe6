"""The browser and concurrency tests on a busy machine (issue 19): run them several times in a row
while a CPU burner keeps one core busy, and print each run's outcome; 0 failures is the mark.

    .venv/bin/python -m bench.busy [--runs 5] [pytest arguments...]

Without pytest arguments it runs the browser tier and the concurrency tests (TEST_DATABASE_URL as
for ./dev test). The burner stops with the script.
"""
from __future__ import annotations

import argparse
import multiprocessing
import re
import subprocess
import sys
import time

from core.storage.embedded import PROJECT_ROOT

SELECTION = ["-m", "browser or slow or db", "tests/test_browser.py", "tests/test_browser_one_owner.py",
             "tests/test_sign_in.py", "tests/test_secrets.py", "tests/test_crash_and_concurrency.py",
             "tests/test_concurrent_load.py", "tests/test_one_owner.py"]


def burn(stop_at: float) -> None:
    while time.monotonic() < stop_at:
        pass


def run_once(arguments: list[str]) -> tuple[int, int, float]:
    began = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *arguments],
                          cwd=PROJECT_ROOT, capture_output=True, text=True)
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-200:]
    passed = int(m.group(1)) if (m := re.search(r"(\d+) passed", summary)) else 0
    failed = sum(int(n) for n in re.findall(r"(\d+) (?:failed|error)", summary))
    if failed:
        print(done.stdout[-3000:], file=sys.stderr)
    return passed, failed, time.monotonic() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    options, pytest_arguments = parser.parse_known_args()
    arguments = pytest_arguments or SELECTION
    # bounded: the burner stops by itself after two hours, whatever happens to this script
    burner = multiprocessing.Process(target=burn, args=(time.monotonic() + 7200,), daemon=True)
    burner.start()
    failures = 0
    try:
        print(f"{'run':>4} {'passed':>7} {'failed':>7} {'seconds':>8}   (one core kept busy by a CPU burner)")
        for run in range(1, options.runs + 1):
            passed, failed, seconds = run_once(arguments)
            failures += failed
            print(f"{run:>4} {passed:>7} {failed:>7} {seconds:>8.0f}", flush=True)
    finally:
        burner.terminate()
    print(f"flaky failures: {failures}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
