"""Deadlines on every connection the console's server accepts (issue 21, point 3): a request's
headers must arrive within HEADER_SECONDS of their first byte (or of the connection), and its body
must keep a minimum rate, BODY_MIN_BYTES in every BODY_WINDOW_SECONDS, or the connection is
answered 408 and closed. uvicorn closes a connection only when it idles between requests, so a
client sending one byte every 2 s held its connection, a file descriptor and a spool file forever.

Enforced in uvicorn's HTTP protocol, under every route (the console's upload endpoint too): the
ASGI app is called only once the headers are complete, and could not stop a trickle of them. A
body the server is not reading (flow control paused) is never counted against its client. A
connection upgraded to a WebSocket (the console's pages) is no longer watched.
"""
from __future__ import annotations

import logging
import os
import time
from typing import Callable

from api.sockets import http_protocols

log = logging.getLogger(__name__)

HEADER_SECONDS = float(os.environ.get("CONTACT_IMPORT_HEADER_SECONDS", "10"))
BODY_WINDOW_SECONDS = float(os.environ.get("CONTACT_IMPORT_BODY_WINDOW_SECONDS", "30"))
BODY_MIN_BYTES = int(os.environ.get("CONTACT_IMPORT_BODY_MIN_BYTES", str(10 * 1024)))
TICK_SECONDS = min(1.0, HEADER_SECONDS / 4, BODY_WINDOW_SECONDS / 4)
_SAID = b"The request arrived too slowly; send it again."
TIMED_OUT = (b"HTTP/1.1 408 Request Timeout\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n"
             b"Content-Length: %d\r\n\r\n%s" % (len(_SAID), _SAID))


class Watch:
    """One connection's deadlines, checked every TICK_SECONDS until it closes or is upgraded."""

    def __init__(self, protocol):
        self.protocol = protocol
        self.headers_since: float | None = time.monotonic()  # waiting for a request's headers
        self.window_since = self.headers_since
        self.window_bytes = 0
        self.cycle = protocol.cycle
        protocol.loop.call_later(TICK_SECONDS, self.check)

    def received(self, data: bytes, before) -> None:
        """After the protocol handled data; before: its request cycle when the data came."""
        cycle = self.protocol.cycle
        if cycle is not before:  # a request's headers completed: its body's window starts now
            self.headers_since, self.window_since, self.window_bytes = None, time.monotonic(), 0
        elif _between_requests(cycle):
            if self.headers_since is None:
                self.headers_since = time.monotonic()
        else:
            self.window_bytes += len(data)

    def check(self) -> None:
        protocol = self.protocol
        transport = protocol.transport
        if transport.is_closing() or transport.get_protocol() is not protocol:
            return  # closed, or now a WebSocket's
        now, cycle = time.monotonic(), protocol.cycle
        if _between_requests(cycle):
            if self.headers_since is not None and now - self.headers_since > HEADER_SECONDS:
                return self.drop("its headers took more than %.0f s" % HEADER_SECONDS)
        elif cycle.more_body and now - self.window_since >= BODY_WINDOW_SECONDS:
            if self.window_bytes < BODY_MIN_BYTES and not protocol.flow.read_paused:
                return self.drop("its body sent %d bytes in %.0f s" % (self.window_bytes, now - self.window_since))
            self.window_since, self.window_bytes = now, 0
        protocol.loop.call_later(TICK_SECONDS, self.check)

    def drop(self, why: str) -> None:
        protocol = self.protocol
        log.info("closed a connection from %s: %s", protocol.client, why)
        if protocol.cycle is None or not protocol.cycle.response_started:
            protocol.transport.write(TIMED_OUT)
        protocol.transport.close()


def _between_requests(cycle) -> bool:
    return cycle is None or cycle.response_complete


def _watched_connection(connection_made: Callable) -> Callable:
    def made(protocol, transport) -> None:
        connection_made(protocol, transport)
        protocol.deadlines = Watch(protocol)
    return made


def _watched_data(data_received: Callable) -> Callable:
    def received(protocol, data: bytes) -> None:
        before = protocol.cycle
        data_received(protocol, data)
        protocol.deadlines.received(data, before)
    return received


def install() -> None:
    """Into each of uvicorn's HTTP protocols."""
    for protocol in http_protocols():
        if not getattr(protocol.data_received, "watched", False):
            protocol.connection_made = _watched_connection(protocol.connection_made)
            protocol.data_received = _watched_data(protocol.data_received)
            protocol.data_received.watched = True
