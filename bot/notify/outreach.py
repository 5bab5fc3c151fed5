"""The notifier's win-back and nurture chores (``crm_core.outreach.winback``): re-checks that came due and the
next nurture messages are written (every 30 s), and the messages to contacts are sent — Telegram with the
notifier's bot (the same bot the visitors talk to), e-mail over SMTP with a List-Unsubscribe header.

Before a win-back message goes to a Telegram chat, the chat's Rasa conversation is restarted (Rasa's own
``restart`` event through its HTTP API): the visitor's next message starts the qualification afresh, and the
lead it makes is the recycled one. A send is at most once: "sending" is committed before it."""

import asyncio
import logging
import smtplib
from email.message import EmailMessage

from telegram import Bot
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter

from bot import live_chat
from bot.notify import mail
from bot.telegram.delivery import maybe_delivered, retry_after_seconds
from crm_core.config import Settings
from crm_core.db import unit_of_work
from crm_core.errors import CrmError
from crm_core.models import OutreachKind
from crm_core.outreach import outreach_outbox, outreach_texts, winback

log = logging.getLogger(__name__)

OUTREACH_EVERY = 30.0  # seconds between looks for re-checks and nurture messages that came due


def write_due_outreach() -> None:
    """Re-checks and nurture messages that came due: the rep's task and the contact's message, written."""
    with unit_of_work() as session:
        rechecks = winback.find_due(session)
    for recheck in rechecks:
        log.info("re-check of lead %s: %s (%s)", recheck.lead_id, recheck.why, recheck.outcome)
    with unit_of_work() as session:
        nurtured = winback.nurture_due(session)
    if nurtured:
        log.info("nurture messages written for leads %s", nurtured)


def _failed(message: outreach_outbox.OutreachMessage, error: str, permanent: bool = False) -> None:
    log.warning("message %s to lead %s not sent: %s", message.outreach_id, message.lead_id, error)
    with unit_of_work() as session:
        outreach_outbox.mark_failed(session, message.outreach_id, error, permanent=permanent)


def _sent(message: outreach_outbox.OutreachMessage) -> None:
    with unit_of_work() as session:
        outreach_outbox.mark_sent(session, message.outreach_id)
    log.info("%s message sent to lead %s (%s)", message.kind.value, message.lead_id, message.channel)


def _taken(message: outreach_outbox.OutreachMessage) -> bool:
    with unit_of_work() as session:
        return outreach_outbox.mark_sending(session, message)


async def deliver_telegram(bot: Bot | None, rasa: live_chat.RasaApi) -> int:
    if bot is None:
        return 0  # they wait in the outbox until the bot token is set
    with unit_of_work() as session:
        due = outreach_outbox.claim_due(session, outreach_texts.TELEGRAM)
    for message in due:
        chat = live_chat.telegram_chat(message.address)
        if chat is None:
            _failed(message, f"not a Telegram conversation: {message.address}", permanent=True)
            continue
        if not _taken(message):
            continue
        if message.kind is OutreachKind.WINBACK:
            try:
                await asyncio.to_thread(rasa.append, message.address, [{"event": "restart"}])
            except CrmError as error:
                _failed(message, f"the conversation could not be restarted: {error}")
                continue
        try:
            await bot.send_message(chat, message.text)
        except RetryAfter as error:
            _failed(message, f"flood control: {error} (retry after {retry_after_seconds(error)} s)")
        except (BadRequest, Forbidden) as error:
            _failed(message, f"refused by Telegram: {error.message}", permanent=True)
        except NetworkError as error:
            if maybe_delivered(error):
                with unit_of_work() as session:
                    outreach_outbox.mark_sent_unknown(
                        session, message.outreach_id, f"no answer from Telegram: {error}"
                    )
            else:
                _failed(message, f"network: {error}")
        else:
            _sent(message)
    return len(due)


def email(settings: Settings, message: outreach_outbox.OutreachMessage) -> EmailMessage:
    mail_message = EmailMessage()
    mail_message["To"] = message.address
    mail_message["Subject"] = message.subject
    mail_message["List-Unsubscribe"] = f"<{message.unsubscribe}>"
    mail_message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"  # RFC 8058: the page's POST
    mail_message.set_content(message.text)
    return mail_message


def deliver_email(settings: Settings) -> int:
    if not settings.smtp_host:
        return 0  # they wait in the outbox until e-mail is configured
    with unit_of_work() as session:
        due = outreach_outbox.claim_due(session, outreach_texts.EMAIL)
    for message in due:
        if not _taken(message):
            continue
        try:
            mail.send(settings, email(settings, message))
        except (OSError, smtplib.SMTPException) as error:
            _failed(message, f"SMTP: {error}")
        else:
            _sent(message)
    return len(due)
