"""Real servers for tests: uvicorn on 127.0.0.1 in a thread, on a socket bound before it starts.

Binding first and handing the socket to uvicorn means parallel test workers never race for a
port between "find a free one" and "listen on it".
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import uvicorn

T = TypeVar("T")


def bound_socket() -> socket.socket:
    """A TCP socket bound to a port the OS picked on 127.0.0.1 (not yet listening)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def free_port() -> int:
    """A port that was free a moment ago, for servers that must bind it themselves."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(
    check: Callable[[], T], *, timeout: float = 30.0, interval: float = 0.02, what: str = ""
) -> T:
    """Poll `check` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what or check}")
        time.sleep(interval)


@contextmanager
def serve(app: Any, *, start_timeout: float = 60.0) -> Iterator[str]:
    """Serve `app` with a real uvicorn in a thread; yields its base URL."""
    sock = bound_socket()
    port = int(sock.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        wait_until(
            lambda: server.started or not thread.is_alive(),
            timeout=start_timeout,
            what="uvicorn to start",
        )
        assert server.started, "uvicorn did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
