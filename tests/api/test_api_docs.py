"""The API docs render with no network: every asset /docs and /redoc load is served here."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

ASSET_TYPES = {
    ".js": "javascript",
    ".css": "text/css",
    ".png": "image/png",
}
# src="…", href="…", ReDoc's spec-url="…", and the `url: '…'` Swagger UI loads the OpenAPI
# document from.
REFERENCE = re.compile(r"""(?:src|href|spec-url)\s*=\s*["']([^"']+)["']|url:\s*["']([^"']+)["']""")


def references(html: str) -> list[str]:
    return [a or b for a, b in REFERENCE.findall(html)]


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_reference_only_assets_this_server_serves(client: TestClient, page: str) -> None:
    response = client.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    urls = references(response.text)
    assert "/openapi.json" in urls
    outside = [u for u in urls if re.match(r"^(https?:)?//", u)]
    assert outside == [], f"{page} loads from the network: {outside}"
    assert "cdn" not in response.text.lower() and "fonts.googleapis" not in response.text
    assets = [u for u in urls if u != "/openapi.json"]
    assert any(u.endswith(".js") for u in assets)
    for url in assets:
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert ASSET_TYPES[url[url.rindex(".") :]] in asset.headers["content-type"], url
        assert len(asset.content) > 1000, url


def test_swagger_ui_bundle_is_version_5_which_renders_openapi_3_1(client: TestClient) -> None:
    assert client.get("/openapi.json").json()["openapi"].startswith("3.1")
    bundle = client.get("/docs-assets/swagger-ui-bundle.js").text
    assert "SwaggerUIBundle" in bundle
    assert re.search(r"""["']5\.\d+\.\d+["']""", bundle)


def test_oauth2_redirect_page_is_served_locally(client: TestClient) -> None:
    response = client.get("/docs/oauth2-redirect")
    assert response.status_code == 200
    assert not re.search(r"(src|href)\s*=\s*[\"'](https?:)?//", response.text)
