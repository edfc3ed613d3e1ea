"""Free TCP ports for test servers (never a fixed port, never 1883)."""

from __future__ import annotations

import socket


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that was free a moment ago: bind port 0, read it, close.

    Another process may take it before the caller binds it; ``MosquittoBroker.start`` notices
    (the broker exits, or is not the one listening) and says so.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port
