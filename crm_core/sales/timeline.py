"""A lead's record: every change to it and its deals — stage moves, routing decisions, activities and
tasks done, deal edits and deletions — with who made it and when, oldest first. Read-only: each entry is
written where the change is made, with ``db.author_of`` (the unit of work's author)."""

from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_core.errors import NotFound
from crm_core.models import Activity, AssignmentEvent, DealEdit, Lead, StageChange

UNKNOWN = "unknown"  # rows written before authors were recorded (revision 0020)


class Entry(BaseModel):
    at: datetime
    kind: str  # stage, deal stage, routing, activity, task done, deal
    what: str
    made_by: str


def _move(change: StageChange) -> Entry:
    what = f"{change.from_stage.value if change.from_stage else 'created'} → {change.to_stage.value}"
    what += f" ({change.reason})" if change.reason else ""
    kind = "stage" if change.deal_id is None else "deal stage"
    if change.deal_id is not None:
        what = f"deal #{change.deal_id}: {what}"
    return Entry(at=change.changed_at, kind=kind, what=what, made_by=change.made_by or UNKNOWN)


def _activity(activity: Activity) -> list[Entry]:
    label = "task" if activity.due_at is not None else activity.kind.value
    made = Entry(
        at=activity.created_at,
        kind="activity",
        what=f"{label}: {activity.body}",
        made_by=activity.made_by or UNKNOWN,
    )
    if activity.done_at is None:
        return [made]
    by = activity.done_by or UNKNOWN
    return [made, Entry(at=activity.done_at, kind="task done", what=f"done: {activity.body}", made_by=by)]


def lead_timeline(session: Session, lead_id: int) -> list[Entry]:
    """Everything recorded about the lead, oldest first (at the same time: in the order read here)."""
    if session.get(Lead, lead_id) is None:
        raise NotFound(f"No lead with id {lead_id}.")
    entries = [
        _move(change)
        for change in session.scalars(
            select(StageChange).where(StageChange.lead_id == lead_id).order_by(StageChange.id)
        )
    ]
    events = session.scalars(
        select(AssignmentEvent).where(AssignmentEvent.lead_id == lead_id).order_by(AssignmentEvent.id)
    )
    entries += [
        Entry(at=e.at, kind="routing", what=f"{e.action.value}: {e.reason}", made_by=e.made_by or UNKNOWN)
        for e in events
    ]
    logged = session.scalars(select(Activity).where(Activity.lead_id == lead_id).order_by(Activity.id))
    entries += [entry for activity in logged for entry in _activity(activity)]
    edits = session.scalars(select(DealEdit).where(DealEdit.lead_id == lead_id).order_by(DealEdit.id))
    entries += [Entry(at=edit.at, kind="deal", what=edit.change, made_by=edit.made_by) for edit in edits]
    return sorted(entries, key=lambda entry: entry.at)  # a stable sort keeps that order for ties
