"""The visitor's meeting page (``bot.web.meeting_links``): the link from the invitation shows the meeting
in the visitor's language and zone, moves it to another free time or cancels it (each sending an updated
invitation); a wrong link or a time no longer free gets a clear answer and changes nothing."""

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.web.app import WebSettings, create_app
from crm_core.db import unit_of_work
from crm_core.models import Invitation, Meeting, Stage
from crm_core.people.reps import add_rep
from crm_core.scheduling import meetings
from crm_core.schemas import NewRep
from tests.unit.helpers import make_lead


@pytest.fixture
def web(crm: str) -> Iterator[TestClient]:
    yield TestClient(create_app(WebSettings(api_token="x")))


def booked(url: str, language: str) -> tuple[int, str, list[datetime]]:
    with unit_of_work(url) as session:
        ana = add_rep(session, NewRep(name="Ana", languages=["es"]))
        lead = make_lead(session, Stage.SQL, rep_id=ana.id, language=language, email="marta@example.com")
        slots = meetings.offer_slots(session, lead.id)
        meeting = meetings.book(session, lead.id, slots[0], "America/Mexico_City")
        token = session.get(Meeting, meeting.id).link_token  # type: ignore[union-attr]
        return meeting.id, token, slots


def test_the_link_moves_then_cancels_the_meeting(web: TestClient, crm: str) -> None:
    meeting_id, token, slots = booked(crm, "es")
    page = web.get(f"/meetings/{token}")
    assert page.status_code == 200 and 'lang="es"' in page.text
    assert "Tu reunión con Ana está reservada para el" in page.text and "(America/Mexico_City)" in page.text
    target = slots[1].isoformat()
    assert f'value="{target}"' in page.text  # another free time is offered
    moved = web.post(f"/meetings/{token}/move", data={"starts_at": target}, follow_redirects=False)
    assert moved.status_code == 303
    assert "Cambiada" in web.get(moved.headers["location"]).text
    with unit_of_work(crm) as session:
        meeting = session.get(Meeting, meeting_id)
        assert meeting is not None and meeting.starts_at == slots[1] and meeting.sequence == 1
    gone = web.post(f"/meetings/{token}/cancel", follow_redirects=True)
    assert gone.status_code == 200 and "Esta reunión se canceló." in gone.text
    with unit_of_work(crm) as session:
        methods = [i.method for i in session.scalars(select(Invitation).order_by(Invitation.id))]
    assert methods == ["REQUEST", "REQUEST", "CANCEL"]
    again = web.post(f"/meetings/{token}/cancel")
    assert again.status_code == 409 and "cancelled already" in again.text


def test_wrong_links_and_times_that_are_not_free_get_clear_answers(web: TestClient, crm: str) -> None:
    meeting_id, token, slots = booked(crm, "en")
    assert web.get("/meetings/" + "x" * 43).status_code == 404
    assert "does not name a meeting" in web.get("/meetings/" + "x" * 43).text
    assert web.get("/meetings/short").status_code == 422
    saturday_night = (slots[0] + timedelta(days=(5 - slots[0].weekday()) % 7)).replace(hour=23)
    refused = web.post(f"/meetings/{token}/move", data={"starts_at": saturday_night.isoformat()})
    assert refused.status_code == 409 and "not free" in refused.text
    garbled = web.post(f"/meetings/{token}/move", data={"starts_at": "next tuesday"})
    assert garbled.status_code == 422 and "is not a time" in garbled.text
    with unit_of_work(crm) as session:
        meeting = session.get(Meeting, meeting_id)
        assert meeting is not None and meeting.starts_at == slots[0] and meeting.sequence == 0
