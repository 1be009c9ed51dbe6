"""Uploads' temporary files (core.files.spool): tagged with their process, and removed by the next
server that starts once that process is gone, never while it lives (issue 21, point 7)."""
import os
import subprocess
import sys
from pathlib import Path

from core.files.spool import remove_orphans, spool_file, spool_folder


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_what_dead_processes_left_is_removed_and_what_live_ones_hold_is_kept(tmp_path):
    gone = dead_pid()
    left_file = tmp_path / f"contact-import-{gone}-abc123.upload"
    left_folder = tmp_path / f"contact-import-api-{gone}-xyz789"
    held = tmp_path / f"contact-import-{os.getpid()}-def456.upload"
    held_by_parent = tmp_path / f"contact-import-api-{os.getppid()}-ghi012"
    untagged, foreign = tmp_path / "contact-import-old.upload", tmp_path / "someone-else.tmp"
    for path in (left_file, held, untagged, foreign):
        path.write_bytes(b"email\n")
    for folder in (left_folder, held_by_parent):
        folder.mkdir()
        (folder / "request.json").write_bytes(b"[]")
    assert sorted(remove_orphans(tmp_path)) == sorted([left_file, left_folder])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        p.name for p in (held, held_by_parent, untagged, foreign))


def test_spools_are_tagged_with_their_process_and_go_when_closed(tmp_path, monkeypatch):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    with spool_folder() as folder:
        assert Path(folder).name.startswith(f"contact-import-api-{os.getpid()}-")
        assert remove_orphans(tmp_path) == [] and Path(folder).exists()
    spooled = spool_file()
    assert Path(spooled.name).name.startswith(f"contact-import-{os.getpid()}-")
    spooled.close()
    assert list(tmp_path.iterdir()) == []
