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


def test_demo_page_has_a_chat_box_wired_to_rasa(web: str) -> None:
    page = httpx.get(web + "/")
    assert page.status_code == 200
    assert 'id="chat-input"' in page.text
    assert '"rasaUrl": "http://rasa.test:5005"' in page.text
    script = httpx.get(web + "/static/demo.js")
    assert script.status_code == 200 and "/webhooks/rest/webhook" in script.text
