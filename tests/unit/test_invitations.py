"""The visitor's invitations (``crm_core.scheduling.invitations``, sent by ``bot.notify.invitations``): an e-mail
captured by a local SMTP server (aiosmtpd), whose .ics is parsed back: one UID for the meeting, SEQUENCE
up with each change (a hand-over to another rep names the new one), METHOD:CANCEL for a cancellation,
the time in UTC, the visitor's link; the text in the visitor's language and time zone; a failed send tried
again, a superseded one not sent."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from icalendar import Calendar
from sqlalchemy import select

from bot.notify.invitations import deliver_invitations
from crm_core.config import get_settings
from crm_core.db import get_engine, unit_of_work
from crm_core.models import Invitation, Meeting, Stage
from crm_core.people.reps import add_rep, update_rep
from crm_core.scheduling import meetings
from crm_core.scheduling.invitations import claim_due
from crm_core.schemas import NewRep, RepUpdate
from tests.harness import free_port
from tests.unit.helpers import make_lead

NOW = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)
TEN = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))  # type: ignore[arg-type]
        return "250 OK"


@pytest.fixture
def smtp(crm: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Mailbox]:
    mailbox, port = Mailbox(), free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("EMBUDO_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("EMBUDO_SMTP_PORT", str(port))
    monkeypatch.setenv("EMBUDO_PUBLIC_WEB_URL", "https://crm.example.com")
    get_settings.cache_clear()
    yield mailbox
    controller.stop()


def lead_with_rep(url: str, language: str = "en", email: str | None = "marta@example.com") -> int:
    with unit_of_work(url) as session:
        ana = add_rep(session, NewRep(name="Ana", languages=["en", "es"], email="ana@example.com"))
        return make_lead(session, Stage.SQL, rep_id=ana.id, language=language, email=email).id


def ics_of(message: EmailMessage) -> Any:
    parts = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    assert len(parts) == 1 and parts[0].get_param("method") in ("REQUEST", "CANCEL")
    payload = parts[0].get_payload(decode=True)
    assert isinstance(payload, bytes)
    [event] = Calendar.from_ical(payload).walk("VEVENT")
    return Calendar.from_ical(payload), event


def test_booking_moving_and_cancelling_send_one_meetings_invitations(smtp: Mailbox, crm: str) -> None:
    lead_id = lead_with_rep(crm, "es")
    with unit_of_work(crm) as session:
        booked = meetings.book(session, lead_id, TEN, "America/Bogota", NOW)
        token = session.get(Meeting, booked.id).link_token  # type: ignore[union-attr]
    assert deliver_invitations(get_settings()) == 1
    [first] = smtp.messages
    assert first["To"] == "marta@example.com" and first["From"] == get_settings().smtp_from
    # 10:00 UTC is 05:00 in Bogotá, said in Spanish
    assert first["Subject"] == "Tu reunión con Ana: martes, 1 de diciembre de 2026, 05:00 (America/Bogota)"
    calendar, event = ics_of(first)
    assert str(calendar["METHOD"]) == "REQUEST" and int(event["SEQUENCE"]) == 0
    assert event.decoded("DTSTART") == TEN and event.decoded("DTEND") == TEN + timedelta(minutes=30)
    assert str(event["URL"]) == f"https://crm.example.com/meetings/{token}" and len(token) >= 40
    assert (
        str(event["ATTENDEE"]) == "mailto:marta@example.com"
        and str(event["ORGANIZER"]) == "mailto:ana@example.com"
    )
    body = first.get_body(("plain",))
    assert body is not None and f"/meetings/{token}" in body.get_content()
    assert any(p.get_filename() == "invite.ics" for p in first.walk())

    with unit_of_work(crm) as session:
        meetings.reschedule(session, booked.id, TEN + timedelta(hours=1), now=NOW)
    deliver_invitations(get_settings())
    _, moved = ics_of(smtp.messages[1])
    assert str(moved["UID"]) == str(event["UID"]) and int(moved["SEQUENCE"]) == 1
    assert moved.decoded("DTSTART") == TEN + timedelta(hours=1)

    with unit_of_work(crm) as session:
        meetings.cancel(session, booked.id, now=NOW)
    deliver_invitations(get_settings())
    calendar, gone = ics_of(smtp.messages[2])
    assert str(calendar["METHOD"]) == "CANCEL" and str(gone["STATUS"]) == "CANCELLED"
    assert str(gone["UID"]) == str(event["UID"]) and int(gone["SEQUENCE"]) == 2
    assert smtp.messages[2]["Subject"].startswith("Cancelada: tu reunión con Ana")
    assert deliver_invitations(get_settings()) == 0  # each sent once


def test_a_meeting_handed_to_another_rep_sends_an_update_naming_the_new_rep(smtp: Mailbox, crm: str) -> None:
    lead_id = lead_with_rep(crm)
    with unit_of_work(crm) as session:
        booked = meetings.book(session, lead_id, TEN, "Europe/Madrid", NOW)
        bea = add_rep(session, NewRep(name="Bea", languages=["en"], email="bea@example.com")).id
    deliver_invitations(get_settings())
    with unit_of_work(crm) as session:  # Ana goes away: her meeting goes to Bea, who is free then
        update_rep(session, booked.rep_id, RepUpdate(away_until=TEN + timedelta(days=1)), now=NOW)
        assert meetings.of_lead(session, lead_id)[0].rep_id == bea
    assert deliver_invitations(get_settings()) == 1
    first, update = smtp.messages
    _, event = ics_of(first)
    calendar, moved = ics_of(update)
    assert str(calendar["METHOD"]) == "REQUEST" and str(moved["UID"]) == str(event["UID"])
    assert (int(event["SEQUENCE"]), int(moved["SEQUENCE"])) == (0, 1)
    assert moved.decoded("DTSTART") == TEN and str(moved["SUMMARY"]).startswith("Bea ·")
    assert str(moved["ORGANIZER"]) == "mailto:bea@example.com" and moved["ORGANIZER"].params["CN"] == "Bea"
    # (a subject this long is folded after "Subject:", and the parser keeps the fold's space)
    assert (
        update["Subject"].strip() == "Your meeting with Bea: Tuesday, December 1, 2026, 11:00 (Europe/Madrid)"
    )


def test_no_email_no_invitation_and_a_superseded_one_is_not_sent(crm: str) -> None:
    silent = lead_with_rep(crm, email=None)
    with unit_of_work(crm) as session:
        meetings.book(session, silent, TEN, now=NOW)
        assert session.scalars(select(Invitation)).all() == []
    lead_id = make_lead_of_same_rep(crm)
    with unit_of_work(crm) as session:
        booked = meetings.book(session, lead_id, TEN + timedelta(hours=2), now=NOW)
        meetings.cancel(session, booked.id, now=NOW)
    with unit_of_work(crm) as session:
        [mail] = claim_due(session, NOW)
    assert mail.method == "CANCEL"  # the REQUEST it replaced never goes out
    with unit_of_work(crm) as session:
        errors = [i.last_error for i in session.scalars(select(Invitation).order_by(Invitation.id))]
    assert errors[0] is not None and errors[0].startswith("superseded") and errors[1] is None


def make_lead_of_same_rep(url: str) -> int:
    with unit_of_work(url) as session:
        return make_lead(session, Stage.SQL, rep_id=1, email="luis@example.com").id


def test_a_send_that_fails_is_tried_again(crm: str, monkeypatch: pytest.MonkeyPatch) -> None:
    lead_id = lead_with_rep(crm)
    with unit_of_work(crm) as session:
        meetings.book(session, lead_id, TEN, now=NOW)
    monkeypatch.setenv("EMBUDO_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("EMBUDO_SMTP_PORT", str(free_port()))  # nobody listens there
    get_settings.cache_clear()
    get_engine.cache_clear()
    assert deliver_invitations(get_settings()) == 1
    with unit_of_work(crm) as session:
        [row] = session.scalars(select(Invitation)).all()
        assert row.delivered_at is None and row.failed_at is None and row.attempts == 1
        assert row.last_error is not None and row.last_error.startswith("SMTP:")
