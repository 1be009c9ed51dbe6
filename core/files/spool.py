"""Temporary files of uploads, named after the process that holds them. A process killed with
SIGKILL runs no cleanup, and a stopping console does not collect every session's spool file: a
server that starts removes what dead processes left (remove_orphans), never what a live one holds
(another server's uploads in flight)."""
from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

PREFIX = "contact-import-"
_OWNER = re.compile(rf"^{PREFIX}(?:api-)?(\d+)-")


def spool_file(suffix: str = ".upload"):
    """A temporary file that goes when it is closed (tempfile.NamedTemporaryFile), tagged with this process."""
    return tempfile.NamedTemporaryFile(prefix=f"{PREFIX}{os.getpid()}-", suffix=suffix)


def spool_folder() -> tempfile.TemporaryDirectory:
    """A temporary folder for one API request's body, tagged with this process."""
    return tempfile.TemporaryDirectory(prefix=f"{PREFIX}api-{os.getpid()}-")


def remove_orphans(folder: Path | None = None, mine: bool = False) -> list[Path]:
    """Remove the spool files and folders in folder (the system's temporary folder) whose process
    is gone (mine: this process's own, as it stops); returns them."""
    removed = []
    for path in Path(folder or tempfile.gettempdir()).glob(f"{PREFIX}*"):
        owner = _OWNER.match(path.name)
        if owner is None or (int(owner.group(1)) != os.getpid() if mine else alive(int(owner.group(1)))):
            continue
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    return removed


def alive(pid: int) -> bool:
    """Whether a process of this machine runs under pid."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process: alive
    return True
