"""Rep hand-off end to end: a visitor qualifies over REST, the rep hears about it on (fake) Telegram and by
e-mail, and Accept / Pass work from the Telegram buttons — through real processes: Rasa, the action server,
the notifier, the Telegram gateway, a local fake Bot API and a local SMTP server."""

import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email import message_from_bytes
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from crm_core.db import unit_of_work
from crm_core.models import Lead, Notification, NotificationChannel
from crm_core.people.reps import add_rep
from crm_core.schemas import LeadOut, NewRep
from tests.fake_telegram import FakeTelegram, RunningFake
from tests.harness import APP_PYTHON, ROOT, Stack, free_port, running_stack

pytestmark = pytest.mark.integration

ANA_CHAT, BEN_CHAT, ADMIN_CHAT = 81001, 81002, 81003


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


@dataclass
class World:
    stack: Stack
    fake: FakeTelegram
    mailbox: Mailbox
    bot_api: RunningFake


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    workdir = tmp_path_factory.mktemp("handoff")
    mailbox = Mailbox()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    fake = FakeTelegram()
    world = World(None, fake, mailbox, fake.serve())  # type: ignore[arg-type]
    with running_stack(workdir) as stack:
        world.stack = stack
        with unit_of_work(stack.crm_url) as session:
            add_rep(
                session,
                NewRep(name="Ana", languages=["en"], telegram_chat_id=ANA_CHAT, email="ana@sales.example"),
            )
            add_rep(session, NewRep(name="Ben", languages=["en"], telegram_chat_id=BEN_CHAT))
            add_rep(
                session, NewRep(name="Boss", languages=["en"], telegram_chat_id=ADMIN_CHAT, is_admin=True)
            )
        env = {
            **os.environ,
            "EMBUDO_DATABASE_URL": stack.crm_url,
            "EMBUDO_TELEGRAM_TOKEN": "123456:TEST-TOKEN",
            "EMBUDO_TELEGRAM_API_BASE_URL": fake.base_url,
            "EMBUDO_TELEGRAM_RASA_URL": stack.rasa_url,
            "EMBUDO_TELEGRAM_POLL_TIMEOUT": "1",
            "EMBUDO_TELEGRAM_PENDING_DIR": str(workdir / "pending-replies"),
            "EMBUDO_SMTP_HOST": "127.0.0.1",
            "EMBUDO_SMTP_PORT": str(smtp.port),
            "EMBUDO_NOTIFY_BACKOFF_SECONDS": "0.5",
            "EMBUDO_RASA_API_URL": stack.rasa_url,
            "EMBUDO_RASA_API_TOKEN": stack.rasa_token,
            "EMBUDO_EVENTS_URL": stack.events_url,
        }
        processes = [
            subprocess.Popen(
                [str(APP_PYTHON), "-m", module],
                cwd=ROOT,
                env=env,
                stdout=(workdir / f"{module}.log").open("wb"),
                stderr=subprocess.STDOUT,
            )
            for module in ("bot.telegram.gateway", "bot.notify.worker")
        ]
        try:
            yield world
        finally:
            for process in processes:
                process.terminate()
                process.wait(timeout=20)
            world.bot_api.stop()
            smtp.stop()


def qualify_hot_lead(stack: Stack, sender: str, email: str) -> LeadOut:
    for turn in [
        "hi team",
        "we need a chatbot that books demos for our sales team",
        "about 25k dollars",
        "I run the company and the decision is mine",
        "we need it this week if we can",
        "Vandelay Industries",
        "Art Vandelay",
        email,
        "/affirm",
    ]:
        stack.say(sender, turn)
    return stack.lead(sender)


def lead_messages(fake: FakeTelegram, chat_id: int, lead_id: int) -> list[dict[str, Any]]:
    return [m for m in fake.sent(chat_id=chat_id) if f"#{lead_id}" in str(m.get("text"))]


def telegram_notification(stack: Stack, lead_id: int) -> Notification:
    with unit_of_work(stack.crm_url) as session:
        return (
            session.query(Notification).filter_by(lead_id=lead_id, channel=NotificationChannel.TELEGRAM).one()
        )


def lead_row(stack: Stack, lead_id: int) -> Lead:
    with unit_of_work(stack.crm_url) as session:
        lead = session.get(Lead, lead_id)
        assert lead is not None
        return lead


def test_an_sql_lead_reaches_its_rep_on_telegram_and_by_email_and_is_accepted(
    world: World,
) -> None:
    stack, fake, mailbox = world.stack, world.fake, world.mailbox
    started = time.monotonic()
    lead = qualify_hot_lead(stack, "handoff-1", "art@vandelay.example")
    assert lead.assigned_rep == "Ana"

    [message] = fake.wait_for(
        lambda: lead_messages(fake, ANA_CHAT, lead.id), 20, "the rep's Telegram message"
    )
    print(
        f"visitor's last answer → rep's Telegram message: {time.monotonic() - started:.2f} s (whole conversation)"
    )
    text = str(message["text"])
    for expected in ["Art Vandelay", "Vandelay Industries", "art@vandelay.example", "SQL", "hot", "score",
                     "Language: en", "Why:", "budget +25", "/console/transcripts/handoff-1"]:  # fmt: skip
        assert expected in text, (expected, text)
    buttons = [b["text"] for b in message["reply_markup"]["inline_keyboard"][0]]
    assert buttons == ["✅ Accept", "↪️ Pass"]

    fake.wait_for(lambda: mailbox.messages, 20, "the e-mail")
    mail = mailbox.messages[0]
    assert mail["To"] == "ana@sales.example" and f"Lead #{lead.id}" in mail["Subject"]

    with unit_of_work(stack.crm_url) as session:
        inbox = (
            session.query(Notification).filter_by(lead_id=lead.id, channel=NotificationChannel.INBOX).all()
        )
    assert len(inbox) == 1 and inbox[0].rep_id is not None

    fake.user_presses(fake.user(ANA_CHAT, "Ana"), message, f"lead:accept:{lead.id}")
    fake.wait_for(lambda: lead_row(stack, lead.id).accepted_at is not None, 20, "the lead to be accepted")
    edited = fake.wait_for(
        lambda: fake.sent("editMessageText", chat_id=ANA_CHAT), 20, "the message to be updated"
    )
    assert "You accepted" in str(edited[-1]["text"])

    # Pressing Accept again (or late) changes nothing and says so.
    fake.user_presses(fake.user(ANA_CHAT, "Ana"), message, f"lead:accept:{lead.id}")
    answer = fake.wait_for(
        lambda: [a for a in fake.sent("answerCallbackQuery") if "already accepted" in str(a.get("text"))],
        20,
        "the second press to be refused",
    )
    assert answer


def test_pass_hands_the_lead_to_the_next_rep_who_is_notified(world: World) -> None:
    stack, fake = world.stack, world.fake
    lead = qualify_hot_lead(stack, "handoff-2", "kel@varnsen.example")
    first_chat = ANA_CHAT if lead.assigned_rep == "Ana" else BEN_CHAT
    second_chat = BEN_CHAT if first_chat == ANA_CHAT else ANA_CHAT
    [message] = fake.wait_for(lambda: lead_messages(fake, first_chat, lead.id), 20, "the first rep's message")

    fake.user_presses(fake.user(first_chat, "Rep"), message, f"lead:pass:{lead.id}")
    fake.wait_for(lambda: lead_messages(fake, second_chat, lead.id), 20, "the next rep's message")
    assert lead_row(stack, lead.id).assigned_rep_id != lead.assigned_rep_id


def test_flood_control_and_an_outage_delay_the_notification_but_do_not_lose_it(
    world: World,
) -> None:
    stack, fake = world.stack, world.fake
    fake.fail("sendMessage", times=1, status=429, retry_after=1)
    fake.fail("sendMessage", times=4, status=502, retry_after=None)
    lead = qualify_hot_lead(stack, "handoff-3", "h.e.pennypacker@example.com")
    chat = ANA_CHAT if lead.assigned_rep == "Ana" else BEN_CHAT
    fake.wait_for(lambda: lead_messages(fake, chat, lead.id), 60, "the notification after the outage")
    assert all(fault.remaining == 0 for fault in fake.faults)
    assert len(lead_messages(fake, chat, lead.id)) == 1, "delivered exactly once"

    def recorded() -> Notification:
        with unit_of_work(stack.crm_url) as session:
            return (
                session.query(Notification)
                .filter_by(lead_id=lead.id, channel=NotificationChannel.TELEGRAM)
                .one()
            )

    # The worker records the delivery just after the Bot API answered: wait for that commit.
    fake.wait_for(lambda: recorded().delivered_at is not None, 10, "the delivery to be recorded")
    row = recorded()
    assert row.attempts >= 2 and row.external_id


def test_a_bot_api_that_is_gone_for_a_while_gets_the_notification_when_it_is_back(world: World) -> None:
    stack, fake = world.stack, world.fake
    world.bot_api.stop()  # connection refused from now on
    lead = qualify_hot_lead(stack, "handoff-4", "bob.sacamano@example.com")
    chat = ANA_CHAT if lead.assigned_rep == "Ana" else BEN_CHAT
    with unit_of_work(stack.crm_url) as session:
        row = (
            session.query(Notification).filter_by(lead_id=lead.id, channel=NotificationChannel.TELEGRAM).one()
        )
        assert row.delivered_at is None
    time.sleep(3)
    with unit_of_work(stack.crm_url) as session:
        row = (
            session.query(Notification).filter_by(lead_id=lead.id, channel=NotificationChannel.TELEGRAM).one()
        )
        assert row.attempts >= 1 and row.delivered_at is None and row.last_error, "tried, failed, kept"
    world.bot_api = fake.serve()
    fake.wait_for(
        lambda: lead_messages(fake, chat, lead.id), 60, "the notification after the Bot API is back"
    )
    assert len(lead_messages(fake, chat, lead.id)) == 1


def test_a_visitor_who_asks_for_a_person_mid_form_reaches_a_rep_at_once(world: World) -> None:
    stack, fake = world.stack, world.fake
    sender = "handoff-human"
    for turn in ["hi team", "we are comparing tools for our support desk"]:
        stack.say(sender, turn)
    reply = " ".join(
        str(r.get("text")) for r in stack.say(sender, "could I speak with an actual person instead?")
    )
    # Ana and Ben have no working hours, so are on shift: one is asked to join the chat, at once.
    assert "from our team to join this chat" in reply and "your name" in reply, reply
    lead = stack.lead(sender)
    assert lead.assigned_rep in ("Ana", "Ben")
    chat = ANA_CHAT if lead.assigned_rep == "Ana" else BEN_CHAT
    [message] = fake.wait_for(lambda: lead_messages(fake, chat, lead.id), 20, "the rep's message")
    assert "asked to talk to a person" in str(message["text"])
    assert f"/console/live/{sender}" in str(message["text"])  # the live view, to take it over
    assert "e-mail" in " ".join(str(r.get("text")) for r in stack.say(sender, "Wes Mantooth"))
    reply = " ".join(str(r.get("text")) for r in stack.say(sender, "wes.mantooth@channel4.example"))
    assert "budget in mind" in reply, reply  # the questions help the rep prepare
    assert stack.lead(sender).email == "wes.mantooth@channel4.example"  # the rep has it at once
