"""Tasks: an activity with a due time is open until marked done; a rep's open tasks, soonest first, on the
leads they have (crm_core.sales.activities, and the API)."""

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from bot.web.app import WebSettings, create_app
from crm_core.config import get_settings
from crm_core.db import get_engine, unit_of_work
from crm_core.errors import InvalidInput, InvalidTransition
from crm_core.models import Stage
from crm_core.people.reps import add_rep
from crm_core.sales.activities import add_activity, complete, due_tasks
from crm_core.schemas import NewRep
from tests.unit.helpers import make_lead

MON, TUE, WED = (datetime(2026, 3, day, 10, tzinfo=UTC) for day in (2, 3, 4))


def test_a_reps_open_tasks_soonest_first_until_done(session: Session) -> None:
    rita = add_rep(session, NewRep(name="Rita", languages=["en"])).id
    bo = add_rep(session, NewRep(name="Bo", languages=["en"])).id
    ritas = make_lead(session, Stage.CONTACTED, rep_id=rita)
    bos = make_lead(session, Stage.CONTACTED, rep_id=bo)
    call = add_activity(session, ritas.id, "call", "call back about pricing", due_at=WED)
    demo = add_activity(session, ritas.id, "meeting", "demo", due_at=MON)
    add_activity(session, ritas.id, "note", "prefers e-mail")  # no due time: not a task
    add_activity(session, bos.id, "task", "send contract", due_at=TUE)  # Bo's lead
    assert [t.body for t in due_tasks(session, rita)] == ["demo", "call back about pricing"]
    done = complete(session, demo.id, now=TUE)
    assert done.done_at == TUE
    assert [t.id for t in due_tasks(session, rita)] == [call.id]
    with pytest.raises(InvalidTransition, match=f"Task {demo.id} is already done"):
        complete(session, demo.id)


def test_a_note_is_not_a_task(session: Session) -> None:
    note = add_activity(session, make_lead(session).id, "note", "nice people")
    with pytest.raises(InvalidInput, match=f"Note {note.id} has no due time: it is not a task"):
        complete(session, note.id)


@pytest.fixture
def client(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("EMBUDO_DATABASE_URL", db_url)
    get_settings.cache_clear()
    get_engine.cache_clear()
    yield TestClient(create_app(WebSettings(api_token="t0ken")), headers={"Authorization": "Bearer t0ken"})
    get_settings.cache_clear()
    get_engine.cache_clear()


def test_the_api_adds_lists_and_completes_tasks(client: TestClient, db_url: str) -> None:
    with unit_of_work(db_url) as session:
        rita = add_rep(session, NewRep(name="Rita", languages=["en"])).id
        lead = make_lead(session, Stage.CONTACTED, rep_id=rita).id
    added = client.post(
        f"/api/v1/leads/{lead}/activities",
        json={"kind": "task", "body": "send quote", "due_at": MON.isoformat()},
    )
    assert added.status_code == 201, added.text
    task = added.json()["id"]
    assert [t["id"] for t in client.get(f"/api/v1/reps/{rita}/tasks").json()] == [task]
    assert client.post(f"/api/v1/activities/{task}/done").json()["done_at"] is not None
    assert client.post(f"/api/v1/activities/{task}/done").status_code == 409
    assert client.get(f"/api/v1/reps/{rita}/tasks").json() == []
