"""schemathesis against the CRM API's own OpenAPI schema (issue 15, item 6): generated requests, valid and
not, to every operation, with every check on; any failure is a bug of the API or of its schema.

Left out: the conversation operations that change ownership or send a message reach Rasa's HTTP API
(test_api_takeover.py runs them against a Rasa-shaped server). Adding and changing reps is in: their schema
says what the validators accept (codes, zones, hours, a plain e-mail and calendar address)."""

from collections.abc import Iterator

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
NEEDS_RASA = ("/takeover", "/handback", "/messages")


@pytest.fixture
def web_app(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[FastAPI]:
    monkeypatch.setenv("EMBUDO_DATABASE_URL", db_url)
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
    """Every operation (but those needing Rasa), 10 generated cases each: no check may fail."""
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", web_app)
    schema = schema.exclude(method="POST", path_regex=r"/conversations/.*(" + "|".join(NEEDS_RASA) + ")$")
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
    assert len(tested) >= 20  # every other operation of the API was run
    assert not failures, "\n\n".join(failures)
