"""The meetings API: a lead's meetings, the rep's free slots, booking (409 when taken) and cancelling."""

from datetime import datetime, timedelta

from fastapi.testclient import TestClient

from crm_core.db import unit_of_work
from crm_core.models import Stage
from crm_core.people.reps import add_rep
from crm_core.schemas import NewRep
from tests.unit.helpers import make_lead
from tests.unit.test_api import AUTH, client  # noqa: F401 (the fixture)


def seed(db_url: str) -> tuple[int, int, int]:
    with unit_of_work(db_url) as session:
        ana = add_rep(session, NewRep(name="Ana", languages=["en"], timezone="Europe/Madrid"))
        lead = make_lead(session, Stage.SQL, rep_id=ana.id).id
        return ana.id, lead, make_lead(session, Stage.SQL, rep_id=ana.id).id


def test_book_list_and_cancel_a_meeting(client: TestClient, db_url: str) -> None:  # noqa: F811
    rep_id, lead_id, other_id = seed(db_url)
    slots = client.get(f"/api/v1/leads/{lead_id}/meetings/slots", headers=AUTH).json()
    assert 3 <= len(slots) <= 5 and slots == sorted(slots)
    body = {"starts_at": slots[0], "visitor_timezone": "America/Bogota"}
    booked = client.post(f"/api/v1/leads/{lead_id}/meetings", json=body, headers=AUTH)
    assert booked.status_code == 201, booked.text
    meeting = booked.json()
    assert (meeting["rep_id"], meeting["status"], meeting["visitor_timezone"]) == (
        rep_id,
        "booked",
        "America/Bogota",
    )
    starts, ends = datetime.fromisoformat(meeting["starts_at"]), datetime.fromisoformat(meeting["ends_at"])
    assert starts == datetime.fromisoformat(slots[0]) and starts.utcoffset() is not None
    assert starts.utcoffset().total_seconds() == 0 and (ends - starts).total_seconds() == 1800  # type: ignore[union-attr]
    taken = client.post(f"/api/v1/leads/{other_id}/meetings", json=body, headers=AUTH)
    assert taken.status_code == 409 and "pick another" in taken.json()["detail"]
    later = client.get(f"/api/v1/leads/{lead_id}/meetings/slots", params={"after": slots[-1]}, headers=AUTH)
    assert later.json()[0] > slots[-1]
    assert client.get(f"/api/v1/leads/{lead_id}/meetings", headers=AUTH).json() == [meeting]
    wrong = client.post(f"/api/v1/leads/{other_id}/meetings/{meeting['id']}/cancel", headers=AUTH)
    assert wrong.status_code == 404
    gone = client.post(f"/api/v1/leads/{lead_id}/meetings/{meeting['id']}/cancel", headers=AUTH).json()
    assert (gone["status"], gone["sequence"]) == ("cancelled", 1)
    again = client.post(f"/api/v1/leads/{other_id}/meetings", json=body, headers=AUTH)
    assert again.status_code == 201  # the slot is free again


def test_bad_meeting_requests_get_clear_answers(client: TestClient, db_url: str) -> None:  # noqa: F811
    _, lead_id, _ = seed(db_url)
    url = f"/api/v1/leads/{lead_id}/meetings"
    naive = client.post(url, json={"starts_at": "2030-01-07T10:00:00"}, headers=AUTH)
    assert naive.status_code == 422 and "time zone" in naive.json()["detail"]
    zone = client.post(
        url, json={"starts_at": "2030-01-07T10:00:00Z", "visitor_timezone": "Europe"}, headers=AUTH
    )
    [refused] = zone.json()["detail"]
    assert zone.status_code == 422 and refused["loc"][-1] == "visitor_timezone"
    assert "unknown time zone 'Europe'" in refused["msg"]
    assert client.get("/api/v1/leads/999999/meetings", headers=AUTH).status_code == 404
    assert client.get(url).status_code == 401


def test_the_meeting_kpis_over_the_api(client: TestClient, db_url: str) -> None:  # noqa: F811
    figures = client.get("/api/v1/kpis/meetings", params={"since": "2026-01-01"}, headers=AUTH)
    assert figures.status_code == 200
    assert figures.json() == {
        "qualified": 0,
        "booked": 0,
        "qualified_to_booked": None,
        "median_minutes_first_message_to_booking": None,
    }


def test_a_rep_away_or_a_lead_reassigned_moves_the_meeting_to_a_free_rep(
    client: TestClient,  # noqa: F811
    db_url: str,
) -> None:
    rep_id, lead_id, _ = seed(db_url)
    with unit_of_work(db_url) as session:
        bea, cleo = (
            add_rep(session, NewRep(name=n, languages=["en"], timezone="Europe/Madrid")).id
            for n in ("Bea", "Cleo")
        )
    [slot, *_] = client.get(f"/api/v1/leads/{lead_id}/meetings/slots", headers=AUTH).json()
    booked = client.post(f"/api/v1/leads/{lead_id}/meetings", json={"starts_at": slot}, headers=AUTH).json()
    back = (datetime.fromisoformat(slot) + timedelta(days=1)).isoformat()
    assert client.patch(f"/api/v1/reps/{rep_id}", json={"away_until": back}, headers=AUTH).status_code == 200
    [moved] = client.get(f"/api/v1/leads/{lead_id}/meetings", headers=AUTH).json()
    assert (moved["id"], moved["rep_id"], moved["starts_at"], moved["sequence"]) == (
        booked["id"],
        bea,
        slot,
        1,
    )
    given = client.post(
        f"/api/v1/leads/{lead_id}/assign", json={"rep_id": cleo, "by": "crm-sync"}, headers=AUTH
    )
    assert given.status_code == 200
    [again] = client.get(f"/api/v1/leads/{lead_id}/meetings", headers=AUTH).json()
    assert (again["rep_id"], again["starts_at"], again["sequence"]) == (cleo, slot, 2)
