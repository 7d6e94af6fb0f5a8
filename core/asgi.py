"""Small pieces for pure ASGI middleware, shared by layers that must not import each other."""

from __future__ import annotations

from typing import Any


class StatusWatch:
    """A `send` wrapper that remembers the response's status: 500 until one starts, so a
    request that raised before answering is counted as the server error it becomes."""

    def __init__(self, send: Any) -> None:
        self.send, self.status = send, 500

    async def __call__(self, message: Any) -> None:
        if message["type"] == "http.response.start":
            self.status = int(message["status"])
        await self.send(message)
