"""How one commit travels through the code (issue 19): trace every call the service's commit of a
small draft makes inside the project, and report the files it enters, its stays (runs of calls in
one file), how often it returns to a file it had left, and how often a call climbs back up a layer.

    .venv/bin/python -m bench.trace_commit            # on DATABASE_URL, else a scratch database

Layers, top to bottom: the doors (pages, api, cli), importing (the service), access, storage, rows,
files and the shared leaves (errors, fields, progress), as core's packages are laid out. A climb
is a call from a lower layer into a higher one. It runs on the layout before issue 19 too (the flat
core/ modules are mapped to the package each moved to), for a before and after.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

try:
    from core.storage.embedded import PROJECT_ROOT
except ImportError:  # the flat layout before issue 19
    from core.embedded import PROJECT_ROOT

LAYERS = {  # each package, and the flat modules of the layout before it (issue 19), for a before/after
    "doors": ("pages", "api", "core/cli.py"),
    "importing": ("core/importing", "core/importing.py", "core/commit_jobs.py", "core/drafts.py"),
    "access": ("core/access", "core/access.py", "core/api_keys.py"),
    "storage": ("core/storage", "core/records.py", "core/staging.py", "core/commit.py", "core/undo.py",
                "core/preview.py", "core/history.py", "core/campaigns.py", "core/saved_mappings.py",
                "core/database.py", "core/embedded.py", "core/audit.py"),
    "rows": ("core/rows", "core/mapping.py", "core/validation.py", "core/review.py", "core/same_person.py",
             "core/counts.py", "core/error_file.py"),
    "files": ("core/files", "core/reading.py", "core/sheet_bounds.py", "core/exporting.py", "core/memory.py"),
    "leaves": ("core/errors.py", "core/fields.py", "core/progress.py"),
}
ORDER = list(LAYERS)


def layer_of(relative: str) -> int | None:
    for position, name in enumerate(ORDER):
        if any(relative == p or relative.startswith(p.rstrip("/") + "/") or relative.startswith(p + ".")
               for p in LAYERS[name]):
            return position
    return None


def trace(action) -> list[str]:
    """The project files entered by each call of action(), in order (the callee's file per call)."""
    entered: list[str] = []
    root = str(PROJECT_ROOT) + os.sep

    def profile(frame, event, _arg):
        if event != "call":
            return
        filename = frame.f_code.co_filename
        if filename.startswith(root) and "/.venv/" not in filename and "/bench/" not in filename:
            entered.append(os.path.relpath(filename, root))
    sys.setprofile(profile)
    try:
        action()
    finally:
        sys.setprofile(None)
    return entered


def path_report(entered: list[str]) -> dict:
    stays = [f for i, f in enumerate(entered) if i == 0 or entered[i - 1] != f]
    returns = sum(1 for i, f in enumerate(stays) if f in stays[:i])
    climbs = 0
    for before, after in zip(stays, stays[1:]):
        low, high = layer_of(before), layer_of(after)
        if low is not None and high is not None and high < low:
            climbs += 1
    return {"files": len(set(stays)), "stays": len(stays), "returns": returns, "climbs": climbs,
            "path": stays}


def commit_once(engine) -> dict:
    from core import importing
    from tests.helpers import csv_bytes, person

    draft = importing.open_file(engine, csv_bytes(person(1), person(2, email="bad"), person(3)), "trace.csv",
                                source="trace")
    importing.validate_draft(draft)
    importing.review(engine, draft)
    return path_report(trace(lambda: importing.commit(engine, draft)))


def main() -> None:
    try:
        from core.storage.database import make_engine, scratch_database
    except ImportError:  # the flat layout before issue 19
        from core.database import make_engine, scratch_database

    url = os.environ.get("DATABASE_URL")
    if url:
        report = commit_once(make_engine(url))
    else:
        server = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
        with scratch_database(server, f"trace_commit_{os.getpid()}") as scratch:
            engine = make_engine(scratch)
            report = commit_once(engine)
            engine.dispose()
    print(f"{'files':>6} {'stays':>6} {'returns':>8} {'climbs':>7}")
    print(f"{report['files']:>6} {report['stays']:>6} {report['returns']:>8} {report['climbs']:>7}")
    print("path:", " > ".join(Path(p).stem for p in report["path"]))


if __name__ == "__main__":
    main()
