"""The seed's HTTP API (issue 11), served under /api by the console's own server (server.py).
Every route calls core's service only, so the API, the console and the CLI share every rule."""
from api.app import api

__all__ = ["api"]
