"""Delivers rep notifications (Telegram with Accept / Pass buttons, optional e-mail) and outgoing webhooks
with retries, and runs the periodic chores: the acceptance SLA and the pickup of leads waiting in the queue
(each every 30 s: a rep who comes on shift, is back from away or has room again gets the oldest waiting lead
within half a minute), the end of waiting for a person (every 5 s: a visitor nobody took within
``EMBUDO_LIVE_WAIT_MINUTES`` is told so and asked how to be called back) and the retention purge of
never-qualified visitors' conversations (hourly); re-checks and nurture messages that came due (every 30 s,
``bot.notify.outreach``), whose messages to contacts it sends too.
``python -m bot.notify.worker``; ``make run`` starts it."""

import asyncio
import logging
import smtplib
import time
from collections.abc import Callable
from email.message import EmailMessage

from telegram import Bot
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter
from telegram.request import HTTPXRequest

from bot import live_chat
from bot.notify import mail, outreach
from bot.notify.invitations import deliver_invitations
from bot.notify.lead_buttons import lead_buttons
from bot.notify.reminders import REMIND_EVERY, send_task_reminders
from bot.telegram.delivery import maybe_delivered, retry_after_seconds
from bot.telegram.settings import TelegramSettings
from crm_core.assignment import live_request
from crm_core.assignment.sla import enforce_sla, pick_up_queue
from crm_core.config import Settings, get_settings
from crm_core.db import unit_of_work
from crm_core.delivery.notifications import (
    LeadCard,
    claim_due,
    mark_failed,
    mark_sending,
    mark_sent,
    mark_sent_unknown,
)
from crm_core.errors import CrmError
from crm_core.exchange.webhooks import deliver_due
from crm_core.models import NotificationChannel, utcnow
from crm_core.people.privacy import purge_never_qualified

log = logging.getLogger(__name__)


class Notifier:
    def __init__(self, settings: Settings, bot: Bot | None, rasa: live_chat.RasaApi | None = None) -> None:
        self.settings = settings
        self.bot = bot
        self.rasa = rasa or live_chat.RasaApi.from_settings()

    async def deliver_telegram(self) -> int:
        if self.bot is None:
            return 0
        with unit_of_work() as session:
            cards = claim_due(session, NotificationChannel.TELEGRAM)
        for card in cards:
            await self._send_telegram(card)
        return len(cards)

    async def _send_telegram(self, card: LeadCard) -> None:
        """One card, at most once: "sending" is committed before the call (see
        crm_core.delivery.notifications)."""
        assert self.bot is not None and card.chat_id is not None
        with unit_of_work() as session:
            if not mark_sending(session, card):
                return
        text = card.text
        while True:
            try:
                message = await self.bot.send_message(
                    card.chat_id, text, reply_markup=lead_buttons(card.lead_id) if card.buttons else None
                )
            except RetryAfter as error:
                self._failed(card, f"flood control: {error}", retry_after=retry_after_seconds(error))
            except BadRequest as error:
                if "too long" in error.message.lower() and text != card.short_text:
                    text = card.short_text  # refused before it was shown: the short card is the same card
                    continue
                self._failed(card, f"refused by Telegram: {error.message}", permanent=True)
            except Forbidden as error:
                self._failed(card, f"refused by Telegram: {error.message}", permanent=True)
            except NetworkError as error:
                if maybe_delivered(error):
                    with unit_of_work() as session:
                        mark_sent_unknown(session, card.notification_id, f"no answer from Telegram: {error}")
                else:
                    self._failed(card, f"network: {error}")
            else:
                with unit_of_work() as session:
                    mark_sent(session, card.notification_id, str(message.message_id))
                log.info("lead %s sent to Telegram chat %s", card.lead_id, card.chat_id)
            return

    def deliver_email(self) -> int:
        with unit_of_work() as session:
            cards = claim_due(session, NotificationChannel.EMAIL)
        for card in cards:
            if not self.settings.smtp_host:
                self._failed(card, "e-mail is not configured (EMBUDO_SMTP_HOST)", permanent=True)
                continue
            with unit_of_work() as session:
                if not mark_sending(session, card):
                    continue
            try:
                self._send_email(card)
            except (OSError, smtplib.SMTPException) as error:
                self._failed(card, f"SMTP: {error}")
            else:
                with unit_of_work() as session:
                    mark_sent(session, card.notification_id)
        return len(cards)

    def _send_email(self, card: LeadCard) -> None:
        assert self.settings.smtp_host and card.email
        message = EmailMessage()
        message["To"] = card.email
        message["Subject"] = card.subject
        message.set_content(card.text)
        mail.send(self.settings, message)

    def _failed(
        self, card: LeadCard, error: str, retry_after: float | None = None, permanent: bool = False
    ) -> None:
        log.warning(
            "notification %s for lead %s not delivered: %s", card.notification_id, card.lead_id, error
        )
        with unit_of_work() as session:
            mark_failed(session, card.notification_id, error, retry_after=retry_after, permanent=permanent)

    def deliver_webhooks(self) -> None:
        with unit_of_work() as session:
            deliver_due(session)

    def enforce_sla(self) -> None:
        with unit_of_work() as session:
            moved = enforce_sla(session)
        if moved:
            log.info("SLA expired for leads %s: moved on", moved)

    def pick_up_queue(self) -> None:
        with unit_of_work() as session:
            assigned = pick_up_queue(session)
        if assigned:
            log.info("queued leads %s assigned", assigned)

    def end_overdue_waits(self) -> None:
        """Conversations nobody took within the wait go back to the bot, which tells the visitor; so do those
        whose rep went off shift while the visitor waited as long."""
        minutes = self.settings.live_wait_minutes
        with unit_of_work() as session:
            overdue = live_request.overdue(session, utcnow(), minutes)
        for sender_id in overdue:
            try:
                live_chat.give_up_waiting(self.rasa, sender_id, minutes)
            except CrmError as error:  # taken over meanwhile, or Rasa away: it is looked at again next round
                log.warning("conversation %s still waiting for a person: %s", sender_id, error)
            else:
                log.info("nobody took conversation %s within %g min: back to the bot", sender_id, minutes)
        with unit_of_work() as session:
            stranded = live_request.stranded(session, utcnow(), minutes)
        for sender_id in stranded:
            try:
                live_chat.owner_gone(self.rasa, sender_id, minutes)
            except CrmError as error:  # handed back meanwhile, or Rasa away: looked at again next round
                log.warning("conversation %s: its rep is off shift, still theirs: %s", sender_id, error)
            else:
                log.info(
                    "conversation %s: its rep went off shift, the visitor waited: back to the bot", sender_id
                )

    def purge_old_conversations(self) -> None:
        with unit_of_work() as session:
            audit = purge_never_qualified(session, self.settings.retention_days, self.settings.events_url)
        if audit is not None:
            log.info("retention purge: %s", audit.counts)

    async def run(
        self,
        interval: float = 0.25,
        sla_every: float = 30.0,
        purge_every: float = 3600.0,
        queue_every: float = 30.0,
        waits_every: float = 5.0,
    ) -> None:
        chores: list[tuple[float, Callable[[], None]]] = [
            (sla_every, self.enforce_sla),
            (queue_every, self.pick_up_queue),
            (waits_every, self.end_overdue_waits),
            (purge_every, self.purge_old_conversations),
            (REMIND_EVERY, send_task_reminders),
            (outreach.OUTREACH_EVERY, outreach.write_due_outreach),
        ]
        last_run = [float("-inf")] * len(chores)
        while True:
            try:
                await self.deliver_telegram()
                await asyncio.to_thread(self.deliver_email)
                await asyncio.to_thread(deliver_invitations, self.settings)
                await asyncio.to_thread(self.deliver_webhooks)
                await outreach.deliver_telegram(self.bot, self.rasa)
                await asyncio.to_thread(outreach.deliver_email, self.settings)
                for index, (every, chore) in enumerate(chores):
                    if time.monotonic() - last_run[index] >= every:
                        last_run[index] = time.monotonic()
                        await asyncio.to_thread(chore)
            except Exception:  # one bad round must not stop the notifier; the outbox keeps the work
                log.exception("notifier round failed; retrying")
            await asyncio.sleep(interval)


async def main() -> None:
    telegram = TelegramSettings()
    bot = None
    if telegram.token is not None:
        bot = Bot(
            telegram.token.get_secret_value(),
            base_url=telegram.api_base_url,
            base_file_url=telegram.api_base_url.replace("/bot", "/file/bot"),
            # a slow answer is waited for: giving up early would make a second card likely
            request=HTTPXRequest(read_timeout=telegram.read_timeout, write_timeout=telegram.read_timeout),
        )
    else:
        log.warning("EMBUDO_TELEGRAM_TOKEN is not set: Telegram notifications wait in the outbox")
    if bot is not None:
        async with bot:
            await Notifier(get_settings(), bot).run()
    else:
        await Notifier(get_settings(), None).run()


if __name__ == "__main__":
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    asyncio.run(main())
