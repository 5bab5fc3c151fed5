"""The qualification policy: a versioned YAML file and the pure function that applies it."""

from datetime import date, timedelta
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field

from crm_core.config import get_settings
from crm_core.models import Authority, Qualification, Temperature
from crm_core.money import ExchangeRates


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# Sane bounds: a policy outside them is refused when saved, rather than crashing the captures that use it
# (``nurture_recheck_days: 999999999`` would put every re-check date past the year 9999).
Days = Annotated[int, Field(ge=0, le=3650)]  # at most ten years
Points = Annotated[int, Field(ge=-100, le=100)]
Size = Annotated[int, Field(ge=0, le=10_000_000)]  # people in a company


class TemperatureRules(_Strict):
    hot_max_days: Days
    warm_max_days: Days


class BudgetRules(_Strict):
    minimum_amount: Decimal = Field(ge=0, le=10**12)


class CurrencyRules(_Strict):
    """The policy's currency, and the rates that convert budgets into it.

    The rates are not written in the policy: ``with_rates`` fills them in from the exchange rates in force
    (``crm_core.money``), the one table the KPIs use too. Versions saved before that carried their own
    rates; those are replaced the same way, so no second table is ever used.
    """

    code: str = Field(pattern=r"^[A-Z]{3}$")
    rates_version: str | None = Field(default=None, max_length=40)  # the exchange rates version filled in
    rates_taken_on: date | None = None
    rates: dict[str, Annotated[Decimal, Field(gt=0)]] = {}  # units of ``code`` per unit of each currency


class TimelinePoints(_Strict):
    hot: Points
    warm: Points
    cold_with_date: Points
    unknown: Points


class FitPoints(_Strict):
    company_known: Points
    company_size_in_range: Points


class CompanySizeRange(_Strict):
    min: Size
    max: Size


class ScorePoints(_Strict):
    need: Points
    budget_fits: Points
    budget_below_minimum: Points
    authority: dict[Authority, Points]
    timeline: TimelinePoints
    fit: FitPoints
    fit_company_size: CompanySizeRange


class Policy(_Strict):
    version: str = Field(max_length=40)
    temperature: TemperatureRules
    budget: BudgetRules
    # None in versions saved before currencies were known: their budgets compare as bare numbers.
    currency: CurrencyRules | None = None
    nurture_recheck_days: Annotated[int, Field(ge=1, le=3650)]
    score: ScorePoints
    sql_authorities: frozenset[Authority]


class LeadFacts(BaseModel):
    """What the conversation learned about a lead; every field may be missing."""

    need: str | None = None
    budget_amount: Decimal | None = None
    budget_currency: str | None = None
    budget_none_yet: bool = False
    budget_period: str | None = None  # as stated ("month"…); the amount is then already yearly
    authority: Authority = Authority.UNKNOWN
    timeline_days: int | None = None
    company: str | None = None
    company_size: int | None = None
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    consent: bool = False
    just_asking: bool = False
    bought_competitor: bool = False


class Reason(BaseModel):
    component: str
    points: int
    why: str


class Verdict(BaseModel):
    score: int
    temperature: Temperature
    qualification: Qualification
    reasons: list[Reason]
    policy_version: str
    recheck_on: date | None = None


def load_policy(path: Path) -> Policy:
    """Read and validate a policy file; a malformed file raises a pydantic ValidationError."""
    return Policy.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


@lru_cache
def _cached_policy(path: Path) -> Policy:
    return load_policy(path)


def current_policy() -> Policy:
    return _cached_policy(get_settings().policy_file)


def with_rates(policy: Policy, rates: ExchangeRates) -> Policy:
    """``policy`` with its budget conversion taken from the exchange rates ``rates`` (cross rates when the
    policy's currency is not the reporting one); a policy without a currency is returned unchanged."""
    if policy.currency is None:
        return policy
    code = policy.currency.code
    converted = {
        other: value
        for other in rates.currencies()
        if other != code and (value := rates.convert(Decimal(1), other, code)) is not None
    }
    currency = CurrencyRules(
        code=code, rates_version=rates.version, rates_taken_on=rates.taken_on, rates=converted
    )
    return policy.model_copy(update={"currency": currency})


def temperature_of(timeline_days: int | None, policy: Policy) -> Temperature:
    if timeline_days is None:
        return Temperature.COLD
    if timeline_days <= policy.temperature.hot_max_days:
        return Temperature.HOT
    if timeline_days <= policy.temperature.warm_max_days:
        return Temperature.WARM
    return Temperature.COLD


def budget_in_policy_currency(facts: LeadFacts, policy: Policy) -> Decimal | None:
    """The budget converted into the policy's currency (no currency stated: taken as the policy's);
    None when there is no budget or no rate for its currency."""
    if facts.budget_amount is None:
        return None
    rules = policy.currency
    if rules is None or facts.budget_currency in (None, rules.code):
        return facts.budget_amount
    rate = rules.rates.get(facts.budget_currency.upper())
    return facts.budget_amount * rate if rate is not None else None


def budget_fits(facts: LeadFacts, policy: Policy) -> bool:
    converted = budget_in_policy_currency(facts, policy)
    return converted is not None and converted >= policy.budget.minimum_amount


def _budget_reason(facts: LeadFacts, policy: Policy) -> Reason:
    """ "budget 3,600 USD a year ≈ 3,096 EUR fits", and why when it does not."""
    points, rules = policy.score, policy.currency
    money = f"{facts.budget_amount:,.0f} {facts.budget_currency or ''}".strip()
    if facts.budget_period is not None:
        money += " a year"
    code = rules.code if rules else ""
    minimum = f"{policy.budget.minimum_amount:,.0f} {code}".strip()
    converted = budget_in_policy_currency(facts, policy)
    if converted is None:
        why = (
            f"budget {money}: the exchange rates have no {facts.budget_currency} rate, "
            f"so it cannot be compared with the minimum of {minimum}"
        )
        return Reason(component="budget", points=0, why=why)
    if rules and facts.budget_currency is None:
        money += f" (taken as {rules.code})"
    elif rules and facts.budget_currency != rules.code:
        money += f" ≈ {converted:,.0f} {rules.code}"
    if budget_fits(facts, policy):
        return Reason(component="budget", points=points.budget_fits, why=f"budget {money} fits")
    return Reason(
        component="budget",
        points=points.budget_below_minimum,
        why=f"budget {money} is below the minimum of {minimum}",
    )


def _score(facts: LeadFacts, policy: Policy, temperature: Temperature) -> list[Reason]:
    points = policy.score
    reasons: list[Reason] = []

    if facts.need:
        reasons.append(Reason(component="need", points=points.need, why=f"stated a need: {facts.need}"))
    else:
        reasons.append(Reason(component="need", points=0, why="no need stated"))

    if facts.budget_amount is not None:
        reasons.append(_budget_reason(facts, policy))
    elif facts.budget_none_yet:
        reasons.append(Reason(component="budget", points=0, why="no budget yet"))
    else:
        reasons.append(Reason(component="budget", points=0, why="budget unknown"))

    authority_why = {
        Authority.DECISION_MAKER: "is the decision maker",
        Authority.INFLUENCER: "has access to the decision maker",
        Authority.RESEARCHER: "is researching, not deciding",
        Authority.UNKNOWN: "authority unknown",
    }[facts.authority]
    reasons.append(
        Reason(component="authority", points=points.authority.get(facts.authority, 0), why=authority_why)
    )

    if facts.timeline_days is None:
        reasons.append(Reason(component="timeline", points=points.timeline.unknown, why="no timeframe given"))
    else:
        timeline_points = {
            Temperature.HOT: points.timeline.hot,
            Temperature.WARM: points.timeline.warm,
            Temperature.COLD: points.timeline.cold_with_date,
        }[temperature]
        reasons.append(
            Reason(
                component="timeline",
                points=timeline_points,
                why=f"needs it within {facts.timeline_days} days ({temperature.value})",
            )
        )

    if facts.company:
        reasons.append(
            Reason(component="fit", points=points.fit.company_known, why=f"company: {facts.company}")
        )
    else:
        reasons.append(Reason(component="fit", points=0, why="company unknown"))
    size_range = points.fit_company_size
    if facts.company_size is None:
        reasons.append(Reason(component="fit", points=0, why="company size unknown"))
    elif size_range.min <= facts.company_size <= size_range.max:
        reasons.append(
            Reason(
                component="fit",
                points=points.fit.company_size_in_range,
                why=f"company size {facts.company_size} is within {size_range.min}–{size_range.max}",
            )
        )
    else:
        reasons.append(
            Reason(
                component="fit",
                points=0,
                why=f"company size {facts.company_size} is outside {size_range.min}–{size_range.max}",
            )
        )
    return reasons


def _classify(facts: LeadFacts, policy: Policy, temperature: Temperature) -> tuple[Qualification, str]:
    """The class and the one sentence that says why; the first rule that matches wins."""
    if facts.just_asking:
        return Qualification.DISQUALIFIED, "said they are just asking, with no intention to buy"
    if facts.bought_competitor:
        return Qualification.NURTURE, "already bought from a competitor: parked for a later re-check"
    has_contact = bool(facts.email or facts.phone)
    if not facts.need or not has_contact or not facts.consent:
        missing = [
            label
            for label, present in (
                ("a need", facts.need),
                ("a contact", has_contact),
                ("consent", facts.consent),
            )
            if not present
        ]
        return Qualification.SUSPECT, "showed interest but gave no " + ", no ".join(missing)
    if (
        temperature in (Temperature.HOT, Temperature.WARM)
        and budget_fits(facts, policy)
        and facts.authority in policy.sql_authorities
    ):
        return Qualification.SQL, f"{temperature.value}, budget fits and can decide: hand off to a rep now"
    gaps = []
    if temperature is Temperature.COLD:
        gaps.append("no near timeframe")
    if not budget_fits(facts, policy):
        gaps.append("no fitting budget")
    if facts.authority not in policy.sql_authorities:
        gaps.append("no decision maker")
    return Qualification.MQL, "interested, with contact and consent, but " + ", ".join(gaps)


def qualify(facts: LeadFacts, policy: Policy, today: date | None = None) -> Verdict:
    """Score and class a lead; pure, so every rule can be checked on its own."""
    temperature = temperature_of(facts.timeline_days, policy)
    reasons = _score(facts, policy, temperature)
    qualification, why = _classify(facts, policy, temperature)
    reasons.append(Reason(component="class", points=0, why=why))
    recheck_on = None
    if qualification is Qualification.NURTURE:
        recheck_on = (today or date.today()) + timedelta(days=policy.nurture_recheck_days)
    return Verdict(
        score=min(100, sum(reason.points for reason in reasons)),
        temperature=temperature,
        qualification=qualification,
        reasons=reasons,
        policy_version=policy.version,
        recheck_on=recheck_on,
    )
