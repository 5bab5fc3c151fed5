"""Who gets a lead: an eligible rep, least loaded first, ties to whoever waited longest.

Eligible = active, not away, within working hours, speaks the lead's language, covers its territory
(a rep with no territories covers all), under capacity, not an admin (admins get escalations), and
not one who already had this lead. Every decision is written to the assignment audit log.
"""

from collections.abc import Collection
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_core.errors import NotFound
from crm_core.models import AssignmentAction, AssignmentEvent, Lead, Rep, utcnow
from crm_core.notifications import notify_owner
from crm_core.pipeline import current_pipeline
from crm_core.schemas import WEEKDAYS
from crm_core.webhooks import LEAD_ASSIGNED, emit


def is_working(rep: Rep, now: datetime) -> bool:
    """Within the rep's working hours (in the rep's time zone); no hours set means always."""
    if not rep.working_hours:
        return True
    local = now.astimezone(ZoneInfo(rep.timezone))
    span = rep.working_hours.get(WEEKDAYS[local.weekday()])
    if not span:
        return False
    return span[0] <= local.strftime("%H:%M") < span[1]


def why_not(rep: Rep, load: int, language: str, territory: str | None, now: datetime) -> str | None:
    """The reason ``rep`` cannot take the lead, or None when eligible."""
    if not rep.active:
        return "inactive"
    if rep.is_admin:
        return "admin (receives escalations only)"
    if rep.away_until is not None and now < rep.away_until:
        return f"away until {rep.away_until:%Y-%m-%d %H:%M} UTC"
    if not is_working(rep, now):
        return "outside working hours"
    if language not in rep.languages:
        return f"does not speak {language}"
    if territory and rep.territories and territory.upper() not in rep.territories:
        return f"does not cover {territory.upper()}"
    if load >= rep.capacity:
        return f"at capacity ({load}/{rep.capacity})"
    return None


def _choose(
    session: Session,
    language: str,
    territory: str | None,
    now: datetime,
    exclude: Collection[int],
) -> tuple[Rep | None, str]:
    reps = list(session.scalars(select(Rep).where(Rep.active.is_(True)).order_by(Rep.id)))
    loads = {rep.id: rep.open_leads for rep in reps}  # the kept counters: routing never counts leads
    eligible: list[Rep] = []
    refused: list[str] = []
    for rep in reps:
        if rep.id in exclude:
            refused.append(f"{rep.name}: already had this lead")
            continue
        reason = why_not(rep, loads.get(rep.id, 0), language, territory, now)
        if reason is None:
            eligible.append(rep)
        else:
            refused.append(f"{rep.name}: {reason}")
    if not eligible:
        return None, "no eligible rep" + (f" ({'; '.join(refused)})" if refused else " (no active reps)")
    never = datetime.min.replace(tzinfo=now.tzinfo)
    chosen = min(eligible, key=lambda rep: (loads.get(rep.id, 0), rep.last_assigned_at or never, rep.id))
    load = loads.get(chosen.id, 0)
    ties = [r for r in eligible if loads.get(r.id, 0) == load]
    why = f"{len(eligible)} eligible; least loaded ({load}/{chosen.capacity} open)"
    if len(ties) > 1:
        why += f", waited longest of {len(ties)} tied"
    return chosen, why


def pick_rep(
    session: Session,
    language: str,
    territory: str | None = None,
    now: datetime | None = None,
    exclude: Collection[int] = (),
) -> Rep | None:
    """The rep who should get the next lead in ``language``, or None when nobody is eligible."""
    return _choose(session, language, territory, now or utcnow(), exclude)[0]


def log_event(
    session: Session, lead: Lead, action: AssignmentAction, rep: Rep | None, reason: str, now: datetime
) -> AssignmentEvent:
    event = AssignmentEvent(
        lead_id=lead.id, rep_id=rep.id if rep else None, action=action, reason=reason, at=now
    )
    session.add(event)
    return event


def give_to(
    session: Session,
    lead: Lead,
    rep: Rep,
    now: datetime,
    with_sla: bool = True,
    reason: str = "assigned to you",
) -> None:
    """Hand ``lead`` to ``rep`` and tell the rep (in the same transaction); the SLA clock starts unless
    the rep is an admin taking an escalation."""
    lead.assigned_rep = rep
    lead.assigned_at = now
    lead.accepted_at = None
    lead.sla_due_at = now + timedelta(minutes=current_pipeline().sla.accept_minutes) if with_sla else None
    rep.last_assigned_at = now
    notify_owner(session, lead, rep, reason, now)
    emit(
        session, LEAD_ASSIGNED, {"lead_id": lead.id, "rep_id": rep.id, "rep": rep.name, "at": now.isoformat()}
    )


def assign(
    session: Session,
    lead: Lead,
    now: datetime | None = None,
    exclude: Collection[int] = (),
    cause: str | None = None,
) -> Rep | None:
    """Assign ``lead`` to the rep routing picks; it stays unassigned (queued) when nobody fits.
    ``cause`` (e.g. "the visitor asked for a person") is told to the rep and kept in the audit log."""
    now = now or utcnow()
    rep, why = _choose(session, lead.language, lead.territory, now, exclude)
    if cause:
        why = f"{cause}; {why}"
    if rep is None:
        lead.assigned_rep = None
        lead.assigned_at = None
        lead.sla_due_at = None
        log_event(session, lead, AssignmentAction.QUEUED, None, why, now)
    else:
        give_to(session, lead, rep, now, reason=f"assigned to you: {why}")
        log_event(session, lead, AssignmentAction.ASSIGNED, rep, f"to {rep.name}: {why}", now)
    session.flush()
    return rep


HUMAN_REQUESTED = "the visitor asked to talk to a person"


def hand_to_a_person(session: Session, lead_id: int, now: datetime | None = None) -> Rep | None:
    """A visitor asked for a human: the lead goes to a rep now, whatever its class (or the current owner is
    told again). Returns who has it, or None when nobody is eligible (then it waits in the queue)."""
    lead = session.get(Lead, lead_id)
    if lead is None:
        raise NotFound(f"No lead with id {lead_id}.")
    now = now or utcnow()
    if lead.assigned_rep is not None:
        notify_owner(session, lead, lead.assigned_rep, f"{HUMAN_REQUESTED} (already yours)", now)
        session.flush()
        return lead.assigned_rep
    return assign(session, lead, now, cause=HUMAN_REQUESTED)


def audit_log(session: Session, lead_id: int) -> list[AssignmentEvent]:
    """Every routing decision about a lead, oldest first."""
    return list(
        session.scalars(
            select(AssignmentEvent)
            .where(AssignmentEvent.lead_id == lead_id)
            .order_by(AssignmentEvent.at, AssignmentEvent.id)
        )
    )
