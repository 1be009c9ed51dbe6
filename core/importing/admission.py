"""Admission control (issue 20): one server reads and validates at most a few large files at
once, so that two big uploads cannot take it down for everyone; the others wait their turn, first
come first served, and are told how many are ahead. The memory bound then holds per server, not
per file. A file is large from LARGE_BYTES; SLOTS of them at once (both set in the environment).
Small files never wait: a 1-row API call does not queue behind a 1M-row upload.

The service's verbs that read or validate a file take a slot (open_file, reread, validate_draft,
and add_contacts for the whole batch); a thread that holds one and calls another of them does not
take a second one. Waiting is reported as on_progress("waiting", files_ahead, 0).
"""
from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from typing import Iterator

from core.progress import Progress, ignore_progress

LARGE_BYTES = int(os.environ.get("CONTACT_IMPORT_LARGE_FILE_MB", 32)) * 1024 * 1024
SLOTS = max(1, int(os.environ.get("CONTACT_IMPORT_LARGE_FILES_AT_ONCE", 2)))
WAITING = "waiting"  # the stage on_progress hears while a file waits for a slot
RECHECK_SECONDS = 1.0  # a waiting file's position is said again at least this often


class Admission:
    """Slots for large files, given in arrival order."""

    def __init__(self, slots: int = SLOTS, large_bytes: int = LARGE_BYTES):
        self.slots, self.large_bytes = slots, large_bytes
        self._changed = threading.Condition()
        self._waiting: list[object] = []
        self._admitted = 0
        self._held = threading.local()

    @contextmanager
    def admit(self, size: int, on_progress: Progress | None = None) -> Iterator[None]:
        """Run the block once a slot is free, for a file of size bytes (at once for a small file,
        or when this thread holds a slot already)."""
        if size < self.large_bytes or getattr(self._held, "slot", False):
            yield
            return
        self._wait_for_slot(on_progress or ignore_progress)
        self._held.slot = True
        try:
            yield
        finally:
            self._held.slot = False
            with self._changed:
                self._admitted -= 1
                self._changed.notify_all()

    def _wait_for_slot(self, on_progress: Progress) -> None:
        ticket = object()
        with self._changed:
            self._waiting.append(ticket)
        try:
            while True:
                with self._changed:
                    if self._waiting[0] is ticket and self._admitted < self.slots:
                        self._waiting.pop(0)
                        self._admitted += 1
                        self._changed.notify_all()
                        return
                    self._changed.wait(RECHECK_SECONDS)
                    ahead = self._waiting.index(ticket) + self._admitted  # files before this one
                on_progress(WAITING, ahead, 0)  # outside the lock: a page draws it
        except BaseException:
            with self._changed:
                if ticket in self._waiting:
                    self._waiting.remove(ticket)
                self._changed.notify_all()
            raise

    def waiting(self) -> int:
        """How many large files wait for a slot now."""
        with self._changed:
            return len(self._waiting)


LARGE_FILES = Admission()  # this server process's slots
