"""Every row of the default qualification policy, and its boundaries."""

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from crm_core.config import DEFAULT_POLICY_FILE, DEFAULT_RATES_FILE
from crm_core.models import Authority, Qualification, Temperature
from crm_core.money import load_rates
from crm_core.qualification.policy import CurrencyRules, LeadFacts, Policy, load_policy, qualify, with_rates

# the policy as leads are classed by it: budgets converted with the exchange rates file
POLICY = with_rates(load_policy(DEFAULT_POLICY_FILE), load_rates(DEFAULT_RATES_FILE))


def sql_ready(**changes: object) -> LeadFacts:
    """A lead that meets every SQL condition; tests change one thing at a time."""
    facts = LeadFacts(
        need="a chatbot for our web shop",
        budget_amount=Decimal("20000"),
        budget_currency="USD",
        authority=Authority.DECISION_MAKER,
        timeline_days=14,
        company="Acme",
        company_size=50,
        name="Ana",
        email="ana@acme.example",
        consent=True,
    )
    return facts.model_copy(update=changes)


@pytest.mark.parametrize(
    ("days", "temperature"),
    [
        (0, Temperature.HOT),
        (30, Temperature.HOT),
        (31, Temperature.WARM),
        (60, Temperature.WARM),
        (90, Temperature.WARM),
        (91, Temperature.COLD),
        (365, Temperature.COLD),
        (None, Temperature.COLD),
    ],
)
def test_temperature_follows_the_timeline(days: int | None, temperature: Temperature) -> None:
    assert qualify(sql_ready(timeline_days=days), POLICY).temperature is temperature


def test_hot_decision_maker_with_fitting_budget_is_sql() -> None:
    verdict = qualify(sql_ready(), POLICY)
    assert verdict.qualification is Qualification.SQL
    assert verdict.temperature is Temperature.HOT


def test_warm_lead_with_access_to_the_decision_maker_is_sql() -> None:
    verdict = qualify(sql_ready(timeline_days=60, authority=Authority.INFLUENCER), POLICY)
    assert verdict.qualification is Qualification.SQL
    assert verdict.temperature is Temperature.WARM


def test_cold_lead_is_mql_not_sql() -> None:
    verdict = qualify(sql_ready(timeline_days=None), POLICY)
    assert verdict.qualification is Qualification.MQL
    assert "no near timeframe" in verdict.reasons[-1].why


@pytest.mark.parametrize(
    "changes",
    [
        {"authority": Authority.RESEARCHER},
        {"authority": Authority.UNKNOWN},
        {"budget_amount": None, "budget_none_yet": True},
        {"budget_amount": None},
        {"budget_amount": Decimal("999.99")},
    ],
)
def test_hot_lead_missing_budget_or_authority_is_mql(changes: dict[str, object]) -> None:
    assert qualify(sql_ready(**changes), POLICY).qualification is Qualification.MQL


def test_budget_exactly_at_the_minimum_fits() -> None:
    # the minimum is in the policy's currency (EUR): 1,000 USD no longer counts as 1,000
    verdict = qualify(sql_ready(budget_amount=Decimal("1000"), budget_currency="EUR"), POLICY)
    assert verdict.qualification is Qualification.SQL


@pytest.mark.parametrize(
    "changes",
    [
        {"need": None},
        {"need": ""},
        {"email": None},
        {"consent": False},
    ],
)
def test_no_need_or_no_contact_or_no_consent_is_suspect(changes: dict[str, object]) -> None:
    assert qualify(sql_ready(**changes), POLICY).qualification is Qualification.SUSPECT


def test_phone_alone_is_a_valid_contact() -> None:
    verdict = qualify(sql_ready(email=None, phone="+34600000000"), POLICY)
    assert verdict.qualification is Qualification.SQL


def test_just_asking_is_disqualified_whatever_else_was_said() -> None:
    verdict = qualify(sql_ready(just_asking=True), POLICY)
    assert verdict.qualification is Qualification.DISQUALIFIED
    assert verdict.recheck_on is None


def test_bought_from_a_competitor_is_parked_with_a_recheck_date() -> None:
    today = date(2026, 1, 10)
    verdict = qualify(sql_ready(bought_competitor=True), POLICY, today=today)
    assert verdict.qualification is Qualification.NURTURE
    assert verdict.recheck_on == today + timedelta(days=POLICY.nurture_recheck_days)


def test_an_empty_conversation_is_a_cold_suspect_with_zero_score() -> None:
    verdict = qualify(LeadFacts(), POLICY)
    assert (verdict.qualification, verdict.temperature, verdict.score) == (
        Qualification.SUSPECT,
        Temperature.COLD,
        0,
    )


def test_score_is_the_sum_of_explained_components() -> None:
    verdict = qualify(sql_ready(), POLICY)
    by_component: dict[str, int] = {}
    for reason in verdict.reasons:
        assert reason.why
        by_component[reason.component] = by_component.get(reason.component, 0) + reason.points
    assert by_component == {"need": 25, "budget": 25, "authority": 20, "timeline": 20, "fit": 10, "class": 0}
    assert verdict.score == 100
    assert verdict.policy_version == POLICY.version


@pytest.mark.parametrize(
    ("changes", "component", "points"),
    [
        ({"budget_amount": Decimal("500")}, "budget", 10),
        ({"authority": Authority.INFLUENCER}, "authority", 10),
        ({"timeline_days": 60}, "timeline", 12),
        ({"timeline_days": 200}, "timeline", 5),
        ({"timeline_days": None}, "timeline", 0),
        ({"company_size": 2}, "fit", 5),
        ({"company": None, "company_size": None}, "fit", 0),
    ],
)
def test_partial_components(changes: dict[str, object], component: str, points: int) -> None:
    reasons = qualify(sql_ready(**changes), POLICY).reasons
    assert sum(r.points for r in reasons if r.component == component) == points


def test_a_policy_with_an_unknown_key_is_refused(tmp_path: Path) -> None:
    broken = tmp_path / "policy.yml"
    broken.write_text(DEFAULT_POLICY_FILE.read_text() + "\nsurprise: 1\n")
    with pytest.raises(ValidationError):
        load_policy(broken)


def test_a_changed_policy_changes_the_verdict() -> None:
    stricter = POLICY.model_copy(
        update={"temperature": POLICY.temperature.model_copy(update={"hot_max_days": 7})}
    )
    assert isinstance(stricter, Policy)
    assert qualify(sql_ready(timeline_days=14), stricter).temperature is Temperature.WARM


@pytest.mark.parametrize(
    ("amount", "currency", "fits"),
    [
        ("1000", "EUR", True),
        ("1000", None, True),  # no currency said: the policy's own
        ("1100", "USD", False),  # ≈ 946 EUR
        ("1200", "USD", True),  # ≈ 1,032 EUR
        ("20000", "MXN", False),  # ≈ 940 EUR: a bare 20,000 would have "fitted"
        ("900", "GBP", True),  # ≈ 1,026 EUR
    ],
)
def test_a_budget_is_compared_in_the_policy_currency(amount: str, currency: str | None, fits: bool) -> None:
    facts = sql_ready(budget_amount=Decimal(amount), budget_currency=currency)
    budget_reason = next(r for r in qualify(facts, POLICY).reasons if r.component == "budget")
    assert (budget_reason.points == POLICY.score.budget_fits) is fits
    assert (qualify(facts, POLICY).qualification is Qualification.SQL) is fits


def test_the_budget_reason_shows_the_yearly_figure_and_its_conversion() -> None:
    facts = sql_ready(budget_amount=Decimal("3600"), budget_currency="USD", budget_period="month")
    [reason] = [r for r in qualify(facts, POLICY).reasons if r.component == "budget"]
    assert reason.why == "budget 3,600 USD a year ≈ 3,096 EUR fits"
    low = sql_ready(budget_amount=Decimal("600"), budget_currency="GBP")
    [reason] = [r for r in qualify(low, POLICY).reasons if r.component == "budget"]
    assert reason.why == "budget 600 GBP ≈ 684 EUR is below the minimum of 1,000 EUR"
    unsaid = sql_ready(budget_amount=Decimal("1800"), budget_currency=None, budget_period="month")
    [reason] = [r for r in qualify(unsaid, POLICY).reasons if r.component == "budget"]
    assert reason.why == "budget 1,800 a year (taken as EUR) fits"


def test_a_currency_without_a_rate_is_said_not_guessed() -> None:
    facts = sql_ready(budget_amount=Decimal("50000"), budget_currency="JPY")
    verdict = qualify(facts, POLICY)
    [reason] = [r for r in verdict.reasons if r.component == "budget"]
    assert reason.points == 0
    assert "no JPY rate" in reason.why and "cannot be compared" in reason.why
    assert verdict.qualification is Qualification.MQL and "no fitting budget" in verdict.reasons[-1].why


def test_a_policy_without_currencies_compares_bare_numbers() -> None:
    # versions saved before the currency section existed keep working as they did
    old = POLICY.model_copy(update={"currency": None})
    assert isinstance(old, Policy)
    facts = sql_ready(budget_amount=Decimal("1000"), budget_currency="MXN")
    assert qualify(facts, old).qualification is Qualification.SQL


def test_a_policy_in_another_currency_converts_through_the_reporting_one() -> None:
    """Rates are EUR per unit: USD 0.86, GBP 1.14. A USD policy's minimum of 1,000 USD; 900 GBP is worth
    900 × 1.14 / 0.86 = 1,193.02 USD (fits), 700 GBP 700 × 1.14 / 0.86 = 927.91 USD (does not), and
    1,000 EUR is 1,000 / 0.86 = 1,162.79 USD (fits)."""
    in_usd = load_policy(DEFAULT_POLICY_FILE).model_copy(update={"currency": CurrencyRules(code="USD")})
    policy = with_rates(in_usd, load_rates(DEFAULT_RATES_FILE))
    assert policy.currency is not None and policy.currency.rates_version == "2026-12-01.1"
    for amount, currency, fits in (("900", "GBP", True), ("700", "GBP", False), ("1000", "EUR", True)):
        facts = sql_ready(budget_amount=Decimal(amount), budget_currency=currency)
        assert (qualify(facts, policy).qualification is Qualification.SQL) is fits, (amount, currency)
    [reason] = [r for r in qualify(sql_ready(budget_amount=Decimal("900"), budget_currency="GBP"), policy).reasons
                if r.component == "budget"]  # fmt: skip
    assert reason.why == "budget 900 GBP ≈ 1,193 USD fits"


def test_the_policy_file_carries_no_rates_of_its_own() -> None:
    raw = load_policy(DEFAULT_POLICY_FILE)
    assert raw.currency is not None and raw.currency.rates == {}  # filled in from crm_core.money only
