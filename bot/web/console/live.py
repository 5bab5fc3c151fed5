"""The console's live conversation view: the transcript as it happens (server-sent events), and the rep's
Take over / Send / Hand back, which go through ``bot.live_chat`` like the REST API's.

The page works without JavaScript (forms, then a redirect back; reload for new lines); ``console.js``
subscribes to ``/console/live/{id}/events`` and appends each new line. The stream polls the CRM database
(where the transcript copier writes) and sends each message once, with its id as the SSE id, so a
reconnecting browser (``Last-Event-ID``) continues where it stopped.
"""

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from functools import lru_cache
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Header, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse

from bot import live_chat
from bot.live_chat import RasaApi
from bot.web.console.auth import RepOrAdmin
from bot.web.console.inbox import lead_for, transcript_for
from bot.web.console.rendering import redirect, render
from crm_core.chats import ownership
from crm_core.chats.transcripts import messages_after
from crm_core.db import unit_of_work
from crm_core.errors import CrmError, InvalidInput
from crm_core.limits import Count, SenderId, as_number
from crm_core.models import Owner
from crm_core.people.users import UserOut

router = APIRouter(prefix="/console/live")

POLL_SECONDS = 0.3
HEARTBEAT_POLLS = 50  # an SSE comment every ~15 s keeps proxies from closing an idle stream


@lru_cache
def _rasa() -> RasaApi:
    return RasaApi.from_settings()


def _page_url(sender_id: str) -> str:
    return f"/console/live/{quote(sender_id, safe='')}"


def _own_rep(user: UserOut) -> int:
    if user.rep_id is None:
        raise InvalidInput("Your login is not tied to a rep, so you cannot answer visitors.")
    return user.rep_id


def _by(user: UserOut) -> str:
    return f"console: {user.email}"


def live_page(request: Request, user: RepOrAdmin, sender_id: SenderId) -> HTMLResponse:
    with unit_of_work() as session:
        found = transcript_for(session, user, sender_id)
        lead = lead_for(session, user, found.lead_id) if found.lead_id else None
        state = ownership.current(session, sender_id)
        # The lines shown and the stream's starting point come from one read, so a line copied
        # meanwhile is either on the page or in the stream, never lost between them.
        shown = messages_after(session, sender_id)
    context = {
        "transcript": found,
        "messages": shown,
        "lead": lead,
        "state": state,
        "mine": state.owner is Owner.REP and state.rep_id == user.rep_id,
        "last_id": shown[-1].id if shown else 0,
    }
    return render(request, "console/live.html", context)


def _act(request: Request, sender_id: str, act: Callable[[], str]) -> Response:
    """Run the change; a plain form gets the page back with the outcome, console.js (which asks for
    JSON) gets the outcome alone and stays on the page."""
    wants_json = "application/json" in request.headers.get("accept", "")
    try:
        message = act()
    except CrmError as error:
        if wants_json:
            return JSONResponse({"detail": str(error)}, status_code=409)
        return redirect(request, _page_url(sender_id), str(error), "error")
    if wants_json:
        return JSONResponse({"detail": message})
    return redirect(request, _page_url(sender_id), message)


def _visible(user: UserOut, sender_id: str) -> None:
    with unit_of_work() as session:
        transcript_for(session, user, sender_id)


@router.post("/{sender_id:path}/takeover")
def take_over(request: Request, user: RepOrAdmin, sender_id: SenderId) -> Response:
    _visible(user, sender_id)

    def act() -> str:
        live_chat.take_over(_rasa(), sender_id, _own_rep(user), by=_by(user))
        return "You are answering this conversation; the bot is paused."

    return _act(request, sender_id, act)


@router.post("/{sender_id:path}/messages")
def send(
    request: Request,
    user: RepOrAdmin,
    sender_id: SenderId,
    text: Annotated[str, Form(max_length=10_000)] = "",
) -> Response:
    _visible(user, sender_id)

    def act() -> str:
        live_chat.send(_rasa(), sender_id, _own_rep(user), text)
        return "Sent."

    return _act(request, sender_id, act)


@router.post("/{sender_id:path}/typing")
def typing(request: Request, user: RepOrAdmin, sender_id: SenderId) -> Response:
    """The rep is writing a message (console.js, while they type): the visitor's widget says so."""
    _visible(user, sender_id)

    def act() -> str:
        live_chat.typing(_rasa(), sender_id, _own_rep(user))
        return "The visitor sees that you are writing."

    return _act(request, sender_id, act)


@router.post("/{sender_id:path}/handback")
def hand_back(request: Request, user: RepOrAdmin, sender_id: SenderId) -> Response:
    _visible(user, sender_id)

    def act() -> str:
        live_chat.hand_back(
            _rasa(), sender_id, by=_by(user), rep_id=None if user.is_admin else _own_rep(user)
        )
        return "Handed back: the bot answers the visitor's next message."

    return _act(request, sender_id, act)


def _news(sender_id: str, after_id: int) -> tuple[list[tuple[int, str]], str]:
    """The SSE frames of the messages after ``after_id`` (with their ids), and who owns it now."""
    with unit_of_work() as session:
        frames = []
        for message in messages_after(session, sender_id, after_id):
            line = {
                "id": message.id,
                "author": message.role.value,
                "rep_id": message.rep_id,
                "rep_name": message.extra.get("rep_name"),
                "text": message.text,
                "sent_at": message.sent_at.isoformat(),
            }
            frames.append((message.id, f"id: {message.id}\nevent: message\ndata: {json.dumps(line)}\n\n"))
        state = ownership.current(session, sender_id)
    owner = json.dumps({"owner": state.owner.value, "rep_id": state.rep_id, "rep_name": state.rep_name})
    return frames, owner


@router.get("/{sender_id:path}/events")
async def events(
    request: Request,
    user: RepOrAdmin,
    sender_id: SenderId,
    after: Count = 0,
    last_event_id: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    """New lines of the conversation as server-sent events (``message``), and ``owner`` on each change."""
    await run_in_threadpool(_visible, user, sender_id)
    cursor = as_number(last_event_id or "") or after

    async def stream() -> AsyncIterator[str]:
        nonlocal cursor
        owner, quiet = "", 0
        yield "retry: 1000\n\n"
        while not await request.is_disconnected():
            frames, now_owner = await run_in_threadpool(_news, sender_id, cursor)
            for message_id, frame in frames:
                cursor = message_id
                yield frame
            if now_owner != owner:
                owner = now_owner
                yield f"event: owner\ndata: {owner}\n\n"
            quiet = 0 if frames else quiet + 1
            if quiet >= HEARTBEAT_POLLS:
                quiet = 0
                yield ": still here\n\n"
            await asyncio.sleep(POLL_SECONDS)

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)


# last: the path converter (sender ids may hold "/") would also take the paths above
router.get("/{sender_id:path}", response_class=HTMLResponse)(live_page)
