"""Meetings in the console (a real uvicorn): the rep's upcoming meetings in the inbox, a lead's meetings on
its page, cancelling one there (CSRF-checked, the rep's own leads only)."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from crm_core.db import unit_of_work
from crm_core.models import Meeting
from crm_core.scheduling import meetings
from tests.console import BEN, ROSA, Seeded, console_server, csrf_of, seed, signed_in


@pytest.fixture
def seeded(db_url: str) -> Seeded:
    return seed(db_url)


@pytest.fixture
def web(db_url: str, seeded: Seeded, tmp_path: Path) -> Iterator[str]:
    with console_server(db_url, tmp_path / "web.log") as url:
        yield url


def test_the_rep_sees_and_cancels_a_meeting_another_rep_cannot(web: str, db_url: str, seeded: Seeded) -> None:
    with unit_of_work(db_url) as session:
        slot = meetings.offer_slots(session, seeded.rosa_lead)[0]
        meeting_id = meetings.book(session, seeded.rosa_lead, slot, "Europe/Madrid").id
    rosa = signed_in(web, ROSA)
    inbox = rosa.get("/console/inbox").text
    assert 'Your upcoming meetings <span class="count">1</span>' in inbox
    assert f'href="/console/leads/{seeded.rosa_lead}">Lead #{seeded.rosa_lead}</a>' in inbox
    page = rosa.get(f"/console/leads/{seeded.rosa_lead}").text
    assert f"Cancel meeting {meeting_id}" in page and "Meeting booked with lead" in page  # and its history
    ben = signed_in(web, BEN)
    ben_page = ben.get("/console/inbox").text
    url = f"/console/leads/{seeded.rosa_lead}/meetings/{meeting_id}/cancel"
    assert ben.post(url, data={"csrf_token": csrf_of(ben_page)}).status_code == 404
    assert rosa.post(url, data={}).status_code in (400, 403)  # no CSRF token
    done = rosa.post(url, data={"csrf_token": csrf_of(page)})
    assert done.status_code == 303
    with unit_of_work(db_url) as session:
        meeting = session.get(Meeting, meeting_id)
        assert meeting is not None and meeting.status.value == "cancelled"
    assert "No meetings booked." in rosa.get("/console/inbox").text
