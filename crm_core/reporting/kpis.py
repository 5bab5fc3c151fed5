"""Sales KPIs and the weighted forecast, computed from the recorded stage history.

One period per page: every function takes the same ``since`` / ``until`` ([since, until), UTC), and
each figure says what it counts in it — leads *created* in the period (funnel, source lead counts),
deals *closed* in it (win rate, revenue, average deal and cycle, reps, sources' won value, lost reasons),
quotas whose period overlaps it; open deals and the forecast are what is open now.

Money: every figure is in the reporting currency of the exchange rates in force (``crm_core.money``),
converted at those rates, and also per original currency (``*_by_currency``). Passing ``currency``
restricts a report to the deals in that one currency, in that currency. A deal in a currency without a
rate is counted (won, lost, open) but its value cannot be converted: it is listed in ``unconverted``
(currency → deals) and the page says so — never a silent 0.

Definitions (the README repeats them):

- A lead *reached* a stage when its history shows that stage or a later one (lost does not count as
  progress), so skipped stages still count as passed: the funnel's bars. Stage conversion is measured on
  the history alone: of the leads that *entered* a stage (their history shows it), those that *moved on*
  (their history shows a later one) — so a lead captured straight into SQL is not an MQL that converted.
  Overall conversion = reached(won) / reached(first stage).
- Win rate = won / (won + lost); average deal = won value / won deals; average cycle = mean days from a
  deal's creation (its first history row) to its move to won, and (labelled apart) from its lead's
  creation to that move.
- Pipeline velocity (value per day) = open opportunities × average deal × win rate ÷ average cycle days.
- Weighted forecast = open deals by month of expected close, value × the stage's win probability; a month
  already over is flagged overdue (those deals should have closed).

At a million leads nothing here groups the history or the leads table: the figures come from what
crm_core keeps in step with every change (``models.LeadTally`` daily rows, each lead's reached stages,
each deal's cycle ends and copies of its lead's source and owner), which always equal a recount.
"""

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple

from pydantic import BaseModel
from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session

from crm_core.models import UNKNOWN_SOURCE, Deal, Lead, LeadTally, Quota, Rep, Stage, stage_bit
from crm_core.money import ExchangeRates, current_rates
from crm_core.outreach.winback import RECYCLED
from crm_core.periods import Period, as_utc, days_between, split_days
from crm_core.reporting import kpis_scoring, kpis_speed
from crm_core.sales.pipeline import PipelineConfig, current_pipeline

CENT = Decimal("0.01")


def _money(value: Decimal | float | int) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


class Purse:
    """Amounts per original currency, and their total in one target currency at the given rates."""

    def __init__(self) -> None:
        self.amounts: dict[str, Decimal] = defaultdict(Decimal)
        self.deals: dict[str, int] = defaultdict(int)

    def add(self, currency: str, amount: Decimal | float | int | None, deals: int = 1) -> None:
        self.amounts[currency] += Decimal(amount or 0)
        self.deals[currency] += deals

    def total(self, rates: ExchangeRates, target: str) -> tuple[Decimal, dict[str, int]]:
        """(the converted total, currency → deals that could not be converted for want of a rate)."""
        total, missing = Decimal(0), {}
        for currency, amount in self.amounts.items():
            converted = rates.convert(amount, currency, target)
            if converted is None:
                missing[currency] = self.deals[currency]
            else:
                total += converted
        return _money(total), missing

    def by_currency(self) -> dict[str, Decimal]:
        return {code: _money(amount) for code, amount in sorted(self.amounts.items())}


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
    currency: str  # the currency of the money figures
    won: int
    lost: int
    win_rate: float | None
    won_value: Decimal
    average_deal: Decimal | None
    average_cycle_days: float | None  # from the deal's creation to won
    average_cycle_from_lead_days: float | None  # from the lead's creation to the deal's won
    open_opportunities: int  # open now
    open_value: Decimal  # open now
    velocity_per_day: Decimal | None
    unconverted: dict[str, int] = {}  # currency → won or open deals whose value has no rate
    by_currency: list["DealReport"] = []  # the same figures over each original currency's deals


class SourceRow(BaseModel):
    source: str
    leads: int  # created in the period
    won_leads: int  # of those, won
    conversion_rate: float | None
    won_value: Decimal  # deals of the source's leads won in the period
    won_value_by_currency: dict[str, Decimal] = {}
    unconverted: dict[str, int] = {}


class RepRow(BaseModel):
    rep_id: int
    name: str
    won: int
    lost: int
    win_rate: float | None
    won_value: Decimal
    won_value_by_currency: dict[str, Decimal] = {}
    unconverted: dict[str, int] = {}


class QuotaRow(BaseModel):
    rep_id: int
    name: str
    period_start: date
    period_end: date
    currency: str  # the quota's; won deals in any currency are converted into it
    quota: Decimal
    won_value: Decimal
    won_value_by_currency: dict[str, Decimal] = {}
    unconverted: dict[str, int] = {}
    attainment: float


class LostReason(BaseModel):
    reason: str
    deals: int
    value: Decimal
    value_by_currency: dict[str, Decimal] = {}
    unconverted: dict[str, int] = {}


class RecoveredQuarter(BaseModel):
    """Revenue won back: deals of recycled leads (``crm_core.outreach.winback``) won in one calendar
    quarter."""

    quarter: str  # YYYY-Qn (UTC)
    deals: int
    value: Decimal
    value_by_currency: dict[str, Decimal] = {}
    unconverted: dict[str, int] = {}


class ForecastMonth(BaseModel):
    month: str  # YYYY-MM, or "unscheduled" for open deals without an expected close date
    deals: int
    value: Decimal
    weighted: Decimal
    overdue: bool = False  # the month is over: these deals were expected to have closed
    value_by_currency: dict[str, Decimal] = {}
    weighted_by_currency: dict[str, Decimal] = {}
    unconverted: dict[str, int] = {}


class Dashboard(BaseModel):
    period: Period
    currency: str  # of every money figure
    rates_version: str  # the exchange rates they were converted at
    only_currency: bool  # True: only deals in ``currency`` (no conversion); False: every deal, converted
    funnel: FunnelReport
    deals: DealReport
    sources: list[SourceRow]
    reps: list[RepRow]
    quotas: list[QuotaRow]
    lost_reasons: list[LostReason]
    forecast: list[ForecastMonth]
    speed: kpis_speed.SpeedReport
    time_in_stage: kpis_speed.TimeInStage
    scoring: kpis_scoring.ScoringConversion  # closed leads' win rate per score band and temperature
    missing_rates: list[str]  # currencies of deals on this page with no exchange rate: figures left out
    recovered: list[RecoveredQuarter] = []  # won deals of recycled leads, per quarter won


LeadGroup = tuple[str, int, bool, int]  # source, stages reached (bits), won, leads


def lead_groups(
    session: Session, since: datetime | None = None, until: datetime | None = None
) -> list[LeadGroup]:
    """Leads created in [since, until) counted by source, stages reached and won, from the daily tallies.

    Whole UTC days come from ``lead_tallies``; the part of a day at either end of the period is counted
    from the leads themselves (at most a day of rows each, found by the ``created_at`` index).
    """
    days = split_days(since, until)
    groups: list[LeadGroup] = []
    source, won = func.coalesce(Lead.source, UNKNOWN_SOURCE), Lead.stage == Stage.WON
    for start, end in days.partial:
        rows = session.execute(
            select(source, Lead.reached_stages, won, func.count())
            .where(Lead.created_at >= start, Lead.created_at < end)
            .group_by(source, Lead.reached_stages, won)
        )
        groups += [(name, reached, bool(is_won), n) for name, reached, is_won, n in rows]
    if days.whole_days:
        tallied = select(
            LeadTally.source, LeadTally.reached_stages, LeadTally.won, func.sum(LeadTally.leads)
        ).group_by(LeadTally.source, LeadTally.reached_stages, LeadTally.won)
        if days.first_day is not None:
            tallied = tallied.where(LeadTally.day >= days.first_day)
        if days.last_day is not None:
            tallied = tallied.where(LeadTally.day < days.last_day)
        groups += [(name, reached, bool(w), int(n)) for name, reached, w, n in session.execute(tallied)]
    return groups


def _furthest(reached_stages: int, progress: Sequence[Stage]) -> int:
    """Position in ``progress`` of the furthest stage among those reached; -1 for none (e.g. only lost)."""
    positions = [index for index, stage in enumerate(progress) if reached_stages & stage_bit(stage)]
    return max(positions, default=-1)


def stage_conversion(
    session: Session,
    since: datetime | None = None,
    pipeline: PipelineConfig | None = None,
    until: datetime | None = None,
) -> FunnelReport:
    """Conversion from each stage to the next, over leads created in [since, until)."""
    pipeline = pipeline or current_pipeline()
    progress = [s.name for s in pipeline.stages if s.name is not Stage.LOST]
    counts: dict[int, int] = defaultdict(int)
    entered: dict[int, int] = defaultdict(int)
    moved_on: dict[int, int] = defaultdict(int)
    for _source, reached_stages, _won, leads in lead_groups(session, since, until):
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


def _closed_in(since: datetime | date | None, until: datetime | date | None) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [Deal.closed_at.is_not(None)]
    if since is not None:
        conditions.append(Deal.closed_at >= as_utc(since))
    if until is not None:
        conditions.append(Deal.closed_at < as_utc(until))
    return conditions


def _in_currency(currency: str | None) -> list[ColumnElement[bool]]:
    return [Deal.currency == currency.upper()] if currency else []


def _target(rates: ExchangeRates, currency: str | None) -> str:
    return currency.upper() if currency else rates.reporting_currency


def _merge(*missing: dict[str, int]) -> dict[str, int]:
    merged: dict[str, int] = defaultdict(int)
    for part in missing:
        for code, deals in part.items():
            merged[code] += deals
    return dict(sorted(merged.items()))


class _Closed:
    """Closed deals of one currency in a period: the sums a deal report is made of."""

    def __init__(self) -> None:
        self.won = self.lost = self.open = 0
        self.won_value, self.open_value = Purse(), Purse()
        self.cycle_days = self.lead_cycle_days = 0.0
        self.cycles = self.lead_cycles = 0

    def add(self, other: "_Closed") -> None:
        self.won += other.won
        self.lost += other.lost
        self.open += other.open
        for code, amount in other.won_value.amounts.items():
            self.won_value.add(code, amount, other.won_value.deals[code])
        for code, amount in other.open_value.amounts.items():
            self.open_value.add(code, amount, other.open_value.deals[code])
        self.cycle_days += other.cycle_days
        self.cycles += other.cycles
        self.lead_cycle_days += other.lead_cycle_days
        self.lead_cycles += other.lead_cycles

    def report(self, rates: ExchangeRates, target: str) -> DealReport:
        won_value, missing_won = self.won_value.total(rates, target)
        open_value, missing_open = self.open_value.total(rates, target)
        converted_won = self.won - sum(missing_won.values())
        average = won_value / converted_won if converted_won else None
        cycle = self.cycle_days / self.cycles if self.cycles else None
        win_rate = _ratio(self.won, self.won + self.lost)
        velocity = None
        if average is not None and win_rate is not None and cycle:
            velocity = _money(
                Decimal(self.open)
                * average
                * Decimal(self.won)
                / Decimal(self.won + self.lost)
                / Decimal(cycle)
            )
        return DealReport(
            currency=target,
            won=self.won,
            lost=self.lost,
            win_rate=win_rate,
            won_value=won_value,
            average_deal=_money(average) if average is not None else None,
            average_cycle_days=cycle,
            average_cycle_from_lead_days=self.lead_cycle_days / self.lead_cycles
            if self.lead_cycles
            else None,
            open_opportunities=self.open,
            open_value=open_value,
            velocity_per_day=velocity,
            unconverted=_merge(missing_won, missing_open),
        )


class ClosedGroup(NamedTuple):
    """Deals won or lost in a period that share these keys, with their sums: what the deal report, the source
    and rep figures, lost reasons and recovered revenue all add up (the dashboard reads them once)."""

    stage: Stage  # won or lost
    currency: str
    source: str  # the lead's, copied onto the deal ("unknown" without one)
    rep_id: int | None  # the lead's owner, copied onto the deal
    lost_reason: str | None
    recycled_closed_at: datetime | None  # when closed, for deals of recycled leads only (recovered revenue)
    deals: int
    value: Decimal
    cycle_days: Decimal | float  # sum over the deals with both cycle ends (days_between's type)
    cycles: int
    lead_cycle_days: Decimal | float
    lead_cycles: int


def closed_deal_groups(
    session: Session,
    since: datetime | date | None = None,
    until: datetime | date | None = None,
    currency: str | None = None,
) -> list[ClosedGroup]:
    """Deals won or lost (closed) in [since, until), grouped by every key a closed-deal figure splits them by:
    one pass over the deals table for all of those figures."""
    source = func.coalesce(Deal.lead_source, UNKNOWN_SOURCE)
    recycled_at = case((Deal.lead_source == RECYCLED, Deal.closed_at))
    keys = (Deal.stage, Deal.currency, source, Deal.lead_rep_id, Deal.lost_reason, recycled_at)
    rows = session.execute(
        select(
            *keys,
            func.count(),
            func.sum(Deal.value),
            # cycle: a deal's first history row to its (last) move to won, both kept on the deal
            func.sum(days_between(session, Deal.first_stage_at, Deal.won_at)),
            func.count(Deal.first_stage_at).filter(Deal.won_at.is_not(None)),
            # and from the lead's creation (copied onto the deal) to the same move
            func.sum(days_between(session, Deal.lead_created_at, Deal.won_at)),
            func.count(Deal.lead_created_at).filter(Deal.won_at.is_not(None)),
        )
        .where(Deal.stage.in_([Stage.WON, Stage.LOST]), *_closed_in(since, until), *_in_currency(currency))
        .group_by(*keys)
    )
    return [
        ClosedGroup(
            Stage(stage),
            code,
            str(name),
            rep,
            reason,
            recycled,
            int(n),
            Decimal(value or 0),
            cycle or 0,
            int(cycles),
            lead_cycle or 0,
            int(lead_cycles),
        )
        for stage, code, name, rep, reason, recycled, n, value, cycle, cycles, lead_cycle, lead_cycles in rows
    ]


class OpenGroup(NamedTuple):
    """Open deals (now) of one expected close date, stage and currency: the forecast's and the deal report's
    open figures."""

    expected_close_date: date | None
    stage: Stage
    currency: str
    deals: int
    value: Decimal


def open_deal_groups(
    session: Session, currency: str | None = None, pipeline: PipelineConfig | None = None
) -> list[OpenGroup]:
    """The deals open now (in the pipeline's open stages) by expected close date, stage and currency."""
    pipeline = pipeline or current_pipeline()
    rows = session.execute(
        select(Deal.expected_close_date, Deal.stage, Deal.currency, func.count(), func.sum(Deal.value))
        .where(*_in_currency(currency), Deal.stage.in_(pipeline.open_stages))
        .group_by(Deal.expected_close_date, Deal.stage, Deal.currency)
    )
    return [
        OpenGroup(close, Stage(stage), code, int(n), Decimal(value or 0))
        for close, stage, code, n, value in rows
    ]


def deal_report(
    session: Session,
    currency: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    pipeline: PipelineConfig | None = None,
    rates: ExchangeRates | None = None,
    closed: list[ClosedGroup] | None = None,
    open_deals: list[OpenGroup] | None = None,
) -> DealReport:
    """Win rate, won value, average deal and cycle over deals closed in the period; open opportunities
    and pipeline velocity now. Every deal converted into the reporting currency (``by_currency`` has
    each original currency's own figures), or with ``currency`` only that currency's deals. ``closed`` /
    ``open_deals``: the groups already read for this period and currency (the dashboard shares them)."""
    rates = rates or current_rates(session)
    if closed is None:
        closed = closed_deal_groups(session, since, until, currency)
    if open_deals is None:
        open_deals = open_deal_groups(session, currency, pipeline)
    per_currency: dict[str, _Closed] = defaultdict(_Closed)
    cycles: dict[str, list[Decimal | float]] = defaultdict(lambda: [0, 0])  # summed as read, made float once
    for group in closed:
        sums = per_currency[group.currency]
        if group.stage is Stage.WON:
            sums.won += group.deals
            sums.won_value.add(group.currency, group.value, group.deals)
            cycles[group.currency][0] += group.cycle_days  # type: ignore[operator]  # one type per database
            cycles[group.currency][1] += group.lead_cycle_days  # type: ignore[operator]
            sums.cycles += group.cycles
            sums.lead_cycles += group.lead_cycles
        else:
            sums.lost += group.deals
    for code, (cycle, lead_cycle) in cycles.items():
        per_currency[code].cycle_days, per_currency[code].lead_cycle_days = float(cycle), float(lead_cycle)
    for deals in open_deals:
        sums = per_currency[deals.currency]
        sums.open += deals.deals
        sums.open_value.add(deals.currency, deals.value, deals.deals)
    target = _target(rates, currency)
    everything = _Closed()
    for sums in per_currency.values():
        everything.add(sums)
    report = everything.report(rates, target)
    report.by_currency = [per_currency[code].report(rates, code) for code in sorted(per_currency)]
    return report


ClosedDeals = list[tuple[str, int | None, str, int, int, Decimal]]


def closed_deals(
    session: Session,
    since: datetime | date | None = None,
    until: datetime | date | None = None,
    currency: str | None = None,
    closed: list[ClosedGroup] | None = None,
) -> ClosedDeals:
    """(lead source, lead's rep, currency, won, lost, won value) over deals closed in the period: what the
    source and the rep figures are both made of (from ``closed``, the period's groups, when given)."""
    if closed is None:
        closed = closed_deal_groups(session, since, until, currency)
    found: dict[tuple[str, int | None, str], tuple[int, int, Decimal]] = {}
    for group in closed:
        key = (group.source, group.rep_id, group.currency)
        won, lost, value = found.get(key, (0, 0, Decimal(0)))
        if group.stage is Stage.WON:
            found[key] = (won + group.deals, lost, value + group.value)
        else:
            found[key] = (won, lost + group.deals, value)
    return [(name, rep, code, won, lost, value) for (name, rep, code), (won, lost, value) in found.items()]


def _won_by(deals: ClosedDeals, by_rep: bool) -> dict[object, tuple[int, int, Purse]]:
    """source (or rep) → (won, lost, won value per currency)."""
    found: dict[object, tuple[int, int, Purse]] = {}
    for source, rep, code, won, lost, value in deals:
        name = rep if by_rep else source
        before_won, before_lost, purse = found.get(name, (0, 0, Purse()))
        if won:
            purse.add(code, value, won)
        found[name] = (before_won + won, before_lost + lost, purse)
    return found


def source_performance(
    session: Session,
    currency: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    rates: ExchangeRates | None = None,
    deals: ClosedDeals | None = None,
) -> list[SourceRow]:
    """Per lead source: leads created in the period, how many of them were won, and the value of the
    source's deals won in the period (by the copy of the lead's source kept on each deal)."""
    rates = rates or current_rates(session)
    target = _target(rates, currency)
    leads: dict[str, int] = defaultdict(int)
    won_leads: dict[str, int] = defaultdict(int)
    for name, _reached, won, n in lead_groups(session, since, until):
        leads[name] += n
        won_leads[name] += n if won else 0
    values = _won_by(deals if deals is not None else closed_deals(session, since, until, currency), False)
    names = set(leads) | {str(name) for name, (won, _lost, _v) in values.items() if won}
    rows = []
    for name in names:
        purse = values.get(name, (0, 0, Purse()))[2]
        total, missing = purse.total(rates, target)
        rows.append(
            SourceRow(
                source=name,
                leads=leads[name],
                won_leads=won_leads[name],
                conversion_rate=_ratio(won_leads[name], leads[name]),
                won_value=total,
                won_value_by_currency=purse.by_currency(),
                unconverted=missing,
            )
        )
    return sorted(rows, key=lambda row: (-row.leads, -row.won_value, row.source))


def rep_performance(
    session: Session,
    currency: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    rates: ExchangeRates | None = None,
    deals: ClosedDeals | None = None,
) -> list[RepRow]:
    """Per rep: deals won and lost in the period (deals of leads assigned to the rep), win rate, won value."""
    rates = rates or current_rates(session)
    target = _target(rates, currency)
    results = _won_by(deals if deals is not None else closed_deals(session, since, until, currency), True)
    rows = []
    for rep in session.scalars(select(Rep).order_by(Rep.id)):
        won, lost, purse = results.get(rep.id, (0, 0, Purse()))
        total, missing = purse.total(rates, target)
        rows.append(
            RepRow(
                rep_id=rep.id,
                name=rep.name,
                won=won,
                lost=lost,
                win_rate=_ratio(won, won + lost),
                won_value=total,
                won_value_by_currency=purse.by_currency(),
                unconverted=missing,
            )
        )
    return rows


def goal_attainment(
    session: Session,
    since: datetime | None = None,
    until: datetime | None = None,
    rates: ExchangeRates | None = None,
) -> list[QuotaRow]:
    """Every quota whose period overlaps [since, until), with the value its rep won in the quota's own
    period: won deals in every currency, converted into the quota's currency."""
    rates = rates or current_rates(session)
    query = (
        select(Quota, Rep.name).join(Rep, Rep.id == Quota.rep_id).order_by(Quota.period_start, Quota.rep_id)
    )
    if since is not None:
        query = query.where(Quota.period_end > as_utc(since).date())  # type: ignore[union-attr]
    if until is not None:
        query = query.where(Quota.period_start < as_utc(until).date())  # type: ignore[union-attr]
    rows = []
    for quota, name in session.execute(query):
        _won, _lost, purse = _won_by(
            closed_deals(session, quota.period_start, quota.period_end), by_rep=True
        ).get(quota.rep_id, (0, 0, Purse()))
        value, missing = purse.total(rates, quota.currency)
        rows.append(
            QuotaRow(
                rep_id=quota.rep_id,
                name=name,
                period_start=quota.period_start,
                period_end=quota.period_end,
                currency=quota.currency,
                quota=_money(quota.amount),
                won_value=value,
                won_value_by_currency=purse.by_currency(),
                unconverted=missing,
                attainment=float(value / quota.amount) if quota.amount else 0.0,
            )
        )
    return rows


def lost_reasons(
    session: Session,
    currency: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    rates: ExchangeRates | None = None,
    closed: list[ClosedGroup] | None = None,
) -> list[LostReason]:
    """Deals lost in the period by the reason given, most deals first ("not given": lost before reasons
    were asked)."""
    rates = rates or current_rates(session)
    target = _target(rates, currency)
    if closed is None:
        closed = closed_deal_groups(session, since, until, currency)
    purses: dict[str, Purse] = defaultdict(Purse)
    for group in closed:
        if group.stage is Stage.LOST:
            purses[group.lost_reason or "not given"].add(group.currency, group.value, group.deals)
    result = []
    for reason, purse in purses.items():
        value, missing = purse.total(rates, target)
        result.append(
            LostReason(
                reason=reason,
                deals=sum(purse.deals.values()),
                value=value,
                value_by_currency=purse.by_currency(),
                unconverted=missing,
            )
        )
    return sorted(result, key=lambda row: (-row.deals, row.reason))


def forecast(
    session: Session,
    currency: str | None = None,
    pipeline: PipelineConfig | None = None,
    today: date | None = None,
    rates: ExchangeRates | None = None,
    open_deals: list[OpenGroup] | None = None,
) -> list[ForecastMonth]:
    """Open deals by month of expected close: count, value, and value weighted by stage probability;
    months before ``today``'s (UTC) are flagged overdue."""
    pipeline = pipeline or current_pipeline()
    rates = rates or current_rates(session)
    target = _target(rates, currency)
    this_month = (today or datetime.now(UTC).date()).strftime("%Y-%m")
    values: dict[str, Purse] = defaultdict(Purse)
    weighted: dict[str, Purse] = defaultdict(Purse)
    if open_deals is None:
        open_deals = open_deal_groups(session, currency, pipeline)
    for close, stage, code, count, value in open_deals:
        month = close.strftime("%Y-%m") if close is not None else "unscheduled"
        values[month].add(code, value, count)
        weighted[month].add(code, Decimal(value) * Decimal(str(pipeline.probability(stage))), count)
    months = []
    for month in sorted(values, key=lambda m: (m == "unscheduled", m)):
        value, missing = values[month].total(rates, target)
        weighted_value, _ = weighted[month].total(rates, target)
        months.append(
            ForecastMonth(
                month=month,
                deals=sum(values[month].deals.values()),
                value=value,
                weighted=weighted_value,
                overdue=month != "unscheduled" and month < this_month,
                value_by_currency=values[month].by_currency(),
                weighted_by_currency=weighted[month].by_currency(),
                unconverted=missing,
            )
        )
    return months


def recovered_revenue(
    session: Session,
    currency: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    rates: ExchangeRates | None = None,
    closed: list[ClosedGroup] | None = None,
) -> list[RecoveredQuarter]:
    """Recovered revenue: the won deals of leads won back (source ``recycled``, by the copy of the lead's
    source on each deal) closed in the period, by the UTC quarter they were won in, oldest first."""
    rates = rates or current_rates(session)
    target = _target(rates, currency)
    if closed is None:
        closed = closed_deal_groups(session, since, until, currency)
    purses: dict[str, Purse] = defaultdict(Purse)
    for group in closed:
        if group.stage is Stage.WON and group.source == RECYCLED and group.recycled_closed_at is not None:
            won_on = group.recycled_closed_at.astimezone(UTC)
            purses[f"{won_on.year}-Q{(won_on.month - 1) // 3 + 1}"].add(
                group.currency, group.value, group.deals
            )
    quarters = []
    for quarter in sorted(purses):
        value, missing = purses[quarter].total(rates, target)
        deals = sum(purses[quarter].deals.values())
        by_currency = purses[quarter].by_currency()
        quarters.append(
            RecoveredQuarter(
                quarter=quarter, deals=deals, value=value, value_by_currency=by_currency, unconverted=missing
            )
        )
    return quarters


def dashboard(
    session: Session,
    since: datetime | None = None,
    currency: str | None = None,
    until: datetime | None = None,
    today: date | None = None,
) -> Dashboard:
    """Everything ``embudo kpis`` and the console's KPI page show, over one period and one currency."""
    rates = current_rates(session)
    since, until = as_utc(since), as_utc(until)
    # the deals table is read twice for every deal figure: the period's closed deals, the open ones now
    closed = closed_deal_groups(session, since, until, currency)
    open_deals = open_deal_groups(session, currency)
    deals = deal_report(session, currency, since, until, rates=rates, closed=closed, open_deals=open_deals)
    by_source_and_rep = closed_deals(session, since, until, currency, closed=closed)
    sources = source_performance(session, currency, since, until, rates=rates, deals=by_source_and_rep)
    reps = rep_performance(session, currency, since, until, rates=rates, deals=by_source_and_rep)
    quotas = goal_attainment(session, since, until, rates=rates)
    lost = lost_reasons(session, currency, since, until, rates=rates, closed=closed)
    months = forecast(session, currency, today=today, rates=rates, open_deals=open_deals)
    recovered = recovered_revenue(session, currency, since, until, rates=rates, closed=closed)
    flagged = [
        deals.unconverted,
        *(q.unconverted for q in quotas),
        *(r.unconverted for r in lost),
        *(r.unconverted for r in recovered),
    ]
    return Dashboard(
        period=Period(since=since, until=until),
        currency=_target(rates, currency),
        rates_version=rates.version,
        only_currency=currency is not None,
        funnel=stage_conversion(session, since, until=until),
        deals=deals,
        sources=sources,
        reps=reps,
        quotas=quotas,
        lost_reasons=lost,
        forecast=months,
        speed=kpis_speed.speed_to_lead(session, since, until),
        time_in_stage=kpis_speed.time_in_stage(session, since, until),
        scoring=kpis_scoring.conversion_by_score(session, since, until),
        missing_rates=sorted({code for flags in flagged for code in flags}),
        recovered=recovered,
    )
