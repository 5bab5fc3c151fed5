"""The web app served by a real uvicorn process."""

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.harness import APP_PYTHON, ROOT, free_port


def serve(db_url: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "EMBUDO_DATABASE_URL": db_url, "EMBUDO_RASA_PUBLIC_URL": "http://rasa.test:5005"}
    process = subprocess.Popen(
        [str(APP_PYTHON), "-m", "uvicorn", "bot.web.app:app", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            httpx.get(url + "/healthz")
            return process, url
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise TimeoutError("web app did not start")


@pytest.fixture
def web(db_url: str) -> Iterator[str]:
    process, url = serve(db_url)
    yield url
    process.terminate()
    process.wait(timeout=10)


def test_healthz_reports_the_database(web: str) -> None:
    response = httpx.get(web + "/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


def test_healthz_fails_when_the_database_is_unreachable(tmp_path: Path) -> None:
    (tmp_path / "not-a-folder").write_text("")
    process, url = serve(f"sqlite:///{tmp_path / 'not-a-folder' / 'crm.db'}")
    try:
        response = httpx.get(url + "/healthz")
        assert response.status_code == 503
        assert response.json()["status"] == "error"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_demo_page_hosts_the_widget_and_shows_the_tag_to_embed_it(web: str) -> None:
    page = httpx.get(web + "/")
    assert page.status_code == 200
    assert '<script src="/static/embudo-widget.js" data-rasa-url="http://rasa.test:5005"' in page.text
    assert "&lt;script src=&#34;http://127.0.0.1:" in page.text  # the embed snippet, shown escaped
    widget = httpx.get(web + "/static/embudo-widget.js")
    assert widget.status_code == 200 and "session_request" in widget.text
    privacy = httpx.get(web + "/privacy")
    assert privacy.status_code == 200 and "erase" in privacy.text
