"""The server's socket and its loop: a listening socket opened before anything loads (a busy
port is one clear line), the warning when others can reach the server without a key, and
uvicorn serving any ASGI app on that socket. No routes here (api.py, serving.py).
"""

from __future__ import annotations

import errno
import ipaddress
import socket
from typing import Any

from citeqa.errors import BadInput


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def exposure_warning(host: str, api_key: str | None) -> str | None:
    """A loud warning when others can reach the server without a key; None when safe."""
    if is_loopback(host) or api_key:
        return None
    return (
        f"WARNING: serving on {host} without a key. Anyone who can reach this port can read "
        "every document through the chat, /v1 and /mcp, and add or remove documents. Set "
        "--api-key (or CITEQA_API_KEY): every route then asks for it. Or serve on 127.0.0.1."
    )


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, opened before anything is served, so that a busy port is one
    clear error (BadInput) instead of a server traceback."""
    if not 0 <= port <= 65535:  # the OS would wrap 99999 to 34463 without a word (0: any)
        raise BadInput(f"Port {port} is not a port: choose one from 1 to 65535.")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise BadInput(f"Cannot listen on {host!r}: {exc.strerror}.") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        reason = (
            "is already in use"
            if exc.errno == errno.EADDRINUSE
            else f"cannot be opened ({exc.strerror})"
        )
        raise BadInput(
            f"Port {port} on {host} {reason}; stop the other server or choose --port."
        ) from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def run(app: Any, sock: socket.socket, log_level: str = "warning") -> None:
    """Serve `app` (any ASGI app) on an already bound socket until Ctrl-C."""
    import uvicorn

    config = uvicorn.Config(app, log_level=log_level, timeout_graceful_shutdown=5)
    uvicorn.Server(config).run(sockets=[sock])


__all__ = ["bind", "exposure_warning", "is_loopback", "run"]
