"""The rep's inbox and lead page: accept or pass, move the stage, notes and activities, deals, transcript.

Every change goes through crm_core in one unit of work; a refusal (CrmError) rolls it back and shows the
page again with crm_core's message and what the rep typed. A rep reaches only their own leads: the lead
is loaded through ``crm_core.users`` first, so another rep's lead is "not found" (404) for every action.
"""

import json
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.web.console.auth import AdminUser, RepOrAdmin
from bot.web.console.rendering import redirect, render
from crm_core import activities, deals, lifecycle, notifications, pipeline, sla, users
from crm_core.db import unit_of_work
from crm_core.errors import CrmError, InvalidInput, InvalidTransition, NotFound, explain
from crm_core.leads import lead_out
from crm_core.models import ActivityKind, Lead, Rep, Stage
from crm_core.pipeline import current_pipeline
from crm_core.schemas import LeadOut, NewDeal
from crm_core.transcripts import TranscriptOut
from crm_core.users import UserOut

router = APIRouter(prefix="/console")

FormText = Annotated[str, Form(max_length=10_000)]


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
        mine = users.visible_leads(session, user, limit=500, rep_id=user.rep_id) if user.rep_id else []
        ids = [m.id for m in mine]
        clock = {
            row.id: row
            for row in session.execute(
                select(Lead.id, Lead.accepted_at, Lead.sla_due_at).where(Lead.id.in_(ids))
            )
        }
        told = notifications.inbox(session, user.rep_id)[:20] if user.rep_id else []
        queue = [lead_out(lead) for lead in sla.unassigned_queue(session)[:50]] if user.is_admin else []
        latest = users.visible_leads(session, user, limit=50) if user.is_admin else []
        reps = _assignable_reps(session) if user.is_admin else []
    waiting = [m for m in mine if m.stage in open_stages and clock[m.id].accepted_at is None]
    working = [m for m in mine if m.stage in open_stages and clock[m.id].accepted_at is not None]
    closed = [m for m in mine if m.stage not in open_stages][:20]
    return render(
        request,
        "console/inbox.html",
        {
            "waiting": waiting,
            "working": working,
            "closed": closed,
            "due": {m.id: clock[m.id].sla_due_at for m in waiting},
            "told": told,
            "still_mine": set(clock),
            "queue": queue,
            "latest": latest,
            "reps": reps,
        },
    )


def _lead_page(
    request: Request,
    user: UserOut,
    lead_id: int,
    status_code: int = 200,
    error: str | None = None,
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
            "moves": _allowed_moves(lead.stage, reopen=config.is_terminal(lead.stage)),
            "reps": _assignable_reps(session) if user.is_admin and lead.stage in config.open_stages else [],
            "reopen": config.is_terminal(lead.stage),
            "deals": lead_deals,
            "deal_moves": {deal.id: _allowed_moves(deal.stage, reopen=False) for deal in lead_deals},
            "lost_reasons": config.lost_reasons,
            "activities": activities.list_activities(session, lead_id),
            "history": [c for c in pipeline.history(session, lead_id) if c.deal_id is None],
            "transcript": conversation,
            "kinds": [kind.value for kind in ActivityKind],
            "currency": config.default_currency,
            "error": error,
            "typed": typed or {},
        }
    return render(request, "console/lead.html", page, status_code)


def _allowed_moves(current: Stage, reopen: bool) -> list[str]:
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
def lead_page(request: Request, user: RepOrAdmin, lead_id: int) -> HTMLResponse:
    page = _lead_page(request, user, lead_id)  # 404 for a lead this user may not see: nothing marked
    if user.rep_id is not None:
        with unit_of_work() as session:
            notifications.mark_read(session, user.rep_id, lead_id)
    return page


def _change(
    request: Request,
    user: UserOut,
    lead_id: int,
    change: Callable[[Session, Lead], str],
    typed: dict[str, str] | None = None,
    done_url: str | None = None,
) -> Response:
    """Run one change on a lead the user may see, all or nothing; show crm_core's refusal on the page."""
    try:
        with unit_of_work() as session:
            try:
                lead = users.visible_lead_row(session, user, lead_id)
            except NotFound as error:
                raise HTTPException(404, str(error)) from None
            message = change(session, lead)
    except CrmError as error:
        return _lead_page(request, user, lead_id, _status(error), str(error), typed)
    return redirect(request, done_url or f"/console/leads/{lead_id}", message)


def _own_rep(user: UserOut) -> int:
    if user.rep_id is None:
        raise InvalidInput("Your login is not tied to a rep, so you cannot accept or pass leads.")
    return user.rep_id


@router.post("/leads/{lead_id}/accept")
def accept(request: Request, user: RepOrAdmin, lead_id: int) -> Response:
    def change(session: Session, lead: Lead) -> str:
        lifecycle.accept(session, lead.id, _own_rep(user))
        return f"Lead {lead.id} is yours: accepted."

    return _change(request, user, lead_id, change)


@router.post("/leads/{lead_id}/pass")
def pass_lead(request: Request, user: RepOrAdmin, lead_id: int) -> Response:
    def change(session: Session, lead: Lead) -> str:
        lifecycle.pass_lead(session, lead.id, _own_rep(user))
        return f"Lead {lead.id} was passed on."

    still_mine = f"/console/leads/{lead_id}" if user.is_admin else "/console/inbox"
    return _change(request, user, lead_id, change, done_url=still_mine)


@router.post("/leads/{lead_id}/assign")
def assign(
    request: Request, user: AdminUser, lead_id: int, rep_id: FormText = "", back: FormText = ""
) -> Response:
    """An admin gives the lead to a chosen rep (from the lead page or the inbox's queue)."""

    def change(session: Session, lead: Lead) -> str:
        if not rep_id.strip().isdigit():
            raise InvalidInput("Choose the rep who gets the lead.")
        assigned = lifecycle.assign_to(session, lead.id, int(rep_id), by=user.email)
        return f"Lead {lead.id} assigned to {assigned.assigned_rep.name if assigned.assigned_rep else '?'}."

    done = "/console/inbox" if back == "inbox" else None  # only known pages: never an open redirect
    return _change(request, user, lead_id, change, {"rep_id": rep_id}, done_url=done)


@router.post("/leads/{lead_id}/move")
def move(
    request: Request, user: RepOrAdmin, lead_id: int, stage: FormText = "", reason: FormText = ""
) -> Response:
    def change(session: Session, lead: Lead) -> str:
        moved = lifecycle.move(
            session,
            lead,
            stage,
            reopen=current_pipeline().is_terminal(lead.stage),
            reason=reason.strip() or None,
        )
        return f"Moved from {moved.from_stage.value if moved.from_stage else '–'} to {moved.to_stage.value}."

    return _change(request, user, lead_id, change, {"stage": stage, "reason": reason})


def _due(text: str, session: Session, user: UserOut) -> datetime | None:
    """A due time typed in the rep's own time zone (``2026-12-01T10:00``); UTC for admins without a rep."""
    if not text.strip():
        return None
    try:
        naive = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(
            f"Cannot read the due time '{text}': use a date and time like 2026-12-01 10:00."
        ) from None
    if naive.tzinfo is not None:
        return naive
    rep = session.get(Rep, user.rep_id) if user.rep_id else None
    return naive.replace(tzinfo=ZoneInfo(rep.timezone if rep else "UTC"))


@router.post("/leads/{lead_id}/activities")
def add_activity(
    request: Request,
    user: RepOrAdmin,
    lead_id: int,
    kind: FormText = "note",
    body: FormText = "",
    due: FormText = "",
) -> Response:
    def change(session: Session, lead: Lead) -> str:
        added = activities.add_activity(
            session, lead.id, kind, body, rep_id=user.rep_id, due_at=_due(due, session, user)
        )
        return f"{added.kind.value.capitalize()} added."

    return _change(request, user, lead_id, change, {"kind": kind, "body": body, "due": due})


def _new_deal(title: str, value: str, currency: str, expected_close: str) -> NewDeal:
    try:
        amount = Decimal(value.replace(",", "").strip())
    except InvalidOperation:
        raise InvalidInput(f"'{value}' is not an amount: write it like 12000 or 12000.50.") from None
    try:
        close = date.fromisoformat(expected_close) if expected_close.strip() else None
    except ValueError:
        raise InvalidInput(f"'{expected_close}' is not a date like 2026-12-31.") from None
    try:
        return NewDeal(
            title=title.strip(), value=amount, currency=currency.strip(), expected_close_date=close
        )
    except ValidationError as error:
        raise InvalidInput(f"The deal cannot be saved: {explain(error)}.") from None


@router.post("/leads/{lead_id}/deals")
def open_deal(
    request: Request,
    user: RepOrAdmin,
    lead_id: int,
    title: FormText = "",
    value: FormText = "",
    currency: FormText = "",
    expected_close: FormText = "",
) -> Response:
    typed = {"title": title, "value": value, "currency": currency, "expected_close": expected_close}

    def change(session: Session, lead: Lead) -> str:
        deal = deals.open_deal(session, lead.id, _new_deal(title, value, currency, expected_close))
        return f"Deal '{deal.title}' opened: {deal.value:,.2f} {deal.currency}."

    return _change(request, user, lead_id, change, typed)


@router.post("/leads/{lead_id}/deals/{deal_id}/move")
def move_deal(
    request: Request,
    user: RepOrAdmin,
    lead_id: int,
    deal_id: int,
    stage: FormText = "",
    lost_reason: FormText = "",
) -> Response:
    def change(session: Session, lead: Lead) -> str:
        if deals.get_deal(session, deal_id).lead_id != lead.id:
            raise NotFound(f"No deal with id {deal_id} on lead {lead.id}.")
        why = lost_reason.strip() or None
        moved = pipeline.move_deal(session, deal_id, stage, reopen=False, lost_reason=why)
        lost = f" ({moved.reason})" if moved.to_stage.value == "lost" else ""
        return f"Deal {deal_id} moved to {moved.to_stage.value}{lost}."

    return _change(request, user, lead_id, change)


@router.get("/transcripts/{sender_id}", response_class=HTMLResponse)
def transcript_page(request: Request, user: RepOrAdmin, sender_id: str) -> HTMLResponse:
    """One conversation (the link in rep notifications), with its lead."""
    with unit_of_work() as session:
        found = transcript_for(session, user, sender_id)
        lead = lead_for(session, user, found.lead_id) if found.lead_id else None
    return render(request, "console/transcript.html", {"transcript": found, "lead": lead})


@router.get("/transcripts/{sender_id}/export")
def transcript_export(user: RepOrAdmin, sender_id: str, format: str = "txt") -> Response:
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
    lines = [f"Conversation {found.sender_id} on {found.channel}, lead {found.lead_id or '-'}"]
    lines += [f"{m.sent_at:%Y-%m-%d %H:%M:%S}  {m.role.value:<7} {m.text}" for m in found.messages]
    return PlainTextResponse("\n".join(lines) + "\n", headers=headers)
