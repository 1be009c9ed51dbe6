"""Run as a subprocess by tests/test_crash_and_concurrency.py: start committing an import and stop
inside the commit transaction at the given stage, printing the import id, until it is killed.

    python tests/crash_worker.py DATABASE_URL STAGE FILE
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.storage.database import make_engine  # noqa: E402
from core.storage.commit import commit_import  # noqa: E402
from core.storage.records import create_import  # noqa: E402
from tests.helpers import prepare  # noqa: E402
from core.access import local_actor  # noqa: E402


def main(url: str, stage: str, path: str) -> None:
    engine = make_engine(url)
    report = prepare(Path(path).read_bytes(), Path(path).name).report
    import_id = create_import(engine, "crash test", Path(path).name)

    def hang(current: str, done: int, total: int) -> None:
        if current == stage:
            print(import_id, flush=True)
            time.sleep(600)  # the test kills this process with SIGKILL here

    commit_import(engine, import_id, report, hang, actor=local_actor())


if __name__ == "__main__":
    main(*sys.argv[1:4])
