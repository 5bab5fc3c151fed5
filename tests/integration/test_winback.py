"""Winning back a lost deal through real processes — Rasa, the action server, the transcript copier, the web
app, the Telegram gateway and the notifier — against a local fake Bot API and a local SMTP server
(aiosmtpd): two deals lost with a re-check date of today (``embudo deals move … --recheck-on``), the
notifier's chore finds them due, the Telegram visitor gets the win-back message from the bot and the e-mail
contact an e-mail with an unsubscribe link; the Telegram visitor replies, qualifies again and the lead is
``recycled``; the e-mail contact unsubscribes through the web app's page."""

import os
import re
import subprocess
from collections.abc import Iterator
from datetime import date
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from crm_core.db import unit_of_work
from crm_core.models import Activity, Contact, Lead
from crm_core.people.reps import add_rep
from crm_core.qualification.policy import LeadFacts
from crm_core.sales.leads import capture_lead
from crm_core.schemas import ConversationRef, NewRep
from tests.fake_telegram import FakeTelegram
from tests.harness import APP_PYTHON, ROOT, Stack, free_port, running_stack

pytestmark = pytest.mark.integration

ANA_CHAT, VISITOR_CHAT = 83001, 73001
SENDER = f"telegram-{VISITOR_CHAT}"


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))  # type: ignore[arg-type]
        return "250 OK"


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Stack, FakeTelegram, Mailbox, dict[str, str]]]:
    workdir = tmp_path_factory.mktemp("winback")
    fake, mailbox = FakeTelegram(), Mailbox()
    bot_api = fake.serve()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    with running_stack(workdir, follow_transcripts=True) as stack:
        with unit_of_work(stack.crm_url) as session:
            add_rep(session, NewRep(name="Ana", languages=["en"], telegram_chat_id=ANA_CHAT))
        env = {
            **os.environ,
            "EMBUDO_DATABASE_URL": stack.crm_url,
            "EMBUDO_RASA_API_URL": stack.rasa_url,
            "EMBUDO_RASA_API_TOKEN": stack.rasa_token,
            "EMBUDO_TELEGRAM_TOKEN": "123456:TEST-TOKEN",
            "EMBUDO_TELEGRAM_API_BASE_URL": fake.base_url,
            "EMBUDO_TELEGRAM_RASA_URL": stack.rasa_url,
            "EMBUDO_TELEGRAM_POLL_TIMEOUT": "1",
            "EMBUDO_TELEGRAM_PENDING_DIR": str(workdir / "pending-replies"),
            "EMBUDO_SMTP_HOST": "127.0.0.1",
            "EMBUDO_SMTP_PORT": str(smtp.port),
            "EMBUDO_PUBLIC_WEB_URL": stack.web_url,
            "PYTHONPATH": str(ROOT),
        }
        gateway = subprocess.Popen(
            [str(APP_PYTHON), "-m", "bot.telegram.gateway"],
            cwd=ROOT,
            env=env,
            stdout=(workdir / "gateway.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        try:
            fake.wait_for(lambda: fake.sent("setMyCommands"), 30, "the gateway to start")
            yield stack, fake, mailbox, env
        finally:
            gateway.terminate()
            gateway.wait(timeout=20)
            bot_api.stop()
            smtp.stop()
            print(stack.log_tail(40))
            for name in ("gateway", "notifier"):
                log = workdir / f"{name}.log"
                if log.exists():
                    print(f"--- {name}\n" + log.read_text(errors="replace")[-4000:])


def texts(fake: FakeTelegram, chat_id: int) -> list[str]:
    return [str(message.get("text")) for message in fake.sent(chat_id=chat_id)]


def reply_to(fake: FakeTelegram, user: dict[str, Any], text: str, expect: str) -> dict[str, Any]:
    """The visitor writes; returns the bot's newest message once it contains ``expect``."""
    before = len(fake.sent(chat_id=user["id"]))
    fake.user_says(user, text)

    def newest() -> dict[str, Any] | None:
        new = fake.sent(chat_id=user["id"])[before:]
        return next((m for m in reversed(new) if expect.lower() in str(m["text"]).lower()), None)

    found: dict[str, Any] = fake.wait_for(newest, 60, f"a reply containing {expect!r} to {text!r}")
    return found


def qualify_on_telegram(fake: FakeTelegram, user: dict[str, Any], opening: str, expect: str) -> None:
    reply_to(fake, user, opening, expect)
    reply_to(fake, user, "a bot that answers the customers of our web shop", "budget")
    reply_to(fake, user, "around 30 thousand euros", "role")
    reply_to(fake, user, "I'm the founder, I decide", "When")
    reply_to(fake, user, "within two weeks", "company")
    reply_to(fake, user, "Blue Harbor Ltd", "name")
    reply_to(fake, user, "Ines Moreau", "e-mail")
    consent = reply_to(fake, user, "ines@blueharbor.example", "May we contact you")
    before = len(fake.sent(chat_id=user["id"]))
    fake.user_presses(user, consent, consent["reply_markup"]["inline_keyboard"][0][0]["callback_data"])
    fake.wait_for(lambda: len(fake.sent(chat_id=user["id"])) > before, 60, "the closing message")


def embudo(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [str(APP_PYTHON), "-c", "from bot.cli import main; main()", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def lose_a_deal(env: dict[str, str], lead_id: int) -> None:
    out = embudo(
        env, "deals", "add", str(lead_id), "--title", "Shop bot", "--value", "12000", "--currency", "EUR"
    )
    deal_id = re.search(r"deal (\d+)", out)
    assert deal_id, out
    today = date.today().isoformat()
    embudo(env, "deals", "move", deal_id.group(1), "lost", "--lost-reason", "price", "--recheck-on", today)


def lead_of(stack: Stack, lead_id: int) -> Lead:
    with unit_of_work(stack.crm_url) as session:
        lead = session.get(Lead, lead_id)
        assert lead is not None
        return lead


def test_a_lost_deal_comes_due_is_won_back_on_telegram_and_an_e_mail_contact_unsubscribes(
    world: tuple[Stack, FakeTelegram, Mailbox, dict[str, str]], tmp_path: Any
) -> None:
    stack, fake, mailbox, env = world
    visitor = fake.user(VISITOR_CHAT, "Ines", "en")
    qualify_on_telegram(fake, visitor, "/start spring_campaign", "What are you looking for")
    telegram_lead = stack.lead(SENDER)
    assert (telegram_lead.source, telegram_lead.consent, telegram_lead.assigned_rep) == (
        "spring_campaign",
        True,
        "Ana",
    )
    with unit_of_work(stack.crm_url) as session:
        facts = LeadFacts(
            need="a chat assistant for bookings", name="Dana Ruiz", email="dana@north.example", consent=True
        )
        email_lead = capture_lead(session, facts, ConversationRef(channel="rest", sender_id="web-dana"))

    lose_a_deal(env, telegram_lead.id)
    lose_a_deal(env, email_lead.id)
    notifier = subprocess.Popen(
        [str(APP_PYTHON), "-m", "bot.notify.worker"],
        cwd=ROOT,
        env=env,
        stdout=(stack.logs / "notifier.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        [winback] = fake.wait_for(
            lambda: [t for t in texts(fake, VISITOR_CHAT) if "Has anything changed?" in t],
            60,
            "the win-back message",
        )
        assert winback.startswith("Hello Ines, this is Embudo's assistant.")
        assert "a bot that answers the customers of our web shop" in winback and "reply here" in winback
        [mail] = fake.wait_for(lambda: mailbox.messages[:], 60, "the win-back e-mail")
        assert mail["To"] == "dana@north.example"
        assert mail["Subject"] == "Has anything changed since we last talked?"
        body = mail.get_content()
        assert f"in our chat ({stack.web_url}/)" in body
        link = re.search(r"(http://\S+/unsubscribe/[A-Za-z0-9_-]+)", body)
        assert link and str(mail["List-Unsubscribe"]).strip() == f"<{link.group(1)}>"
        fake.wait_for(
            lambda: [t for t in texts(fake, ANA_CHAT) if "Re-check" in t], 60, "Ana's re-check reminder"
        )

        # the visitor answers on Telegram: the bot qualifies them again, and the lead is recycled
        qualify_on_telegram(
            fake, visitor, "yes, we would like to look at it again", "What are you looking for"
        )
        again = stack.lead(SENDER)
        assert (again.id, again.source) == (telegram_lead.id, "recycled")

        # the e-mail contact unsubscribes through the page of the link: nothing more is sent to them
        page = httpx.get(link.group(1))
        assert page.status_code == 200 and "stop receiving messages" in page.text
        done = httpx.post(link.group(1))
        assert done.status_code == 200 and "we will not write to you again" in done.text
    finally:
        notifier.terminate()
        notifier.wait(timeout=20)
    with unit_of_work(stack.crm_url) as session:
        contact = session.scalars(select(Contact).where(Contact.email == "dana@north.example")).one()
        assert contact.unsubscribed_at is not None
        sent = session.scalars(select(Activity.body).where(Activity.lead_id == telegram_lead.id)).all()
        assert any(body.startswith("Win-back message sent on Telegram") for body in sent)
