"""The clocks over leads: an assigned lead not accepted in time moves on, and waiting leads are picked up.

``enforce_sla`` and ``pick_up_queue`` are meant to run every minute or less (the notifier runs both; from
cron: ``embudo sla enforce``). The transitions themselves are ``crm_core.sales.lifecycle``'s. ``is_overdue``
and ``overdue_condition`` say, in Python and in SQL, which leads have waited longer than the SLA.
"""

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from crm_core.assignment.routing import anyone_free, least_loaded_admin
from crm_core.models import AssignmentAction, Lead, LeadRow, Qualification, utcnow
from crm_core.sales.lifecycle import move_on, pick_up
from crm_core.sales.pipeline import current_pipeline


def enforce_sla(session: Session, now: datetime | None = None) -> list[int]:
    """Move on every lead whose acceptance deadline has passed; returns their ids. Safe to run in several
    notifiers at once: on PostgreSQL a lead being moved on is locked and skipped by the others; once moved,
    its new deadline is in the future."""
    now = now or utcnow()
    overdue = list(
        session.scalars(
            select(Lead)
            .where(
                Lead.sla_due_at.is_not(None),
                Lead.sla_due_at <= now,
                Lead.accepted_at.is_(None),
                Lead.assigned_rep_id.is_not(None),
                Lead.stage.in_(current_pipeline().open_stages),
            )
            .order_by(Lead.sla_due_at, Lead.id)
            .with_for_update(skip_locked=True)
        )
    )
    minutes = current_pipeline().sla.accept_minutes
    for lead in overdue:
        move_on(session, lead, AssignmentAction.EXPIRED, f"not accepted within {minutes} min", now)
    return [lead.id for lead in overdue]


def unassigned_queue(session: Session, limit: int | None = None, claim: bool = False) -> list[Lead]:
    """SQL leads waiting for a rep (nobody was eligible, or an escalation found no admin), oldest first;
    ``claim`` locks them on PostgreSQL (``SKIP LOCKED``: another notifier picking up skips them)."""
    query = (
        select(Lead)
        .where(
            Lead.assigned_rep_id.is_(None),
            Lead.qualification == Qualification.SQL,
            Lead.stage.in_(current_pipeline().open_stages),
        )
        .order_by(Lead.created_at, Lead.id)
        .limit(limit)
    )
    return list(session.scalars(query.with_for_update(skip_locked=True) if claim else query))


def pick_up_queue(session: Session, now: datetime | None = None, limit: int | None = None) -> list[int]:
    """Give waiting leads, oldest first, to the reps who can take them now (one came on shift, is back from
    away, has room again, or was added). Returns the ids of the leads handed out."""
    now = now or utcnow()
    reps_free = anyone_free(session, now)
    admin_there = least_loaded_admin(session) is not None
    if not (reps_free or admin_there):
        return []
    waiting = [
        lead
        for lead in unassigned_queue(session, limit, claim=True)
        if (admin_there if lead.escalated_at is not None else reps_free)
    ]
    return [lead.id for lead in waiting if pick_up(session, lead, now) is not None]


def is_overdue(lead: Lead | LeadRow, now: datetime | None = None) -> bool:
    """The lead has waited longer than the SLA: its owner's acceptance deadline has passed, or it has sat in
    the queue (an SQL lead with no owner) for longer than the acceptance minutes since it was created."""
    now = now or utcnow()
    pipeline = current_pipeline()
    if pipeline.is_terminal(lead.stage) or lead.accepted_at is not None:
        return False
    if lead.sla_due_at is not None:
        return lead.sla_due_at <= now
    waited = timedelta(minutes=pipeline.sla.accept_minutes)
    return (
        lead.assigned_rep_id is None
        and lead.qualification is Qualification.SQL
        and lead.created_at is not None
        and lead.created_at <= now - waited
    )


def overdue_condition(now: datetime | None = None, owned: bool = False) -> ColumnElement[bool]:
    """``is_overdue`` as a WHERE clause, for lead lists and the board (NULL-safe, so that its negation
    finds every other lead). ``owned``: the query only reads leads that have an owner (one rep's), so the
    branch for unowned leads is left out; the rest is then what the partial index ``ix_leads_rep_due``
    (rep, due time, unaccepted leads) serves."""
    now = now or utcnow()
    pipeline = current_pipeline()
    waited = timedelta(minutes=pipeline.sla.accept_minutes)
    past_due = and_(Lead.sla_due_at.is_not(None), Lead.sla_due_at <= now)
    unowned_waiting = and_(
        Lead.sla_due_at.is_(None),
        Lead.assigned_rep_id.is_(None),
        Lead.qualification == Qualification.SQL,
        Lead.created_at <= now - waited,
    )
    return and_(
        Lead.stage.in_(pipeline.open_stages),
        Lead.accepted_at.is_(None),
        past_due if owned else or_(past_due, unowned_waiting),
    )
