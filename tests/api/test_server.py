"""A real uvicorn on 127.0.0.1: the path a newcomer's curl takes, including a streamed 413."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

from api.app import create_app
from core.auth import CLI_OPERATOR, Role, create_token
from core.settings import Settings
from tests.builders import contract, orders, parquet_bytes
from tests.support.servers import serve


@pytest.fixture
def server(committed_db: str, tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    engine = create_engine(committed_db)
    with sessionmaker(bind=engine).begin() as s:
        admin = create_token(s, CLI_OPERATOR, name="admin", role=Role.admin, prefix="dg_")
        producer = create_token(s, CLI_OPERATOR, name="producer", role=Role.producer, prefix="dg_")
    engine.dispose()
    settings = Settings(data_dir=tmp_path / "data", max_body_bytes=4 * 1024 * 1024)
    with serve(create_app(settings, database_url=committed_db)) as base:
        yield base, {"admin": admin, "producer": producer}


def test_register_post_and_read_back_over_a_real_socket(server: tuple[str, dict[str, str]]) -> None:
    base, tokens = server
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    producer = {"Authorization": f"Bearer {tokens['producer']}"}
    with httpx.Client(base_url=base, timeout=30) as http:
        assert http.get("/ready").json() == {"status": "ready"}
        assert http.post("/contracts", json=contract(), headers=admin).status_code == 201
        frame = orders(50, amount=[5000.0] + [1.0] * 49)
        resp = http.post(
            "/batches?contract=orders",
            content=parquet_bytes(frame),
            headers={**producer, "Content-Type": "application/vnd.apache.parquet"},
        )
        assert resp.status_code == 201, resp.text
        assert resp.json()["status"] == "quarantined" and resp.json()["rows_quarantined"] == 1
        assert http.get("/audit/verify", headers=admin).json()["intact"] is True


def test_streamed_upload_over_the_limit_is_cut_off_with_413(
    server: tuple[str, dict[str, str]],
) -> None:
    base, tokens = server
    headers = {"Authorization": f"Bearer {tokens['producer']}", "Content-Type": "text/csv"}

    def chunks() -> Iterator[bytes]:
        for _ in range(64):
            yield b"z" * (1 << 20)  # 64 MiB against a 4 MiB limit, chunked

    with httpx.Client(base_url=base, timeout=30) as http:
        try:
            resp = http.post("/batches?contract=orders", content=chunks(), headers=headers)
        except httpx.HTTPError:
            pytest.fail("the server should answer 413, not drop the connection")
        assert resp.status_code == 413
        assert resp.headers["content-type"].startswith("application/problem+json")
