"""Links the service builds point at the configured public URL, else where `serve` listens."""

from __future__ import annotations

import os
import socket

import pytest

from cli.served_url import PUBLIC_URL_ENV, adopt_served_url, served_url
from core.settings import Settings


@pytest.mark.parametrize(
    ("host", "port", "expected"),
    [
        ("127.0.0.1", 8010, "http://127.0.0.1:8010"),
        ("localhost", 8000, "http://localhost:8000"),
        ("::1", 9000, "http://[::1]:9000"),
        ("0.0.0.0", 8000, f"http://{socket.gethostname()}:8000"),
        ("::", 8000, f"http://{socket.gethostname()}:8000"),
    ],
)
def test_served_url_is_an_address_a_client_can_open(host: str, port: int, expected: str) -> None:
    assert served_url(host, port) == expected


def test_without_a_configured_public_url_links_use_the_served_port_in_every_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(PUBLIC_URL_ENV, raising=False)
    settings = adopt_served_url(Settings(), "127.0.0.1", 8010)
    assert settings.public_url == "http://127.0.0.1:8010"
    # The background worker and uvicorn's workers build their settings from the environment.
    assert os.environ[PUBLIC_URL_ENV] == "http://127.0.0.1:8010"
    assert Settings().public_url == "http://127.0.0.1:8010"


def test_a_configured_public_url_wins_over_the_served_address(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(PUBLIC_URL_ENV, "https://driftgate.example.org/")
    settings = adopt_served_url(Settings(), "0.0.0.0", 8010)
    assert settings.public_url == "https://driftgate.example.org"
    assert os.environ[PUBLIC_URL_ENV] == "https://driftgate.example.org/"
