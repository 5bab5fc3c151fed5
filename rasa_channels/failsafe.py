"""Rasa's REST and socket.io channels, with our additions: a turn that fails opens the conversation to people;
the socket.io channel also refuses origins ``EMBUDO_ALLOWED_ORIGINS`` does not name, and tells the widget
when a person is writing (``/webhooks/socketio/typing``).

Rasa 3.6 treats an action server that is unreachable or answers 500 as a lost action: the processor logs
the exception and carries on, and the visitor usually gets nothing at all (``RemoteAction.run`` raises,
``MessageProcessor._run_action`` drops its events). These channels watch each visitor turn; when a custom
action failed, when the bot said it could not save the visitor's details (our actions' reply to a CRM
failure), or when a turn the bot owns produced no reply, they answer with a clear message that offers a
person, recorded in the conversation as a bot message marked ``embudo: failed_turn``. The transcript copier
(``crm_core.transcripts``) turns that mark into "waiting for a person" in the CRM, where reps can take the
conversation over. A paused conversation (a person owns it) is left alone: silence is right there.

This module runs inside Rasa's environment (Python 3.10), like ``nlu_components``; credentials.yml names
the two classes in place of ``rest`` and ``socketio``; they keep Rasa's names, URLs and settings.
"""

import contextvars
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.rest import RestInput
from rasa.core.channels.socketio import SocketIOInput, SocketIOOutput
from rasa.shared.core.events import BotUttered
from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from rasa_channels.wording import CRM_FAILURE_RESPONSES, FAILED_TURN, KEPT, OFFER, PERSON_TYPING_EVT

log = logging.getLogger(__name__)


@dataclass
class Turn:
    replies: int = 0
    failed: bool = False
    said: list[str] = field(default_factory=list)  # the responses (utter_action) the bot gave


_turn: contextvars.ContextVar[Turn | None] = contextvars.ContextVar("embudo_turn", default=None)


class _FailedActions(logging.Handler):
    """Marks the current turn failed when Rasa's processor logs a lost action (an exception it caught)."""

    def emit(self, record: logging.LogRecord) -> None:
        turn = _turn.get()
        if turn is not None and record.levelno >= logging.ERROR and record.exc_info:
            turn.failed = True


logging.getLogger("rasa.core.processor").addHandler(_FailedActions(level=logging.ERROR))


def _agent() -> Any:
    for app in Sanic._app_registry.values():
        agent = getattr(app.ctx, "agent", None)
        if agent is not None:
            return agent
    raise RuntimeError("no Rasa agent in this process")


def _language(tracker: Any) -> str:
    slot = tracker.get_slot("language")
    if slot in OFFER:
        return str(slot)
    for event in reversed(tracker.events):  # before the language slot is set: what the channel said
        metadata = getattr(event, "metadata", None) or {}
        hint = metadata.get("locale") or metadata.get("language_code")
        if getattr(event, "type_name", "") == "user" and hint:
            return "es" if str(hint).lower().startswith("es") else "en"
    return "en"


def _offered_last(tracker: Any) -> bool:
    """Whether the latest bot message before the visitor's latest one was already the offer."""
    seen_user = False
    for event in reversed(tracker.events):
        if event.type_name == "user":
            if seen_user:
                return False
            seen_user = True
        elif event.type_name == "bot" and seen_user:
            return (event.metadata or {}).get("embudo") == FAILED_TURN
    return False


async def _offer_people(message: UserMessage) -> None:
    agent = _agent()
    async with agent.lock_store.lock(message.sender_id):
        tracker = await agent.processor.get_tracker(message.sender_id)
        if tracker.is_paused():
            return  # a person owns the conversation
        language = _language(tracker)
        text = (KEPT if _offered_last(tracker) else OFFER)[language]
        tracker.update(BotUttered(text, metadata={"embudo": FAILED_TURN}))
        await agent.processor.save_tracker(tracker)
    output = message.output_channel
    if isinstance(output, SocketIOOutput):  # a custom payload keeps the metadata (the widget's "waiting")
        await output.send_custom_json(
            message.sender_id, {"data": {"text": text, "metadata": {"embudo": FAILED_TURN}}}
        )
    else:
        await output.send_text_message(message.sender_id, text)


def _failsafe(on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Callable[[UserMessage], Any]:
    async def handle(message: UserMessage) -> None:
        turn = Turn()
        token = _turn.set(turn)
        output = message.output_channel
        send_response = output.send_response

        async def counted(recipient_id: str, response: dict[str, Any]) -> None:
            turn.replies += 1
            turn.said.append(str(response.get("utter_action") or ""))
            await send_response(recipient_id, response)

        output.send_response = counted
        try:
            await on_new_message(message)
        except Exception:
            log.exception("the turn of %s failed", message.sender_id)
            turn.failed = True
        finally:
            _turn.reset(token)
            output.send_response = send_response
        if turn.failed or not turn.replies or CRM_FAILURE_RESPONSES.intersection(turn.said):
            try:
                await _offer_people(message)
            except Exception:
                log.exception("could not offer a person to %s", message.sender_id)

    return handle


class FailsafeRest(RestInput):
    """Rasa's REST channel (``/webhooks/rest/webhook``), used by the Telegram gateway and REST clients."""

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        return super().blueprint(_failsafe(on_new_message))


class FailsafeSocketIO(SocketIOInput):
    """Rasa's socket.io channel (``/socket.io``), used by the widget and standard web-chat clients; it
    also refuses pages of other origins when ``EMBUDO_ALLOWED_ORIGINS`` names some."""

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        blueprint = super().blueprint(_failsafe(on_new_message))
        origins = os.environ.get("EMBUDO_ALLOWED_ORIGINS", "*").split()
        if origins and "*" not in origins:
            _only_from(self.sio.eio, origins)
        sio = self.sio

        @blueprint.route("/typing", methods=["POST"])
        async def person_typing(request: Request) -> HTTPResponse:
            """A person who owns the conversation is writing (``bot/live_chat.py``): the widget says so. Only
            an event to the visitor's socket.io room, nothing recorded; standard clients ignore the event."""
            if not _from_embudo(request):
                return response.json({"error": "not allowed"}, status=403)
            body = request.json if isinstance(request.json, dict) else {}
            sender_id, rep_name = body.get("sender_id"), body.get("rep_name")
            if not (isinstance(sender_id, str) and sender_id and isinstance(rep_name, str)):
                return response.json({"error": "sender_id and rep_name are required"}, status=400)
            await sio.emit(PERSON_TYPING_EVT, {"rep_name": rep_name[:200]}, room=sender_id)
            return response.json({"ok": True})

        return blueprint


def _from_embudo(request: Request) -> bool:
    """The web app's call: with ``EMBUDO_RASA_API_TOKEN`` set, it must carry that token; without it, only a
    direct call from this machine is accepted (no proxy headers)."""
    token = os.environ.get("EMBUDO_RASA_API_TOKEN")
    if token:
        return bool(request.args.get("token") == token)
    proxied = any(name in request.headers for name in ("x-forwarded-for", "forwarded", "x-real-ip"))
    return not proxied and request.ip in ("127.0.0.1", "::1")


def _only_from(engine: Any, origins: list[str]) -> None:
    """Rasa's socket.io server checks no origin (``cors_allowed_origins=[]``: CORS is left to Rasa's
    ``--cors``, which browsers enforce on HTTP only, not on a WebSocket). Here Engine.IO refuses every other
    origin, WebSocket and polling alike; ``--cors`` (Sanic-CORS) still writes the CORS headers, once."""
    engine.cors_allowed_origins = origins
    engine._cors_headers = lambda environ: []
