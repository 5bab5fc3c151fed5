"""KPIs and forecast on a small fixture whose every expected number is worked out by hand below.

Fixture (all in January 2026; default pipeline; two reps, Ana and Ben):

Leads and their stage history (lost never counts as progress):
    L1 web       new → mql → sql → contacted → proposal → won      furthest: won
    L2 web       new → mql → sql → contacted → lost                furthest: contacted
    L3 telegram  new → mql → sql                                   furthest: sql
    L4 telegram  new → mql                                         furthest: mql
    L5 web       new → lost                                        furthest: new
  reached (stage or beyond): new 5, mql 4, sql 3, contacted 2, proposal 1, negotiation 1, won 1
  conversion (of the leads whose history shows the stage, those that went further): new 4/5 = 0.8,
              mql 3/4 = 0.75, sql 2/3, contacted 1/2, proposal 1/1 (L1 skipped negotiation to won),
              negotiation none entered → no rate; overall won/new = 1/5 = 0.2

Deals (EUR unless said; the owner is the lead's rep: L1, L3 → Ana; L2, L4 → Ben):
    D1 L1 10,000  opened Jan 1, won Jan 11      cycle 10 days
    D2 L2  4,000  opened Jan 2, lost Jan 12
    D3 L3  6,000  opened Jan 5, won Jan 25      cycle 20 days
    D4 L4  8,000  open, proposal (0.40),    expected close 2026-02-15
    D5 L3  2,000  open, negotiation (0.70), expected close 2026-02-20
    D6 L2  5,000  open, contacted (0.20),   expected close 2026-03-10
    D7 L1  9,999 USD, opened Jan 10, won Jan 20 (left out of every figure asked for in EUR only; the
           converted figures are tested in test_kpis_money.py)
  EUR closed: won D1, D3; lost D2 → win rate 2/3; average deal (10,000 + 6,000)/2 = 8,000;
  average cycle (10 + 20)/2 = 15 days; from lead creation (every lead Jan 1): D1 10, D3 24 → 17 days;
  open opportunities 3 (D4, D5, D6);
  velocity = 3 × 8,000 × 2/3 ÷ 15 = 1,066.67 per day.
  Since Jan 15: only D3 closed → win rate 1, average 6,000, cycle 20 (24 from lead creation),
  velocity 3 × 6,000 × 1 ÷ 20 = 900.
  Forecast EUR: 2026-02: D4 + D5 = 10,000, weighted 8,000×0.40 + 2,000×0.70 = 3,200 + 1,400 = 4,600;
                2026-03: D6 5,000, weighted 1,000. Seen on March 5th, February is overdue.
  Sources: web 3 leads, 1 won (L1) → 1/3, won value 10,000 (D1);
           telegram 2 leads, 0 won → 0, won value 6,000 (D3).
  Reps in January: Ana won 2 (D1, D3), lost 0, win rate 1, value 16,000; Ben won 0, lost 1 (D2), rate 0.
  Quotas January 2026 (won deals in every currency, converted into the quota's EUR at USD 0.86):
           Ana 20,000 → (16,000 + 9,999 × 0.86 = 8,599.14) = 24,599.14 / 20,000 = 1.229957;
           Ben 10,000 → 0 / 10,000 = 0.
"""

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session

from crm_core.models import Lead, Stage
from crm_core.people.reps import add_rep, set_quota
from crm_core.reporting.kpis import (
    dashboard,
    deal_report,
    forecast,
    goal_attainment,
    rep_performance,
    source_performance,
    stage_conversion,
)
from crm_core.sales import lifecycle, pipeline
from crm_core.sales.deals import open_deal
from crm_core.schemas import NewDeal, NewRep
from tests.unit.helpers import at, make_lead


def walk(session: Session, lead: Lead, *stages: str, start_day: int = 1) -> None:
    for offset, stage in enumerate(stages, start=1):
        lifecycle.move(session, lead, stage, at=at(start_day + offset))


def deal(
    session: Session,
    lead: Lead,
    value: int,
    day: int,
    stage: Stage | None = None,
    closes: date | None = None,
    currency: str = "EUR",
) -> int:
    new = NewDeal(
        title=f"deal {value}",
        value=Decimal(value),
        currency=currency,
        stage=stage,
        expected_close_date=closes,
    )
    return open_deal(session, lead.id, new, at=at(day)).id


@pytest.fixture
def fixture(session: Session) -> Session:
    ana = add_rep(session, NewRep(name="Ana", languages=["en"])).id
    ben = add_rep(session, NewRep(name="Ben", languages=["en"])).id
    l1 = make_lead(session, created=at(1), source="web", rep_id=ana)
    l2 = make_lead(session, created=at(1), source="web", rep_id=ben)
    l3 = make_lead(session, created=at(1), source="telegram", rep_id=ana)
    l4 = make_lead(session, created=at(1), source="telegram", rep_id=ben)
    l5 = make_lead(session, created=at(1), source="web")
    walk(session, l1, "mql", "sql", "contacted", "proposal", "won")
    walk(session, l2, "mql", "sql", "contacted", "lost")
    walk(session, l3, "mql", "sql")
    walk(session, l4, "mql")
    walk(session, l5, "lost")

    d1 = deal(session, l1, 10_000, 1, Stage.CONTACTED)
    move_deal_at(session, d1, "won", 11)
    d2 = deal(session, l2, 4_000, 2, Stage.CONTACTED)
    move_deal_at(session, d2, "lost", 12)
    d3 = deal(session, l3, 6_000, 5, Stage.SQL)
    move_deal_at(session, d3, "proposal", 10)
    move_deal_at(session, d3, "won", 25)
    deal(session, l4, 8_000, 6, Stage.PROPOSAL, date(2026, 2, 15))
    deal(session, l3, 2_000, 7, Stage.NEGOTIATION, date(2026, 2, 20))
    deal(session, l2, 5_000, 8, Stage.CONTACTED, date(2026, 3, 10))
    d7 = deal(session, l1, 9_999, 10, Stage.PROPOSAL, currency="USD")
    move_deal_at(session, d7, "won", 20)

    set_quota(session, ana, date(2026, 1, 1), date(2026, 2, 1), Decimal(20_000), "eur")
    set_quota(session, ben, date(2026, 1, 1), date(2026, 2, 1), Decimal(10_000), "EUR")
    return session


def move_deal_at(session: Session, deal_id: int, stage: str, day: int) -> None:
    from crm_core.models import Deal

    row = session.get(Deal, deal_id)
    assert row is not None
    pipeline.move(session, row, stage, at=at(day), lost_reason="price" if stage == "lost" else None)


def test_stage_conversion_per_stage_and_overall(fixture: Session) -> None:
    report = stage_conversion(fixture)
    assert [(r.stage.value, r.reached, r.converted) for r in report.stages] == [
        ("new", 5, 4), ("mql", 4, 3), ("sql", 3, 2), ("contacted", 2, 1), ("proposal", 1, 1),
        ("negotiation", 1, 1), ("won", 1, 0),
    ]  # fmt: skip
    rates = [r.rate for r in report.stages]
    assert rates == [0.8, 0.75, pytest.approx(2 / 3), 0.5, 1.0, None, None]
    assert [r.entered for r in report.stages] == [5, 4, 3, 2, 1, 0, 1]
    assert report.overall_rate == 0.2


def test_conversion_follows_the_history_not_the_class_mix(session: Session) -> None:
    """Three leads captured straight into SQL, one MQL that stayed, one MQL that became an SQL.

    The class mix would say mql→sql 4/5 = 0.8 (reached sql ÷ reached mql); from the history, 2 leads were
    ever in mql and 1 of them moved on → 0.5. None of the 4 in sql moved on → 0; none was ever in new.
    """
    for _ in range(3):
        make_lead(session, Stage.SQL, created=at(1))
    make_lead(session, Stage.MQL, created=at(1))
    walk(session, make_lead(session, Stage.MQL, created=at(1)), "sql")
    rows = {r.stage: r for r in stage_conversion(session).stages}
    assert (rows[Stage.MQL].reached, rows[Stage.MQL].converted) == (5, 4)
    assert (rows[Stage.MQL].entered, rows[Stage.MQL].moved_on, rows[Stage.MQL].rate) == (2, 1, 0.5)
    assert (rows[Stage.SQL].entered, rows[Stage.SQL].moved_on, rows[Stage.SQL].rate) == (4, 0, 0.0)
    assert (rows[Stage.NEW].entered, rows[Stage.NEW].rate) == (0, None)


def test_leads_created_after_since_only(fixture: Session) -> None:
    assert stage_conversion(fixture, since=at(2)).stages[0].reached == 0


def test_win_rate_average_deal_cycle_and_velocity(fixture: Session) -> None:
    report = deal_report(fixture, currency="EUR")
    assert (report.currency, report.won, report.lost) == ("EUR", 2, 1)
    assert report.win_rate == pytest.approx(2 / 3)
    assert report.average_deal == Decimal("8000.00")
    assert report.average_cycle_days == 15
    assert report.average_cycle_from_lead_days == 17
    assert report.open_opportunities == 3
    assert report.velocity_per_day == Decimal("1066.67")


def test_deal_figures_since_a_date(fixture: Session) -> None:
    report = deal_report(fixture, currency="EUR", since=at(15))
    assert (report.won, report.lost, report.win_rate) == (1, 0, 1.0)
    assert (report.average_deal, report.average_cycle_days) == (Decimal("6000.00"), 20)
    assert report.average_cycle_from_lead_days == 24
    assert report.velocity_per_day == Decimal("900.00")


def test_other_currencies_are_separate(fixture: Session) -> None:
    usd = deal_report(fixture, currency="USD")
    assert (usd.won, usd.average_deal, usd.average_cycle_days, usd.open_opportunities) == (
        1, Decimal("9999.00"), 10, 0,
    )  # fmt: skip
    assert usd.average_cycle_from_lead_days == 19  # L1 created Jan 1, D7 won Jan 20
    assert usd.velocity_per_day == Decimal("0.00")


def test_weighted_forecast_by_month(fixture: Session) -> None:
    months = forecast(fixture, today=date(2026, 3, 5))
    assert [(m.month, m.deals, m.value, m.weighted, m.overdue) for m in months] == [
        ("2026-02", 2, Decimal("10000.00"), Decimal("4600.00"), True),
        ("2026-03", 1, Decimal("5000.00"), Decimal("1000.00"), False),
    ]
    assert not any(m.overdue for m in forecast(fixture, today=date(2026, 2, 1)))


def test_lead_source_performance(fixture: Session) -> None:
    rows = [
        (r.source, r.leads, r.won_leads, r.conversion_rate, r.won_value)
        for r in source_performance(fixture, currency="EUR")
    ]
    assert rows == [
        ("web", 3, 1, pytest.approx(1 / 3), Decimal("10000.00")),
        ("telegram", 2, 0, 0.0, Decimal("6000.00")),
    ]


def test_rep_performance_and_goal_attainment(fixture: Session) -> None:
    reps = rep_performance(fixture, currency="EUR", since=at(1), until=at(1, month=2))
    assert [(r.name, r.won, r.lost, r.win_rate, r.won_value) for r in reps] == [
        ("Ana", 2, 0, 1.0, Decimal("16000.00")),
        ("Ben", 0, 1, 0.0, Decimal("0.00")),
    ]
    goals = goal_attainment(fixture)
    assert [(g.name, g.quota, g.won_value, g.attainment) for g in goals] == [
        ("Ana", Decimal("20000.00"), Decimal("24599.14"), pytest.approx(1.229957)),
        ("Ben", Decimal("10000.00"), Decimal("0.00"), 0.0),
    ]


def test_dashboard_bundles_everything(fixture: Session) -> None:
    board = dashboard(fixture)
    # every deal converted into EUR: D1, D3 and the USD D7 are won
    assert board.funnel.overall_rate == 0.2 and board.deals.won == 3 and len(board.sources) == 2


def test_empty_database_gives_no_rates_rather_than_errors(session: Session) -> None:
    board = dashboard(session)
    assert board.funnel.overall_rate is None and board.deals.win_rate is None
    assert board.deals.velocity_per_day is None and forecast(session) == []


def test_since_inside_a_day_counts_only_the_later_leads_of_that_day(session: Session) -> None:
    """Whole days come from the daily tallies, the rest of since's day from the leads themselves."""
    from datetime import UTC, datetime, timedelta, timezone

    for day, hour, source in ((3, 8, "web"), (3, 15, "web"), (4, 9, "telegram")):
        walk(session, make_lead(session, created=at(day, hour=hour), source=source), "mql", start_day=day)

    def counted(since: datetime) -> tuple[int, list[tuple[str, int]]]:
        funnel = stage_conversion(session, since=since).stages[0].reached
        return funnel, [(row.source, row.leads) for row in source_performance(session, since=since)]

    assert counted(datetime(2026, 1, 3, tzinfo=UTC)) == (3, [("web", 2), ("telegram", 1)])
    assert counted(at(3, hour=12)) == (2, [("telegram", 1), ("web", 1)])
    assert counted(at(3, hour=12).astimezone(timezone(timedelta(hours=5)))) == (
        2,
        [("telegram", 1), ("web", 1)],
    )
    assert counted(at(3, hour=16)) == (1, [("telegram", 1)])
    assert counted(at(4, hour=10)) == (0, [])
