"""Limits on what the CRM API and crm_core take (issue 15, item 3): each refusal a 4xx naming the field,
and nothing stored. Real database (SQLite, or PostgreSQL under scripts/with-postgres)."""

from collections.abc import Iterator

import httpx
import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from bot.web.app import WebSettings, create_app
from crm_core.config import get_settings
from crm_core.db import get_engine, unit_of_work
from crm_core.errors import InvalidInput
from crm_core.limits import MAX_BIG_INT, MAX_INT, as_number
from crm_core.models import Activity, Deal, PolicyVersion, Rep, Stage
from crm_core.qualification.policy_store import InvalidPolicy, default_policy_text, save_policy
from crm_core.sales import activities
from tests.unit.helpers import make_lead

TOKEN = "limits-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
TOO_BIG = str(MAX_INT + 1)


@pytest.fixture
def client(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("EMBUDO_DATABASE_URL", db_url)
    get_settings.cache_clear()
    get_engine.cache_clear()
    yield TestClient(create_app(WebSettings(api_token=TOKEN)))
    get_settings.cache_clear()
    get_engine.cache_clear()


@pytest.fixture
def lead_id(db_url: str) -> int:
    with unit_of_work(db_url) as session:
        return make_lead(session, Stage.SQL).id


def count(db_url: str, model: type) -> int:
    with unit_of_work(db_url) as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def refused_field(answer: httpx.Response) -> list[str]:
    """The fields a 422 names (the last part of each problem's location)."""
    assert answer.status_code == 422, answer.text
    return [str(problem["loc"][-1]) for problem in answer.json()["detail"]]


def test_over_long_text_and_control_characters_are_refused_naming_the_field(
    client: TestClient, db_url: str, lead_id: int
) -> None:
    notes = f"/api/v1/leads/{lead_id}/activities"
    assert "body" in refused_field(client.post(notes, json={"body": "x" * 10_001}, headers=AUTH))
    assert "body" in refused_field(client.post(notes, json={"body": "call\x00back"}, headers=AUTH))
    assert "by" in refused_field(
        client.post(f"/api/v1/leads/{lead_id}/assign", json={"rep_id": 1, "by": "y" * 201}, headers=AUTH)
    )
    assert "reason" in refused_field(
        client.post(f"/api/v1/leads/{lead_id}/move", json={"stage": "lost", "reason": "a\x1bb"}, headers=AUTH)
    )
    assert count(db_url, Activity) == 0
    # a search is checked where it is read, not only deep in crm_core (that was a 500)
    assert "q" in refused_field(client.get("/api/v1/leads", params={"q": "ana\x1f"}, headers=AUTH))
    fine = client.post(notes, json={"body": "line one\nline two\tindented"}, headers=AUTH)
    assert fine.status_code == 201  # line breaks and tabs are text, in a note


def test_a_rep_with_too_many_territories_or_languages_or_a_long_name_is_refused(
    client: TestClient, db_url: str
) -> None:
    before = count(db_url, Rep)
    rep = {"name": "Rosa", "languages": ["en"]}
    territories = [f"T{n}" for n in range(101)]
    assert "territories" in refused_field(
        client.post("/api/v1/reps", json={**rep, "territories": territories}, headers=AUTH)
    )
    languages = ["en"] * 21
    assert "languages" in refused_field(
        client.post("/api/v1/reps", json={**rep, "languages": languages}, headers=AUTH)
    )
    assert "name" in refused_field(client.post("/api/v1/reps", json={**rep, "name": "R" * 201}, headers=AUTH))
    assert "name" in refused_field(
        client.post("/api/v1/reps", json={**rep, "name": "Ro\x00sa"}, headers=AUTH)
    )
    assert "telegram_chat_id" in refused_field(
        client.post("/api/v1/reps", json={**rep, "telegram_chat_id": MAX_BIG_INT + 1}, headers=AUTH)
    )
    assert count(db_url, Rep) == before


def test_currencies_must_be_iso_4217(client: TestClient, db_url: str, lead_id: int) -> None:
    deal = {"title": "Pilot", "value": "1000", "currency": "XYZ"}
    assert "currency" in refused_field(client.post(f"/api/v1/leads/{lead_id}/deals", json=deal, headers=AUTH))
    assert count(db_url, Deal) == 0
    assert "currency" in refused_field(client.get("/api/v1/kpis", params={"currency": "ABC"}, headers=AUTH))
    assert "currency" in refused_field(
        client.get("/api/v1/forecast", params={"currency": "EURO"}, headers=AUTH)
    )
    assert client.get("/api/v1/kpis", params={"currency": "eur"}, headers=AUTH).status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        f"/api/v1/leads/{TOO_BIG}",
        f"/api/v1/leads/{2**63}",
        f"/api/v1/leads/{TOO_BIG}/history",
        f"/api/v1/deals/{TOO_BIG}",
        "/api/v1/leads/-1",
        f"/api/v1/leads?offset={TOO_BIG}",
        "/api/v1/leads?offset=-1",
        f"/api/v1/leads?rep_id={TOO_BIG}",
        f"/api/v1/deals?lead_id={TOO_BIG}",
        f"/api/v1/reps/{TOO_BIG}/tasks",
    ],
)
def test_integers_beyond_the_id_columns_or_negative_are_a_422_not_a_500(
    client: TestClient, path: str
) -> None:
    assert client.get(path, headers=AUTH).status_code == 422


def test_integers_in_bodies_are_bounded_and_the_largest_id_is_just_not_found(
    client: TestClient, lead_id: int
) -> None:
    accept = client.post(f"/api/v1/leads/{lead_id}/accept", json={"rep_id": MAX_INT + 1}, headers=AUTH)
    assert "rep_id" in refused_field(accept)
    assert client.get(f"/api/v1/leads/{MAX_INT}", headers=AUTH).status_code == 404
    assert as_number("²") is None and as_number(TOO_BIG) is None and as_number(" 42 ") == 42


def test_dates_out_of_range_are_refused(client: TestClient, db_url: str, lead_id: int) -> None:
    assert "until" in refused_field(client.get("/api/v1/kpis", params={"until": "9999-12-31"}, headers=AUTH))
    assert client.get("/api/v1/kpis", params={"until": "2999-12-31"}, headers=AUTH).status_code == 200
    deal = {"title": "Pilot", "value": "1000", "currency": "EUR", "expected_close_date": "9999-12-31"}
    assert "expected_close_date" in refused_field(
        client.post(f"/api/v1/leads/{lead_id}/deals", json=deal, headers=AUTH)
    )
    task = {"body": "call back", "due_at": "9999-12-31T23:59:59+00:00"}
    assert "due_at" in refused_field(
        client.post(f"/api/v1/leads/{lead_id}/activities", json=task, headers=AUTH)
    )
    assert (count(db_url, Deal), count(db_url, Activity)) == (0, 0)


def test_crm_core_refuses_over_long_notes_whoever_calls(db_url: str, lead_id: int) -> None:
    with pytest.raises(InvalidInput) as refused, unit_of_work(db_url) as session:
        activities.add_note(session, lead_id, "n" * 10_001)
    assert refused.value.field == "body" and "10,000" in str(refused.value)
    assert count(db_url, Activity) == 0


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("nurture_recheck_days", 999_999_999),
        ("nurture_recheck_days", 0),
        ("temperature", {"hot_max_days": 30, "warm_max_days": 10**9}),
        ("version", "v" * 41),
    ],
)
def test_policy_values_out_of_sane_bounds_are_refused_and_not_saved(
    db_url: str, key: str, value: object
) -> None:
    document = yaml.safe_load(default_policy_text())
    document[key] = value
    if key != "version":
        document["version"] = "out-of-bounds"
    with pytest.raises(InvalidPolicy) as refused, unit_of_work(db_url) as session:
        save_policy(session, yaml.safe_dump(document), saved_by="admin@example.com")
    assert key in str(refused.value)
    assert count(db_url, PolicyVersion) == 0


def test_a_large_body_is_refused_before_it_is_read(client: TestClient, lead_id: int) -> None:
    big = b"x" * 1_500_000
    declared = client.post(f"/api/v1/leads/{lead_id}/activities", content=big)  # no token: refused first
    assert declared.status_code == 413 and "1,000,000 bytes" in declared.json()["detail"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams
        for _ in range(30):
            yield b"x" * 65_536

    streamed = client.post(f"/api/v1/leads/{lead_id}/activities", content=chunks(), headers=AUTH)
    assert streamed.status_code == 413
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    assert client.post("/login", content=chunks(), headers=form).status_code == 413
