"""Rasa's REST and socket.io channels, with our additions: each message passes ``guard.py`` first (sender
id, length, rate; refused with a 4xx on REST, a polite reply on socket.io, nothing stored), a conversation
stays with the channel it started on, and a turn that fails opens the conversation to people; the
socket.io channel also refuses origins ``EMBUDO_WIDGET_ORIGINS`` does not name, lets a socket write only
into the session it was confirmed, and tells the widget when a person is writing
(``/webhooks/socketio/typing``).

**One channel per conversation.** Rasa keeps one tracker per sender id, whatever channel a message came
through, so a REST client naming a widget's session id (or ``telegram-…``) would write into that visitor's
conversation: greeted by their name, able to change their e-mail. Here a conversation belongs to the
channel of its first message (the tracker says, remembered once known); the ``telegram-`` namespace
belongs to the gateway's channel (``gateway.py``) from the start, and a client can no longer name the
channel itself (Rasa's REST channel reads ``input_channel`` from the request body).

Rasa 3.6 treats an action server that is unreachable or answers 500 as a lost action: the processor logs
the exception and carries on, and the visitor usually gets nothing at all (``RemoteAction.run`` raises,
``MessageProcessor._run_action`` drops its events). These channels watch each visitor turn; when a custom
action failed, when the bot said it could not save the visitor's details (our actions' reply to a CRM
failure), or when a turn the bot owns produced no reply, they answer with a clear message that offers a
person, recorded in the conversation as a bot message marked ``embudo: failed_turn``. The transcript copier
(``crm_core.chats.transcripts``) turns that mark into "waiting for a person" in the CRM, where reps can take
the conversation over. A paused conversation (a person owns it) is left alone: silence is right there.

This module runs inside Rasa's environment (Python 3.10), like ``nlu_components``; credentials.yml names
the two classes in place of ``rest`` and ``socketio``; they keep Rasa's names, URLs and settings.
"""

import contextvars
import logging
import os
import uuid
from collections import OrderedDict
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

from rasa_channels import action_calls  # noqa: F401  (the domain sent once, the answers checked faster)
from rasa_channels.guard import (
    BAD_REQUEST,
    MAX_TRACKED_KEYS,
    OTHER_CHANNEL,
    Guard,
    Refusal,
    is_empty,
    language_of,
    metadata_of,
    owner_of,
)
from rasa_channels.understanding import turn_in_progress, understand
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
            with turn_in_progress():
                await understand(_agent(), message)
                await on_new_message(message)
        except Exception:
            log.exception("the turn of %s failed on %r", message.sender_id, (message.text or "")[:100])
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


class ConversationChannels:
    """Which channel each conversation belongs to: the one its first message came through. Once known it
    never changes, so it is remembered (the longest unused forgotten first); otherwise the tracker says."""

    def __init__(self) -> None:
        self._known: OrderedDict[str, str] = OrderedDict()

    async def elsewhere(self, sender_id: str, channel: str) -> bool:
        """Whether the conversation belongs to another channel; if it belongs to none yet, it is
        ``channel``'s from now on."""
        if owner_of(sender_id) is not None:
            return owner_of(sender_id) != channel
        known = self._known.get(sender_id)
        if known is None:
            tracker = await _agent().tracker_store.retrieve(sender_id)
            first = next((e for e in tracker.events if e.type_name == "user"), None) if tracker else None
            known = (first.input_channel if first is not None else None) or channel
        self._known[sender_id] = known
        self._known.move_to_end(sender_id)
        while len(self._known) > MAX_TRACKED_KEYS:
            self._known.popitem(last=False)
        return known != channel


_channels = ConversationChannels()  # one per Rasa process, shared by every channel in it


def _client_address(request: Request) -> str:
    """The client's address: the peer's, or what a trusted proxy said (Sanic's ``SANIC_PROXIES_COUNT`` /
    ``SANIC_REAL_IP_HEADER``, read from the environment)."""
    return str(request.remote_addr or request.ip)


class FailsafeRest(RestInput):
    """Rasa's REST channel (``/webhooks/rest/webhook``) for REST clients: a refused message gets a 4xx
    whose body says why (``error``) and what to tell the visitor (``message``), and nothing is stored."""

    def _extract_input_channel(self, request: Request) -> str:
        return self.name()  # never the body's ``input_channel``: a client does not choose its channel

    def authorised(self, request: Request) -> bool:
        return True

    def address(self, request: Request) -> str | None:
        return _client_address(request)

    def sender_refusal(self, sender_id: str) -> Refusal | None:
        return None  # the gateway's channel narrows the sender ids it takes

    async def refusal(self, request: Request, guard: Guard) -> tuple[Refusal | None, str]:
        """Why this webhook call is refused (or None), and the language to say it in."""
        try:
            body = request.json
        except Exception:  # Sanic raises its own InvalidUsage on a body that is not JSON
            return BAD_REQUEST, language_of(None, request.headers.get("accept-language"))
        body = body if isinstance(body, dict) else {}
        metadata = body.get("metadata")
        language = language_of(metadata, request.headers.get("accept-language"))
        sender, text = body.get("sender"), body.get("message")
        refused = guard.shape_refusal(sender, text, metadata) if body else BAD_REQUEST
        refused = refused or self.sender_refusal(str(sender))
        if refused is None and await _channels.elsewhere(str(sender), self.name()):
            refused = OTHER_CHANNEL
        if refused is None and is_empty(text):
            return None, language  # nothing to pass on, nor to count
        if refused is None:
            refused = guard.rate_refusal(str(sender), self.address(request))
        return refused, language

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        blueprint = super().blueprint(_failsafe(on_new_message))
        guard = Guard.from_env(self.name())

        @blueprint.middleware("request")
        async def refuse(request: Request) -> HTTPResponse | None:
            if request.method != "POST" or not request.path.endswith("/webhook"):
                return None
            if not self.authorised(request):
                return response.json({"error": "unauthorised"}, status=401)
            refused, language = await self.refusal(request, guard)
            if refused is None:
                return response.json([]) if is_empty(request.json.get("message")) else None
            log.info("%s refused a message: %s", self.name(), refused.reason)
            return response.json(refused.body(language), status=refused.status)

        return blueprint


class FailsafeSocketIO(SocketIOInput):
    """Rasa's socket.io channel (``/socket.io``), used by the widget and standard web-chat clients; it
    also refuses pages of other origins when ``EMBUDO_WIDGET_ORIGINS`` names some."""

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        blueprint = super().blueprint(_failsafe(on_new_message))
        origins = widget_origins()
        if origins and "*" not in origins:
            _only_from(self.sio.eio, origins)
        sio = self.sio
        self._guard_messages(sio, Guard.from_env(self.name()))

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

    def _guard_messages(self, sio: Any, guard: Guard) -> None:
        """Wraps Rasa's session_request and user message handlers: a session id another channel owns (or
        that is no id at all) is replaced by a new one; a message is checked, then handed to Rasa's handler,
        or answered with the refusal on this socket only."""
        namespace = self.namespace
        rasa = dict(sio.handlers[namespace or "/"])
        confirmed: dict[str, str] = {}  # socket → the session it was confirmed, the only one it writes to

        @sio.on("session_request", namespace=namespace)
        async def session_request(sid: str, data: Any) -> None:
            data = data if isinstance(data, dict) else {}
            wanted = data.get("session_id")
            if guard.shape_refusal(wanted, "", None) is not None:
                wanted = uuid.uuid4().hex
            confirmed[sid] = wanted  # before any await: the socket's first message may be handled meanwhile
            if await _channels.elsewhere(wanted, self.name()):
                wanted = confirmed[sid] = uuid.uuid4().hex
            await rasa["session_request"](sid, {**data, "session_id": wanted})

        @sio.on("disconnect", namespace=namespace)
        async def disconnect(sid: str) -> None:
            confirmed.pop(sid, None)
            await rasa["disconnect"](sid)

        @sio.on(self.user_message_evt, namespace=namespace)
        async def handle_message(sid: str, data: Any) -> None:
            data = data if isinstance(data, dict) else {}
            metadata = metadata_of(data.get(self.metadata_key))
            text = "" if data.get("message") is None else data["message"]
            sender = data.get("session_id") if self.session_persistence else sid
            refused = guard.shape_refusal(sender, text, metadata)
            if refused is None and self.session_persistence and confirmed.get(sid) != sender:
                refused = OTHER_CHANNEL
            if refused is None and await _channels.elsewhere(sender, self.name()):
                refused = OTHER_CHANNEL
            if refused is None and is_empty(text):
                return  # a client opening the chat: nothing to answer or keep
            if refused is None:
                refused = guard.rate_refusal(sender, self._address(sio, sid))
            if refused is not None:
                log.info("socketio refused a message: %s", refused.reason)
                await sio.emit(self.bot_message_evt, {"text": refused.text(language_of(metadata))}, room=sid)
                return
            await rasa[self.user_message_evt](sid, {**data, "message": text, self.metadata_key: metadata})

    def _address(self, sio: Any, sid: str) -> str | None:
        request = (sio.get_environ(sid, self.namespace) or {}).get("sanic.request")
        return _client_address(request) if request is not None else None


def widget_origins() -> list[str]:
    """The pages that may open the chat: ``EMBUDO_WIDGET_ORIGINS`` (``EMBUDO_ALLOWED_ORIGINS``, its older
    name, still counts), space-separated; any (``*``) by default."""
    setting = os.environ.get("EMBUDO_WIDGET_ORIGINS") or os.environ.get("EMBUDO_ALLOWED_ORIGINS") or "*"
    return setting.split()


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
