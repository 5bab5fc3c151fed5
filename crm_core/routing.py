"""Who gets a lead: an eligible rep, least loaded first, ties to whoever waited longest."""

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_core.models import Lead, Rep, utcnow
from crm_core.reps import open_lead_counts


def pick_rep(session: Session, language: str) -> Rep | None:
    """The rep who should get the next lead in ``language``, or None when nobody is eligible."""
    loads = open_lead_counts(session)
    eligible = [
        rep
        for rep in session.scalars(select(Rep).where(Rep.active.is_(True)))
        if language in rep.languages and loads.get(rep.id, 0) < rep.capacity
    ]
    if not eligible:
        return None
    never = datetime.min.replace(tzinfo=utcnow().tzinfo)
    return min(eligible, key=lambda rep: (loads.get(rep.id, 0), rep.last_assigned_at or never, rep.id))


def assign(session: Session, lead: Lead) -> Rep | None:
    """Assign ``lead`` to the rep routing picks; it stays unassigned (queued) when nobody fits."""
    rep = pick_rep(session, lead.language)
    if rep is not None:
        now = utcnow()
        lead.assigned_rep = rep
        lead.assigned_at = now
        rep.last_assigned_at = now
        session.flush()
    return rep
