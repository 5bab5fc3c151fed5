"""The CRM REST API through FastAPI's TestClient, on a real migrated SQLite database."""

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from bot.web.app import WebSettings, create_app
from crm_core.config import get_settings
from crm_core.db import get_engine, unit_of_work
from crm_core.models import Stage
from tests.unit.helpers import make_lead

TOKEN = "test-token-123"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def client(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("EMBUDO_DATABASE_URL", db_url)
    get_settings.cache_clear()
    get_engine.cache_clear()
    yield TestClient(create_app(WebSettings(api_token=TOKEN)))
    get_settings.cache_clear()
    get_engine.cache_clear()


def seed(db_url: str, stage: Stage = Stage.SQL, source: str = "web") -> int:
    with unit_of_work(db_url) as session:
        return make_lead(session, stage, source=source).id


def test_token_is_required(client: TestClient) -> None:
    assert client.get("/api/v1/leads").status_code == 401
    assert client.get("/api/v1/leads", headers={"Authorization": "Bearer nope"}).status_code == 401
    disabled = TestClient(create_app(WebSettings(api_token="")))
    answer = disabled.get("/api/v1/leads", headers=AUTH)
    assert answer.status_code == 503 and "EMBUDO_API_TOKEN" in answer.json()["detail"]


def test_openapi_schema_lists_the_crm_endpoints(client: TestClient) -> None:
    paths = client.get("/api/openapi.json").json()["paths"]
    assert {
        "/api/v1/leads",
        "/api/v1/leads/{lead_id}/move",
        "/api/v1/leads/{lead_id}/assign",
        "/api/v1/kpis",
        "/api/v1/forecast",
    } <= paths.keys()


def test_filtered_list_move_history_and_errors(client: TestClient, db_url: str) -> None:
    first = seed(db_url, Stage.SQL, "web")
    seed(db_url, Stage.MQL, "telegram")
    page = client.get("/api/v1/leads", params={"stage": "sql"}, headers=AUTH).json()
    assert [lead["id"] for lead in page] == [first]
    moved = client.post(f"/api/v1/leads/{first}/move", json={"stage": "contacted"}, headers=AUTH)
    assert moved.status_code == 200 and moved.json()["to_stage"] == "contacted"
    refused = client.post(f"/api/v1/leads/{first}/move", json={"stage": "new"}, headers=AUTH)
    assert refused.status_code == 409 and "Cannot move back" in refused.json()["detail"]
    missing = client.post("/api/v1/leads/999/move", json={"stage": "won"}, headers=AUTH)
    assert missing.status_code == 404 and missing.json()["detail"] == "No lead with id 999."
    history = client.get(f"/api/v1/leads/{first}/history", headers=AUTH).json()
    assert [h["to_stage"] for h in history] == ["sql", "contacted"]
    note = client.post(f"/api/v1/leads/{first}/activities", json={"body": "called"}, headers=AUTH)
    assert note.status_code == 201 and note.json()["kind"] == "note"


def test_deals_kpis_forecast_and_reps(client: TestClient, db_url: str) -> None:
    lead = seed(db_url, Stage.PROPOSAL)
    deal = client.post(
        f"/api/v1/leads/{lead}/deals",
        json={"title": "Pilot", "value": "8000", "currency": "EUR", "expected_close_date": "2026-02-15"},
        headers=AUTH,
    )
    assert deal.status_code == 201, deal.text
    forecast = client.get("/api/v1/forecast", headers=AUTH).json()
    assert [
        {key: m[key] for key in ("month", "deals", "value", "weighted", "overdue")} for m in forecast
    ] == [
        {"month": "2026-02", "deals": 1, "value": "8000.00", "weighted": "3200.00", "overdue": True}
    ]  # February 2026 is over
    assert forecast[0]["value_by_currency"] == {"EUR": "8000.00"} and forecast[0]["unconverted"] == {}
    move = f"/api/v1/deals/{deal.json()['id']}/move"
    past = client.post(
        move, json={"stage": "lost", "lost_reason": "price", "recheck_on": "2020-01-01"}, headers=AUTH
    )
    assert past.status_code == 422 and "in the past" in past.text  # a re-check is today or later
    assert client.post(move, json={"stage": "won"}, headers=AUTH).is_success
    board = client.get("/api/v1/kpis", headers=AUTH).json()
    assert board["deals"]["won"] == 1 and board["deals"]["win_rate"] == 1.0
    bad = client.post("/api/v1/reps", json={"name": "X", "languages": ["e1"]}, headers=AUTH)
    assert bad.status_code == 422
    rep = client.post("/api/v1/reps", json={"name": "Ana", "languages": ["en"]}, headers=AUTH).json()
    updated = client.patch(f"/api/v1/reps/{rep['id']}", json={"active": False}, headers=AUTH)
    assert updated.json()["active"] is False
    calendar = {
        "caldav_url": "https://dav.example.com/ana/",
        "caldav_username": "ana",
        "caldav_password": "pw-7",
    }
    with_calendar = client.patch(f"/api/v1/reps/{rep['id']}", json=calendar, headers=AUTH)
    assert (
        with_calendar.json()["caldav_url"] == "https://dav.example.com/ana/"
        and "pw-7" not in with_calendar.text
    )
    assert "pw-7" not in client.get("/api/v1/reps", headers=AUTH).text
    cleared = client.patch(f"/api/v1/reps/{rep['id']}", json={"clear_caldav": True}, headers=AUTH)
    assert cleared.json()["caldav_url"] is None


def test_sla_accept_and_pass(client: TestClient, db_url: str, session: Session) -> None:
    from crm_core.models import Lead
    from crm_core.people.reps import add_rep
    from crm_core.sales.lifecycle import assign
    from crm_core.schemas import NewRep

    with unit_of_work(db_url) as work:
        ana = add_rep(work, NewRep(name="Ana", languages=["en"])).id
        lead = make_lead(work, Stage.SQL)
        assign(work, lead)
        lead_id = lead.id
    wrong = client.post(f"/api/v1/leads/{lead_id}/accept", json={"rep_id": ana + 1}, headers=AUTH)
    assert wrong.status_code == 422
    ok = client.post(f"/api/v1/leads/{lead_id}/accept", json={"rep_id": ana}, headers=AUTH)
    assert ok.json() == {"lead_id": lead_id, "rep_id": ana}
    again = client.post(f"/api/v1/leads/{lead_id}/accept", json={"rep_id": ana}, headers=AUTH)
    assert again.status_code == 409
    assert session.get(Lead, lead_id) is not None


def test_assign_gives_a_queued_lead_to_the_chosen_rep(client: TestClient, db_url: str) -> None:
    from crm_core.assignment.routing import audit_log
    from crm_core.models import Lead
    from crm_core.people.reps import add_rep
    from crm_core.sales.lifecycle import move
    from crm_core.schemas import NewRep

    with unit_of_work(db_url) as work:
        lead_id = make_lead(work, Stage.SQL).id  # queued: nobody was there
        ana = add_rep(work, NewRep(name="Ana", languages=["en"], capacity=0)).id  # no room: it stays queued
        won_id = make_lead(work, Stage.SQL).id
        move(work, work.get(Lead, won_id), "won")  # type: ignore[arg-type]
    url = f"/api/v1/leads/{lead_id}/assign"
    ok = client.post(url, json={"rep_id": ana, "by": "crm-sync"}, headers=AUTH)
    assert ok.status_code == 200 and ok.json() == {"lead_id": lead_id, "rep_id": ana}
    with unit_of_work(db_url) as work:
        lead = work.get(Lead, lead_id)
        assert lead is not None and lead.assigned_rep_id == ana and lead.sla_due_at is not None
        assert audit_log(work, lead_id)[-1].reason == "to Ana: chosen by crm-sync"
    again = client.post(url, json={"rep_id": ana}, headers=AUTH)
    assert again.status_code == 409 and "already assigned to Ana" in again.json()["detail"]
    closed = client.post(f"/api/v1/leads/{won_id}/assign", json={"rep_id": ana}, headers=AUTH)
    assert closed.status_code == 409 and "reopen it" in closed.json()["detail"]
    assert client.post(url, json={"rep_id": 99}, headers=AUTH).status_code == 404
    assert client.post(url, json={}, headers=AUTH).status_code == 422
    assert client.post(url, json={"rep_id": ana}).status_code == 401
