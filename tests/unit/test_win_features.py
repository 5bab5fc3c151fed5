"""A lead's features for the learned win probability: bands in the policy's currency, speed to lead, the
channel, and the same names whether the lead is learned from or scored."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from crm_core.learning.win_features import lead_features
from crm_core.models import Authority, Conversation, Lead, Stage
from crm_core.money import ExchangeRates
from crm_core.qualification.policy import current_policy, with_rates

CREATED = datetime(2026, 3, 2, 9, tzinfo=UTC)


def _lead(**facts: object) -> Lead:
    defaults: dict[str, object] = {
        "need": None, "budget_amount": None, "budget_currency": None, "budget_none_yet": False,
        "authority": Authority.UNKNOWN, "timeline_days": None, "company_size": None, "consent": False,
        "just_asking": False, "bought_competitor": False, "language": "en", "source": None,
        "created_at": CREATED, "stage": Stage.SQL,
    }  # fmt: skip
    return Lead(**(defaults | facts))


def test_a_lead_with_nothing_known_has_the_unknown_bands() -> None:
    assert lead_features(_lead(), current_policy(), CREATED) == dict.fromkeys(
        [
            "need: none stated", "budget: unknown", "authority: unknown", "timeline: unknown",
            "company size: unknown", "consent: not given", "source: unknown",
            "channel: none recorded", "language: en",
        ],
        1.0,
    )  # fmt: skip


def test_facts_fall_in_their_bands_and_budgets_are_banded_in_the_policy_currency() -> None:
    rates = ExchangeRates(
        version="t",
        reporting_currency="EUR",
        taken_on=date(2026, 1, 1),
        rates={"USD": Decimal("0.5")},
    )
    policy = with_rates(current_policy(), rates)
    lead = _lead(
        need="a bot", budget_amount=Decimal(30_000), budget_currency="USD", authority=Authority.DECISION_MAKER,
        timeline_days=45, company_size=12, consent=True, source="  Google Ads ", language="es",
        just_asking=True, bought_competitor=True,
    )  # fmt: skip
    lead.conversations = [Conversation(channel="telegram", sender_id="telegram-1")]
    features = lead_features(lead, policy, CREATED)
    assert set(features) == {
        "need: stated", "budget: 10k–50k EUR", "authority: decision maker", "timeline: in 1–3 months",
        "company size: 10–49 people", "consent: given", "source: google ads", "channel: telegram",
        "language: es", "said they are just asking", "bought from a competitor",
    }  # fmt: skip
    assert "budget: 1k–10k EUR" in lead_features(_lead(budget_amount=Decimal(5000)), policy, CREATED)
    no_rate = _lead(budget_amount=Decimal(10), budget_currency="JPY")
    assert "budget: in a currency without a rate" in lead_features(no_rate, policy, CREATED)
    assert "budget: none yet" in lead_features(_lead(budget_none_yet=True), policy, CREATED)


def test_speed_to_lead_is_the_first_response_and_unknown_while_a_new_lead_may_still_be_fast() -> None:
    policy = current_policy()

    def speed(lead: Lead, now: datetime) -> list[str]:
        return [name for name in lead_features(lead, policy, now) if name.startswith("speed")]

    fast = _lead(first_accepted_at=CREATED + timedelta(minutes=20))
    assert speed(fast, CREATED + timedelta(days=30)) == ["speed to lead: within an hour"]
    contacted = _lead(first_contact_at=CREATED + timedelta(hours=5), accepted_at=CREATED + timedelta(hours=9))
    assert speed(contacted, CREATED + timedelta(days=30)) == ["speed to lead: within a day"]
    slow = _lead(accepted_at=CREATED + timedelta(days=3))
    assert speed(slow, CREATED + timedelta(days=30)) == ["speed to lead: not within a day"]
    waiting = _lead()
    assert speed(waiting, CREATED + timedelta(hours=2)) == []  # nobody yet, but it is early
    assert speed(waiting, CREATED + timedelta(hours=25)) == ["speed to lead: not within a day"]
