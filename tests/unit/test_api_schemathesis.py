"""schemathesis against the CRM API's own OpenAPI schema (issue 15, item 6): generated requests, valid and
not, to every operation, with every check on; any failure is a bug of the API or of its schema.

The conversation operations that change ownership or send a message reach Rasa's HTTP API: here a
Rasa-shaped HTTP server on a free port takes their events (the real Rasa: tests/integration/test_takeover.py).
Adding and changing reps is in: their schema says what the validators accept (codes, zones, hours, a plain
e-mail and calendar address)."""

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis import Case

from bot.web.app import WebSettings, create_app
from crm_core.config import get_settings
from crm_core.db import get_engine, unit_of_work
from crm_core.models import Stage
from tests.unit.helpers import make_lead

TOKEN = "schemathesis-token"


class RasaShaped(BaseHTTPRequestHandler):
    """The two calls of Rasa's HTTP API the takeover makes (bot/live_chat.py): taken, nothing else."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        known = self.path.split("?")[0].endswith(("/tracker/events", "/execute"))
        body = json.dumps({} if known else {"error": "not found"}).encode()
        self.send_response(200 if known else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def rasa_api() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), RasaShaped)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def web_app(db_url: str, rasa_api: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[FastAPI]:
    monkeypatch.setenv("EMBUDO_DATABASE_URL", db_url)
    monkeypatch.setenv("EMBUDO_RASA_API_URL", rasa_api)
    get_settings.cache_clear()
    get_engine.cache_clear()
    with unit_of_work(db_url) as session:
        make_lead(session, Stage.SQL)
    # schemathesis tries a wrong token on every operation: the per-address brake on wrong tokens
    # (tests/unit/test_sign_in_abuse.py) would answer 429 after five, which its check counts as ignored auth
    yield create_app(WebSettings(api_token=TOKEN, api_token_misses_per_address=1_000_000))
    get_settings.cache_clear()
    get_engine.cache_clear()


def test_the_api_keeps_to_its_schema(web_app: FastAPI) -> None:
    """Every operation, 10 generated cases each: no check may fail."""
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", web_app)
    failures: list[str] = []
    tested = []
    for found in schema.get_all_operations():
        operation = found.ok()
        tested.append(operation.label)

        @given(case=operation.as_strategy())
        @settings(
            max_examples=10,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
            derandomize=True,
        )
        def run(case: Case) -> None:
            case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"})

        try:
            run()
        except Exception as failure:
            failures.append(f"{operation.label}: {failure}")
    assert len(tested) >= 20  # every operation of the API was run, those that reach Rasa too
    assert {"/takeover", "/handback", "/messages"} <= {label.rsplit("}", 1)[-1] for label in tested}
    assert not failures, "\n\n".join(failures)
