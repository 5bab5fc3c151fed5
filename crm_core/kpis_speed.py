"""How fast the team works leads: speed to lead and SLA compliance per rep, and time spent in each stage.

Definitions, over one period [since, until) like the rest of ``crm_core.kpis``:

- Speed to lead, for leads that became SQL in the period (their first move to sql in the history): the
  minutes from that move to the lead's first acceptance by a rep, and to its first contact — the first
  call, e-mail or meeting logged on it, its move to contacted, or a rep's message in its conversation,
  whichever came first. Each lead counts for the rep who accepted it (else the rep who has it now).
- SLA compliance per rep: of the leads handed to the rep with an acceptance clock in the period (not
  admins, who get no clock), the share the rep accepted within ``sla.accept_minutes``. Passing a lead
  or letting its clock run out counts as missed; a lead taken away by a person (re-assigned, released)
  before the rep decided is not counted, nor one still waiting.
- Time in stage: the mean days between entering a stage and leaving it, over moves out of the stage
  made in the period — for leads and for deals apart.
"""

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import CompoundSelect, Select, func, select, union_all
from sqlalchemy.orm import Session

from crm_core.models import (
    Activity,
    ActivityKind,
    AssignmentAction,
    AssignmentEvent,
    Conversation,
    Lead,
    Message,
    MessageRole,
    Rep,
    Stage,
    StageChange,
)
from crm_core.periods import as_utc, days_between, within
from crm_core.pipeline import current_pipeline

CONTACT_KINDS = (ActivityKind.CALL, ActivityKind.EMAIL, ActivityKind.MEETING)


class RepSpeed(BaseModel):
    rep_id: int | None  # None: the whole team
    name: str
    qualified_leads: int  # leads that became SQL in the period and count for this rep
    accepted: int
    average_minutes_to_accept: float | None
    first_contacted: int
    average_minutes_to_first_contact: float | None
    sla_decided: int  # handed to the rep with a clock in the period, and accepted, passed or expired
    sla_met: int  # of those, accepted within the SLA
    sla_compliance: float | None


class SpeedReport(BaseModel):
    team: RepSpeed
    reps: list[RepSpeed]


class StageTime(BaseModel):
    stage: Stage
    moves_out: int
    average_days: float | None


class TimeInStage(BaseModel):
    leads: list[StageTime]
    deals: list[StageTime]


def _minutes(start: datetime, end: datetime) -> float:
    return (as_utc(end) - as_utc(start)).total_seconds() / 60  # type: ignore[operator]


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _first_after(
    session: Session, qualified: Select[int, datetime], moments: Select[int, datetime]
) -> dict[int, datetime]:
    """lead id → the earliest of ``moments`` (lead id, time) at or after the lead's qualification."""
    found = moments.subquery()
    q = qualified.subquery()
    rows = session.execute(
        select(found.c.lead_id, func.min(found.c.at))
        .join(q, q.c.lead_id == found.c.lead_id)
        .where(found.c.at >= q.c.at)
        .group_by(found.c.lead_id)
    )
    return {lead_id: moment for lead_id, moment in rows}


def speed_to_lead(
    session: Session, since: datetime | None = None, until: datetime | None = None
) -> SpeedReport:
    """Speed to lead and SLA compliance, per rep and for the whole team (see the module's definitions)."""
    since, until = as_utc(since), as_utc(until)
    first_sql = func.min(StageChange.changed_at)
    qualified = (
        select(StageChange.lead_id.label("lead_id"), first_sql.label("at"))
        .where(StageChange.deal_id.is_(None), StageChange.to_stage == Stage.SQL)
        .group_by(StageChange.lead_id)
    )
    if since is not None:
        qualified = qualified.having(first_sql >= since)
    if until is not None:
        qualified = qualified.having(first_sql < until)
    qualified_at: dict[int, datetime] = {lead_id: at for lead_id, at in session.execute(qualified)}
    acceptances = select(AssignmentEvent.lead_id.label("lead_id"), AssignmentEvent.at.label("at")).where(
        AssignmentEvent.action == AssignmentAction.ACCEPTED
    )
    accepted_at = _first_after(session, qualified, acceptances)
    contacts: CompoundSelect[Any] = union_all(
        select(Activity.lead_id.label("lead_id"), Activity.created_at.label("at")).where(
            Activity.kind.in_(CONTACT_KINDS)
        ),
        select(StageChange.lead_id, StageChange.changed_at).where(
            StageChange.deal_id.is_(None), StageChange.to_stage == Stage.CONTACTED
        ),
        select(Conversation.lead_id, Message.sent_at)
        .join(Message, Message.conversation_id == Conversation.id)
        .where(Message.role == MessageRole.REP),
    )
    contacted_at = _first_after(session, qualified, select(contacts.subquery()))
    accepted_by = {
        lead_id: rep_id
        for lead_id, rep_id, at in session.execute(
            select(AssignmentEvent.lead_id, AssignmentEvent.rep_id, AssignmentEvent.at).where(
                AssignmentEvent.action == AssignmentAction.ACCEPTED,
                AssignmentEvent.lead_id.in_(select(qualified.subquery().c.lead_id)),
            )
        )
        if accepted_at.get(lead_id) == at
    }
    owners: dict[int, int | None] = {
        lead_id: rep_id
        for lead_id, rep_id in session.execute(
            select(Lead.id, Lead.assigned_rep_id).where(Lead.id.in_(select(qualified.subquery().c.lead_id)))
        )
    }
    to_accept: dict[int | None, list[float]] = defaultdict(list)
    to_contact: dict[int | None, list[float]] = defaultdict(list)
    leads: dict[int | None, int] = defaultdict(int)
    for lead_id, at in qualified_at.items():
        rep_id = accepted_by.get(lead_id, owners.get(lead_id))
        leads[rep_id] += 1
        if lead_id in accepted_at:
            to_accept[rep_id].append(_minutes(at, accepted_at[lead_id]))
        if lead_id in contacted_at:
            to_contact[rep_id].append(_minutes(at, contacted_at[lead_id]))
    decided, met = _sla_outcomes(session, since, until)

    def row(rep_id: int | None, name: str, keys: list[int | None]) -> RepSpeed:
        accept = [m for key in keys for m in to_accept[key]]
        contact = [m for key in keys for m in to_contact[key]]
        rep_decided = sum(decided[key] for key in keys if key is not None)
        rep_met = sum(met[key] for key in keys if key is not None)
        return RepSpeed(
            rep_id=rep_id,
            name=name,
            qualified_leads=sum(leads[key] for key in keys),
            accepted=len(accept),
            average_minutes_to_accept=_mean(accept),
            first_contacted=len(contact),
            average_minutes_to_first_contact=_mean(contact),
            sla_decided=rep_decided,
            sla_met=rep_met,
            sla_compliance=rep_met / rep_decided if rep_decided else None,
        )

    reps = [(rep.id, rep.name) for rep in session.scalars(select(Rep).order_by(Rep.id))]
    everyone: list[int | None] = [None, *(rep_id for rep_id, _ in reps)]
    return SpeedReport(
        team=row(None, "whole team", everyone),
        reps=[row(rep_id, name, [rep_id]) for rep_id, name in reps],
    )


def _sla_outcomes(
    session: Session, since: datetime | None, until: datetime | None
) -> tuple[dict[int, int], dict[int, int]]:
    """rep id → clocked assignments decided in the period, and → those accepted within the SLA."""
    clock = timedelta(minutes=current_pipeline().sla.accept_minutes)
    admins = set(session.scalars(select(Rep.id).where(Rep.is_admin)))
    handed = select(AssignmentEvent.lead_id).where(
        AssignmentEvent.action == AssignmentAction.ASSIGNED, *within(AssignmentEvent.at, since, until)
    )
    events = session.execute(
        select(AssignmentEvent.lead_id, AssignmentEvent.rep_id, AssignmentEvent.action, AssignmentEvent.at)
        .where(AssignmentEvent.lead_id.in_(handed))
        .order_by(AssignmentEvent.lead_id, AssignmentEvent.at, AssignmentEvent.id)
    ).all()
    decided: dict[int, int] = defaultdict(int)
    met: dict[int, int] = defaultdict(int)
    for index, (lead_id, rep_id, action, at) in enumerate(events):
        in_period = (since is None or as_utc(at) >= since) and (until is None or as_utc(at) < until)  # type: ignore[operator]
        if action is not AssignmentAction.ASSIGNED or rep_id is None or rep_id in admins or not in_period:
            continue
        following = events[index + 1] if index + 1 < len(events) else None
        if following is None or following.lead_id != lead_id or following.rep_id != rep_id:
            continue  # still waiting, or taken away before the rep decided
        if following.action is AssignmentAction.ACCEPTED:
            decided[rep_id] += 1
            met[rep_id] += as_utc(following.at) - as_utc(at) <= clock  # type: ignore[operator]
        elif following.action in (AssignmentAction.PASSED, AssignmentAction.EXPIRED):
            decided[rep_id] += 1
    return decided, met


def _stage_times(
    session: Session, of_deals: bool, since: datetime | None, until: datetime | None
) -> list[StageTime]:
    item = StageChange.deal_id if of_deals else StageChange.lead_id
    entered = func.lag(StageChange.changed_at).over(
        partition_by=item, order_by=(StageChange.changed_at, StageChange.id)
    )
    moves = (
        select(
            StageChange.from_stage.label("stage"),
            StageChange.changed_at.label("left_at"),
            entered.label("entered_at"),
        )
        .where(StageChange.deal_id.is_not(None) if of_deals else StageChange.deal_id.is_(None))
        .subquery()
    )
    rows = session.execute(
        select(
            moves.c.stage, func.count(), func.avg(days_between(session, moves.c.entered_at, moves.c.left_at))
        )
        .where(
            moves.c.stage.is_not(None),
            moves.c.entered_at.is_not(None),
            *within(moves.c.left_at, since, until),
        )
        .group_by(moves.c.stage)
    ).all()
    found = {stage: (count, float(days) if days is not None else None) for stage, count, days in rows}
    pipeline = current_pipeline()
    return [
        StageTime(stage=stage.name, moves_out=found[stage.name][0], average_days=found[stage.name][1])
        for stage in pipeline.stages
        if stage.name in found
    ]


def time_in_stage(
    session: Session, since: datetime | None = None, until: datetime | None = None
) -> TimeInStage:
    """Mean days spent in each stage before leaving it, over moves out made in [since, until)."""
    since, until = as_utc(since), as_utc(until)
    return TimeInStage(
        leads=_stage_times(session, False, since, until), deals=_stage_times(session, True, since, until)
    )
