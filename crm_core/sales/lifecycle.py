"""A lead's lifecycle: the one place its class, stage, owner and acceptance clock change.

Each transition refuses what the rules forbid with a ``CrmError`` before anything is written, and leaves a
trace: stage moves in ``stage_changes``, owner changes in ``assignment_events``.

- ``qualify``: the policy's verdict. The class is the verdict; the stage only moves forward to it (MQL →
  mql, SQL → sql), never back. While the lead is still being qualified (new, mql, sql), leaving SQL or being
  disqualified releases its rep and stops the clock. Past sql a person works the lead: the verdict is
  recorded, stage and owner are theirs to change.
- ``move``: the stage by hand, by the pipeline's rules (forward, or to won / lost; out of won / lost only by
  an explicit reopen). Won is refused while the lead has open deals; lost loses its open deals with it.
  Closing a lead stops its clock.
- ``assign`` (routing's pick), ``assign_to`` (a person's pick), ``pick_up`` (from the queue), ``accept``,
  ``pass_lead``, ``move_on`` (an expired clock), ``escalate``, ``release``.
- ``restore``: a new lead as another database recorded it (a CSV export being imported): its history as it
  happened and its owner, without routing or notifications.

``_set_owner`` is the only code that writes who has a lead; ``_stop_clock`` the only one that stops its clock.
``_hand``, through which every new owner comes, takes the lead's booked meetings along (``meeting_moves``).
"""

from collections.abc import Collection
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from crm_core.assignment import routing
from crm_core.delivery.notifications import notify_owner
from crm_core.errors import InvalidInput, InvalidTransition, NotFound
from crm_core.exchange.webhooks import LEAD_ASSIGNED, LEAD_QUALIFIED, LEAD_STAGE_CHANGED, emit
from crm_core.models import (
    AssignmentAction,
    AssignmentEvent,
    Deal,
    Lead,
    Qualification,
    Rep,
    SlaTally,
    Stage,
    StageChange,
    utcnow,
)
from crm_core.qualification.policy import Verdict
from crm_core.sales.pipeline import (
    LOST_WITH_LEAD,
    PipelineConfig,
    aware,
    current_pipeline,
    note_acceptance,
    parse_stage,
    recheck_date,
    record_stage,
)
from crm_core.sales.pipeline import move as move_deal
from crm_core.scheduling import meeting_moves

STAGE_OF_CLASS = {Qualification.MQL: Stage.MQL, Qualification.SQL: Stage.SQL}
QUALIFYING_STAGES = frozenset({Stage.NEW, Stage.MQL, Stage.SQL})  # the policy moves these; people the rest


def _lead(session: Session, lead_id: int) -> Lead:
    lead = session.get(Lead, lead_id)
    if lead is None:
        raise NotFound(f"No lead with id {lead_id}.")
    return lead


def is_closed(lead: Lead, pipeline: PipelineConfig | None = None) -> bool:
    return (pipeline or current_pipeline()).is_terminal(lead.stage)


# --- the owner and the clock --------------------------------------------------------------------------


def _set_owner(lead: Lead, rep: Rep | None, now: datetime, *, clock: bool) -> None:
    """Who has the lead, since when, and (unless ``clock`` is off) by when they must accept it."""
    lead.assigned_rep = rep
    lead.assigned_at = now if rep is not None else None
    lead.accepted_at = None
    minutes = current_pipeline().sla.accept_minutes
    lead.sla_due_at = now + timedelta(minutes=minutes) if rep is not None and clock else None
    if rep is not None:
        rep.last_assigned_at = now


def _stop_clock(lead: Lead, accepted_at: datetime | None = None) -> None:
    lead.sla_due_at = None
    if accepted_at is not None:
        lead.accepted_at = accepted_at


def _count_clock(session: Session, lead: Lead, now: datetime, *, accepted: bool) -> None:
    """The owner decided a lead that had a clock (accepted, passed, or let it run out): count it in the
    owner's SLA compliance, met when accepted by the deadline. Leads without a clock are not counted."""
    if lead.sla_due_at is None or lead.assigned_rep_id is None or lead.assigned_at is None:
        return
    met = int(accepted and now <= lead.sla_due_at)
    connection = session.connection()
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    day = lead.assigned_at.astimezone(UTC).date()
    statement = insert(SlaTally).values(day=day, rep_id=lead.assigned_rep_id, decided=1, met=met)
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=[SlaTally.day, SlaTally.rep_id],
            set_={
                "decided": SlaTally.decided + statement.excluded.decided,
                "met": SlaTally.met + statement.excluded.met,
            },
        )
    )


def _hand(
    session: Session,
    lead: Lead,
    rep: Rep,
    now: datetime,
    *,
    clock: bool,
    action: AssignmentAction,
    told: str,
    logged: str,
) -> None:
    """Give ``lead`` to ``rep`` with its booked meetings, tell the rep (``told``) and log it (``logged``),
    in this transaction. The meetings are looked up first: a query after the writes below would flush them
    on its own, and one flush for the whole hand-off is cheaper."""
    ahead = meeting_moves.ahead_of(session, lead, rep, now)
    _set_owner(lead, rep, now, clock=clock)
    notify_owner(session, lead, rep, told, now)
    meeting_moves.follow_owner(session, lead, rep, now, ahead)
    emit(
        session, LEAD_ASSIGNED, {"lead_id": lead.id, "rep_id": rep.id, "rep": rep.name, "at": now.isoformat()}
    )
    routing.log_event(session, lead, action, rep, logged, now)
    session.flush()


def assign(
    session: Session,
    lead: Lead,
    now: datetime | None = None,
    exclude: Collection[int] = (),
    cause: str | None = None,
) -> Rep | None:
    """Give ``lead`` to the rep routing picks; it waits unassigned (the queue) when nobody fits.
    ``cause`` (e.g. "the visitor asked for a person") is told to the rep and kept in the audit log."""
    now = now or utcnow()
    if is_closed(lead):
        raise InvalidTransition(f"Lead {lead.id} is {lead.stage.value}: reopen it before assigning it.")
    rep, why = routing.choose(session, lead.language, lead.territory, now, exclude)
    if cause:
        why = f"{cause}; {why}"
    if rep is None:
        _set_owner(lead, None, now, clock=False)
        routing.log_event(session, lead, AssignmentAction.QUEUED, None, why, now)
        session.flush()
        return None
    told, logged = f"assigned to you: {why}", f"to {rep.name}: {why}"
    _hand(session, lead, rep, now, clock=True, action=AssignmentAction.ASSIGNED, told=told, logged=logged)
    return rep


def assign_to(session: Session, lead_id: int, rep_id: int, by: str, now: datetime | None = None) -> Lead:
    """A person (an admin, a script) gives the lead to a chosen rep, whatever routing would pick: the rep's
    hours and capacity are the chooser's call. The rep must accept it within the SLA (an admin need not)."""
    now = now or utcnow()
    lead = _lead(session, lead_id)
    rep = session.get(Rep, rep_id)
    if rep is None:
        raise NotFound(f"No rep with id {rep_id}.")
    if not rep.active:
        raise InvalidInput(f"{rep.name} is inactive: activate them first, or choose another rep.")
    if is_closed(lead):
        raise InvalidTransition(f"Lead {lead.id} is {lead.stage.value}: reopen it before assigning it.")
    if lead.assigned_rep_id == rep.id:
        raise InvalidTransition(f"Lead {lead.id} is already assigned to {rep.name}.")
    who = by.strip() or "someone"
    was = f" (was {lead.assigned_rep.name}'s)" if lead.assigned_rep is not None else ""
    lead.sla_passes = 0  # a person's choice starts the passes afresh
    lead.escalated_at = None
    _hand(
        session,
        lead,
        rep,
        now,
        clock=not rep.is_admin,
        action=AssignmentAction.ASSIGNED,
        told=f"assigned to you by {who}",
        logged=f"to {rep.name}: chosen by {who}{was}",
    )
    return lead


def pick_up(session: Session, lead: Lead, now: datetime) -> Rep | None:
    """A waiting lead goes to whoever can take it now (an admin, if it was escalated); nobody: it keeps
    waiting, and nothing is logged (this runs every few seconds)."""
    if lead.escalated_at is not None:
        rep, why, action = routing.least_loaded_admin(session), "", AssignmentAction.ESCALATED
    else:
        exclude = routing.previous_owners(session, lead)
        rep, why = routing.choose(session, lead.language, lead.territory, now, exclude)
        action = AssignmentAction.ASSIGNED
    if rep is None:
        return None
    queued_at = session.scalar(select(func.max(AssignmentEvent.at)).where(AssignmentEvent.lead_id == lead.id))
    since = f"from the queue after {_duration(now - (queued_at or lead.created_at))}"
    if action is AssignmentAction.ESCALATED:
        told, logged = f"escalated to you {since}", f"{since}; to admin {rep.name}"
    else:
        told, logged = f"assigned to you {since}: {why}", f"to {rep.name} {since}: {why}"
    _hand(
        session,
        lead,
        rep,
        now,
        clock=action is AssignmentAction.ASSIGNED,
        action=action,
        told=told,
        logged=logged,
    )
    return rep


def _duration(span: timedelta) -> str:
    minutes = max(int(span.total_seconds() // 60), 0)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours < 48 else f"{hours // 24} days"


HUMAN_REQUESTED = "the visitor asked to talk to a person"


def hand_to_a_person(
    session: Session, lead_id: int, now: datetime | None = None, cause: str = HUMAN_REQUESTED
) -> Rep | None:
    """A visitor asked for a human: the lead goes to a rep now, whatever its class (or the current owner is
    told again). Returns who has it, or None when nobody is eligible (then it waits in the queue).
    ``cause`` is what the rep is told (e.g. that the visitor is waiting in the chat)."""
    lead = _lead(session, lead_id)
    now = now or utcnow()
    if lead.assigned_rep is not None:
        notify_owner(session, lead, lead.assigned_rep, f"{cause} (already yours)", now)
        session.flush()
        return lead.assigned_rep
    if is_closed(lead):  # nobody to tell, and a closed lead is not routed: an admin sees it in the log
        why = f"{cause}, but the lead is {lead.stage.value} and has no owner: reopen it to assign it"
        routing.log_event(session, lead, AssignmentAction.QUEUED, None, why, now)
        session.flush()
        return None
    return assign(session, lead, now, cause=cause)


def _waiting_for(session: Session, lead_id: int, rep_id: int) -> Lead:
    lead = _lead(session, lead_id)
    if lead.assigned_rep_id != rep_id:
        raise InvalidInput(f"Lead {lead_id} is not assigned to rep {rep_id}.")
    if lead.accepted_at is not None:
        raise InvalidTransition(f"Lead {lead_id} was already accepted.")
    if is_closed(lead):
        raise InvalidTransition(f"Lead {lead_id} is {lead.stage.value}: there is nothing to accept or pass.")
    return lead


def accept(session: Session, lead_id: int, rep_id: int, now: datetime | None = None) -> Lead:
    """The assigned rep takes the lead: the SLA clock stops."""
    now = now or utcnow()
    lead = _waiting_for(session, lead_id, rep_id)
    _count_clock(session, lead, now, accepted=True)
    _stop_clock(lead, accepted_at=now)
    note_acceptance(lead, rep_id, now)
    routing.log_event(session, lead, AssignmentAction.ACCEPTED, lead.assigned_rep, "accepted by the rep", now)
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
    lead = _waiting_for(session, lead_id, rep_id)
    return move_on(session, lead, AssignmentAction.PASSED, reason, now or utcnow())


def move_on(session: Session, lead: Lead, action: AssignmentAction, reason: str, now: datetime) -> Rep | None:
    """The owner passed or let the clock run out: the next rep gets it; after too many passes, an admin."""
    routing.log_event(session, lead, action, lead.assigned_rep, reason, now)
    _count_clock(session, lead, now, accepted=False)
    lead.sla_passes += 1
    if lead.sla_passes >= current_pipeline().sla.max_passes:
        return escalate(session, lead, now, f"not accepted after {lead.sla_passes} passes")
    return assign(session, lead, now, exclude=routing.previous_owners(session, lead))


def escalate(session: Session, lead: Lead, now: datetime, reason: str) -> Rep | None:
    """Give the lead to an admin (no clock), or leave it queued and flagged when there is no admin."""
    lead.escalated_at = now
    admin = routing.least_loaded_admin(session)
    if admin is None:
        _set_owner(lead, None, now, clock=False)
        routing.log_event(
            session, lead, AssignmentAction.ESCALATED, None, f"{reason}; no active admin: queued", now
        )
        session.flush()
        return None
    told, logged = f"escalated to you: {reason}", f"{reason}; to admin {admin.name}"
    _hand(session, lead, admin, now, clock=False, action=AssignmentAction.ESCALATED, told=told, logged=logged)
    return admin


def release(session: Session, lead: Lead, now: datetime, reason: str) -> None:
    """Nobody has the lead any more, and no clock runs (it is no longer a sales lead to hand on)."""
    if lead.assigned_rep is None and lead.sla_due_at is None:
        return
    routing.log_event(session, lead, AssignmentAction.RELEASED, lead.assigned_rep, reason, now)
    _set_owner(lead, None, now, clock=False)
    lead.escalated_at = None
    session.flush()


# --- the stage ----------------------------------------------------------------------------------------


def _write_stage(
    session: Session, lead: Lead, stage: Stage, when: datetime, reason: str | None
) -> StageChange:
    previous = lead.stage
    lead.stage = stage
    emit(
        session,
        LEAD_STAGE_CHANGED,
        {"lead_id": lead.id, "from": previous.value, "to": stage.value, "at": when.isoformat()},
    )
    return record_stage(session, lead, previous, at=when, reason=reason)


def open_deals(session: Session, lead: Lead) -> list[Deal]:
    pipeline = current_pipeline()
    deals = session.scalars(select(Deal).where(Deal.lead_id == lead.id).order_by(Deal.id))
    return [deal for deal in deals if not pipeline.is_terminal(deal.stage)]


def move(
    session: Session,
    lead: Lead,
    target: Stage | str,
    *,
    reopen: bool = False,
    at: datetime | None = None,
    reason: str | None = None,
    lost_reason: str | None = None,
    recheck_on: date | None = None,
    pipeline: PipelineConfig | None = None,
) -> StageChange:
    """Move a lead to ``target`` if the pipeline allows it, and record the move.

    Won is refused while the lead has open deals (each is won or lost first, so the forecast never keeps
    closed business); lost loses them with it, for ``lost_reason`` (one of the pipeline's) or, unnamed,
    as "lead lost". A closed lead's clock stops; its owner keeps the credit. A lost lead is re-checked on
    ``recheck_on`` (else after the policy's days: ``crm_core.outreach.winback``); leaving lost clears it.
    """
    pipeline = pipeline or current_pipeline()
    stage = parse_stage(target)
    when = aware(at)
    pipeline.check_move(lead.stage, stage, reopen=reopen)
    recheck = recheck_date(session, stage, recheck_on, when)
    deals_lost_for = LOST_WITH_LEAD
    if stage is Stage.LOST and lost_reason:
        deals_lost_for = pipeline.lost_reason(lost_reason, f"lead {lead.id}")
    still_open = open_deals(session, lead) if pipeline.is_terminal(stage) else []
    if stage is Stage.WON and still_open:
        listed = ", ".join(f"#{deal.id} '{deal.title}' ({deal.stage.value})" for deal in still_open)
        raise InvalidTransition(
            f"Lead {lead.id} still has open deals: {listed}. Move each to won or lost first, "
            "then mark the lead won."
        )
    for deal in still_open:
        move_deal(
            session,
            deal,
            Stage.LOST,
            at=when,
            reason=f"lead {lead.id} was lost",
            lost_reason=deals_lost_for,
            pipeline=pipeline,
        )
        deal.recheck_on = None  # the lead's own re-check covers the deals lost with it
    if still_open:
        lost = ", ".join(f"#{deal.id}" for deal in still_open)
        reason = f"{reason}; " if reason else ""
        reason += f"its open deals {lost} were lost with it"
    change = _write_stage(session, lead, stage, when, reason or ("reopened" if reopen else None))
    if stage is Stage.LOST or change.from_stage is Stage.LOST:
        lead.recheck_on = recheck
    if pipeline.is_terminal(stage):
        _stop_clock(lead)
    return change


def move_lead(
    session: Session,
    lead_id: int,
    target: Stage | str,
    *,
    reopen: bool = False,
    reason: str | None = None,
    lost_reason: str | None = None,
    recheck_on: date | None = None,
) -> StageChange:
    lead = _lead(session, lead_id)
    return move(
        session, lead, target, reopen=reopen, reason=reason, lost_reason=lost_reason, recheck_on=recheck_on
    )


# --- the class ----------------------------------------------------------------------------------------


def qualify(
    session: Session, lead: Lead, verdict: Verdict, now: datetime | None = None, cause: str | None = None
) -> None:
    """Record the policy's verdict on ``lead`` and make stage and owner follow it (see the module's rules).

    ``lead`` may be new (not yet in the session): its history then starts at the verdict's stage.
    ``cause`` is kept with a routing decision this verdict leads to (e.g. where its territory came from).
    """
    now = now or utcnow()
    pipeline = current_pipeline()
    is_new = lead.id is None
    previous_class = None if is_new else lead.qualification
    _record_verdict(lead, verdict)
    target = STAGE_OF_CLASS.get(verdict.qualification, Stage.NEW)
    why = f"qualified as {verdict.qualification.value}"
    if is_new:
        lead.stage = target
        session.add(lead)
        session.flush()
        record_stage(session, lead, None, at=now, reason=why)
    elif lead.stage in QUALIFYING_STAGES:
        if pipeline.order(target) > pipeline.order(lead.stage):
            move(session, lead, target, at=now, reason=why)
        left_sql = previous_class is Qualification.SQL and verdict.qualification is not Qualification.SQL
        if left_sql or verdict.qualification is Qualification.DISQUALIFIED:
            release(session, lead, now, f"{why}: no longer sales-qualified")
    if verdict.qualification in STAGE_OF_CLASS and verdict.qualification is not previous_class:
        emit(
            session,
            LEAD_QUALIFIED,
            {"lead_id": lead.id, "qualification": verdict.qualification.value, "score": verdict.score},
        )
    if (
        verdict.qualification is Qualification.SQL
        and lead.assigned_rep_id is None
        and not is_closed(lead, pipeline)
    ):
        assign(session, lead, now, cause=cause)


def _record_verdict(lead: Lead, verdict: Verdict) -> None:
    lead.score = verdict.score
    lead.qualification = verdict.qualification
    lead.temperature = verdict.temperature
    lead.reasons = [reason.model_dump() for reason in verdict.reasons]
    lead.policy_version = verdict.policy_version
    if lead.stage is not Stage.LOST:  # a lost lead keeps the re-check chosen when it was lost
        lead.recheck_on = verdict.recheck_on


# --- a lead brought back -----------------------------------------------------------------------------


def restore(
    session: Session,
    lead: Lead,
    verdict: Verdict,
    stages: list[tuple[Stage, datetime]],
    owner: Rep | None = None,
    assigned_at: datetime | None = None,
    accepted_at: datetime | None = None,
) -> None:
    """Bring back a new ``lead`` as another database recorded it (``csv_io``'s import of an export): the
    verdict, the stage history as it happened (``stages``, oldest first) and the owner, without routing
    and without telling anyone. An owner who had not accepted an open lead gets the clock back from
    ``assigned_at``, as if it had been assigned there."""
    if lead.id is not None:
        raise InvalidTransition(f"Lead {lead.id} already exists: only a new lead is restored.")
    if not stages:
        raise InvalidInput("A restored lead needs at least one stage in its history.")
    _record_verdict(lead, verdict)
    previous: Stage | None = None
    for stage, at in stages:
        lead.stage = stage
        if previous is None:
            session.add(lead)
            session.flush()
        record_stage(session, lead, previous, at=at, reason="imported" if previous is None else None)
        previous = stage
    if owner is not None:
        since = assigned_at or stages[-1][1]
        _set_owner(lead, owner, since, clock=accepted_at is None and not is_closed(lead))
        lead.accepted_at = accepted_at
        routing.log_event(
            session, lead, AssignmentAction.ASSIGNED, owner, f"to {owner.name}: imported", since
        )
    session.flush()
