"""The notifier's sending of win-back messages (``bot.notify.outreach``): e-mail through a local SMTP server
(aiosmtpd) with its unsubscribe headers, nothing sent to a contact who unsubscribed after the message was
written, and a Telegram message held back (and tried again) while its Rasa conversation cannot be
restarted — the fake Bot API never sees it."""

import asyncio
from collections.abc import Iterator

import pytest
from sqlalchemy import select
from telegram import Bot

from bot import live_chat
from bot.notify import outreach
from crm_core.config import get_settings
from crm_core.db import unit_of_work
from crm_core.models import Outreach
from crm_core.outreach import winback
from tests.fake_telegram import FakeTelegram
from tests.harness import free_port
from tests.unit.test_invitations import Mailbox, smtp
from tests.unit.test_winback import lost_lead

__all__ = ["smtp"]


def due(url: str, channel: str = "rest", sender: str = "web-1") -> Outreach:
    with unit_of_work(url) as session:
        lost_lead(session, channel=channel, sender=sender, recheck_in_days=0)  # due today
        winback.find_due(session)
        return session.scalars(select(Outreach)).one()


def row(url: str) -> Outreach:
    with unit_of_work(url) as session:
        return session.scalars(select(Outreach)).one()


def test_a_win_back_e_mail_goes_out_with_its_unsubscribe_link(crm: str, smtp: Mailbox) -> None:
    written = due(crm)
    assert outreach.deliver_email(get_settings()) == 1
    [mail] = smtp.messages
    assert (mail["To"], mail["Subject"]) == ("ana@acme.example", "Has anything changed since we last talked?")
    link = f"https://crm.example.com/unsubscribe/{written.token}"
    assert str(mail["List-Unsubscribe"]).strip() == f"<{link}>"
    assert str(mail["List-Unsubscribe-Post"]).strip() == "List-Unsubscribe=One-Click"
    assert link in mail.get_content() and "in our chat (https://crm.example.com/)" in mail.get_content()
    assert row(crm).delivered_at is not None
    assert outreach.deliver_email(get_settings()) == 0  # once


def test_nothing_goes_to_a_contact_who_unsubscribed_after_it_was_written(
    crm: str,
    smtp: Mailbox,
) -> None:
    written = due(crm)
    with unit_of_work(crm) as session:
        winback.unsubscribe(session, written.token)
    assert outreach.deliver_email(get_settings()) == 0
    assert smtp.messages == [] and row(crm).last_error == "cancelled: the contact unsubscribed"


def test_a_telegram_message_waits_while_its_conversation_cannot_be_restarted(crm: str) -> None:
    due(crm, channel="telegram", sender="telegram-901")
    fake = FakeTelegram()
    running = fake.serve()
    nobody = live_chat.RasaApi(f"http://127.0.0.1:{free_port()}")  # no Rasa listens there

    async def deliver() -> int:
        async with Bot("123:ABC", base_url=fake.base_url) as bot:
            return await outreach.deliver_telegram(bot, nobody)

    try:
        assert asyncio.run(deliver()) == 1
    finally:
        running.stop()
    assert fake.sent(chat_id=901) == []
    held = row(crm)
    assert held.delivered_at is None and held.failed_at is None and held.sending_at is None
    assert held.last_error is not None and held.last_error.startswith(
        "the conversation could not be restarted"
    )


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    yield
    get_settings.cache_clear()


def test_the_unsubscribe_page_asks_then_records_in_the_contacts_language(crm: str) -> None:
    from fastapi.testclient import TestClient

    from bot.web.app import WebSettings, create_app

    web = TestClient(create_app(WebSettings(api_token="x")))
    with unit_of_work(crm) as session:
        lost_lead(session, language="es", recheck_in_days=0)
        winback.find_due(session)
        token = session.scalars(select(Outreach.token)).one()
    page = web.get(f"/unsubscribe/{token}")
    assert page.status_code == 200 and "¿Quieres dejar de recibir mensajes nuestros?" in page.text
    with unit_of_work(crm) as session:  # looking is not unsubscribing (mail scanners follow links)
        assert session.scalars(select(Outreach)).one().lead.contact.unsubscribed_at is None
    done = web.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200 and "no volveremos a escribirte" in done.text
    with unit_of_work(crm) as session:
        assert session.scalars(select(Outreach)).one().lead.contact.unsubscribed_at is not None
    unknown = web.get("/unsubscribe/" + "x" * 32)
    assert unknown.status_code == 404 and "This link is not known" in unknown.text
    assert web.get("/unsubscribe/short").status_code == 422
