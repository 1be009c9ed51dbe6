"""Limits at the API's door (issue 21, point 3), before any work is done for a request:

- a body larger than the import limit is refused with 413 as soon as its Content-Length says so,
  before a byte of it is read; a body without one (chunked) is cut where it passes the limit;
- each caller (an API key, a token's subject) has at most KEY_CONCURRENCY requests in progress;
  past that, 429 with Retry-After, so one busy integration cannot take every worker and database
  connection from the others.

The rate a body must keep, and the time its headers may take, are api.deadlines'.
"""
from __future__ import annotations

import os
import threading
from collections import Counter
from contextlib import contextmanager
from typing import Iterator

from fastapi import HTTPException
from fastapi.responses import JSONResponse

from core.importing import MAX_FILE_BYTES

KEY_CONCURRENCY = int(os.environ.get("CONTACT_IMPORT_KEY_CONCURRENCY", "16"))
RETRY_AFTER_SECONDS = 1
# A multipart body holds the file and its framing (boundaries, part headers).
MAX_BODY_BYTES = MAX_FILE_BYTES + (1 << 20)


def too_large() -> HTTPException:
    return HTTPException(413, f"The request holds more than {MAX_FILE_BYTES >> 20} MB; split it into "
                              "several calls with the same X-Import-ID.")


class CallerSlots:
    """How many requests each caller has in progress."""

    def __init__(self, limit: int):
        self.limit = limit
        self._lock = threading.Lock()
        self._held: Counter[str] = Counter()

    @contextmanager
    def held(self, caller: str) -> Iterator[None]:
        with self._lock:
            if self._held[caller] >= self.limit:
                raise HTTPException(429, f"This key has {self.limit} requests in progress already, the most it "
                                         "may have at once; send this one again when one of them is answered.",
                                    headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
            self._held[caller] += 1
        try:
            yield
        finally:
            with self._lock:
                self._held[caller] -= 1
                if not self._held[caller]:
                    del self._held[caller]


SLOTS = CallerSlots(KEY_CONCURRENCY)


class BodyLimit:
    """ASGI middleware of the API: 413 for a body past MAX_BODY_BYTES, before it is read when its
    Content-Length says so; otherwise when reading it passes the limit."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = MAX_BODY_BYTES
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:  # uvicorn refuses a bad one
            refused = too_large()
            return await JSONResponse({"detail": refused.detail}, status_code=413)(scope, receive, send)
        read = 0

        async def counted():
            nonlocal read
            message = await receive()
            read += len(message.get("body", b""))
            if read > limit:
                raise too_large()
            return message

        await self.app(scope, counted, send)
