"""The acceptance SLA: a rep accepts an assigned lead in time, or it moves on; twice, and an admin gets it.

``enforce_sla`` is meant to run every minute or so (``embudo sla enforce`` from cron or a timer).
"""

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_core.errors import InvalidInput, InvalidTransition, NotFound
from crm_core.models import AssignmentAction, AssignmentEvent, Lead, Rep, utcnow
from crm_core.pipeline import PipelineConfig, current_pipeline
from crm_core.reps import open_lead_counts
from crm_core.routing import assign, give_to, log_event


def _assigned_lead(session: Session, lead_id: int, rep_id: int) -> Lead:
    lead = session.get(Lead, lead_id)
    if lead is None:
        raise NotFound(f"No lead with id {lead_id}.")
    if lead.assigned_rep_id != rep_id:
        raise InvalidInput(f"Lead {lead_id} is not assigned to rep {rep_id}.")
    if lead.accepted_at is not None:
        raise InvalidTransition(f"Lead {lead_id} was already accepted.")
    return lead


def accept(session: Session, lead_id: int, rep_id: int, now: datetime | None = None) -> Lead:
    """The assigned rep takes the lead: the SLA clock stops."""
    now = now or utcnow()
    lead = _assigned_lead(session, lead_id, rep_id)
    lead.accepted_at = now
    lead.sla_due_at = None
    log_event(session, lead, AssignmentAction.ACCEPTED, lead.assigned_rep, "accepted by the rep", now)
    session.flush()
    return lead


def pass_lead(
    session: Session,
    lead_id: int,
    rep_id: int,
    now: datetime | None = None,
    reason: str = "passed by the rep",
) -> Rep | None:
    """The assigned rep declines the lead; it moves on as if the SLA had expired. Returns the new owner."""
    lead = _assigned_lead(session, lead_id, rep_id)
    return _move_on(session, lead, AssignmentAction.PASSED, reason, now or utcnow())


def _previous_owners(session: Session, lead: Lead) -> set[int]:
    rows = session.scalars(
        select(AssignmentEvent.rep_id).where(
            AssignmentEvent.lead_id == lead.id,
            AssignmentEvent.action == AssignmentAction.ASSIGNED,
            AssignmentEvent.rep_id.is_not(None),
        )
    )
    return {rep_id for rep_id in rows if rep_id is not None}


def _admin(session: Session) -> Rep | None:
    """The active admin with the fewest open leads."""
    admins = list(
        session.scalars(select(Rep).where(Rep.is_admin.is_(True), Rep.active.is_(True)).order_by(Rep.id))
    )
    loads = open_lead_counts(session)
    return min(admins, key=lambda rep: loads.get(rep.id, 0)) if admins else None


def _move_on(
    session: Session,
    lead: Lead,
    action: AssignmentAction,
    reason: str,
    now: datetime,
    pipeline: PipelineConfig | None = None,
) -> Rep | None:
    pipeline = pipeline or current_pipeline()
    log_event(session, lead, action, lead.assigned_rep, reason, now)
    lead.sla_passes += 1
    if lead.sla_passes >= pipeline.sla.max_passes:
        return escalate(session, lead, now, f"not accepted after {lead.sla_passes} passes")
    return assign(session, lead, now, exclude=_previous_owners(session, lead))


def escalate(session: Session, lead: Lead, now: datetime, reason: str) -> Rep | None:
    """Give the lead to an admin (no SLA), or leave it queued and flagged when there is no admin."""
    lead.escalated_at = now
    admin = _admin(session)
    if admin is None:
        lead.assigned_rep = None
        lead.assigned_at = None
        lead.sla_due_at = None
        log_event(session, lead, AssignmentAction.ESCALATED, None, f"{reason}; no active admin: queued", now)
    else:
        give_to(session, lead, admin, now, with_sla=False, reason=f"escalated to you: {reason}")
        log_event(session, lead, AssignmentAction.ESCALATED, admin, f"{reason}; to admin {admin.name}", now)
    session.flush()
    return admin


def enforce_sla(session: Session, now: datetime | None = None) -> list[int]:
    """Move on every lead whose acceptance deadline has passed; returns their ids."""
    now = now or utcnow()
    overdue = list(
        session.scalars(
            select(Lead)
            .where(
                Lead.sla_due_at.is_not(None),
                Lead.sla_due_at <= now,
                Lead.accepted_at.is_(None),
                Lead.stage.in_(current_pipeline().open_stages),
            )
            .order_by(Lead.sla_due_at, Lead.id)
        )
    )
    minutes = current_pipeline().sla.accept_minutes
    for lead in overdue:
        _move_on(session, lead, AssignmentAction.EXPIRED, f"not accepted within {minutes} min", now)
    return [lead.id for lead in overdue]


def unassigned_queue(session: Session) -> list[Lead]:
    """SQL leads waiting for a rep (nobody was eligible, or an escalation found no admin)."""
    from crm_core.models import Qualification

    return list(
        session.scalars(
            select(Lead)
            .where(
                Lead.assigned_rep_id.is_(None),
                Lead.qualification == Qualification.SQL,
                Lead.stage.in_(current_pipeline().open_stages),
            )
            .order_by(Lead.created_at, Lead.id)
        )
    )
