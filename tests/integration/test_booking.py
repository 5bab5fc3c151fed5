"""From the first message to a booked meeting through the real Rasa server, action server and web app:
a hot visitor (browser zone America/New_York) is offered the rep's free times as buttons, picks one, gets
the confirmation, the invitation reaches a local SMTP server (aiosmtpd) with its .ics, the rep is told,
and the link in the invitation moves the meeting (an updated invitation: same UID, next SEQUENCE)."""

import re
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from icalendar import Calendar
from sqlalchemy import select

from actions.booking import LABELS
from bot.notify.invitations import deliver_invitations
from crm_core.config import get_settings
from crm_core.db import get_engine, unit_of_work
from crm_core.models import Meeting, Notification, NotificationChannel
from crm_core.reps import add_rep
from crm_core.schemas import NewRep
from tests.harness import Stack, free_port, running_stack

pytestmark = pytest.mark.integration

# Round the clock, so the lead is routed to Ana whatever the hour the suite runs at.
EVERY_DAY = {d: ["00:00", "23:59"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
BROWSER = {"timezone": "America/New_York", "locale": "en-US"}


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))  # type: ignore[arg-type]
        return "250 OK"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("booking")) as stack:
        with unit_of_work(stack.crm_url) as session:
            add_rep(
                session,
                NewRep(name="Ana", languages=["en"], email="ana@sales.example", telegram_chat_id=91001,
                       timezone="Europe/Madrid", working_hours=EVERY_DAY),
            )  # fmt: skip
        yield stack


def event_of(message: EmailMessage) -> Any:
    [part] = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return Calendar.from_ical(payload).walk("VEVENT")[0]


def test_a_hot_visitor_books_a_meeting_gets_the_invitation_and_moves_it(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    sender = "booking-1"
    replies: list[dict[str, Any]] = []
    for turn in [
        "hello",
        "we want a chat assistant that qualifies visitors for our travel agency",
        "roughly 30k dollars",
        "I'm the owner, so it's my call",
        "as soon as possible, within two weeks",
        "Northwind Trips",
        "Dana Scully",
        "dana@northwind.example",
        "/affirm",
    ]:
        replies = stack.say(sender, turn, BROWSER)
    offer = next((r for r in replies if r.get("buttons")), None)
    assert offer is not None, replies
    assert "Ana" in offer["text"] and "America/New_York" in offer["text"]
    *times, more, no = offer["buttons"]
    assert 3 <= len(times) <= 5 and (more["title"], no["title"]) == (
        LABELS["en"]["more"],
        LABELS["en"]["none"],
    )
    picked = times[1]["payload"]
    confirmation = stack.say(sender, picked, BROWSER)
    text = " ".join(str(r.get("text")) for r in confirmation)
    assert text.startswith("Booked: ") and "with Ana" in text and "dana@northwind.example" in text
    assert "(America/New_York)" in text

    with unit_of_work(stack.crm_url) as session:
        [meeting] = session.scalars(select(Meeting)).all()
        assert meeting.starts_at.strftime("%Y-%m-%dT%H:%M:%SZ") in picked
        told = session.scalars(select(Notification).where(Notification.meeting_id == meeting.id)).all()
        assert {n.channel for n in told} == {
            NotificationChannel.INBOX, NotificationChannel.TELEGRAM, NotificationChannel.EMAIL
        }  # fmt: skip
        token, first_start = meeting.link_token, meeting.starts_at

    mailbox = Mailbox()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    try:
        for name, value in {
            "EMBUDO_DATABASE_URL": stack.crm_url,
            "EMBUDO_SMTP_HOST": "127.0.0.1",
            "EMBUDO_SMTP_PORT": str(smtp.port),
            "EMBUDO_PUBLIC_WEB_URL": stack.web_url,
        }.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        get_engine.cache_clear()
        assert deliver_invitations(get_settings()) == 1
        [invitation] = mailbox.messages
        assert invitation["To"] == "dana@northwind.example"
        event = event_of(invitation)
        assert event.decoded("DTSTART") == first_start and int(event["SEQUENCE"]) == 0
        link = str(event["URL"])
        assert link == f"{stack.web_url}/meetings/{token}"

        page = httpx.get(link)
        assert page.status_code == 200 and "Your meeting with Ana is booked for" in page.text
        other = re.findall(r'name="starts_at" value="([^"]+)"', page.text)[0]
        moved = httpx.post(f"{link}/move", data={"starts_at": other})
        assert moved.status_code == 303
        assert deliver_invitations(get_settings()) == 1
        update = event_of(mailbox.messages[1])
        assert str(update["UID"]) == str(event["UID"]) and int(update["SEQUENCE"]) == 1
        assert update.decoded("DTSTART").isoformat() == other
    finally:
        smtp.stop()
        get_settings.cache_clear()
        get_engine.cache_clear()
