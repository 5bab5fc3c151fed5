"""How fast the team works leads: speed to lead and SLA compliance per rep, and time spent in each stage.

Definitions, over one period [since, until) like the rest of ``crm_core.reporting.kpis``:

- Speed to lead, for leads that became SQL in the period (their first move to sql in the history): the
  minutes from that move to the lead's first acceptance by a rep, and to its first contact — the first
  call, e-mail or meeting logged on it, its move to contacted, or a rep's message in its conversation,
  whichever came first. Each lead counts for the rep who accepted it (else the rep who has it now).
- SLA compliance per rep: of the leads handed to the rep with an acceptance clock in the UTC days of
  the period (not admins, who get no clock), the share the rep accepted within ``sla.accept_minutes``.
  Passing a lead or letting its clock run out counts as missed; a lead taken away by a person
  (re-assigned, released) before the rep decided is not counted, nor one still waiting.
- Time in stage: the mean days between entering a stage and leaving it, over moves out of the stage
  made in the UTC days of the period — for leads and for deals apart.

Like the other KPIs, these read what crm_core keeps with every change, not the history: each lead's
``qualified_at`` / ``first_accepted_at`` / ``accepted_by_id`` / ``first_contact_at`` and the daily
``stage_time_tallies`` (``crm_core.sales.pipeline``) and ``sla_tallies`` (``crm_core.sales.lifecycle``).
"""

from collections import defaultdict
from datetime import datetime, time, timedelta

from pydantic import BaseModel
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from crm_core.models import Lead, Rep, SlaTally, Stage, StageTimeTally
from crm_core.periods import Expr, as_utc, days_between, within
from crm_core.sales.pipeline import current_pipeline


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


def speed_to_lead(
    session: Session, since: datetime | None = None, until: datetime | None = None
) -> SpeedReport:
    """Speed to lead and SLA compliance, per rep and for the whole team (see the module's definitions).

    Read from what each lead keeps (``qualified_at``, ``first_accepted_at``, ``accepted_by_id``,
    ``first_contact_at``), one aggregate over the leads that became SQL in the period."""
    since, until = as_utc(since), as_utc(until)
    rep = func.coalesce(Lead.accepted_by_id, Lead.assigned_rep_id)
    to_accept = days_between(session, Lead.qualified_at, Lead.first_accepted_at) * 1440
    to_contact = days_between(session, Lead.qualified_at, Lead.first_contact_at) * 1440
    rows = session.execute(
        select(
            rep,
            func.count(),
            func.count(Lead.first_accepted_at),
            func.sum(to_accept),
            func.count(Lead.first_contact_at),
            func.sum(to_contact),
        )
        .where(Lead.qualified_at.is_not(None), *within(Lead.qualified_at, since, until))
        .group_by(rep)
    ).all()
    found = {
        rep_id: (int(n), int(accepted), float(accept or 0), int(contacted), float(contact or 0))
        for rep_id, n, accepted, accept, contacted, contact in rows
    }
    decided, met = _sla_outcomes(session, since, until)

    def row(rep_id: int | None, name: str, keys: list[int | None]) -> RepSpeed:
        parts = [found.get(key, (0, 0, 0.0, 0, 0.0)) for key in keys]
        accepted, contacted = sum(p[1] for p in parts), sum(p[3] for p in parts)
        rep_decided = sum(decided[key] for key in keys if key is not None)
        rep_met = sum(met[key] for key in keys if key is not None)
        return RepSpeed(
            rep_id=rep_id,
            name=name,
            qualified_leads=sum(p[0] for p in parts),
            accepted=accepted,
            average_minutes_to_accept=sum(p[2] for p in parts) / accepted if accepted else None,
            first_contacted=contacted,
            average_minutes_to_first_contact=sum(p[4] for p in parts) / contacted if contacted else None,
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
    """rep id → clocks decided for leads handed to the rep in the UTC days of the period, and → those
    accepted in time (the daily ``sla_tallies`` kept by ``crm_core.sales.lifecycle``)."""
    rows = session.execute(
        select(SlaTally.rep_id, func.sum(SlaTally.decided), func.sum(SlaTally.met))
        .where(*_days_of(SlaTally.day, since, until))
        .group_by(SlaTally.rep_id)
    ).all()
    decided: dict[int, int] = defaultdict(int)
    met: dict[int, int] = defaultdict(int)
    for rep_id, rep_decided, rep_met in rows:
        decided[rep_id], met[rep_id] = int(rep_decided or 0), int(rep_met or 0)
    return decided, met


def _days_of(day: Expr, since: datetime | None, until: datetime | None) -> list[ColumnElement[bool]]:
    """SQL: a daily tally's ``day`` among the UTC days [since, until) touches."""
    conditions = []
    if since is not None:
        conditions.append(day >= since.date())
    if until is not None:
        conditions.append(day < until.date() + timedelta(days=until.time() != time()))
    return conditions


def _stage_times(
    session: Session, of_deals: bool, since: datetime | None, until: datetime | None
) -> list[StageTime]:
    rows = session.execute(
        select(StageTimeTally.stage, func.sum(StageTimeTally.moves), func.sum(StageTimeTally.days))
        .where(StageTimeTally.of_deals.is_(of_deals), *_days_of(StageTimeTally.day, since, until))
        .group_by(StageTimeTally.stage)
    ).all()
    found = {stage: (int(moves), float(days)) for stage, moves, days in rows if moves}
    return [
        StageTime(stage=s.name, moves_out=found[s.name][0], average_days=found[s.name][1] / found[s.name][0])
        for s in current_pipeline().stages
        if s.name in found
    ]


def time_in_stage(
    session: Session, since: datetime | None = None, until: datetime | None = None
) -> TimeInStage:
    """Mean days spent in each stage before leaving it, over moves out made in [since, until)."""
    since, until = as_utc(since), as_utc(until)
    return TimeInStage(
        leads=_stage_times(session, False, since, until), deals=_stage_times(session, True, since, until)
    )
