"""TCP_NODELAY on every connection the console's server accepts (issue 20). Streamlit binds its
listening socket with protocol 0, so asyncio does not set TCP_NODELAY on the connections (it looks
for IPPROTO_TCP), and on a reused connection a response's last bytes wait ~40 ms for the client's
delayed ACK (Nagle's algorithm): 44 ms per API call instead of 5. server.py installs this into
uvicorn's HTTP protocols, which it loads before it accepts any connection."""
from __future__ import annotations

import socket
from typing import Callable


def without_nagle(connection_made: Callable) -> Callable:
    """connection_made of an asyncio protocol, setting TCP_NODELAY on the connection first."""
    def made(protocol, transport) -> None:
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connection_made(protocol, transport)
    return made


def http_protocols() -> list[type]:
    """uvicorn's h11 protocol, and httptools' where it is installed (uvicorn prefers it)."""
    from uvicorn.protocols.http.h11_impl import H11Protocol
    protocols: list[type] = [H11Protocol]
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
        protocols.append(HttpToolsProtocol)
    except ImportError:
        pass
    return protocols


def install() -> None:
    """Into each of uvicorn's HTTP protocols."""
    for protocol in http_protocols():
        if not getattr(protocol.connection_made, "sets_nodelay", False):
            protocol.connection_made = without_nagle(protocol.connection_made)
            protocol.connection_made.sets_nodelay = True
