"""The rep's inbox and lead page: accept or pass, move the stage, notes, activities and tasks (done), deals
(opened, edited, deleted; amounts in the viewer's locale), transcript.

Every change goes through crm_core in one unit of work; a refusal (CrmError) rolls it back and shows the
page again with crm_core's message in the form that caused it (a ``Problem``: beside the field at fault when
``InvalidInput.field`` names one) and what the rep typed. A rep reaches only their own leads: the lead
is loaded through ``crm_core.people.users`` first, so another rep's lead is "not found" (404) for every
action.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.web.console.auth import AdminUser, RepOrAdmin
from bot.web.console.numbers import format_amount, parse_amount, viewer_locale
from bot.web.console.rendering import redirect, render
from crm_core.assignment import sla
from crm_core.chats import ownership
from crm_core.chats.transcripts import TranscriptOut, as_text
from crm_core.db import unit_of_work
from crm_core.delivery import notifications
from crm_core.errors import CrmError, InvalidInput, InvalidTransition, NotFound, explain
from crm_core.learning.win_training import model_status
from crm_core.limits import TEXT_LENGTH, Id, SenderId, as_number
from crm_core.models import ActivityKind, Lead, Rep, Stage, utcnow
from crm_core.people import users
from crm_core.people.users import UserOut
from crm_core.sales import activities, deals, lifecycle, pipeline, timeline
from crm_core.sales.leads import LeadQuery, lead_out
from crm_core.sales.pipeline import current_pipeline
from crm_core.scheduling import meetings
from crm_core.schemas import DealUpdate, LeadOut, NewDeal

router = APIRouter(prefix="/console")

FormText = Annotated[str, Form(max_length=2 * TEXT_LENGTH)]  # crm_core checks the field; this is a guard


def lead_for(session: Session, user: UserOut, lead_id: int) -> LeadOut:
    """The lead if this user may see it; 404 otherwise (another rep's lead looks like no lead at all)."""
    try:
        return users.visible_lead(session, user, lead_id)
    except NotFound as error:
        raise HTTPException(404, str(error)) from None


def transcript_for(session: Session, user: UserOut, sender_id: str) -> TranscriptOut:
    """The conversation if this user may see its lead; 404 otherwise."""
    try:
        return users.visible_transcript(session, user, sender_id)
    except NotFound as error:
        raise HTTPException(404, str(error)) from None


def _assignable_reps(session: Session) -> list[Rep]:
    """The reps an admin may give a lead to (active ones), for the Assign control."""
    return list(session.scalars(select(Rep).where(Rep.active.is_(True)).order_by(Rep.name, Rep.id)))


@dataclass(frozen=True)
class Problem:
    """A refusal to show on the page: beside ``field`` of ``form`` (or at the form's foot when no field)."""

    form: str
    field: str
    message: str

    def at(self, form: str, field: str = "") -> bool:
        return self.form == form and self.field == field


def _problem(form: str, error: CrmError, fields: tuple[str, ...] = ()) -> Problem:
    field = getattr(error, "field", None) or ""
    return Problem(form, field if field in fields else "", str(error))


def _status(error: CrmError) -> int:
    if isinstance(error, NotFound):
        return 404
    return 409 if isinstance(error, InvalidTransition) else 422


@router.get("", include_in_schema=False)
def console_home() -> RedirectResponse:
    return RedirectResponse("/console/inbox", status_code=303)


@router.get("/inbox", response_class=HTMLResponse)
def inbox(request: Request, user: RepOrAdmin) -> HTMLResponse:
    """The rep's leads: waiting for acceptance, open, recently closed; and the hand-offs they were told of."""
    open_stages = set(current_pipeline().open_stages)
    with unit_of_work() as session:
        mine = (
            users.visible_leads(session, user, 500, query=LeadQuery(rep_id=user.rep_id))
            if user.rep_id
            else []
        )
        ids = [m.id for m in mine]
        clock = {
            row.id: row
            for row in session.execute(
                select(Lead.id, Lead.accepted_at, Lead.sla_due_at).where(Lead.id.in_(ids))
            )
        }
        told = notifications.inbox(session, user.rep_id)[:20] if user.rep_id else []
        tasks = activities.due_tasks(session, user.rep_id) if user.rep_id else []
        upcoming = meetings.upcoming(session, user.rep_id) if user.rep_id else []
        queue = [lead_out(lead) for lead in sla.unassigned_queue(session)[:50]] if user.is_admin else []
        latest = users.visible_leads(session, user, limit=50) if user.is_admin else []
        reps = _assignable_reps(session) if user.is_admin else []
        people_waiting = [w for w in ownership.waiting(session) if users.may_see(user, w.rep_id)]
    waiting = [m for m in mine if m.stage in open_stages and clock[m.id].accepted_at is None]
    working = [m for m in mine if m.stage in open_stages and clock[m.id].accepted_at is not None]
    closed = [m for m in mine if m.stage not in open_stages][:20]
    return render(
        request,
        "console/inbox.html",
        {
            "waiting": waiting,
            "people_waiting": people_waiting,
            "working": working,
            "closed": closed,
            "due": {m.id: clock[m.id].sla_due_at for m in waiting},
            "told": told,
            "tasks": tasks,
            "meetings": upcoming,
            "now": utcnow(),
            "still_mine": set(clock),
            "queue": queue,
            "latest": latest,
            "reps": reps,
        },
    )


def _lead_page(
    request: Request,
    user: UserOut,
    lead_id: Id,
    status_code: int = 200,
    problem: Problem | None = None,
    typed: dict[str, str] | None = None,
) -> HTMLResponse:
    config = current_pipeline()
    with unit_of_work() as session:
        lead = lead_for(session, user, lead_id)
        row = session.get(Lead, lead_id)
        assert row is not None
        conversation = None
        if lead.conversation_id:
            try:
                conversation = users.visible_transcript(session, user, lead.conversation_id)
            except NotFound:
                conversation = None
        lead_deals = deals.list_deals(session, lead_id)
        page: dict[str, Any] = {
            "lead": lead,
            "accepted_at": row.accepted_at,
            "sla_due_at": row.sla_due_at,
            "awaiting_me": user.rep_id is not None
            and row.assigned_rep_id == user.rep_id
            and row.accepted_at is None
            and lead.stage in config.open_stages,
            "moves": allowed_moves(lead.stage, reopen=config.is_terminal(lead.stage)),
            "reps": _assignable_reps(session) if user.is_admin and lead.stage in config.open_stages else [],
            "reopen": config.is_terminal(lead.stage),
            "deals": lead_deals,
            "deal_moves": {deal.id: allowed_moves(deal.stage, reopen=False) for deal in lead_deals},
            "lost_reasons": config.lost_reasons,
            "activities": activities.list_activities(session, lead_id),
            "meetings": meetings.of_lead(session, lead_id),
            "now": utcnow(),
            "history": [c for c in pipeline.history(session, lead_id) if c.deal_id is None],
            "record": timeline.lead_timeline(session, lead_id),
            "win_model": model_status(session),
            "transcript": conversation,
            "kinds": [kind.value for kind in ActivityKind],
            "currency": config.default_currency,
            "problem": problem,
            "typed": typed or {},
        }
    forms = {"deal", "activity"} | {f"deal-{deal.id}" for deal in lead_deals}
    forms |= {f"activity-{activity.id}" for activity in page["activities"]}
    forms |= {f"meeting-{meeting.id}" for meeting in page["meetings"]}
    forms |= {
        name
        for name, shown in (
            ("move", page["moves"]),
            ("assign", page["reps"]),
            ("accept", page["awaiting_me"]),
        )
        if shown
    }
    if problem is not None and problem.form not in forms:  # e.g. accepting twice: no Accept button now
        page["problem"] = Problem("", "", problem.message)
    return render(request, "console/lead.html", page, status_code)


def allowed_moves(current: Stage, reopen: bool) -> list[str]:
    """The stages the pipeline lets a lead or deal move to from ``current``."""
    config = current_pipeline()
    allowed = []
    for stage in config.stages:
        try:
            config.check_move(current, stage.name, reopen=reopen)
        except CrmError:
            continue
        allowed.append(stage.name.value)
    return allowed


@router.get("/leads/{lead_id}", response_class=HTMLResponse)
def lead_page(request: Request, user: RepOrAdmin, lead_id: Id) -> HTMLResponse:
    page = _lead_page(request, user, lead_id)  # 404 for a lead this user may not see: nothing marked
    if user.rep_id is not None:
        with unit_of_work() as session:
            notifications.mark_read(session, user.rep_id, lead_id)
    return page


def _change(
    request: Request,
    user: UserOut,
    lead_id: Id,
    change: Callable[[Session, Lead], str],
    typed: dict[str, str] | None = None,
    done_url: str | None = None,
    form: str = "",
) -> Response:
    """Run one change on a lead the user may see, all or nothing; show crm_core's refusal on the page,
    in ``form`` beside the field at fault (``typed`` holds the form's fields as typed)."""
    try:
        with unit_of_work(author=user.as_author) as session:
            try:
                lead = users.visible_lead_row(session, user, lead_id)
            except NotFound as error:
                raise HTTPException(404, str(error)) from None
            message = change(session, lead)
    except CrmError as error:
        problem = _problem(form, error, tuple(typed or ()))
        return _lead_page(request, user, lead_id, _status(error), problem, typed)
    return redirect(request, done_url or f"/console/leads/{lead_id}", message)


def _own_rep(user: UserOut) -> int:
    if user.rep_id is None:
        raise InvalidInput("Your login is not tied to a rep, so you cannot accept or pass leads.")
    return user.rep_id


@router.post("/leads/{lead_id}/accept")
def accept(request: Request, user: RepOrAdmin, lead_id: Id) -> Response:
    def change(session: Session, lead: Lead) -> str:
        lifecycle.accept(session, lead.id, _own_rep(user))
        return f"Lead {lead.id} is yours: accepted."

    return _change(request, user, lead_id, change, form="accept")


@router.post("/leads/{lead_id}/pass")
def pass_lead(request: Request, user: RepOrAdmin, lead_id: Id) -> Response:
    def change(session: Session, lead: Lead) -> str:
        lifecycle.pass_lead(session, lead.id, _own_rep(user))
        return f"Lead {lead.id} was passed on."

    still_mine = f"/console/leads/{lead_id}" if user.is_admin else "/console/inbox"
    return _change(request, user, lead_id, change, done_url=still_mine, form="accept")


@router.post("/leads/{lead_id}/assign")
def assign(
    request: Request, user: AdminUser, lead_id: Id, rep_id: FormText = "", back: FormText = ""
) -> Response:
    """An admin gives the lead to a chosen rep (from the lead page or the inbox's queue)."""

    def change(session: Session, lead: Lead) -> str:
        chosen = as_number(rep_id, low=1)
        if chosen is None:
            raise InvalidInput("Choose the rep who gets the lead.", "rep_id")
        assigned = lifecycle.assign_to(session, lead.id, chosen, by=user.email)
        return f"Lead {lead.id} assigned to {assigned.assigned_rep.name if assigned.assigned_rep else '?'}."

    done = "/console/inbox" if back == "inbox" else None  # only known pages: never an open redirect
    return _change(request, user, lead_id, change, {"rep_id": rep_id}, done_url=done, form="assign")


@router.post("/leads/{lead_id}/move")
def move(
    request: Request,
    user: RepOrAdmin,
    lead_id: Id,
    stage: FormText = "",
    reason: FormText = "",
    recheck_on: FormText = "",
) -> Response:
    def change(session: Session, lead: Lead) -> str:
        moved = lifecycle.move(
            session,
            lead,
            stage,
            reopen=current_pipeline().is_terminal(lead.stage),
            reason=reason.strip() or None,
            recheck_on=_recheck(recheck_on),
        )
        return f"Moved from {moved.from_stage.value if moved.from_stage else '–'} to {moved.to_stage.value}."

    typed = {"stage": stage, "reason": reason, "recheck_on": recheck_on}
    return _change(request, user, lead_id, change, typed, form="move")


def _recheck(text: str) -> date | None:
    """A re-check date from the form's date field (empty: the policy's days)."""
    if not text.strip():
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(
            f"Cannot read the re-check date '{text}': use a date like 2027-06-01.", "recheck_on"
        ) from None


def _due(text: str, session: Session, user: UserOut) -> datetime | None:
    """A due time typed in the rep's own time zone (``2026-12-01T10:00``); UTC for admins without a rep."""
    if not text.strip():
        return None
    try:
        naive = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(
            f"Cannot read the due time '{text}': use a date and time like 2026-12-01 10:00.", "due"
        ) from None
    if naive.tzinfo is not None:
        return naive
    rep = session.get(Rep, user.rep_id) if user.rep_id else None
    return naive.replace(tzinfo=ZoneInfo(rep.timezone if rep else "UTC"))


@router.post("/leads/{lead_id}/activities")
def add_activity(
    request: Request,
    user: RepOrAdmin,
    lead_id: Id,
    kind: FormText = "note",
    body: FormText = "",
    due: FormText = "",
) -> Response:
    def change(session: Session, lead: Lead) -> str:
        added = activities.add_activity(
            session, lead.id, kind, body, rep_id=user.rep_id, due_at=_due(due, session, user)
        )
        return f"{added.kind.value.capitalize()} added."

    return _change(request, user, lead_id, change, {"kind": kind, "body": body, "due": due}, form="activity")


@router.post("/leads/{lead_id}/activities/{activity_id}/done")
def task_done(
    request: Request, user: RepOrAdmin, lead_id: Id, activity_id: Id, back: FormText = ""
) -> Response:
    """Mark a task on the lead done (from the lead page, or the inbox's task list with ``back=inbox``)."""

    def change(session: Session, lead: Lead) -> str:
        if not any(a.id == activity_id for a in activities.list_activities(session, lead.id)):
            raise NotFound(f"No activity with id {activity_id} on lead {lead.id}.")
        done = activities.complete(session, activity_id)
        return f"Task done: {done.body[:80]}"

    done_url = "/console/inbox" if back == "inbox" else None  # only known pages: never an open redirect
    return _change(request, user, lead_id, change, done_url=done_url, form=f"activity-{activity_id}")


@router.post("/leads/{lead_id}/meetings/{meeting_id}/cancel")
def cancel_meeting(request: Request, user: RepOrAdmin, lead_id: Id, meeting_id: Id) -> Response:
    """Cancel the lead's meeting (the visitor gets a cancellation for their calendar)."""

    def change(session: Session, lead: Lead) -> str:
        gone = meetings.cancel(session, meeting_id, lead.id)
        return f"Meeting of {gone.starts_at:%Y-%m-%d %H:%M} UTC cancelled"

    return _change(request, user, lead_id, change, form=f"meeting-{meeting_id}")


DEAL_FIELDS = {
    "title": "title",
    "value": "value",
    "currency": "currency",
    "expected_close_date": "expected_close",
}


def _close_date(text: str) -> date | None:
    try:
        return date.fromisoformat(text.strip()) if text.strip() else None
    except ValueError:
        raise InvalidInput(f"'{text}' is not a date like 2026-12-31.", "expected_close") from None


def _deal_fields(request: Request, value: str, expected_close: str) -> tuple[Decimal, date | None]:
    return parse_amount(value, viewer_locale(request)), _close_date(expected_close)


def _invalid_deal(error: ValidationError) -> InvalidInput:
    """The first complaint about a deal, beside the field it is about."""
    first = error.errors()[0]
    field = DEAL_FIELDS.get(str(first["loc"][0]) if first["loc"] else "", "")
    return InvalidInput(f"The deal cannot be saved: {explain(error)}.", field or None)


def _own_deal(session: Session, lead: Lead, deal_id: int) -> None:
    if deals.get_deal(session, deal_id).lead_id != lead.id:
        raise NotFound(f"No deal with id {deal_id} on lead {lead.id}.")


@router.post("/leads/{lead_id}/deals")
def open_deal(
    request: Request,
    user: RepOrAdmin,
    lead_id: Id,
    title: FormText = "",
    value: FormText = "",
    currency: FormText = "",
    expected_close: FormText = "",
) -> Response:
    typed = {"title": title, "value": value, "currency": currency, "expected_close": expected_close}

    def change(session: Session, lead: Lead) -> str:
        amount, close = _deal_fields(request, value, expected_close)
        try:
            new = NewDeal(title=title.strip(), value=amount, currency=currency, expected_close_date=close)
        except ValidationError as error:
            raise _invalid_deal(error) from None
        deal = deals.open_deal(session, lead.id, new)
        shown = format_amount(deal.value, viewer_locale(request))
        return f"Deal '{deal.title}' opened: {shown} {deal.currency}."

    return _change(request, user, lead_id, change, typed, form="deal")


@router.post("/leads/{lead_id}/deals/{deal_id}")
def edit_deal(
    request: Request,
    user: RepOrAdmin,
    lead_id: Id,
    deal_id: Id,
    title: FormText = "",
    value: FormText = "",
    currency: FormText = "",
    expected_close: FormText = "",
) -> Response:
    """Change an open deal's title, value, currency or expected close date (the edit form sends them all)."""
    typed = {"title": title, "value": value, "currency": currency, "expected_close": expected_close}

    def change(session: Session, lead: Lead) -> str:
        _own_deal(session, lead, deal_id)
        amount, close = _deal_fields(request, value, expected_close)
        try:
            update = DealUpdate(
                title=title.strip(), value=amount, currency=currency, expected_close_date=close
            )
        except ValidationError as error:
            raise _invalid_deal(error) from None
        deal = deals.update_deal(session, deal_id, update)
        return (
            f"Deal '{deal.title}' saved: {format_amount(deal.value, viewer_locale(request))} {deal.currency}."
        )

    return _change(request, user, lead_id, change, typed, form=f"deal-{deal_id}")


@router.post("/leads/{lead_id}/deals/{deal_id}/delete")
def delete_deal(request: Request, user: RepOrAdmin, lead_id: Id, deal_id: Id) -> Response:
    def change(session: Session, lead: Lead) -> str:
        _own_deal(session, lead, deal_id)
        gone = deals.delete_deal(session, deal_id)
        return f"Deal '{gone.title}' deleted."

    return _change(request, user, lead_id, change, form=f"deal-{deal_id}")


@router.post("/leads/{lead_id}/deals/{deal_id}/move")
def move_deal(
    request: Request,
    user: RepOrAdmin,
    lead_id: Id,
    deal_id: Id,
    stage: FormText = "",
    lost_reason: FormText = "",
    recheck_on: FormText = "",
) -> Response:
    def change(session: Session, lead: Lead) -> str:
        _own_deal(session, lead, deal_id)
        why = lost_reason.strip() or None
        recheck = _recheck(recheck_on)
        moved = pipeline.move_deal(session, deal_id, stage, reopen=False, lost_reason=why, recheck_on=recheck)
        lost = f" ({moved.reason})" if moved.to_stage.value == "lost" else ""
        return f"Deal {deal_id} moved to {moved.to_stage.value}{lost}."

    return _change(request, user, lead_id, change, form=f"deal-{deal_id}")


def transcript_page(request: Request, user: RepOrAdmin, sender_id: SenderId) -> HTMLResponse:
    """One conversation (the link in rep notifications), with its lead."""
    with unit_of_work() as session:
        found = transcript_for(session, user, sender_id)
        lead = lead_for(session, user, found.lead_id) if found.lead_id else None
    return render(request, "console/transcript.html", {"transcript": found, "lead": lead})


@router.get("/transcripts/{sender_id:path}/export")
def transcript_export(user: RepOrAdmin, sender_id: SenderId, format: str = "txt") -> Response:
    """The conversation as a download: plain text for reading, JSON with intents and metadata."""
    if format not in ("txt", "json"):
        raise HTTPException(422, f"Unknown format '{format}': use txt or json.")
    with unit_of_work() as session:
        found = transcript_for(session, user, sender_id)
    safe_name = "".join(c if c.isalnum() or c in "-_" else "_" for c in sender_id)[:80]
    headers = {"Content-Disposition": f'attachment; filename="transcript-{safe_name}.{format}"'}
    if format == "json":
        body = json.dumps(found.model_dump(mode="json"), indent=2, ensure_ascii=False)
        return Response(body, media_type="application/json", headers=headers)
    return PlainTextResponse("\n".join(as_text(found)) + "\n", headers=headers)


# last: the path converter (sender ids may hold "/") would also take the export's path
router.get("/transcripts/{sender_id:path}", response_class=HTMLResponse)(transcript_page)
