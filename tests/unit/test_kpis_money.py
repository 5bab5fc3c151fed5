"""Money KPIs over deals in several currencies, converted into the reporting currency by hand below.

Rates (crm_core/exchange_rates.yml, EUR per unit): USD 0.86, GBP 1.14, MXN 0.047; JPY has no rate.
Every lead is created Feb 1 2026; every deal opened Feb 2 in proposal. Reps: Ana (La), Ben (Lb, USD
only), Cai (Lc, Ld). Sources: La, Lb web; Lc, Ld telegram.

    D1 La     10,000 EUR  won Feb 10   = 10,000.00 EUR   cycle  8 days ( 9 from the lead's creation)
    D2 Lb      5,000 USD  won Feb 12   =  4,300.00 EUR   cycle 10 days (11)
    D3 Lb      2,000 USD  lost Feb 14 (price)       = 1,720.00 EUR
    D4 Lc      3,000 GBP  won Feb 20   =  3,420.00 EUR   cycle 18 days (19)
    D5 Ld    100,000 MXN  won Feb 22   =  4,700.00 EUR   cycle 20 days (21)
    D6 Ld  1,000,000 JPY  won Feb 24   = no rate: flagged, never 0   cycle 22 days (23)
    D7 Lc      4,000 GBP  open, negotiation (0.70), expected 2026-03-15 = 4,560.00 EUR
    D8 Lb      1,000 USD  open, proposal (0.40),    expected 2026-03-20 =   860.00 EUR
    D9 La      2,000 EUR  lost Feb 26 (competitor)

  Won 5 (every win counts, in any currency), lost 2 → win rate 5/7.
  Won value 10,000 + 4,300 + 3,420 + 4,700 = 22,420.00 EUR, JPY: 1 deal left out (flagged).
  Average deal 22,420 / 4 converted wins = 5,605.00. Cycle (8+10+18+20+22)/5 = 15.6 days from deal
  creation, (9+11+19+21+23)/5 = 16.6 from lead creation. Open 2, worth 4,560 + 860 = 5,420.00.
  Velocity 2 × 5,605 × 5/7 ÷ 15.6 = 513.28 per day.
  Reps: Ana 1 won 1 lost 10,000.00; Ben 1 won 1 lost 4,300.00 (5,000 USD); Cai 3 won 8,120.00 + JPY.
  Sources: web 14,300.00 (D1 + D2); telegram 8,120.00 (D4 + D5) + JPY flagged.
  Quotas February: Ana 20,000 EUR → 10,000 / 20,000 = 0.5; Ben 5,000 USD → 5,000 USD (no conversion)
    → 1.0; Cai 5,000 GBP → 3,000 + 4,700 EUR ÷ 1.14 = 4,122.81 GBP → 7,122.81 / 5,000 = 1.424562.
  Forecast (seen April 2nd, March is overdue): 2026-03 value 5,420.00, weighted 4,560 × 0.7 + 860 × 0.4
    = 3,192 + 344 = 3,536.00.
  Lost reasons: competitor 1 (2,000.00), price 1 (1,720.00).
  Period [Feb 15, Feb 23): closed D4, D5 only → won 2, lost 0, won value 8,120.00, all Cai's.
"""

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_core.errors import InvalidInput, InvalidTransition
from crm_core.models import Deal, Lead, Stage
from crm_core.money import import_rates
from crm_core.people.privacy import erase_contact
from crm_core.people.reps import add_rep, set_quota
from crm_core.reporting.kpis import (
    dashboard,
    deal_report,
    forecast,
    goal_attainment,
    lost_reasons,
    rep_performance,
    source_performance,
)
from crm_core.sales import lifecycle, pipeline
from crm_core.sales.deals import open_deal
from crm_core.schemas import NewDeal, NewRep
from tests.unit.helpers import at, make_lead

FEB = 2


def deal(session: Session, lead: Lead, value: int, currency: str, closes: date | None = None) -> Deal:
    new = NewDeal(
        title=f"{value} {currency}",
        value=Decimal(value),
        currency=currency,
        stage=Stage.PROPOSAL,
        expected_close_date=closes,
    )
    row = session.get(Deal, open_deal(session, lead.id, new, at=at(2, month=FEB)).id)
    assert row is not None
    return row


def close(session: Session, row: Deal, stage: str, day: int, why: str | None = None) -> None:
    pipeline.move(session, row, stage, at=at(day, month=FEB), lost_reason=why)


@pytest.fixture
def team(session: Session) -> dict[str, int]:
    ana = add_rep(session, NewRep(name="Ana", languages=["en"])).id
    ben = add_rep(session, NewRep(name="Ben", languages=["en"])).id
    cai = add_rep(session, NewRep(name="Cai", languages=["en"])).id
    la = make_lead(session, created=at(1, month=FEB), source="web", rep_id=ana, email="la@example.com")
    lb = make_lead(session, created=at(1, month=FEB), source="web", rep_id=ben, email="lb@example.com")
    lc = make_lead(session, created=at(1, month=FEB), source="telegram", rep_id=cai)
    ld = make_lead(session, created=at(1, month=FEB), source="telegram", rep_id=cai)
    close(session, deal(session, la, 10_000, "EUR"), "won", 10)
    close(session, deal(session, lb, 5_000, "USD"), "won", 12)
    close(session, deal(session, lb, 2_000, "USD"), "lost", 14, "price")
    close(session, deal(session, lc, 3_000, "GBP"), "won", 20)
    close(session, deal(session, ld, 100_000, "MXN"), "won", 22)
    close(session, deal(session, ld, 1_000_000, "JPY"), "won", 24)
    negotiation = deal(session, lc, 4_000, "GBP", date(2026, 3, 15))
    pipeline.move(session, negotiation, "negotiation", at=at(3, month=FEB))
    deal(session, lb, 1_000, "USD", date(2026, 3, 20))
    close(session, deal(session, la, 2_000, "EUR"), "lost", 26, "competitor")
    period = (date(2026, 2, 1), date(2026, 3, 1))
    set_quota(session, ana, *period, Decimal(20_000), "EUR")
    set_quota(session, ben, *period, Decimal(5_000), "USD")
    set_quota(session, cai, *period, Decimal(5_000), "GBP")
    return {"ana": ana, "ben": ben, "cai": cai, "lb_contact": lb.contact_id}


def test_every_win_counts_and_the_money_is_converted(session: Session, team: dict[str, int]) -> None:
    report = deal_report(session)
    assert (report.currency, report.won, report.lost) == ("EUR", 5, 2)
    assert report.win_rate == pytest.approx(5 / 7)
    assert report.won_value == Decimal("22420.00")
    assert report.unconverted == {"JPY": 1}  # flagged, not counted as 0
    assert report.average_deal == Decimal("5605.00")
    assert report.average_cycle_days == pytest.approx(15.6)
    assert report.average_cycle_from_lead_days == pytest.approx(16.6)
    assert (report.open_opportunities, report.open_value) == (2, Decimal("5420.00"))
    assert report.velocity_per_day == Decimal("513.28")


def test_each_figure_is_also_there_per_original_currency(session: Session, team: dict[str, int]) -> None:
    parts = {part.currency: part for part in deal_report(session).by_currency}
    assert sorted(parts) == ["EUR", "GBP", "JPY", "MXN", "USD"]
    assert (parts["USD"].won, parts["USD"].lost, parts["USD"].won_value) == (1, 1, Decimal("5000.00"))
    assert (parts["USD"].open_opportunities, parts["USD"].open_value) == (1, Decimal("1000.00"))
    assert (parts["GBP"].won_value, parts["GBP"].open_value) == (Decimal("3000.00"), Decimal("4000.00"))
    assert parts["JPY"].won_value == Decimal("1000000.00") and parts["JPY"].unconverted == {}
    assert (parts["EUR"].won, parts["EUR"].lost, parts["EUR"].win_rate) == (1, 1, 0.5)
    only_usd = deal_report(session, currency="USD")  # one currency, in that currency
    assert (only_usd.currency, only_usd.won, only_usd.won_value) == ("USD", 1, Decimal("5000.00"))


def test_a_usd_only_rep_shows_their_revenue_converted(session: Session, team: dict[str, int]) -> None:
    rows = {row.name: row for row in rep_performance(session)}
    assert (rows["Ana"].won, rows["Ana"].lost, rows["Ana"].won_value) == (1, 1, Decimal("10000.00"))
    assert (rows["Ben"].won, rows["Ben"].won_value) == (1, Decimal("4300.00"))
    assert rows["Ben"].won_value_by_currency == {"USD": Decimal("5000.00")}
    assert (rows["Cai"].won, rows["Cai"].won_value, rows["Cai"].unconverted) == (
        3, Decimal("8120.00"), {"JPY": 1},
    )  # fmt: skip
    assert sum(row.won_value for row in rows.values()) == deal_report(session).won_value


def test_quotas_read_right_in_their_own_currency(session: Session, team: dict[str, int]) -> None:
    goals = {goal.name: goal for goal in goal_attainment(session)}
    assert (goals["Ana"].won_value, goals["Ana"].attainment) == (Decimal("10000.00"), 0.5)
    assert (goals["Ben"].currency, goals["Ben"].won_value, goals["Ben"].attainment) == (
        "USD", Decimal("5000.00"), 1.0,
    )  # fmt: skip
    assert (goals["Cai"].currency, goals["Cai"].won_value) == ("GBP", Decimal("7122.81"))
    assert goals["Cai"].attainment == pytest.approx(1.424562)
    assert goals["Cai"].unconverted == {"JPY": 1}


def test_sources_forecast_and_lost_reasons_in_the_reporting_currency(
    session: Session, team: dict[str, int]
) -> None:
    sources = [(row.source, row.leads, row.won_value, row.unconverted) for row in source_performance(session)]
    assert sources == [("web", 2, Decimal("14300.00"), {}), ("telegram", 2, Decimal("8120.00"), {"JPY": 1})]
    [march] = forecast(session, today=date(2026, 4, 2))
    assert (march.month, march.deals, march.value, march.weighted, march.overdue) == (
        "2026-03", 2, Decimal("5420.00"), Decimal("3536.00"), True,
    )  # fmt: skip
    assert march.value_by_currency == {"GBP": Decimal("4000.00"), "USD": Decimal("1000.00")}
    reasons = [(row.reason, row.deals, row.value) for row in lost_reasons(session)]
    assert reasons == [("competitor", 1, Decimal("2000.00")), ("price", 1, Decimal("1720.00"))]


def test_one_period_applies_to_every_figure(session: Session, team: dict[str, int]) -> None:
    board = dashboard(session, since=at(15, month=FEB, hour=0), until=at(23, month=FEB, hour=0))
    assert (board.deals.won, board.deals.lost, board.deals.won_value) == (2, 0, Decimal("8120.00"))
    assert [(r.name, r.won_value) for r in board.reps] == [
        ("Ana", Decimal("0.00")), ("Ben", Decimal("0.00")), ("Cai", Decimal("8120.00")),
    ]  # fmt: skip
    assert [(s.source, s.leads, s.won_value) for s in board.sources] == [("telegram", 0, Decimal("8120.00"))]
    assert board.funnel.stages[0].reached == 0  # every lead was created before the period
    assert board.lost_reasons == [] and len(board.quotas) == 3  # February's quotas overlap it
    assert board.deals.unconverted == {}  # the JPY win closed outside the period…
    assert board.missing_rates == ["JPY"]  # …but inside Cai's quota period, which is flagged
    whole = dashboard(session)
    assert (whole.currency, whole.missing_rates, whole.deals.won) == ("EUR", ["JPY"], 5)


def test_imported_rates_are_the_ones_every_figure_uses(session: Session, team: dict[str, int]) -> None:
    """New rates: USD 0.90 and JPY 0.006. Ben's 5,000 USD = 4,500.00; the JPY win 6,000.00 now counts:
    22,420 − 4,300 + 4,500 + 6,000 = 28,620.00 and nothing is flagged."""
    import_rates(
        session,
        "version: r2\nreporting_currency: EUR\ntaken_on: 2026-03-01\n"
        "rates: {USD: 0.90, GBP: 1.14, MXN: 0.047, JPY: 0.006}\n",
        "admin",
    )
    report = deal_report(session)
    assert (report.won_value, report.unconverted) == (Decimal("28620.00"), {})
    assert {r.name: r.won_value for r in rep_performance(session)}["Ben"] == Decimal("4500.00")
    assert dashboard(session).rates_version == "r2"


def test_erasing_a_contact_keeps_revenue_and_quota_attainment(session: Session, team: dict[str, int]) -> None:
    before = (deal_report(session), rep_performance(session), goal_attainment(session))
    erase_contact(session, team["lb_contact"], "admin", events_url="sqlite:///unused.db")
    after = (deal_report(session), rep_performance(session), goal_attainment(session))
    assert after == before  # Ben's USD win, his lost deal and his open one stay, anonymised
    kept = session.scalars(select(Deal).where(Deal.lead_id.is_(None))).all()
    assert sorted((d.value, d.currency, d.stage.value) for d in kept) == [
        (Decimal("1000.00"), "USD", "proposal"), (Decimal("2000.00"), "USD", "lost"),
        (Decimal("5000.00"), "USD", "won"),
    ]  # fmt: skip
    with pytest.raises(InvalidTransition, match="belonged to an erased contact"):
        pipeline.move(session, kept[0], "lost", lost_reason="price")


def test_losing_a_deal_asks_why(session: Session) -> None:
    lead = make_lead(session, created=at(1, month=FEB))
    row = deal(session, lead, 1_000, "EUR")
    with pytest.raises(InvalidInput, match=r"Say why deal \d+ was lost: one of price, competitor"):
        pipeline.move(session, row, "lost", at=at(5, month=FEB))
    with pytest.raises(InvalidInput, match="'cheaper' is not a lost reason"):
        pipeline.move(session, row, "lost", at=at(5, month=FEB), lost_reason="cheaper")
    assert row.stage is Stage.PROPOSAL  # nothing changed
    change = pipeline.move(session, row, "lost", at=at(5, month=FEB), lost_reason="No Budget")
    assert (row.lost_reason, change.reason) == ("no budget", "lost: no budget")
    pipeline.move(session, row, "proposal", reopen=True, at=at(6, month=FEB))
    assert row.lost_reason is None  # reopened: no longer lost
    # a lead lost with its open deals: they are lost for the lead's reason, or "lead lost"
    lifecycle.move(session, lead, "lost", at=at(7, month=FEB), lost_reason="timing")
    assert row.lost_reason == "timing"
    other = make_lead(session, created=at(1, month=FEB))
    second = deal(session, other, 500, "EUR")
    lifecycle.move(session, other, "lost", at=at(7, month=FEB))
    assert second.lost_reason == "lead lost"
