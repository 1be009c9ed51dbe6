"""The drafts one console server holds in memory, by browser session (the rows read from their
files): let go once a session has been gone longer than a closed tab's reconnect window. The
draft itself stays in the database (core.importing.drafts): only this process's copy of its rows
goes. The console tells which sessions are still active; nothing here knows Streamlit."""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from core.importing.service import Draft

log = logging.getLogger(__name__)


class DraftRegistry:
    """session id -> the draft its wizard holds, server-wide."""

    def __init__(self, release_after: float):
        self.release_after = release_after
        self._drafts: dict[str, Draft] = {}
        self._gone_since: dict[str, float] = {}
        self._lock = threading.Lock()

    def hold(self, session_id: str, draft: Draft | None) -> None:
        """The draft this session's wizard holds now (None: none)."""
        with self._lock:
            if draft is None:
                self._drafts.pop(session_id, None)
                self._gone_since.pop(session_id, None)
            else:
                self._drafts[session_id] = draft

    def sessions(self) -> list[str]:
        with self._lock:
            return list(self._drafts)

    def release_gone(self, is_active: Callable[[str], bool], now: float | None = None) -> int:
        """Release the drafts of sessions not active for release_after seconds; how many went."""
        now = time.monotonic() if now is None else now
        released = 0
        with self._lock:
            for session_id in list(self._drafts):
                if is_active(session_id):
                    self._gone_since.pop(session_id, None)
                    continue
                if now - self._gone_since.setdefault(session_id, now) >= self.release_after:
                    self._drafts.pop(session_id).release()
                    del self._gone_since[session_id]
                    released += 1
                    log.info("released the import draft of closed session %s", session_id)
        return released
