"""Meeting KPIs: how many qualified leads booked a meeting, and how long from their first message.

Over the leads first qualified (SQL) in [since, until): the share with a meeting booked (moved or cancelled
later still counts: it was booked), and the median time from the first message of the lead's first
conversation (else the lead's creation) to its first booking.
"""

from datetime import datetime
from statistics import median

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_core.models import Conversation, Lead, Meeting


class MeetingKpis(BaseModel):
    qualified: int  # leads first qualified in the period
    booked: int  # of them, with a meeting booked
    qualified_to_booked: float | None  # booked / qualified (None: nothing qualified)
    median_minutes_first_message_to_booking: float | None  # None: nothing booked


def meeting_kpis(
    session: Session, since: datetime | None = None, until: datetime | None = None
) -> MeetingKpis:
    first_booking = (
        select(Meeting.lead_id, func.min(Meeting.created_at).label("booked_at"))
        .group_by(Meeting.lead_id)
        .subquery()
    )
    first_message = (
        select(Conversation.lead_id, func.min(Conversation.started_at).label("started_at"))
        .group_by(Conversation.lead_id)
        .subquery()
    )
    query = (
        select(Lead.created_at, first_message.c.started_at, first_booking.c.booked_at)
        .outerjoin(first_booking, first_booking.c.lead_id == Lead.id)
        .outerjoin(first_message, first_message.c.lead_id == Lead.id)
        .where(Lead.qualified_at.is_not(None))
    )
    if since is not None:
        query = query.where(Lead.qualified_at >= since)
    if until is not None:
        query = query.where(Lead.qualified_at < until)
    rows = session.execute(query).all()
    waits = [
        (booked_at - (started_at or created_at)).total_seconds() / 60
        for created_at, started_at, booked_at in rows
        if booked_at is not None
    ]
    return MeetingKpis(
        qualified=len(rows),
        booked=len(waits),
        qualified_to_booked=len(waits) / len(rows) if rows else None,
        median_minutes_first_message_to_booking=round(median(waits), 1) if waits else None,
    )
