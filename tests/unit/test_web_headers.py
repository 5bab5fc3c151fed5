"""Security headers on every response, each page with the policy it fits, and the API docs served from this
origin only (issue 15, item 5)."""

import re
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from bot.web.app import WebSettings, create_app
from crm_core.config import get_settings
from crm_core.db import get_engine

TOKEN = "headers-token"


@pytest.fixture
def client(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("EMBUDO_DATABASE_URL", db_url)
    get_settings.cache_clear()
    get_engine.cache_clear()
    yield TestClient(create_app(WebSettings(api_token=TOKEN, rasa_public_url="https://chat.example")))
    get_settings.cache_clear()
    get_engine.cache_clear()


@pytest.mark.parametrize(
    "path", ["/", "/privacy", "/healthz", "/api/v1/leads", "/api/docs", "/api/openapi.json", "/login"]
)
def test_every_response_has_security_headers(client: TestClient, path: str) -> None:
    answer = client.get(path)
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["referrer-policy"] == "same-origin"
    csp = answer.headers["content-security-policy"]
    assert "object-src 'none'" in csp or csp.startswith("default-src 'none'")
    if path == "/":  # the widget demo may be framed; the widget talks to Rasa
        assert "x-frame-options" not in answer.headers and "frame-ancestors" not in csp
        assert "connect-src 'self' https://chat.example wss://chat.example" in csp
    else:
        assert answer.headers["x-frame-options"] == "DENY" and "frame-ancestors 'none'" in csp


def test_api_docs_load_nothing_from_another_origin(client: TestClient) -> None:
    page = client.get("/api/docs")
    assert page.status_code == 200 and "swagger-ui" in page.text
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert assets and all(not urlsplit(asset).netloc and asset.startswith("/") for asset in assets)
    assert "<script>" not in page.text  # no inline script: the page's CSP is 'self'
    for asset in assets:
        assert client.get(asset).status_code == 200, asset
    assert "'self'" in page.headers["content-security-policy"]
    assert "http" not in page.headers["content-security-policy"]
