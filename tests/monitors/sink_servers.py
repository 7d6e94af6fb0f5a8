"""Local sinks on 127.0.0.1: an HTTP server that records requests, and an SMTP server."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support.servers import free_port


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class HttpSink:
    url: str
    requests: list[Received] = field(default_factory=list)
    fail_next: int = 0  # answer 500 to this many requests first


@contextmanager
def http_sink() -> Iterator[HttpSink]:
    sink = HttpSink(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if sink.fail_next > 0:
                sink.fail_next -= 1
                self.send_response(500)
                self.end_headers()
                self.wfile.write(b"sink is down")
                return
            sink.requests.append(Received(self.path, dict(self.headers.items()), body))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    sink.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield sink
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class SmtpSink:
    port: int
    messages: list[Any] = field(default_factory=list)


@contextmanager
def smtp_sink() -> Iterator[SmtpSink]:
    from email import message_from_bytes, policy

    from aiosmtpd.controller import Controller

    sink = SmtpSink(port=free_port())

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            msg = message_from_bytes(envelope.content, policy=policy.default)
            sink.messages.append((envelope.rcpt_tos, msg))
            return "250 Message accepted for delivery"

    controller = Controller(Handler(), hostname="127.0.0.1", port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()
