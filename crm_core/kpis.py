"""Sales KPIs and the weighted forecast, computed from the recorded stage history.

Definitions (the README repeats them):

- A lead *reached* a stage when its history shows that stage or a later one (lost does not count as
  progress), so skipped stages still count as passed: the funnel's bars. Stage conversion is measured on
  the history alone: of the leads that *entered* a stage (their history shows it), those that *moved on*
  (their history shows a later one) — so a lead captured straight into SQL is not an MQL that converted.
  Overall conversion = reached(won) / reached(first stage).
- Deal figures are per currency and over deals *closed* in the period: win rate = won / (won + lost);
  average deal = mean value of won deals; average cycle = mean days from a deal's first history row to
  its move to won, and (labelled apart) from its lead's creation to that move.
- Pipeline velocity (value per day) = open opportunities × average deal × win rate ÷ average cycle days.
- Weighted forecast = open deals by month of expected close, value × the stage's win probability; a month
  already over is flagged overdue (those deals should have closed).

At a million leads nothing here groups the history or the leads table: the figures come from what
crm_core keeps in step with every change (``models.LeadTally`` daily rows, each lead's reached stages,
each deal's cycle ends and copies of its lead's source and owner), which always equal a recount.
"""

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from pydantic import BaseModel
from sqlalchemy import ColumnElement, and_, case, extract, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from crm_core.models import UNKNOWN_SOURCE, Deal, Lead, LeadTally, Quota, Rep, Stage, stage_bit
from crm_core.pipeline import PipelineConfig, current_pipeline

CENT = Decimal("0.01")


def _money(value: Decimal | float | int) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


class StageConversion(BaseModel):
    stage: Stage
    reached: int  # leads whose history shows this stage or a later one (the funnel's bar)
    next_stage: Stage | None
    converted: int  # reached(next_stage)
    entered: int  # leads whose history shows this very stage
    moved_on: int  # of those, leads whose history shows a later stage
    rate: float | None  # moved_on / entered: the conversion out of this stage


class FunnelReport(BaseModel):
    stages: list[StageConversion]
    overall_rate: float | None


class DealReport(BaseModel):
    currency: str
    won: int
    lost: int
    win_rate: float | None
    average_deal: Decimal | None
    average_cycle_days: float | None  # from the deal's creation to won
    average_cycle_from_lead_days: float | None  # from the lead's creation to the deal's won
    open_opportunities: int
    velocity_per_day: Decimal | None


class SourceRow(BaseModel):
    source: str
    leads: int
    won_leads: int
    conversion_rate: float | None
    won_value: Decimal


class RepRow(BaseModel):
    rep_id: int
    name: str
    won: int
    lost: int
    win_rate: float | None
    won_value: Decimal


class QuotaRow(BaseModel):
    rep_id: int
    name: str
    period_start: date
    period_end: date
    currency: str
    quota: Decimal
    won_value: Decimal
    attainment: float


class ForecastMonth(BaseModel):
    month: str  # YYYY-MM, or "unscheduled" for open deals without an expected close date
    deals: int
    value: Decimal
    weighted: Decimal
    overdue: bool = False  # the month is over: these deals were expected to have closed


class Dashboard(BaseModel):
    since: datetime | None
    funnel: FunnelReport
    deals: DealReport
    sources: list[SourceRow]
    reps: list[RepRow]


LeadGroup = tuple[str, int, bool, int]  # source, stages reached (bits), won, leads


def lead_groups(session: Session, since: datetime | None = None) -> list[LeadGroup]:
    """Leads created since ``since`` counted by source, stages reached and won, from the daily tallies.

    Whole UTC days come from ``lead_tallies``; when ``since`` falls inside a day, the rest of that day is
    counted from the leads themselves (one day of rows, found by the ``created_at`` index).
    """
    tallied = select(
        LeadTally.source, LeadTally.reached_stages, LeadTally.won, func.sum(LeadTally.leads)
    ).group_by(LeadTally.source, LeadTally.reached_stages, LeadTally.won)
    groups: list[LeadGroup] = []
    if since is not None:
        since = since.astimezone(UTC) if since.tzinfo else since.replace(tzinfo=UTC)
        first_day = since.date() if since.time() == time() else since.date() + timedelta(days=1)
        tallied = tallied.where(LeadTally.day >= first_day)
        if first_day != since.date():
            source, won = func.coalesce(Lead.source, UNKNOWN_SOURCE), Lead.stage == Stage.WON
            rest_of_day = session.execute(
                select(source, Lead.reached_stages, won, func.count())
                .where(Lead.created_at >= since, Lead.created_at < datetime.combine(first_day, time(), UTC))
                .group_by(source, Lead.reached_stages, won)
            )
            groups += [(name, reached, bool(won), n) for name, reached, won, n in rest_of_day]
    groups += [(name, reached, bool(won), int(n)) for name, reached, won, n in session.execute(tallied)]
    return groups


def _furthest(reached_stages: int, progress: Sequence[Stage]) -> int:
    """Position in ``progress`` of the furthest stage among those reached; -1 for none (e.g. only lost)."""
    positions = [index for index, stage in enumerate(progress) if reached_stages & stage_bit(stage)]
    return max(positions, default=-1)


def stage_conversion(
    session: Session, since: datetime | None = None, pipeline: PipelineConfig | None = None
) -> FunnelReport:
    """Conversion from each stage to the next, over leads created since ``since``."""
    pipeline = pipeline or current_pipeline()
    progress = [s.name for s in pipeline.stages if s.name is not Stage.LOST]
    counts: dict[int, int] = defaultdict(int)
    entered: dict[int, int] = defaultdict(int)
    moved_on: dict[int, int] = defaultdict(int)
    for _source, reached_stages, _won, leads in lead_groups(session, since):
        if not reached_stages:  # a lead without history is not in the funnel
            continue
        furthest = _furthest(reached_stages, progress)
        counts[furthest] += leads
        for index, stage in enumerate(progress):
            if reached_stages & stage_bit(stage):
                entered[index] += leads
                moved_on[index] += leads if furthest > index else 0
    reached = [
        sum(n for position, n in counts.items() if position >= index) for index in range(len(progress))
    ]
    rows = []
    for index, stage in enumerate(progress):
        following = progress[index + 1] if index + 1 < len(progress) else None
        rows.append(
            StageConversion(
                stage=stage,
                reached=reached[index],
                next_stage=following,
                converted=reached[index + 1] if following is not None else 0,
                entered=entered[index],
                moved_on=moved_on[index],
                rate=_ratio(moved_on[index], entered[index]) if following is not None else None,
            )
        )
    return FunnelReport(stages=rows, overall_rate=_ratio(reached[-1], reached[0]) if reached else None)


def _closed_in(since: datetime | None, until: datetime | None) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [Deal.closed_at.is_not(None)]
    if since is not None:
        conditions.append(Deal.closed_at >= since)
    if until is not None:
        conditions.append(Deal.closed_at < until)
    return conditions


def _days_between(
    session: Session,
    start: InstrumentedAttribute[datetime | None],
    end: InstrumentedAttribute[datetime | None],
) -> ColumnElement[float | Decimal]:
    """SQL: days from ``start`` to ``end`` (SQLite keeps times as text, PostgreSQL as timestamps)."""
    if session.get_bind().dialect.name == "postgresql":
        return extract("epoch", end - start) / 86400
    return func.julianday(end) - func.julianday(start)


def deal_report(
    session: Session,
    currency: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    pipeline: PipelineConfig | None = None,
) -> DealReport:
    """Win rate, average deal, average cycle, open opportunities and pipeline velocity in one currency."""
    pipeline = pipeline or current_pipeline()
    currency = currency or pipeline.default_currency
    closed = and_(Deal.currency == currency, *_closed_in(since, until))
    is_won = Deal.stage == Stage.WON
    won, lost, average, cycle, lead_cycle = session.execute(
        select(
            func.count().filter(is_won),
            func.count().filter(Deal.stage == Stage.LOST),
            func.avg(Deal.value).filter(is_won),
            # cycle: a deal's first history row to its (last) move to won, both kept on the deal
            func.avg(_days_between(session, Deal.first_stage_at, Deal.won_at)).filter(is_won),
            # and from the lead's creation (copied onto the deal) to the same move
            func.avg(_days_between(session, Deal.lead_created_at, Deal.won_at)).filter(is_won),
        ).where(closed, Deal.stage.in_([Stage.WON, Stage.LOST]))
    ).one()
    average_cycle = float(cycle) if cycle is not None else None
    open_deals = (
        session.scalar(
            select(func.count())
            .select_from(Deal)
            .where(Deal.currency == currency, Deal.stage.in_(pipeline.open_stages))
        )
        or 0
    )
    win_rate = _ratio(won, won + lost)
    velocity = None
    if average is not None and win_rate is not None and average_cycle:
        velocity = _money(
            Decimal(open_deals)
            * Decimal(average)
            * Decimal(won)
            / Decimal(won + lost)
            / Decimal(average_cycle)
        )
    return DealReport(
        currency=currency,
        won=won,
        lost=lost,
        win_rate=win_rate,
        average_deal=_money(average) if average is not None else None,
        average_cycle_days=average_cycle,
        average_cycle_from_lead_days=float(lead_cycle) if lead_cycle is not None else None,
        open_opportunities=open_deals,
        velocity_per_day=velocity,
    )


def source_performance(
    session: Session, currency: str | None = None, since: datetime | None = None
) -> list[SourceRow]:
    """Per lead source: leads created, leads won, their conversion and the value of their won deals."""
    currency = currency or current_pipeline().default_currency
    leads: dict[str, int] = defaultdict(int)
    won_leads: dict[str, int] = defaultdict(int)
    for name, _reached, won, n in lead_groups(session, since):
        leads[name] += n
        won_leads[name] += n if won else 0
    # won value by the lead's source, from the copies of the lead's fields kept on each deal
    source = func.coalesce(Deal.lead_source, UNKNOWN_SOURCE)
    lead_filter = [Deal.lead_created_at >= since] if since is not None else []
    values = dict(
        session.execute(
            select(source, func.sum(Deal.value))
            .where(Deal.stage == Stage.WON, Deal.currency == currency, *lead_filter)
            .group_by(source)
        ).all()
    )
    return [
        SourceRow(
            source=name,
            leads=n,
            won_leads=won_leads[name],
            conversion_rate=_ratio(won_leads[name], n),
            won_value=_money(values.get(name) or 0),
        )
        for name, n in sorted(leads.items(), key=lambda item: (-item[1], item[0]))
        if n
    ]


def _won_value_by_rep(
    session: Session, currency: str, since: datetime | date | None, until: datetime | date | None
) -> dict[int, tuple[int, int, Decimal]]:
    """rep id → (won, lost, won value) for deals of the rep's leads closed in the period (the lead's owner
    is copied onto its deals)."""
    conditions: list[ColumnElement[bool]] = [Deal.currency == currency, Deal.closed_at.is_not(None)]
    if since is not None:
        conditions.append(Deal.closed_at >= _as_datetime(since))
    if until is not None:
        conditions.append(Deal.closed_at < _as_datetime(until))
    rows = session.execute(
        select(
            Deal.lead_rep_id,
            func.sum(case((Deal.stage == Stage.WON, 1), else_=0)),
            func.sum(case((Deal.stage == Stage.LOST, 1), else_=0)),
            func.sum(case((Deal.stage == Stage.WON, Deal.value), else_=0)),
        )
        .where(*conditions, Deal.lead_rep_id.is_not(None))
        .group_by(Deal.lead_rep_id)
    ).all()
    return {rep_id: (int(won or 0), int(lost or 0), _money(value or 0)) for rep_id, won, lost, value in rows}


def _as_datetime(value: datetime | date) -> datetime:
    if isinstance(value, datetime):
        return value
    from datetime import UTC, time

    return datetime.combine(value, time(), tzinfo=UTC)


def rep_performance(
    session: Session,
    currency: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[RepRow]:
    """Per rep: deals won and lost in the period (deals of leads assigned to the rep), win rate, won value."""
    currency = currency or current_pipeline().default_currency
    results = _won_value_by_rep(session, currency, since, until)
    rows = []
    for rep in session.scalars(select(Rep).order_by(Rep.id)):
        won, lost, value = results.get(rep.id, (0, 0, _money(0)))
        rows.append(
            RepRow(
                rep_id=rep.id,
                name=rep.name,
                won=won,
                lost=lost,
                win_rate=_ratio(won, won + lost),
                won_value=value,
            )
        )
    return rows


def goal_attainment(session: Session) -> list[QuotaRow]:
    """Every quota with the won value its rep closed in the quota's period and currency."""
    rows = []
    for quota, name in session.execute(
        select(Quota, Rep.name).join(Rep, Rep.id == Quota.rep_id).order_by(Quota.period_start, Quota.rep_id)
    ):
        _won, _lost, value = _won_value_by_rep(
            session, quota.currency, quota.period_start, quota.period_end
        ).get(quota.rep_id, (0, 0, _money(0)))
        rows.append(
            QuotaRow(
                rep_id=quota.rep_id,
                name=name,
                period_start=quota.period_start,
                period_end=quota.period_end,
                currency=quota.currency,
                quota=_money(quota.amount),
                won_value=value,
                attainment=float(value / quota.amount) if quota.amount else 0.0,
            )
        )
    return rows


def forecast(
    session: Session,
    currency: str | None = None,
    pipeline: PipelineConfig | None = None,
    today: date | None = None,
) -> list[ForecastMonth]:
    """Open deals by month of expected close: count, value, and value weighted by stage probability;
    months before ``today``'s (UTC) are flagged overdue."""
    pipeline = pipeline or current_pipeline()
    this_month = (today or datetime.now(UTC).date()).strftime("%Y-%m")
    currency = currency or pipeline.default_currency
    totals: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0), Decimal(0)])
    rows = session.execute(
        select(Deal.expected_close_date, Deal.stage, func.count(), func.sum(Deal.value))
        .where(Deal.currency == currency, Deal.stage.in_(pipeline.open_stages))
        .group_by(Deal.expected_close_date, Deal.stage)
    ).all()
    for close, stage, count, value in rows:
        month = close.strftime("%Y-%m") if close is not None else "unscheduled"
        entry = totals[month]
        entry[0] += count
        entry[1] += Decimal(value)
        entry[2] += Decimal(value) * Decimal(str(pipeline.probability(stage)))
    return [
        ForecastMonth(
            month=month,
            deals=int(n),
            value=_money(value),
            weighted=_money(weighted),
            overdue=month != "unscheduled" and month < this_month,
        )
        for month, (n, value, weighted) in sorted(
            totals.items(), key=lambda item: (item[0] == "unscheduled", item[0])
        )
    ]


def dashboard(session: Session, since: datetime | None = None, currency: str | None = None) -> Dashboard:
    """Everything ``embudo kpis`` shows, in one call."""
    return Dashboard(
        since=since,
        funnel=stage_conversion(session, since),
        deals=deal_report(session, currency, since),
        sources=source_performance(session, currency, since),
        reps=rep_performance(session, currency, since),
    )
