"""The base URL of links the service builds (alert evidence, `batches_url`, incident links).

`DRIFTGATE_PUBLIC_URL` wins when set (behind a proxy, on another host name). Otherwise
`driftgate serve` makes it the address it actually listens on, so `--port 8010` does not
hand out links to port 8000, and exports it to the processes it starts (the background
worker, uvicorn's worker processes), which read their settings from the environment.
"""

from __future__ import annotations

import os
import socket

from core.settings import Settings

PUBLIC_URL_ENV = "DRIFTGATE_PUBLIC_URL"
WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::", "[::]"})


def served_url(host: str, port: int) -> str:
    """`http://host:port`, naming this machine when the server binds every interface."""
    name = socket.gethostname() if host in WILDCARD_HOSTS else host
    if ":" in name and not name.startswith("["):  # an IPv6 literal
        name = f"[{name}]"
    return f"http://{name}:{port}"


def adopt_served_url(settings: Settings, host: str, port: int) -> Settings:
    """Settings whose public URL is the configured one (no trailing slash) or the served one."""
    if "public_url" in settings.model_fields_set:
        return settings.model_copy(update={"public_url": settings.public_url.rstrip("/")})
    url = served_url(host, port)
    os.environ[PUBLIC_URL_ENV] = url
    return settings.model_copy(update={"public_url": url})
