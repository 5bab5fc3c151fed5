"""The CRM REST API (``/api/v1``): the integration point for other systems, over crm_core's functions.

Every request needs ``Authorization: Bearer <EMBUDO_API_TOKEN>``; without a configured token the API
answers 503. Missing or wrong tokens are braked per client address (a few, then 429 with Retry-After);
the right token always passes. crm_core's errors map to HTTP: NotFound → 404, InvalidTransition → 409,
InvalidInput → 422, and Rasa refusing a takeover's events → 502 (nothing changed).
"""

import hmac
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated
from zoneinfo import available_timezones

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AfterValidator, BaseModel, Field, WithJsonSchema
from sqlalchemy.orm import Session

from bot import live_chat
from bot.live_chat import RasaApi, RasaUnavailable
from crm_core.chats import ownership
from crm_core.chats.transcripts import transcript
from crm_core.db import unit_of_work
from crm_core.errors import CrmError, InvalidTransition, NotFound
from crm_core.learning.win_training import model_status
from crm_core.limits import Code, Count, Day, Id, Line, Moment, Name, SenderId, Text
from crm_core.models import ActivityKind, MessageRole, Qualification, Stage, StageChange, Temperature
from crm_core.models import Owner as ChatOwner
from crm_core.people import login_brake, reps
from crm_core.people.login_brake import BrakeOn, BrakeRule
from crm_core.reporting import kpis
from crm_core.reporting.meeting_kpis import MeetingKpis
from crm_core.reporting.meeting_kpis import meeting_kpis as meeting_figures
from crm_core.sales import activities, deals, lifecycle, pipeline, timeline
from crm_core.sales.leads import LeadQuery, LeadSort, get_lead, list_leads
from crm_core.scheduling import meetings
from crm_core.schemas import (
    ActivityOut,
    Currency,
    DealOut,
    DealUpdate,
    LeadOut,
    NewDeal,
    NewRep,
    RepOut,
    RepUpdate,
    WinModelStatus,
)

_bearer = HTTPBearer(auto_error=False)
DEFAULT_TOKEN_MISSES = BrakeRule(free=5, window=timedelta(minutes=15))


class Move(BaseModel):
    stage: Stage
    reopen: bool = False
    reason: Line | None = None
    # moving a deal to lost: why (one of the pipeline's lost_reasons); a lead: why, for its open deals
    lost_reason: Code | None = None
    # moving to lost: when to re-check it (today or later; default: the policy's nurture_recheck_days)
    recheck_on: Day | None = None


class MoveOut(BaseModel):
    from_stage: Stage | None
    to_stage: Stage
    changed_at: datetime
    reason: str | None = None
    made_by: str | None = None  # who moved it (None: recorded before authors were)


class NewActivity(BaseModel):
    kind: ActivityKind = ActivityKind.NOTE
    body: Text = Field(min_length=1)
    rep_id: Id | None = None
    due_at: Moment | None = None  # with a time zone; makes the activity a task


def _time_zone(name: str) -> str:
    if name not in available_timezones():  # a lookup, never a path: "Europe" is a folder of zones
        raise ValueError(f"unknown time zone {name[:64]!r}: use one like Europe/Madrid")
    return name


# An IANA time zone name; the schema lists them, so a client knows what is accepted before it asks.
TimeZoneName = Annotated[
    str, AfterValidator(_time_zone), WithJsonSchema({"type": "string", "enum": sorted(available_timezones())})
]


class NewMeeting(BaseModel):
    starts_at: Moment  # one of the rep's free slots (GET …/meetings/slots), with a time zone
    visitor_timezone: TimeZoneName = "UTC"  # the visitor's: the invitation shows their time


class MeetingOut(BaseModel):
    id: int
    lead_id: int
    rep_id: int
    starts_at: datetime  # UTC, ISO 8601
    ends_at: datetime
    status: str  # booked | cancelled
    visitor_timezone: str
    sequence: int  # the invitation's SEQUENCE: one more with each change


def _meeting_out(meeting: meetings.MeetingOut) -> MeetingOut:
    return MeetingOut.model_validate(meeting, from_attributes=True)


class RepAction(BaseModel):
    rep_id: Id


class Assignment(BaseModel):
    rep_id: Id
    by: Name = Field(default="the API", min_length=1, description="Who decided (audit log).")


class Owner(BaseModel):
    lead_id: int
    rep_id: int | None


class TakeOver(BaseModel):
    rep_id: Id


class HandBack(BaseModel):
    rep_id: Id | None = None  # when given, must be the owner


# The schema says what crm_core's check of a rep's message accepts (not blank, no control characters, at most
# MAX_TEXT); the check itself stays crm_core's, so the refusal names the problem in a sentence
_ALLOWED = "[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]"  # crm_core.limits: lines, no controls
SOME_TEXT = f"^{_ALLOWED}*[^\\s\u0000-\u001f\u007f-\u009f]{_ALLOWED}*$"


class RepMessage(BaseModel):
    rep_id: Id
    text: str = Field(json_schema_extra={"pattern": SOME_TEXT, "maxLength": ownership.MAX_TEXT})


class OwnershipOut(BaseModel):
    conversation_id: str
    owner: ChatOwner
    rep_id: int | None
    rep_name: str | None
    since: datetime | None


class ConversationMessage(BaseModel):
    author: MessageRole
    rep_id: int | None
    text: str
    sent_at: datetime


class Refusal(BaseModel):
    detail: str  # what was refused and why; nothing was changed


class FieldProblem(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class Invalid(BaseModel):
    # FastAPI's own check of the fields gives a list; a rule of crm_core (InvalidInput) one sentence
    detail: list[FieldProblem] | str


# What any operation may answer besides its success, as the schema tells clients.
REFUSALS: dict[int | str, dict[str, object]] = {
    401: {"model": Refusal, "description": "Missing or wrong bearer token."},
    404: {"model": Refusal, "description": "No such lead, deal, rep, activity or conversation."},
    409: {"model": Refusal, "description": "Refused by the pipeline or the conversation's owner."},
    413: {"model": Refusal, "description": "The request body is larger than 1 MB."},
    422: {"model": Invalid, "description": "Invalid input (the fields, or a CRM rule); nothing changed."},
    502: {"model": Refusal, "description": "Rasa refused a takeover's events; nothing changed."},
    503: {"model": Refusal, "description": "The API is disabled (no EMBUDO_API_TOKEN)."},
}


def _ownership_out(state: ownership.Ownership) -> OwnershipOut:
    return OwnershipOut(
        conversation_id=state.sender_id,
        owner=state.owner,
        rep_id=state.rep_id,
        rep_name=state.rep_name,
        since=state.since,
    )


@contextmanager
def _work() -> Iterator[Session]:
    with unit_of_work(author="API") as session:
        yield session


def _status(error: CrmError) -> int:
    if isinstance(error, RasaUnavailable):
        return 502
    if isinstance(error, NotFound):
        return 404
    if isinstance(error, InvalidTransition | meetings.SlotTaken):
        return 409
    return 422


def _move_out(change: StageChange) -> MoveOut:
    return MoveOut(
        from_stage=change.from_stage,
        to_stage=change.to_stage,
        changed_at=change.changed_at,
        reason=change.reason,
        made_by=change.made_by,
    )


def _start(day: date | None) -> datetime | None:
    return datetime.combine(day, time(), tzinfo=UTC) if day else None


def _refuse_token(address: str, misses: BrakeRule) -> HTTPException:
    """A missing or wrong token: 401, counted against the address; 429 once the address is braked."""
    try:
        with unit_of_work() as session:
            login_brake.count_try(session, f"api-token:{address[:64]}", misses)
    except BrakeOn as on:
        wait = on.retry_after_seconds
        detail = f"Too many wrong bearer tokens from your address: try again in {wait} seconds."
        return HTTPException(429, detail, headers={"Retry-After": str(wait)})
    return HTTPException(401, "Missing or wrong bearer token.", headers={"WWW-Authenticate": "Bearer"})


def create_router(token: str, rasa: RasaApi, token_misses: BrakeRule = DEFAULT_TOKEN_MISSES) -> APIRouter:
    def authorised(
        request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
    ) -> None:
        if not token:
            raise HTTPException(503, "The CRM API is disabled: set EMBUDO_API_TOKEN.")
        sent = credentials.credentials.encode() if credentials is not None else b""
        if not hmac.compare_digest(sent, token.encode()):  # the right token is never braked
            raise _refuse_token(request.client.host if request.client else "unknown", token_misses)

    router = APIRouter(prefix="/api/v1", dependencies=[Depends(authorised)], tags=["crm"], responses=REFUSALS)

    @router.get("/leads")
    def leads(
        q: Annotated[Line | None, Query(max_length=200, description="Name, company, e-mail, phone.")] = None,
        stage: Stage | None = None,
        qualification: Qualification | None = None,
        temperature: Temperature | None = None,
        rep_id: Id | None = None,
        unassigned: bool = False,
        source: Code | None = None,
        language: Annotated[Code | None, Query(max_length=8)] = None,
        overdue: bool | None = None,
        sort: LeadSort = LeadSort.NEWEST,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Count = 0,
    ) -> list[LeadOut]:
        """A page of leads: searched, filtered (every filter given must hold) and sorted (newest first)."""
        query = LeadQuery(
            text=q,
            stage=stage,
            qualification=qualification,
            temperature=temperature,
            rep_id=rep_id,
            unassigned=unassigned,
            source=source,
            language=language,
            overdue=overdue,
            sort=sort,
        )
        with _work() as session:
            return list_leads(session, limit, offset, query)

    @router.get("/leads/{lead_id}")
    def lead(lead_id: Id) -> LeadOut:
        with _work() as session:
            return get_lead(session, lead_id)

    @router.post("/leads/{lead_id}/move")
    def move_lead(lead_id: Id, move: Move) -> MoveOut:
        """Move a lead between stages; refused moves answer 409 and change nothing."""
        with _work() as session:
            change = lifecycle.move_lead(
                session,
                lead_id,
                move.stage,
                reopen=move.reopen,
                reason=move.reason,
                lost_reason=move.lost_reason,
                recheck_on=move.recheck_on,
            )
            return _move_out(change)

    @router.get("/leads/{lead_id}/history")
    def lead_history(lead_id: Id) -> list[MoveOut]:
        with _work() as session:
            return [_move_out(c) for c in pipeline.history(session, lead_id) if c.deal_id is None]

    @router.get("/leads/{lead_id}/timeline")
    def lead_timeline(lead_id: Id) -> list[timeline.Entry]:
        """Every change to the lead and its deals (stage moves, routing, activities, tasks done, deal
        edits and deletions), oldest first, each with who made it and when."""
        with _work() as session:
            return timeline.lead_timeline(session, lead_id)

    @router.post("/leads/{lead_id}/activities", status_code=201)
    def add_activity(lead_id: Id, new: NewActivity) -> ActivityOut:
        with _work() as session:
            return activities.add_activity(
                session, lead_id, new.kind, new.body, rep_id=new.rep_id, due_at=new.due_at
            )

    @router.get("/leads/{lead_id}/activities")
    def lead_activities(lead_id: Id) -> list[ActivityOut]:
        with _work() as session:
            return activities.list_activities(session, lead_id)

    @router.post("/activities/{activity_id}/done")
    def task_done(activity_id: Id) -> ActivityOut:
        """Mark a task (an activity with a due time) done; done twice answers 409."""
        with _work() as session:
            return activities.complete(session, activity_id)

    @router.get("/reps/{rep_id}/tasks")
    def rep_tasks(rep_id: Id) -> list[ActivityOut]:
        """The open tasks on the rep's leads, soonest due first."""
        with _work() as session:
            return activities.due_tasks(session, rep_id)

    @router.get("/leads/{lead_id}/meetings")
    def lead_meetings(lead_id: Id) -> list[MeetingOut]:
        """The lead's meetings (cancelled ones too), soonest first."""
        with _work() as session:
            return [_meeting_out(m) for m in meetings.of_lead(session, lead_id)]

    @router.get("/leads/{lead_id}/meetings/slots")
    def meeting_slots(lead_id: Id, after: Moment | None = None) -> list[datetime]:
        """Free slots (UTC) of the lead's rep to offer; ``after`` the last one seen: the next ones."""
        with _work() as session:
            return meetings.offer_slots(session, lead_id, after=after)

    @router.post("/leads/{lead_id}/meetings", status_code=201)
    def book_meeting(lead_id: Id, new: NewMeeting) -> MeetingOut:
        """Book the lead's rep at a free slot; a slot no longer free answers 409."""
        with _work() as session:
            return _meeting_out(meetings.book(session, lead_id, new.starts_at, new.visitor_timezone))

    @router.post("/leads/{lead_id}/meetings/{meeting_id}/cancel")
    def cancel_meeting(lead_id: Id, meeting_id: Id) -> MeetingOut:
        with _work() as session:
            return _meeting_out(meetings.cancel(session, meeting_id, lead_id))

    @router.post("/leads/{lead_id}/accept")
    def accept(lead_id: Id, action: RepAction) -> Owner:
        with _work() as session:
            lead = lifecycle.accept(session, lead_id, action.rep_id)
            return Owner(lead_id=lead.id, rep_id=lead.assigned_rep_id)

    @router.post("/leads/{lead_id}/pass")
    def pass_lead(lead_id: Id, action: RepAction) -> Owner:
        with _work() as session:
            owner = lifecycle.pass_lead(session, lead_id, action.rep_id)
            return Owner(lead_id=lead_id, rep_id=owner.id if owner else None)

    @router.post("/leads/{lead_id}/assign")
    def assign(lead_id: Id, assignment: Assignment) -> Owner:
        """Give the lead to a chosen rep, whatever routing would pick; the rep accepts it within the SLA."""
        with _work() as session:
            lead = lifecycle.assign_to(session, lead_id, assignment.rep_id, by=assignment.by)
            return Owner(lead_id=lead.id, rep_id=lead.assigned_rep_id)

    @router.post("/leads/{lead_id}/deals", status_code=201)
    def open_deal(lead_id: Id, new: NewDeal) -> DealOut:
        with _work() as session:
            return deals.open_deal(session, lead_id, new)

    @router.get("/deals")
    def list_deals(lead_id: Id | None = None) -> list[DealOut]:
        with _work() as session:
            return deals.list_deals(session, lead_id)

    @router.get("/deals/{deal_id}")
    def deal(deal_id: Id) -> DealOut:
        with _work() as session:
            return deals.get_deal(session, deal_id)

    @router.patch("/deals/{deal_id}")
    def update_deal(deal_id: Id, changes: DealUpdate) -> DealOut:
        """Change an open deal's title, value, currency or expected close date (only the fields sent);
        a closed deal, or one on a closed lead, answers 409 (reopen it first)."""
        with _work() as session:
            return deals.update_deal(session, deal_id, changes)

    @router.delete("/deals/{deal_id}")
    def delete_deal(deal_id: Id) -> DealOut:
        """Delete an open deal with its stage history; answers what it was. Closed deals and the deals of
        a won or lost lead answer 409: they are the record the KPIs count."""
        with _work() as session:
            return deals.delete_deal(session, deal_id)

    @router.post("/deals/{deal_id}/move")
    def move_deal(deal_id: Id, move: Move) -> MoveOut:
        with _work() as session:
            change = pipeline.move_deal(
                session,
                deal_id,
                move.stage,
                reopen=move.reopen,
                reason=move.reason,
                lost_reason=move.lost_reason,
                recheck_on=move.recheck_on,
            )
            return _move_out(change)

    @router.get("/kpis/meetings")
    def meeting_kpis(since: Day | None = None, until: Day | None = None) -> MeetingKpis:
        """Qualified leads that booked a meeting in the chat, and how long after their first message."""
        with _work() as session:
            return meeting_figures(session, since=_start(since), until=_start(until))

    @router.get("/scoring")
    def win_model() -> WinModelStatus:
        """The learned win model open leads are scored by (window and metrics), or why there is none.
        Training is `embudo scoring train`."""
        with _work() as session:
            return model_status(session)

    @router.get("/kpis")
    def dashboard(
        since: Day | None = None, until: Day | None = None, currency: Currency | None = None
    ) -> kpis.Dashboard:
        """Every KPI over one period [since, until); money in the reporting currency, or only ``currency``."""
        with _work() as session:
            return kpis.dashboard(
                session,
                since=_start(since),
                until=_start(until),
                currency=currency,
            )

    @router.get("/forecast")
    def forecast(currency: Currency | None = None) -> list[kpis.ForecastMonth]:
        with _work() as session:
            return kpis.forecast(session, currency)

    @router.get("/reps")
    def list_reps() -> list[RepOut]:
        with _work() as session:
            return reps.list_reps(session)

    @router.post("/reps", status_code=201)
    def add_rep(new: NewRep) -> RepOut:
        with _work() as session:
            return reps.add_rep(session, new)

    @router.patch("/reps/{rep_id}")
    def update_rep(rep_id: Id, changes: RepUpdate) -> RepOut:
        with _work() as session:
            return reps.update_rep(session, rep_id, changes)

    def conversation_owner(conversation_id: SenderId) -> OwnershipOut:
        """Who answers the visitor now: the bot, nobody yet (waiting for a person) or a rep."""
        with _work() as session:
            return _ownership_out(ownership.current(session, conversation_id))

    @router.post("/conversations/{conversation_id:path}/takeover")
    def take_over(conversation_id: SenderId, body: TakeOver) -> OwnershipOut:
        """A rep takes the live conversation: the bot stops answering until it is handed back."""
        return _ownership_out(live_chat.take_over(rasa, conversation_id, body.rep_id, by="api"))

    @router.post("/conversations/{conversation_id:path}/handback")
    def hand_back(conversation_id: SenderId, body: HandBack | None = None) -> OwnershipOut:
        """Give the conversation back to the bot, which answers the visitor's next message."""
        rep_id = body.rep_id if body else None
        return _ownership_out(live_chat.hand_back(rasa, conversation_id, by="api", rep_id=rep_id))

    @router.post("/conversations/{conversation_id:path}/messages", status_code=201)
    def send_message(conversation_id: SenderId, body: RepMessage) -> ConversationMessage:
        """The owning rep's message, delivered to the visitor on their channel."""
        sent = live_chat.send(rasa, conversation_id, body.rep_id, body.text)
        return ConversationMessage(
            author=MessageRole.REP, rep_id=sent.rep_id, text=sent.text, sent_at=sent.sent_at
        )

    @router.get("/conversations/{conversation_id:path}/messages")
    def messages(conversation_id: SenderId) -> list[ConversationMessage]:
        """Every message of the conversation in order: the visitor's, the bot's and the reps'."""
        with _work() as session:
            found = transcript(session, conversation_id)
        return [
            ConversationMessage(author=m.role, rep_id=m.rep_id, text=m.text, sent_at=m.sent_at)
            for m in found.messages
        ]

    # last: the path converter (sender ids may hold "/") would also take the paths above
    router.get("/conversations/{conversation_id:path}")(conversation_owner)
    return router


def install(
    app: FastAPI, token: str, rasa: RasaApi | None = None, token_misses: BrakeRule = DEFAULT_TOKEN_MISSES
) -> None:
    """Mount the API and turn crm_core's refusals into HTTP answers with their message."""
    app.include_router(create_router(token, rasa or RasaApi.from_settings(), token_misses))

    @app.exception_handler(CrmError)
    def crm_error(_request: Request, error: CrmError) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=_status(error))
