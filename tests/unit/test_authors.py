"""Who made each change, and when (``db.author_of``, ``crm_core.sales.timeline``): every stage move, routing
decision, activity, task done and deal edit records the author of its unit of work — a console user,
the API, the CLI, the bot, or ``system`` for the notifier's chores — and the lead's record lists them."""

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient

from bot.web.app import WebSettings, create_app
from crm_core.assignment import sla
from crm_core.config import get_settings
from crm_core.db import get_engine, unit_of_work
from crm_core.models import Stage, utcnow
from crm_core.people.reps import add_rep
from crm_core.sales import activities, lifecycle
from crm_core.sales.deals import delete_deal, open_deal, update_deal
from crm_core.sales.pipeline import move_deal
from crm_core.sales.timeline import lead_timeline
from crm_core.schemas import DealUpdate, NewDeal, NewRep
from tests.unit.helpers import make_lead

PILOT = NewDeal(title="Pilot", value=Decimal("12000"), currency="EUR")
ADMIN, ANA = "admin eva@example.com", "rep ana@example.com"


def test_each_change_records_who_made_it_and_the_record_lists_them_in_order(db_url: str) -> None:
    with unit_of_work(db_url, author="the bot") as session:
        ana = add_rep(session, NewRep(name="Ana", languages=["en"])).id
        lead = make_lead(session, Stage.SQL).id
    with unit_of_work(db_url, author=ADMIN) as session:
        lifecycle.assign_to(session, lead, ana, by="eva@example.com")
    with unit_of_work(db_url, author=ANA) as session:
        lifecycle.accept(session, lead, ana)
        lifecycle.move_lead(session, lead, "proposal")
        task = activities.add_activity(session, lead, "task", "Send the offer", due_at=utcnow()).id
        deal = open_deal(session, lead, PILOT).id
        spare = open_deal(session, lead, PILOT.model_copy(update={"title": "Spare"})).id
    with unit_of_work(db_url, author=ADMIN) as session:
        activities.complete(session, task)
        update_deal(session, deal, DealUpdate(value=Decimal("15000")))
        update_deal(session, deal, DealUpdate(value=Decimal("15000")))  # nothing changed: nothing recorded
        delete_deal(session, spare)
        move_deal(session, deal, "won")
    with unit_of_work(db_url) as session:
        record = [(entry.kind, entry.what, entry.made_by) for entry in lead_timeline(session, lead)]
        task_row = activities.list_activities(session, lead)[0]
    assert record == [
        ("stage", "created → sql", "the bot"),
        ("routing", "assigned: to Ana: chosen by eva@example.com", ADMIN),
        ("routing", "accepted: accepted by the rep", ANA),
        ("stage", "sql → proposal", ANA),
        ("activity", "task: Send the offer", ANA),
        ("deal stage", f"deal #{deal}: created → proposal (opened)", ANA),
        ("task done", "done: Send the offer", ADMIN),
        ("deal", f"deal #{deal} edited: value 12000.00 → 15000.00", ADMIN),
        ("deal", f"deal #{spare} 'Spare' (12000.00 EUR) deleted", ADMIN),
        ("deal stage", f"deal #{deal}: proposal → won", ADMIN),
    ]
    assert (task_row.made_by, task_row.done_by) == (ANA, ADMIN)


def test_a_chore_without_an_author_is_the_systems(db_url: str) -> None:
    with unit_of_work(db_url, author=ADMIN) as session:
        add_rep(session, NewRep(name="Ana", languages=["en"]))
        add_rep(session, NewRep(name="Ben", languages=["en"]))
        lead = make_lead(session, Stage.SQL)
        lifecycle.assign(session, lead)
        lead_id = lead.id
    with unit_of_work(db_url) as session:  # what the notifier does: enforce the SLA
        assert sla.enforce_sla(session, utcnow() + timedelta(hours=1)) == [lead_id]
    with unit_of_work(db_url) as session:
        routing = [
            (e.what.split(":")[0], e.made_by) for e in lead_timeline(session, lead_id) if e.kind == "routing"
        ]
    assert routing == [("assigned", ADMIN), ("expired", "system"), ("assigned", "system")]


@pytest.fixture
def client(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("EMBUDO_DATABASE_URL", db_url)
    get_settings.cache_clear()
    get_engine.cache_clear()
    yield TestClient(create_app(WebSettings(api_token="t0ken")), headers={"Authorization": "Bearer t0ken"})
    get_settings.cache_clear()
    get_engine.cache_clear()


def test_the_api_records_its_changes_as_the_apis_and_shows_every_author(
    client: TestClient, db_url: str
) -> None:
    with unit_of_work(db_url, author="the bot") as session:
        lead = make_lead(session, Stage.SQL).id
    assert client.post(f"/api/v1/leads/{lead}/move", json={"stage": "contacted"}).json()["made_by"] == "API"
    client.post(f"/api/v1/leads/{lead}/activities", json={"kind": "call", "body": "Called Marta"})
    history = client.get(f"/api/v1/leads/{lead}/history").json()
    assert [(m["to_stage"], m["made_by"]) for m in history] == [("sql", "the bot"), ("contacted", "API")]
    assert client.get(f"/api/v1/leads/{lead}/activities").json()[0]["made_by"] == "API"
    timeline = client.get(f"/api/v1/leads/{lead}/timeline").json()
    assert [(e["kind"], e["made_by"]) for e in timeline] == [
        ("stage", "the bot"), ("stage", "API"), ("activity", "API")
    ]  # fmt: skip
    assert client.get("/api/v1/leads/999/timeline").status_code == 404
