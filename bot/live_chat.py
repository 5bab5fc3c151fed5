"""Live takeover as the adapters (REST API, console, Telegram gateway) do it: crm_core's ownership change,
and Rasa's conversation made to follow it through Rasa's HTTP API (``--enable-api``).

Taking over appends Rasa's own ``pause`` event, so the Rasa server records the visitor's messages but
predicts nothing; handing back appends ``resume``. Both happen inside the CRM transaction: if Rasa refuses,
the change is rolled back and nothing changed. A rep's message is a ``bot`` event appended with
``execute_side_effects`` to the conversation's latest input channel: on the widget's socket.io channel Rasa
emits it at once to the room named by the session id. Its text travels in a custom payload, because Rasa's
socket.io output drops a text message's metadata, and the widget needs the rep's name.

When the bot must speak first — nobody took a waiting conversation in time (``give_up_waiting``, run by the
notifier), or a rep handed one back — Rasa runs one of the bot's actions in the conversation
(``POST /conversations/ID/execute``), its messages sent the same way.
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.exc import SQLAlchemyError

from bot.telegram.typing_notice import TypingNotSent, show_typing
from crm_core.chats import ownership
from crm_core.chats.ownership import Move, Ownership
from crm_core.chats.transcripts import REP_AUTHOR
from crm_core.db import unit_of_work
from crm_core.errors import CrmError, InvalidTransition
from crm_core.models import Owner

log = logging.getLogger(__name__)
TELEGRAM_PREFIX = "telegram-"  # the gateway's conversation ids (bot/telegram/gateway.py: sender_id)


class LiveChatSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EMBUDO_", env_file=".env", extra="ignore")

    rasa_api_url: str = "http://localhost:5005"  # Rasa's HTTP API (bound to 127.0.0.1 by make run)
    rasa_api_token: SecretStr | None = None  # Rasa's --auth-token, when it runs with one


class RasaUnavailable(CrmError):
    """Rasa did not accept the events; the CRM change was rolled back."""


@dataclass(frozen=True)
class SentMessage:
    sender_id: str
    rep_id: int
    rep_name: str
    text: str
    sent_at: datetime


class RasaApi:
    """The two calls of Rasa's HTTP API this feature needs: append events, optionally sending bot ones."""

    def __init__(self, url: str, token: str | None = None, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.http = httpx.Client(timeout=timeout)

    @classmethod
    def from_settings(cls, settings: LiveChatSettings | None = None) -> "RasaApi":
        settings = settings or LiveChatSettings()
        token = settings.rasa_api_token.get_secret_value() if settings.rasa_api_token else None
        return cls(settings.rasa_api_url, token)

    def append(self, sender_id: str, events: list[dict[str, Any]], *, send: bool = False) -> None:
        params = {"include_events": "NONE"}
        if send:  # deliver bot events over the channel the visitor last wrote on
            params |= {"output_channel": "latest", "execute_side_effects": "true"}
        if self.token:
            params["token"] = self.token
        url = f"{self.url}/conversations/{quote(sender_id, safe='')}/tracker/events"
        try:
            response = self.http.post(url, params=params, json=events)
        except httpx.HTTPError as error:
            raise RasaUnavailable(
                f"Rasa is unreachable ({error.__class__.__name__}): nothing changed."
            ) from None
        if not response.is_success:
            raise RasaUnavailable(f"Rasa refused the change (HTTP {response.status_code}): nothing changed.")

    def execute(self, sender_id: str, action: str) -> None:
        """Run one of the bot's actions in the conversation now, its messages sent over the channel the
        visitor last wrote on: how the bot speaks first (nobody joined, the rep handed back)."""
        params = {"include_events": "NONE", "output_channel": "latest"}
        if self.token:
            params["token"] = self.token
        url = f"{self.url}/conversations/{quote(sender_id, safe='')}/execute"
        try:
            response = self.http.post(url, params=params, json={"name": action})
        except httpx.HTTPError as error:
            raise RasaUnavailable(f"Rasa is unreachable ({error.__class__.__name__}).") from None
        if not response.is_success:
            raise RasaUnavailable(f"Rasa did not run {action} (HTTP {response.status_code}).")

    def person_typing(self, sender_id: str, rep_name: str) -> None:
        """Tell the visitor's widget that a person is writing (our socket.io channel's ``/typing``)."""
        params = {"token": self.token} if self.token else {}
        try:
            response = self.http.post(
                f"{self.url}/webhooks/socketio/typing",
                params=params,
                json={"sender_id": sender_id, "rep_name": rep_name},
            )
        except httpx.HTTPError as error:
            raise RasaUnavailable(f"Rasa is unreachable ({error.__class__.__name__}).") from None
        if not response.is_success:
            raise RasaUnavailable(f"Rasa refused the typing notice (HTTP {response.status_code}).")


# What the bot runs when it speaks first: nobody took a waiting conversation; a rep handed one back.
NOBODY_JOINED_ACTION = "action_nobody_joined"
RESUME_ACTION = "action_resume_after_person"


def rep_message_event(rep_id: int, rep_name: str, text: str) -> dict[str, Any]:
    """Rasa's ``bot`` event for a rep's message: the widget shows the name, transcripts the author."""
    return {
        "event": "bot",
        "data": {
            "custom": {"data": {"text": text, "metadata": {"author": REP_AUTHOR, "rep_name": rep_name}}}
        },
        "metadata": {"author": REP_AUTHOR, "rep_id": rep_id, "rep_name": rep_name},
    }


def _follow(rasa: RasaApi, sender_id: str, move: Move, by: str, rep_id: int | None) -> Ownership:
    """Change the owner and make Rasa follow, all or nothing: Rasa is told inside the CRM transaction,
    and told the opposite again if the CRM then fails to commit."""
    event, undo = ("pause", "resume") if move is Move.TAKE_OVER else ("resume", "pause")
    told_rasa = False
    try:
        with unit_of_work() as session:
            ownership.change(session, sender_id, move, rep_id=rep_id, by=by)
            rasa.append(sender_id, [{"event": event}])
            told_rasa = True
            return ownership.current(session, sender_id)
    except SQLAlchemyError:
        if told_rasa:
            rasa.append(sender_id, [{"event": undo}])
        raise


def take_over(rasa: RasaApi, sender_id: str, rep_id: int, by: str) -> Ownership:
    """``rep_id`` answers the visitor from now on; the bot is paused."""
    return _follow(rasa, sender_id, Move.TAKE_OVER, by, rep_id)


def hand_back(rasa: RasaApi, sender_id: str, by: str, rep_id: int | None = None) -> Ownership:
    """The bot answers again (``rep_id``, when given, must be the owner), and at once picks up where it makes
    sense: the qualification questions still unanswered. The hand-back stands even if Rasa cannot run that
    now; the bot then carries on at the visitor's next message."""
    state = _follow(rasa, sender_id, Move.HAND_BACK, by, rep_id)
    try:
        rasa.execute(sender_id, RESUME_ACTION)
    except RasaUnavailable as error:
        log.warning("conversation %s handed back, but the bot could not resume at once: %s", sender_id, error)
    return state


def give_up_waiting(rasa: RasaApi, sender_id: str, minutes: float) -> Ownership:
    """Nobody took the waiting conversation within ``minutes``: the bot owns it again and tells the visitor
    so, asking how to call them back (the lead keeps its rep and SLA). All or nothing, like a take-over:
    if Rasa cannot deliver the message, the conversation keeps waiting and this is tried again."""
    with unit_of_work() as session:
        by = f"nobody took it over within {minutes:g} min"
        ownership.change(session, sender_id, Move.GIVE_UP_WAITING, by=by)
        rasa.execute(sender_id, NOBODY_JOINED_ACTION)  # the action reads no CRM row: nothing waits on us
        return ownership.current(session, sender_id)


def owner_gone(rasa: RasaApi, sender_id: str, minutes: float) -> Ownership:
    """The rep who owns the conversation went off shift or away and the visitor has waited ``minutes``: the
    bot answers again (Rasa resumed) and says at once that nobody can join just now, asking how to call the
    visitor back (the lead keeps its rep). All or nothing: if Rasa refuses, the rep still owns it."""
    with unit_of_work() as session:
        state = ownership.current(session, sender_id)
        by = f"{state.rep_name or 'the rep'} went off shift; the visitor waited {minutes:g} min"
        ownership.change(session, sender_id, Move.OWNER_GONE, by=by)
        rasa.append(sender_id, [{"event": "resume"}])
        try:
            rasa.execute(sender_id, NOBODY_JOINED_ACTION)
        except RasaUnavailable:
            rasa.append(sender_id, [{"event": "pause"}])  # the rep keeps it; tried again next round
            raise
        return ownership.current(session, sender_id)


def send(rasa: RasaApi, sender_id: str, rep_id: int, text: str) -> SentMessage:
    """Deliver a rep's message to the visitor (the widget at once; Telegram through the gateway).

    The owner is checked and the message handed to Rasa under the ownership row's lock, so a
    hand-back cannot slip in between."""
    with unit_of_work() as session:
        rep, cleaned = ownership.writer(session, sender_id, rep_id, text)
        rasa.append(sender_id, [rep_message_event(rep_id, rep.name, cleaned)], send=True)
        return SentMessage(sender_id, rep_id, rep.name, cleaned, datetime.now(UTC))


def typing(rasa: RasaApi, sender_id: str, rep_id: int) -> None:
    """The owning rep is writing: the visitor's widget shows "NAME is writing…" for a few seconds. Nothing
    is recorded; a rep who does not own the conversation is refused like a message would be."""
    with unit_of_work() as session:
        state = ownership.current(session, sender_id)
    if state.owner is not Owner.REP or state.rep_id != rep_id or not state.rep_name:
        raise InvalidTransition(f"Rep {rep_id} does not answer conversation {sender_id}: take it over first.")
    chat = telegram_chat(sender_id)
    if chat is None:
        rasa.person_typing(sender_id, state.rep_name)
        return
    try:  # a Telegram visitor sees the bot's "typing…": the gateway's chat is the bot's
        show_typing(chat)
    except TypingNotSent as error:
        raise RasaUnavailable(f"The visitor's Telegram chat was not told: {error}.") from None


def telegram_chat(sender_id: str) -> int | None:
    """The Telegram chat of a conversation the gateway relays (``telegram-<chat id>``), else None."""
    rest = sender_id.removeprefix(TELEGRAM_PREFIX)
    return int(rest) if sender_id.startswith(TELEGRAM_PREFIX) and rest.lstrip("-").isdigit() else None
