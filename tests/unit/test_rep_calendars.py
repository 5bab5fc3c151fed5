"""A rep's own CalDAV calendar (``crm_core.scheduling.calendars`` + ``bot/calendars/caldav_busy.py``): its busy times
are not offered and cannot be booked; a calendar that cannot be read leaves the offer to Embudo's own
meetings and hours and tells the rep once. Against a real Radicale server started on a free port in a
temporary folder; events are put into it with the ``caldav`` library."""

import json
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from uuid import uuid4

import caldav
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.calendars import caldav_busy
from crm_core.models import Notification, NotificationChannel, Rep, Stage
from crm_core.people.reps import add_rep, list_reps, update_rep
from crm_core.scheduling import calendars, meetings
from crm_core.scheduling.meetings import SlotTaken
from crm_core.schemas import NewRep, RepUpdate
from tests.unit.helpers import make_lead
from tests.unit.test_cli import EMBUDO, embudo

NOW = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)  # a Tuesday; the rep works 09:00-17:00 UTC on weekdays
USER, PASSWORD = "ana", "calendar-secret"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Radicale server with one user (plain htpasswd); yields its base URL."""
    folder = tmp_path_factory.mktemp("radicale")
    port = _free_port()
    (folder / "users").write_text(f"{USER}:{PASSWORD}\n")
    (folder / "config").write_text(
        f"[server]\nhosts = 127.0.0.1:{port}\n"
        f"[auth]\ntype = htpasswd\nhtpasswd_filename = {folder / 'users'}\nhtpasswd_encryption = plain\n"
        f"[storage]\nfilesystem_folder = {folder / 'collections'}\n"
        "[logging]\nlevel = warning\n"
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "radicale", "--config", str(folder / "config")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(300):  # until it listens (at most ~30 s)
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert server.poll() is None, "Radicale did not start"
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=20)


@pytest.fixture
def reader() -> Iterator[None]:
    """This process reads reps' calendars as the action server and the web app do."""
    caldav_busy.forget()
    calendars.use(caldav_busy.read_busy)
    yield
    calendars.use(None)
    caldav_busy.forget()


def new_calendar(base: str, *events: str) -> str:
    """A new calendar of the user holding ``events`` (VEVENT bodies, a UID made unless one is given);
    returns its URL."""
    client = caldav.DAVClient(f"{base}/{USER}/", username=USER, password=PASSWORD)
    calendar = client.principal().make_calendar(name="work", cal_id=uuid4().hex)
    for body in events:
        calendar.save_event(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Embudo tests//EN\r\nBEGIN:VEVENT\r\n"
            + ("" if "UID:" in body else f"UID:{uuid4()}\r\n")
            + f"DTSTAMP:20261101T000000Z\r\n{body.strip()}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
        )
    return str(calendar.url)


def rep_with(session: Session, url: str | None, password: str = PASSWORD) -> Rep:
    out = add_rep(
        session,
        NewRep(name="Ana", languages=["en"],
               working_hours={d: ["09:00", "17:00"] for d in ("mon", "tue", "wed", "thu", "fri")}),
    )  # fmt: skip
    if url is not None:
        update_rep(session, out.id, RepUpdate(caldav_url=url, caldav_username=USER, caldav_password=password))
    found = session.get(Rep, out.id)
    assert found is not None
    return found


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=UTC)


WITHOUT_CALENDAR = [at(1, 9), at(1, 9, 30), at(2, 9), at(2, 9, 30)]


@pytest.mark.usefixtures("reader")
def test_a_rep_without_a_calendar_is_offered_from_embudos_meetings_and_hours(session: Session) -> None:
    ana = rep_with(session, None)
    lead = make_lead(session, Stage.SQL, rep_id=ana.id)
    assert meetings.offer_slots(session, lead.id, NOW) == WITHOUT_CALENDAR


@pytest.mark.usefixtures("reader")
def test_a_busy_event_takes_its_slots_out_of_the_offer_and_cannot_be_booked(
    session: Session, radicale: str
) -> None:
    url = new_calendar(radicale, "DTSTART:20261201T090000Z\r\nDTEND:20261201T100000Z\r\nSUMMARY:Dentist")
    ana = rep_with(session, url)
    lead = make_lead(session, Stage.SQL, rep_id=ana.id)
    assert meetings.offer_slots(session, lead.id, NOW) == [at(1, 10), at(1, 10, 30), at(2, 9), at(2, 9, 30)]
    with pytest.raises(SlotTaken):
        meetings.book(session, lead.id, at(1, 9, 30), now=NOW)
    assert meetings.book(session, lead.id, at(1, 10), now=NOW).starts_at == at(1, 10)
    wish = meetings.slot_near(session, lead.id, at(1, 9), at(1, 10), NOW)
    assert (wish.start, wish.exact) == (at(1, 10, 30), False)  # 10:00 is booked in Embudo now


@pytest.mark.usefixtures("reader")
def test_an_all_day_event_takes_the_day_in_the_reps_time_zone(session: Session, radicale: str) -> None:
    url = new_calendar(radicale, "DTSTART;VALUE=DATE:20261201\r\nDTEND;VALUE=DATE:20261202\r\nSUMMARY:Off")
    ana = rep_with(session, url)
    lead = make_lead(session, Stage.SQL, rep_id=ana.id)
    assert meetings.offer_slots(session, lead.id, NOW) == [at(2, 9), at(2, 9, 30), at(3, 9), at(3, 9, 30)]


@pytest.mark.usefixtures("reader")
def test_every_occurrence_of_a_recurring_event_is_busy(session: Session, radicale: str) -> None:
    # the whole working day, on two days running
    url = new_calendar(
        radicale,
        "DTSTART:20261201T090000Z\r\nDTEND:20261201T170000Z\r\nRRULE:FREQ=DAILY;COUNT=2\r\nSUMMARY:Fair",
    )
    ana = rep_with(session, url)
    lead = make_lead(session, Stage.SQL, rep_id=ana.id)
    assert meetings.offer_slots(session, lead.id, NOW) == [at(3, 9), at(3, 9, 30), at(4, 9), at(4, 9, 30)]


@pytest.mark.usefixtures("reader")
def test_transparent_cancelled_and_embudos_own_events_are_not_busy_here(
    session: Session, radicale: str
) -> None:
    url = new_calendar(
        radicale,
        "DTSTART:20261201T090000Z\r\nDTEND:20261201T170000Z\r\nTRANSP:TRANSPARENT\r\nSUMMARY:Reminder",
        "DTSTART:20261202T090000Z\r\nDTEND:20261202T170000Z\r\nSTATUS:CANCELLED\r\nSUMMARY:Called off",
        # an Embudo invitation the rep kept: the database says when (or whether) that meeting is
        "UID:5f0c2a1e-0000-4000-8000-000000000001@embudo\r\nDTSTART:20261201T090000Z\r\nDTEND:20261201T170000Z",
    )
    ana = rep_with(session, url)
    lead = make_lead(session, Stage.SQL, rep_id=ana.id)
    assert meetings.offer_slots(session, lead.id, NOW) == WITHOUT_CALENDAR


@pytest.mark.usefixtures("reader")
def test_a_refused_password_still_offers_slots_and_tells_the_rep_once(
    session: Session, radicale: str, caplog: pytest.LogCaptureFixture
) -> None:
    url = new_calendar(radicale, "DTSTART:20261201T090000Z\r\nDTEND:20261201T170000Z\r\nSUMMARY:Busy")
    ana = rep_with(session, url, password="not-the-password")
    first, second = (make_lead(session, Stage.SQL, rep_id=ana.id) for _ in range(2))
    with caplog.at_level(logging.WARNING, logger="crm_core.scheduling.calendars"):
        assert meetings.offer_slots(session, first.id, NOW) == WITHOUT_CALENDAR
        assert meetings.offer_slots(session, second.id, NOW) == WITHOUT_CALENDAR
        booked = meetings.book(session, second.id, at(1, 9), now=NOW)  # nothing it cannot know is checked
    assert booked.starts_at == at(1, 9)
    assert "refused the user name or password" in caplog.text
    told = session.scalars(
        select(Notification).where(Notification.rep_id == ana.id, Notification.meeting_id.is_(None))
    ).all()
    assert [(n.channel, n.lead_id) for n in told] == [(NotificationChannel.INBOX, first.id)]
    assert "could not be read" in told[0].reason and "not-the-password" not in told[0].reason
    assert ana.caldav_failing_since == NOW
    # the right password: read again at once (a new password is a new calendar), the outage is over
    update_rep(session, ana.id, RepUpdate(caldav_password=PASSWORD))
    assert meetings.offer_slots(session, first.id, NOW)[0] == at(2, 9)
    assert ana.caldav_failing_since is None


@pytest.mark.usefixtures("reader")
def test_a_calendar_server_that_is_down_leaves_the_offer_as_it_was(session: Session) -> None:
    ana = rep_with(session, f"http://127.0.0.1:{_free_port()}/{USER}/work/")
    lead = make_lead(session, Stage.SQL, rep_id=ana.id)
    assert meetings.offer_slots(session, lead.id, NOW) == WITHOUT_CALENDAR
    assert ana.caldav_failing_since == NOW


def test_the_password_is_never_shown_and_the_calendar_can_be_forgotten(session: Session) -> None:
    ana = rep_with(session, "https://dav.example.com/ana/work/")
    [shown] = list_reps(session)
    assert (shown.caldav_url, shown.caldav_username) == ("https://dav.example.com/ana/work/", USER)
    assert PASSWORD not in shown.model_dump_json()
    update_rep(session, ana.id, RepUpdate(clear_caldav=True))
    assert (ana.caldav_url, ana.caldav_username, ana.caldav_password) == (None, None, None)
    with pytest.raises(ValueError, match="not a calendar address"):
        RepUpdate(caldav_url="ftp://dav.example.com/")


def test_the_command_line_sets_lists_and_forgets_a_calendar(db_url: str) -> None:
    assert embudo(db_url, "reps", "add", "--name", "Ana", "--languages", "en").returncode == 0
    env = {**os.environ, "EMBUDO_DATABASE_URL": db_url}
    set_it = subprocess.run(
        [str(EMBUDO), "reps", "update", "1",
         "--caldav-url", "https://dav.example.com/ana/work/", "--caldav-user", USER, "--caldav-password", "-"],
        input=f"{PASSWORD}\n", env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert set_it.returncode == 0, set_it.stderr
    assert f"calendar: https://dav.example.com/ana/work/ as {USER}" in set_it.stdout
    listed = embudo(db_url, "reps", "list", "--format", "json")
    assert PASSWORD not in listed.stdout
    assert json.loads(listed.stdout)[0]["caldav_url"] == "https://dav.example.com/ana/work/"
    assert "calendar https://dav.example.com/ana/work/" in embudo(db_url, "reps", "list").stdout
    bad = embudo(db_url, "reps", "update", "1", "--caldav-url", "dav.example.com")
    assert bad.returncode != 0 and "not a calendar address" in bad.stdout + bad.stderr
    gone = embudo(db_url, "reps", "update", "1", "--no-caldav")
    assert gone.returncode == 0 and "calendar: none" in gone.stdout
    assert json.loads(embudo(db_url, "reps", "list", "--format", "json").stdout)[0]["caldav_url"] is None
