"""The Telegram gateway: one Application whose handlers relay chats to Rasa and render the replies.

Run with ``python -m bot.telegram.gateway``: long polling by default, a webhook protected by a
secret token when ``EMBUDO_TELEGRAM_WEBHOOK_URL`` is set.

Live takeover: a rep's "Take over" on a lead card makes them the one answering that lead's conversation;
while they own one, their text in this chat goes to the visitor (``bot.live_chat.send``) and ``/handback``
gives it back to the bot. A relay task follows the transcript (the CRM's ``messages``) and sends each rep
line of a Telegram conversation (and each line the bot said on its own initiative: nobody joined in time,
the rep handed back) to the visitor's chat, and each visitor line of a conversation a rep owns
to that rep's chat, once each and in order (its position is kept in ``ingest_cursors``).
"""

import asyncio
import logging
from collections import OrderedDict
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from telegram import (
    Bot,
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
    User,
)
from telegram.constants import ChatAction
from telegram.error import NetworkError, RetryAfter
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot import live_chat
from bot.live_chat import LiveChatSettings, RasaApi
from bot.notify import lead_buttons
from bot.telegram.delivery import BRIEFLY, ONCE, Retry, deliver, maybe_delivered
from bot.telegram.ordering import PerChatUpdates
from bot.telegram.pending_replies import PendingReplies, PendingReply
from bot.telegram.rasa_client import RasaRelay, RasaUnavailable
from bot.telegram.settings import TelegramSettings
from bot.telegram.texts import LANGUAGES, text
from crm_core.chats import ownership
from crm_core.db import unit_of_work
from crm_core.delivery.notifications import rep_for_telegram_chat
from crm_core.errors import CrmError
from crm_core.models import IngestCursor, MessageRole
from crm_core.sales.lifecycle import accept, pass_lead

log = logging.getLogger(__name__)

CALLBACK_DATA_LIMIT = 64  # bytes, set by the Bot API
SENDER_PREFIX = live_chat.TELEGRAM_PREFIX
RELAY_CURSOR = "telegram-live-relay"  # ingest_cursors row: the last message id relayed
RELAY_SECONDS = 0.5
Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove


def sender_id(chat_id: int) -> str:
    """Rasa's conversation id for a Telegram chat."""
    return f"{SENDER_PREFIX}{chat_id}"


def chat_of(sender: str) -> int | None:
    """The Telegram chat of a conversation id, or None for other channels."""
    return live_chat.telegram_chat(sender)


class Gateway:
    def __init__(self, settings: TelegramSettings, relay: RasaRelay, rasa_api: RasaApi | None = None) -> None:
        self.settings = settings
        self.relay = relay
        self.rasa_api = rasa_api or RasaApi(settings.rasa_url, _rasa_api_token())
        self._long_payloads: OrderedDict[str, str] = OrderedDict()
        # Per chat, the id of the visitor's latest message relayed to Rasa (None after a button or a command):
        # only an edit of that message can still be applied as a correction.
        self._latest_message: OrderedDict[int, int | None] = OrderedDict()
        self._live_relay: asyncio.Task[None] | None = None
        self._resend: asyncio.Task[None] | None = None
        self.pending = PendingReplies(settings.pending_dir)
        # What the visitor or a rep must get is tried until it is sent; extras (typing, button acks) briefly.
        self.retry = Retry(
            attempts=None,
            first_backoff=settings.retry_first_seconds,
            cap=settings.retry_cap_seconds,
            alert_after=settings.alert_after_seconds,
        )

    def build(self) -> Application:  # type: ignore[type-arg]
        if self.settings.token is None:
            raise SystemExit("EMBUDO_TELEGRAM_TOKEN is not set: get one from @BotFather")
        application = (
            ApplicationBuilder()
            .token(self.settings.token.get_secret_value())
            .base_url(self.settings.api_base_url)
            .base_file_url(self.settings.api_base_url.replace("/bot", "/file/bot"))
            .read_timeout(self.settings.read_timeout)
            .write_timeout(self.settings.read_timeout)
            .concurrent_updates(PerChatUpdates())
            .post_init(self._post_init)
            .post_shutdown(self._post_shutdown)
            .build()
        )
        # An edit of an earlier message is never read as the next answer; it is answered first.
        application.add_handler(MessageHandler(filters.UpdateType.EDITED, self.on_edited))
        application.add_handler(CommandHandler("start", self.on_start))
        application.add_handler(CommandHandler("help", self.on_help))
        application.add_handler(CommandHandler("language", self.on_language))
        application.add_handler(CommandHandler("cancel", self.on_cancel))
        application.add_handler(CommandHandler("handback", self.on_handback))
        application.add_handler(CallbackQueryHandler(self.on_button))
        application.add_handler(MessageHandler(filters.CONTACT, self.on_contact))
        application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, self.on_text))
        application.add_handler(MessageHandler(filters.UpdateType.MESSAGE & ~filters.COMMAND, self.on_media))
        application.add_error_handler(self.on_error)
        return application

    async def _post_init(self, application: Application) -> None:  # type: ignore[type-arg]
        commands = [
            BotCommand("start", "Start talking"),
            BotCommand("help", "What I can do"),
            BotCommand("language", "Switch language"),
            BotCommand("cancel", "Stop the current questions"),
        ]
        await deliver(lambda: application.bot.set_my_commands(commands), "set commands", BRIEFLY)
        self._live_relay = asyncio.create_task(self.relay_live_lines(application))
        self._resend = asyncio.create_task(self.resend_left_over(application.bot))

    async def _post_shutdown(self, _application: Application) -> None:  # type: ignore[type-arg]
        for task in (self._live_relay, self._resend):
            if task is not None:
                task.cancel()
        await self.relay.close()

    # --- handlers -------------------------------------------------------------------------

    async def on_start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """``/start PAYLOAD``: the deep-link payload (t.me/bot?start=PAYLOAD) is the lead's source."""
        source = context.args[0] if context.args else "telegram"
        await self.relay_to_rasa(update, context, "/greet", {"source": source})

    async def on_help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.effective_chat and update.effective_user:
            await self.say(
                context, update.effective_chat.id, text("help", update.effective_user.language_code)
            )

    async def on_language(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if not (update.effective_chat and update.effective_user):
            return
        buttons = [
            [InlineKeyboardButton(name, callback_data=f"lang:{code}")] for code, name in LANGUAGES.items()
        ]
        await self.say(
            context,
            update.effective_chat.id,
            text("choose_language", update.effective_user.language_code),
            InlineKeyboardMarkup(buttons),
        )

    async def on_cancel(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self.relay_to_rasa(update, context, "/stop")

    async def on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message and message.text:
            await self.take_text(update, context, message.text)

    async def take_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE, written: str) -> None:
        """What someone wrote: a rep's to the visitor they answer, anyone else's to Rasa."""
        chat = update.effective_chat
        if chat is None:
            return
        rep_and_conversation = await asyncio.to_thread(answering, chat.id)
        if rep_and_conversation:  # a rep who took a conversation over writes to its visitor
            outcome = await asyncio.to_thread(self.write_as_rep, *rep_and_conversation, written)
            if outcome:
                await self.say(context, chat.id, outcome)
            return
        await self.relay_to_rasa(update, context, written)

    async def on_edited(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """An edit of the visitor's latest message goes to Rasa as a correction of the answer it was
        (``edit_of``: actions/edits.py); an edit of anything older is not read, and the visitor is asked
        to write it anew: the dialogue has moved on since."""
        message, chat, user = update.effective_message, update.effective_chat, update.effective_user
        if not (message and chat and user):
            return
        written = message.text or message.caption
        if written and written.strip() and self._latest_message.get(chat.id) == message.message_id:
            await self.relay_to_rasa(update, context, written, {"edit_of": message.message_id})
            return
        await self.say(context, chat.id, text("edited", user.language_code))

    async def on_media(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A photo, sticker, voice note, location, document …: a caption is read as text, else a polite
        word that only text is read."""
        message, chat, user = update.effective_message, update.effective_chat, update.effective_user
        if not (message and chat and user):
            return
        if message.caption and message.caption.strip():
            await self.take_text(update, context, message.caption)
            return
        await self.say(context, chat.id, text("media", user.language_code))

    async def on_handback(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """``/handback``: the rep gives the conversation they answer back to the bot."""
        if update.effective_chat:
            outcome = await asyncio.to_thread(self.hand_back_as_rep, update.effective_chat.id)
            await self.say(context, update.effective_chat.id, outcome)

    async def on_contact(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A shared contact is the visitor's phone number; only their own contact is accepted."""
        message = update.effective_message
        if message is None or message.contact is None or update.effective_user is None:
            return
        if message.contact.user_id not in (None, update.effective_user.id):
            return
        await self.relay_to_rasa(
            update, context, message.contact.phone_number, {"contact_phone": message.contact.phone_number}
        )

    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None or query.data is None:
            return
        lead_action = lead_buttons.parse(query.data)
        if lead_action is not None and update.effective_chat is not None:
            await self.on_lead_button(update, *lead_action)
            return
        await deliver(query.answer, "answer callback", BRIEFLY)
        if query.message is not None:
            await deliver(lambda: query.edit_message_reply_markup(None), "remove buttons", BRIEFLY)
        if query.data.startswith("lang:"):
            code = query.data.removeprefix("lang:")
            await self.relay_to_rasa(
                update, context, f'/change_language{{"language": "{code}"}}', {"language": code}
            )
            return
        await self.relay_to_rasa(update, context, self._long_payloads.get(query.data, query.data))

    async def on_lead_button(self, update: Update, action: str, lead_id: int) -> None:
        """A rep's Accept or Pass on a lead notification; safe to press twice or late."""
        query, chat = update.callback_query, update.effective_chat
        assert query is not None and chat is not None
        if action == "takeover":
            outcome = await asyncio.to_thread(self.take_over_lead, chat.id, lead_id)
            await deliver(lambda: query.answer(outcome[:200]), "answer take-over button", BRIEFLY)
            await self.say_to(query.get_bot(), chat.id, outcome)
            return
        outcome = await asyncio.to_thread(act_on_lead, chat.id, action, lead_id)
        await deliver(lambda: query.answer(outcome), "answer lead button", BRIEFLY)
        original = query.message.text if isinstance(query.message, Message) and query.message.text else ""
        await deliver(
            lambda: query.edit_message_text(f"{original}\n\n{outcome}".strip(), reply_markup=None),
            "record the rep's choice",
            self.retry,
        )

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("error while handling an update: %s", context.error, exc_info=context.error)

    # --- relaying -------------------------------------------------------------------------

    async def relay_to_rasa(
        self,
        update: Update,
        context: ContextTypes.DEFAULT_TYPE,
        message: str,
        extra_metadata: dict[str, Any] | None = None,
    ) -> None:
        chat, user = update.effective_chat, update.effective_user
        if chat is None or user is None:
            return
        self._remember_latest(chat.id, update)
        if update.effective_message is not None and update.callback_query is None:
            extra_metadata = {
                "telegram_message_id": update.effective_message.message_id,
                **(extra_metadata or {}),
            }
        await deliver(lambda: context.bot.send_chat_action(chat.id, ChatAction.TYPING), "typing", ONCE)
        try:
            replies = await self.relay.send(sender_id(chat.id), message, self.metadata(user, extra_metadata))
        except RasaUnavailable as error:
            log.error("Rasa unavailable for chat %s: %s", chat.id, error)
            await self.say(context, chat.id, text("unavailable", user.language_code))
            return
        # The whole turn is kept on disk before its first message goes out: a restart sends what is left.
        turn = [
            (self.keep(chat.id, line, markup), markup, image)
            for line, markup, image in map(self.render, replies)
        ]
        for kept, markup, image in turn:
            if kept is not None:
                await self.send_kept(context.bot, kept, markup)
            if image:
                await self.send_photo(context.bot, chat.id, image)

    def _remember_latest(self, chat_id: int, update: Update) -> None:
        """A text (or caption) the visitor wrote is their latest message; a button press or a command is not
        one an edit could correct."""
        message = update.effective_message
        written = message.text or message.caption if message and update.callback_query is None else None
        is_text = bool(written) and not str(written).startswith("/")
        self._latest_message[chat_id] = message.message_id if message and is_text else None
        self._latest_message.move_to_end(chat_id)
        while len(self._latest_message) > 10_000:
            self._latest_message.popitem(last=False)

    @staticmethod
    def metadata(user: User, extra: dict[str, Any] | None) -> dict[str, Any]:
        return {
            "channel": "telegram",
            "telegram_user_id": user.id,
            "language_code": user.language_code,
            **(extra or {}),
        }

    def render(self, reply: dict[str, Any]) -> tuple[str | None, Markup | None, str | None]:
        """One Rasa reply as one Telegram message (text, markup, image): buttons become an inline keyboard, a
        ``{"custom": {"request_contact": LABEL}}`` reply asks for the visitor's phone number."""
        custom = reply.get("custom") or {}
        markup: Markup | None = None
        if reply.get("buttons"):
            markup = InlineKeyboardMarkup(
                [[InlineKeyboardButton(b["title"], callback_data=self._callback_data(b["payload"]))]
                 for b in reply["buttons"]]
            )  # fmt: skip
        elif isinstance(custom, dict) and custom.get("request_contact"):
            button = KeyboardButton(str(custom["request_contact"]), request_contact=True)
            markup = ReplyKeyboardMarkup([[button]], one_time_keyboard=True, resize_keyboard=True)
        message = reply.get("text") or (custom.get("text") if isinstance(custom, dict) else None)
        image = reply.get("image")
        return (str(message) if message else None), markup, (str(image) if image else None)

    def _callback_data(self, payload: str) -> str:
        """Payloads over Telegram's 64-byte limit travel as a short key (the newest 1,000 are kept)."""
        if len(payload.encode()) <= CALLBACK_DATA_LIMIT:
            return payload
        key = f"p:{len(self._long_payloads)}:{abs(hash(payload)) % 10**8}"
        self._long_payloads[key] = payload
        while len(self._long_payloads) > 1000:
            self._long_payloads.popitem(last=False)
        return key

    async def say(
        self, context: ContextTypes.DEFAULT_TYPE, chat_id: int, message: str, markup: Markup | None = None
    ) -> None:
        await self.say_to(context.bot, chat_id, message, markup)

    async def say_to(self, bot: Bot, chat_id: int, message: str, markup: Markup | None = None) -> Any:
        """Sends a message until the Bot API takes it, kept on disk meanwhile (a restart sends it)."""
        kept = self.keep(chat_id, message, markup)
        assert kept is not None
        return await self.send_kept(bot, kept, markup)

    async def send_photo(self, bot: Bot, chat_id: int, image: str) -> None:
        await deliver(lambda: bot.send_photo(chat_id, image), f"photo to {chat_id}", self.retry)

    def keep(self, chat_id: int, message: str | None, markup: Markup | None) -> PendingReply | None:
        if not message:
            return None
        kind = type(markup).__name__ if markup else None
        return self.pending.add(chat_id, message, markup.to_dict() if markup else None, kind)

    async def send_kept(self, bot: Bot, kept: PendingReply, markup: Markup | None) -> Any:
        async def attempt() -> Message:
            self.pending.sending(kept)
            try:
                return await bot.send_message(kept.chat_id, kept.text, reply_markup=markup)
            except (RetryAfter, NetworkError) as error:
                if not (isinstance(error, NetworkError) and maybe_delivered(error)):
                    self.pending.not_taken(kept)  # Telegram answered: it did not take it
                raise

        sent = await deliver(attempt, f"message to chat {kept.chat_id}", self.retry)
        self.pending.done(kept)  # not when cancelled (the gateway stopping): then the next start sends it
        return sent

    async def resend_left_over(self, bot: Bot) -> None:
        """At start: what a stopped gateway had not sent yet, oldest first (see pending_replies)."""
        for kept in await asyncio.to_thread(self.pending.left_over):
            log.info("sending a message to chat %s kept from before the restart", kept.chat_id)
            await self.send_kept(bot, kept, _markup_of(kept))

    # --- live takeover --------------------------------------------------------------------

    def take_over_lead(self, chat_id: int, lead_id: int) -> str:
        """The rep behind ``chat_id`` takes over the live conversation of lead ``lead_id``."""
        with unit_of_work() as session:
            rep = rep_for_telegram_chat(session, chat_id)
            if rep is None:
                return "This chat is not linked to an active rep: nothing changed."
            rep_id = rep.id
            try:
                sender = ownership.conversation_of_lead(session, lead_id)
            except CrmError as error:
                return f"Nothing changed: {error}"
        try:
            live_chat.take_over(self.rasa_api, sender, rep_id, by=f"telegram: rep {rep_id}")
        except CrmError as error:
            return f"Nothing changed: {error}"
        return (
            f"💬 You are answering lead #{lead_id}'s chat; the bot is paused. What you write here goes to "
            "the visitor, their messages come here. /handback gives the chat back to the bot."
        )

    def write_as_rep(self, rep_id: int, sender: str, text: str) -> str | None:
        """A rep's text to the visitor they answer; returns a refusal to show the rep, or None."""
        try:
            live_chat.send(self.rasa_api, sender, rep_id, text)
        except CrmError as error:
            return f"Not sent: {error}"
        return None

    def hand_back_as_rep(self, chat_id: int) -> str:
        found = answering(chat_id)
        if found is None:
            return "You are not answering a chat: nothing to hand back."
        rep_id, sender = found
        try:
            live_chat.hand_back(self.rasa_api, sender, by=f"telegram: rep {rep_id}", rep_id=rep_id)
        except CrmError as error:
            return f"Nothing changed: {error}"
        return "↩️ The bot answers the visitor again."

    async def relay_live_lines(self, application: Application) -> None:  # type: ignore[type-arg]
        """Forever: send the transcript's new rep lines to Telegram visitors, visitor lines to their rep."""
        pause = RELAY_SECONDS
        while True:
            try:
                lines = await asyncio.to_thread(lines_to_relay)
                for line in lines:
                    await self.relay_line(application, line)
                    await asyncio.to_thread(save_relay_cursor, line.message_id)
                pause = RELAY_SECONDS
            except SQLAlchemyError as error:  # the CRM database is unreachable or not migrated yet
                log.warning("live relay paused %.0f s: %s", pause, error.__class__.__name__)
                pause = min(pause * 2, 30.0)
            await asyncio.sleep(pause)

    async def relay_line(self, application: Application, line: ownership.LiveLine) -> None:  # type: ignore[type-arg]
        if line.author is MessageRole.BOT:  # said on the bot's own initiative: no reply of ours carried it
            visitor_chat = chat_of(line.sender_id)
            if visitor_chat is not None:
                await self.say_to(application.bot, visitor_chat, line.text)
        elif line.author is MessageRole.REP:
            visitor_chat = chat_of(line.sender_id)
            if visitor_chat is not None:
                await self.say_to(
                    application.bot, visitor_chat, f"👤 {line.rep_name or 'Our team'}: {line.text}"
                )
        elif line.rep_chat_id is not None:
            await self.say_to(
                application.bot, line.rep_chat_id, f"💬 Visitor ({line.sender_id}): {line.text}"
            )


MARKUPS: dict[str, type[Markup]] = {
    cls.__name__: cls for cls in (InlineKeyboardMarkup, ReplyKeyboardMarkup, ReplyKeyboardRemove)
}


def _markup_of(kept: PendingReply) -> Markup | None:
    kind = MARKUPS.get(kept.markup_kind or "")
    return kind.de_json(kept.markup, None) if kind and kept.markup else None


def _rasa_api_token() -> str | None:
    token = LiveChatSettings().rasa_api_token
    return token.get_secret_value() if token else None


def answering(chat_id: int) -> tuple[int, str] | None:
    """(rep id, conversation) when the chat is a rep's who is answering a conversation now. Without a
    CRM database the chat is a visitor's: the bot keeps working."""
    try:
        with unit_of_work() as session:
            rep = rep_for_telegram_chat(session, chat_id)
            owned = ownership.owned_by(session, rep.id) if rep else []
            return (rep.id, owned[0]) if rep and owned else None
    except SQLAlchemyError as error:
        log.warning("could not check whether chat %s is a rep's: %s", chat_id, error.__class__.__name__)
        return None


def lines_to_relay() -> list[ownership.LiveLine]:
    """The lines after where the relay stopped (a first start begins at the newest message)."""
    with unit_of_work() as session:
        cursor = session.get(IngestCursor, RELAY_CURSOR)
        if cursor is None:
            cursor = IngestCursor(source=RELAY_CURSOR, last_event_id=ownership.newest_message_id(session))
            session.add(cursor)
        return ownership.lines_to_relay(session, cursor.last_event_id)


def save_relay_cursor(message_id: int) -> None:
    with unit_of_work() as session:
        cursor = session.get(IngestCursor, RELAY_CURSOR) or IngestCursor(source=RELAY_CURSOR)
        cursor.last_event_id = message_id
        session.add(cursor)


def act_on_lead(chat_id: int, action: str, lead_id: int) -> str:
    """Accept or pass ``lead_id`` for the rep behind ``chat_id``; returns what happened, in words."""
    with unit_of_work() as session:
        rep = rep_for_telegram_chat(session, chat_id)
        if rep is None:
            return "This chat is not linked to an active rep: nothing changed."
        session.info["author"] = f"rep {rep.name} (Telegram)"  # the history's author of what follows
        try:
            if action == "accept":
                accept(session, lead_id, rep.id)
                return f"✅ You accepted lead #{lead_id}."
            new_owner = pass_lead(session, lead_id, rep.id)
        except CrmError as error:
            return f"Nothing changed: {error}"
    where = f"to {new_owner.name}" if new_owner else "to the queue"
    return f"↪️ You passed lead #{lead_id}; it went {where}."


def run(settings: TelegramSettings | None = None) -> None:
    settings = settings or TelegramSettings()
    settings.check()  # a webhook without its secret, or no way into Rasa: refuse to start
    assert settings.gateway_token is not None
    relay = RasaRelay(settings.rasa_url, settings.gateway_token.get_secret_value())
    application = Gateway(settings, relay).build()
    if settings.webhook_url and settings.webhook_secret:
        application.run_webhook(
            listen=settings.webhook_listen,
            port=settings.webhook_port,
            url_path="telegram",
            webhook_url=settings.webhook_url,
            secret_token=settings.webhook_secret.get_secret_value(),
            allowed_updates=Update.ALL_TYPES,
            bootstrap_retries=-1,
        )
    else:
        # bootstrap_retries=-1: started during a Bot API outage, the gateway waits for it instead of exiting
        application.run_polling(
            allowed_updates=Update.ALL_TYPES, timeout=int(settings.poll_timeout), bootstrap_retries=-1
        )


if __name__ == "__main__":
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    run()
