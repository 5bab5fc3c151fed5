"""From the first message to a booked meeting through the real Rasa server, action server and web app:
a hot visitor (browser zone America/New_York) is offered the rep's free times as buttons, picks one, gets
the confirmation, the invitation reaches a local SMTP server (aiosmtpd) with its .ics, the rep is told,
and the link in the invitation moves the meeting (an updated invitation: same UID, next SEQUENCE).
The same from the widget in Chromium, and over Telegram (the gateway against the fake Bot API), where no
zone comes with the messages: the bot asks it (an answer it cannot read gets the question again), and the
visitor presses the inline keyboards' buttons.
All on one stack (module scope)."""

import re
from collections.abc import Iterator
from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import httpx
import pytest
from aiosmtpd.controller import Controller
from icalendar import Calendar
from playwright.sync_api import expect
from sqlalchemy import select

from actions.booking import LABELS
from bot.notify.invitations import deliver_invitations
from crm_core.config import get_settings
from crm_core.db import get_engine, unit_of_work
from crm_core.models import Conversation, Lead, Meeting, Notification, NotificationChannel
from crm_core.people.reps import add_rep
from crm_core.schemas import NewRep
from tests.browser import headless_chromium
from tests.fake_telegram import FakeTelegram
from tests.harness import Stack, free_port, running_stack, running_telegram_gateway

pytestmark = pytest.mark.integration

# Round the clock, so the leads are routed to Ana (English) and Bea (Spanish) whatever the hour.
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
            add_rep(
                session,
                NewRep(name="Bea", languages=["es"], email="bea@sales.example", telegram_chat_id=91002,
                       timezone="America/Mexico_City", working_hours=EVERY_DAY),
            )  # fmt: skip
        yield stack


@pytest.fixture
def mailbox(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[Mailbox]:
    """A local SMTP server, and the settings that send the invitations to it."""
    box = Mailbox()
    smtp = Controller(box, hostname="127.0.0.1", port=free_port())
    smtp.start()
    for name, value in {
        "EMBUDO_DATABASE_URL": stack.crm_url,
        "EMBUDO_SMTP_HOST": "127.0.0.1",
        "EMBUDO_SMTP_PORT": str(smtp.port),
        "EMBUDO_PUBLIC_WEB_URL": stack.web_url,
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    get_engine.cache_clear()
    try:
        yield box
    finally:
        smtp.stop()
        get_settings.cache_clear()
        get_engine.cache_clear()


class Booked(NamedTuple):
    starts_at: datetime
    visitor_timezone: str | None
    rep: str
    lead_id: int


def booked_meeting(stack: Stack, email: str) -> Booked:
    """The one meeting of the lead with ``email``."""
    with unit_of_work(stack.crm_url) as session:
        [meeting] = session.scalars(select(Meeting).join(Lead).where(Lead.contact.has(email=email))).all()
        return Booked(meeting.starts_at, meeting.visitor_timezone, meeting.rep.name, meeting.lead_id)


def invitation_to(mailbox: Mailbox, email: str, meeting: Booked) -> None:
    """The notifier's invitation reaches ``email`` for ``meeting``."""
    assert deliver_invitations(get_settings()) == 1
    [invitation] = [m for m in mailbox.messages if m["To"] == email]
    event = event_of(invitation)
    assert event.decoded("DTSTART") == meeting.starts_at and int(event["SEQUENCE"]) == 0


def event_of(message: EmailMessage) -> Any:
    [part] = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return Calendar.from_ical(payload).walk("VEVENT")[0]


def test_a_hot_visitor_books_a_meeting_gets_the_invitation_and_moves_it(
    stack: Stack, mailbox: Mailbox
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
        [meeting] = session.scalars(select(Meeting)).all()  # the first test of the module
        assert meeting.starts_at.strftime("%Y-%m-%dT%H:%M:%SZ") in picked
        told = session.scalars(select(Notification).where(Notification.meeting_id == meeting.id)).all()
        assert {n.channel for n in told} == {
            NotificationChannel.INBOX, NotificationChannel.TELEGRAM, NotificationChannel.EMAIL
        }  # fmt: skip
        token, first_start = meeting.link_token, meeting.starts_at

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


def test_a_hot_visitor_books_a_meeting_in_the_widget_in_chromium(stack: Stack, mailbox: Mailbox) -> None:
    with headless_chromium() as browser:
        page = browser.new_context(locale="en-US", timezone_id="America/Chicago").new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(stack.web_url)
        page.get_by_role("button", name="Chat with us").click()
        bot = page.locator(".ew-log .ew-bot")
        for turn, expected in [
            ("good afternoon", "What are you looking for"),
            ("a website chat that books demos for our dental clinics", "budget"),
            ("about 40 thousand dollars", "role"),
            ("I run the company and sign the contracts", "When"),
            ("within the next 10 days", "company"),
            ("Brightsmile Clinics", "name"),
            ("Walter Skinner", "e-mail"),
            ("walter@brightsmile.example", "May we contact you"),
        ]:
            before = bot.count()
            page.fill("#ew-input", turn)
            page.press("#ew-input", "Enter")
            expect(bot).not_to_have_count(before, timeout=20_000)
            expect(bot.last).to_contain_text(expected, timeout=20_000)
        page.get_by_role("button", name="Yes, please").click()
        expect(bot.last).to_contain_text("These times are free (America/Chicago)", timeout=20_000)
        expect(bot.last).to_contain_text("with Ana")
        times = page.locator(".ew-replies button")
        expect(times.last).to_have_text(LABELS["en"]["none"])
        picked = times.first.inner_text()
        times.first.click()
        expect(bot.last).to_contain_text("Booked: ", timeout=20_000)
        expect(bot.last).to_contain_text("(America/Chicago), with Ana.")
        expect(bot.last).to_contain_text("walter@brightsmile.example")
        assert errors == []

    meeting = booked_meeting(stack, "walter@brightsmile.example")
    assert meeting.visitor_timezone == "America/Chicago" and meeting.rep == "Ana"
    assert picked.endswith(f"{meeting.starts_at.astimezone(ZoneInfo('America/Chicago')):%H:%M}")
    invitation_to(mailbox, "walter@brightsmile.example", meeting)


@pytest.fixture(scope="module")
def telegram(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeTelegram]:
    """The Telegram gateway, polling a fake Bot API, relaying to this module's stack."""
    with running_telegram_gateway(stack, tmp_path_factory.mktemp("booking-telegram")) as fake:
        yield fake


def telegram_reply(fake: FakeTelegram, user: dict[str, Any], expect: str, act: Any) -> dict[str, Any]:
    """``act()`` (the visitor writes or presses); returns the bot's newest message containing ``expect``."""
    chat = user["id"]
    before = len(fake.sent(chat_id=chat))
    act()

    def newest() -> dict[str, Any] | None:
        new = fake.sent(chat_id=chat)[before:]
        return next((m for m in reversed(new) if expect in str(m["text"])), None)

    found: dict[str, Any] = fake.wait_for(newest, 30, f"a reply containing {expect!r}")
    return found


def buttons_of(message: dict[str, Any]) -> dict[str, str]:
    """An inline keyboard's buttons, title → callback data."""
    return {b["text"]: b["callback_data"] for row in message["reply_markup"]["inline_keyboard"] for b in row}


def test_a_telegram_visitor_is_asked_their_zone_and_books_with_the_buttons(
    stack: Stack, telegram: FakeTelegram, mailbox: Mailbox
) -> None:
    user = telegram.user(70101, "Rocío", "es")
    for turn, expected in [
        ("/start", "¿Qué estás buscando?"),
        ("queremos un asistente que atienda a los clientes de nuestras bodegas", "presupuesto"),
        ("tenemos unos 35 mil euros", "papel"),
        ("soy la fundadora y decido yo", "Cuándo"),
        ("en dos semanas", "empresa"),
        ("Bodegas Almendro", "cómo te llamas"),
        ("Rocío Almendro", "correo"),
        ("rocio@almendro.example", "contactar"),
    ]:
        consent = telegram_reply(telegram, user, expected, lambda t=turn: telegram.user_says(user, t))
    press = telegram.user_presses
    question = telegram_reply(
        telegram,
        user,
        "zona horaria",
        lambda: press(user, consent, next(iter(buttons_of(consent).values()))),  # yes
    )
    places = ["Ciudad de México", "Madrid", "Bogotá", "Buenos Aires", "Me vale la hora de Bea"]
    assert list(buttons_of(question)) == places
    unclear = telegram_reply(
        telegram, user, "No he sabido", lambda: telegram.user_says(user, "cerca del mar")
    )
    assert list(buttons_of(unclear)) == places  # asked again, with the buttons
    zone_lines = [m["text"] for m in telegram.sent(chat_id=user["id"]) if "zona horaria" in str(m["text"])]
    assert zone_lines == [question["text"], unclear["text"]]  # once at consent, once after "cerca del mar"
    bogota = buttons_of(unclear)["Bogotá"]
    offer = telegram_reply(telegram, user, "(America/Bogota)", lambda: press(user, unclear, bogota))
    assert "Bea" in offer["text"]
    *times, more, no = buttons_of(offer).items()
    assert 3 <= len(times) <= 5 and (more[0], no[0]) == (LABELS["es"]["more"], LABELS["es"]["none"])
    done = telegram_reply(telegram, user, "Reservado: ", lambda: press(user, offer, times[0][1]))
    assert "(America/Bogota), con Bea." in done["text"] and "rocio@almendro.example" in done["text"]

    meeting = booked_meeting(stack, "rocio@almendro.example")
    assert meeting.visitor_timezone == "America/Bogota" and meeting.rep == "Bea"
    assert times[0][0].endswith(f"{meeting.starts_at.astimezone(ZoneInfo('America/Bogota')):%H:%M}")
    with unit_of_work(stack.crm_url) as session:
        chats = session.scalars(select(Conversation.sender_id).where(Conversation.lead_id == meeting.lead_id))
        assert list(chats) == [f"telegram-{user['id']}"]
    invitation_to(mailbox, "rocio@almendro.example", meeting)
