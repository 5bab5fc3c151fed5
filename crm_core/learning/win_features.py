"""What the learned win probability knows about a lead: its features, as named binary values.

A lead's features are the facts the conversation gathered (need, budget band in the policy's currency,
authority, timeline band, company size band, consent, "just asking", a competitor's customer) plus its
source, channel, language and speed to lead. Each is one-hot: a name such as ``"authority: decision
maker"`` with the value 1.0, and the name is also the label a rep reads in the lead's factors. The trainer
(``crm_core.learning.win_training``) and the scorer (``crm_core.learning.win_probability``) both read leads
through ``lead_features`` only, so a lead is described the same way when learning and when scoring.
"""

from datetime import datetime, timedelta
from decimal import Decimal
from typing import TypeVar

from crm_core.models import Authority, Lead, LeadRow
from crm_core.qualification.policy import LeadFacts, Policy, budget_in_policy_currency

Features = dict[str, float]

# Bands: upper bounds (inclusive) and their labels; the last label is for anything above.
_BUDGET_BANDS = ((Decimal(1000), "under 1k"), (Decimal(10_000), "1k–10k"), (Decimal(50_000), "10k–50k"))
_BUDGET_TOP = "50k or more"
_TIMELINE_BANDS = ((30, "within a month"), (90, "in 1–3 months"), (365, "in 3–12 months"))
_TIMELINE_TOP = "in over a year"
_SIZE_BANDS = ((9, "1–9 people"), (49, "10–49 people"), (249, "50–249 people"), (999, "250–999 people"))
_SIZE_TOP = "1000 people or more"
_SPEED_BANDS = ((timedelta(hours=1), "within an hour"), (timedelta(days=1), "within a day"))
_SPEED_TOO_SLOW = "not within a day"
_AUTHORITY = {
    Authority.DECISION_MAKER: "decision maker",
    Authority.INFLUENCER: "influencer",
    Authority.RESEARCHER: "researcher",
    Authority.UNKNOWN: "unknown",
}


Bound = TypeVar("Bound", int, Decimal, timedelta)


def _band(value: Bound, bands: tuple[tuple[Bound, str], ...], top: str) -> str:
    return next((label for bound, label in bands if value <= bound), top)


def _budget(lead: Lead | LeadRow, policy: Policy) -> str:
    if lead.budget_amount is None:
        return "none yet" if lead.budget_none_yet else "unknown"
    facts = LeadFacts(budget_amount=lead.budget_amount, budget_currency=lead.budget_currency)
    converted = budget_in_policy_currency(facts, policy)
    if converted is None:
        return "in a currency without a rate"
    code = f" {policy.currency.code}" if policy.currency else ""
    return _band(converted, _BUDGET_BANDS, _BUDGET_TOP) + code


def first_response_at(lead: Lead | LeadRow) -> datetime | None:
    """When a rep first took the lead up: accepted it or contacted the visitor, whichever came first."""
    moments = [at for at in (lead.first_accepted_at, lead.accepted_at, lead.first_contact_at) if at]
    return min(moments) if moments else None


def _speed(lead: Lead | LeadRow, now: datetime) -> str | None:
    """The band of the time from the lead's creation to a rep's first response; None while an open lead
    is younger than the slowest band and nobody has responded yet (it may still be fast)."""
    responded = first_response_at(lead)
    if responded is not None:
        return _band(responded - lead.created_at, _SPEED_BANDS, _SPEED_TOO_SLOW)
    if now - lead.created_at > _SPEED_BANDS[-1][0]:
        return _SPEED_TOO_SLOW
    return None


def _text(value: str | None) -> str:
    return " ".join((value or "").lower().split())[:60] or "unknown"


def lead_features(lead: Lead | LeadRow, policy: Policy, now: datetime) -> Features:
    """The lead's features (every value 1.0); ``policy`` gives the currency budgets are banded in, and
    ``now`` tells whether an open lead nobody responded to is already slow."""
    channel = lead.conversations[0].channel if lead.conversations else "none recorded"
    timeline = (
        "unknown" if lead.timeline_days is None else _band(lead.timeline_days, _TIMELINE_BANDS, _TIMELINE_TOP)
    )
    size = "unknown" if lead.company_size is None else _band(lead.company_size, _SIZE_BANDS, _SIZE_TOP)
    names = [
        "need: stated" if lead.need else "need: none stated",
        f"budget: {_budget(lead, policy)}",
        f"authority: {_AUTHORITY[lead.authority]}",
        f"timeline: {timeline}",
        f"company size: {size}",
        "consent: given" if lead.consent else "consent: not given",
        f"source: {_text(lead.source)}",
        f"channel: {_text(channel)}",
        f"language: {_text(lead.language)}",
    ]
    if lead.just_asking:
        names.append("said they are just asking")
    if lead.bought_competitor:
        names.append("bought from a competitor")
    speed = _speed(lead, now)
    if speed is not None:
        names.append(f"speed to lead: {speed}")
    return dict.fromkeys(names, 1.0)
