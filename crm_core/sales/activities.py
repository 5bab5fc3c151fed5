"""Activities and notes on a lead: what was done, by whom, and what is due.

An activity with a due time is a task: it is open until ``complete`` marks it done, and ``due_tasks`` lists a
rep's open tasks on the leads they have, soonest first (overdue ones at the top).
"""

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_core.db import author_of
from crm_core.errors import InvalidInput, InvalidTransition, NotFound
from crm_core.limits import FIRST_DAY, LAST_DAY, TEXT_LENGTH, check_text
from crm_core.models import Activity, ActivityKind, Lead, Rep, utcnow
from crm_core.sales.pipeline import note_first_contact
from crm_core.schemas import ActivityOut

CONTACT_KINDS = frozenset({ActivityKind.CALL, ActivityKind.EMAIL, ActivityKind.MEETING})  # reach the person


def add_activity(
    session: Session,
    lead_id: int,
    kind: ActivityKind | str,
    body: str,
    rep_id: int | None = None,
    due_at: datetime | None = None,
    at: datetime | None = None,
) -> ActivityOut:
    """Attach an activity (a note, call, e-mail, meeting or task) to a lead; ``at`` is when it was done
    (default now). A call, e-mail or meeting may be the lead's first contact (speed to lead)."""
    lead = session.get(Lead, lead_id)
    if lead is None:
        raise NotFound(f"No lead with id {lead_id}.")
    try:
        kind = ActivityKind(kind)
    except ValueError:
        names = ", ".join(k.value for k in ActivityKind)
        raise InvalidInput(f"Unknown activity '{kind}': use one of {names}.") from None
    if not body.strip():
        raise InvalidInput("An activity needs some text.", "body")
    check_text(body, "body", TEXT_LENGTH, multiline=True)
    if rep_id is not None and session.get(Rep, rep_id) is None:
        raise NotFound(f"No rep with id {rep_id}.")
    if (due_at is not None and due_at.tzinfo is None) or (at is not None and at.tzinfo is None):
        raise InvalidInput("Times must carry a time zone (UTC).", "due")
    if due_at is not None and not FIRST_DAY <= due_at.date() <= LAST_DAY:
        raise InvalidInput(f"A due time must be between {FIRST_DAY.year} and {LAST_DAY.year}.", "due")
    done_at = at or utcnow()
    activity = Activity(
        lead_id=lead_id,
        kind=kind,
        body=body.strip(),
        rep_id=rep_id,
        due_at=due_at,
        created_at=done_at,
        made_by=author_of(session),
    )
    if kind in CONTACT_KINDS:
        note_first_contact(lead, done_at)
    session.add(activity)
    session.flush()
    return ActivityOut.model_validate(activity)


def add_note(session: Session, lead_id: int, body: str, rep_id: int | None = None) -> ActivityOut:
    return add_activity(session, lead_id, ActivityKind.NOTE, body, rep_id=rep_id)


def list_activities(session: Session, lead_id: int) -> list[ActivityOut]:
    if session.get(Lead, lead_id) is None:
        raise NotFound(f"No lead with id {lead_id}.")
    rows = session.scalars(
        select(Activity).where(Activity.lead_id == lead_id).order_by(Activity.created_at, Activity.id)
    )
    return [ActivityOut.model_validate(activity) for activity in rows]


def complete(session: Session, activity_id: int, now: datetime | None = None) -> ActivityOut:
    """Mark a task (an activity with a due time) done."""
    activity = session.get(Activity, activity_id)
    if activity is None:
        raise NotFound(f"No activity with id {activity_id}.")
    if activity.due_at is None:
        raise InvalidInput(
            f"{activity.kind.value.capitalize()} {activity_id} has no due time: it is not a task."
        )
    if activity.done_at is not None:
        raise InvalidTransition(f"Task {activity_id} is already done.")
    activity.done_at = now or utcnow()
    activity.done_by = author_of(session)
    session.flush()
    return ActivityOut.model_validate(activity)


def due_tasks(session: Session, rep_id: int, limit: int = 50) -> list[ActivityOut]:
    """The open tasks on the leads ``rep_id`` has, soonest due first."""
    rows = session.scalars(
        select(Activity)
        .join(Lead, Lead.id == Activity.lead_id)
        .where(Lead.assigned_rep_id == rep_id, Activity.due_at.is_not(None), Activity.done_at.is_(None))
        .order_by(Activity.due_at, Activity.id)
        .limit(limit)
    )
    return [ActivityOut.model_validate(activity) for activity in rows]
