"""Streamlit endpoints the console does not serve. /_stcore/metrics tells anyone who asks, signed in
or not, how many sessions run and how large their caches are (issue 21, point 7); nothing of the
console needs it."""
from __future__ import annotations

CLOSED = ("/_stcore/metrics",)


class CloseInternalEndpoints:
    """ASGI middleware: 404 for CLOSED, under any base URL path; everything else passes."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["path"].rstrip("/").endswith(CLOSED):
            await send({"type": "http.response.start", "status": 404,
                        "headers": [(b"content-type", b"text/plain; charset=utf-8")]})
            await send({"type": "http.response.body", "body": b"Not Found"})
            return
        await self.app(scope, receive, send)
