"""Policy versions: validated before saving, the newest classes new leads, the YAML file is version 0."""

from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_core.models import Authority, PolicyVersion, Temperature
from crm_core.money import default_rates
from crm_core.qualification.policy import LeadFacts, current_policy, with_rates
from crm_core.qualification.policy_store import (
    InvalidPolicy,
    active_policy,
    default_policy_text,
    policy_versions,
    save_policy,
)
from crm_core.sales.leads import capture_lead
from crm_core.schemas import ConversationRef

FACTS = LeadFacts(
    need="a CRM",
    budget_amount=Decimal(5000),
    authority=Authority.DECISION_MAKER,
    timeline_days=60,
    email="a@example.com",
    consent=True,
)


def edited(**replacements: str) -> str:
    text = default_policy_text()
    for old, new in replacements.items():
        assert old in text
        text = text.replace(old, new)
    return text


def stored(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(PolicyVersion)) or 0


def test_the_yaml_file_is_version_zero_until_an_admin_saves_one(session: Session) -> None:
    # the YAML file, with its budget conversion from the exchange rates file (version 0 of each)
    assert active_policy(session) == with_rates(current_policy(), default_rates())
    [zero] = policy_versions(session)
    assert (zero.number, zero.version, zero.active) == (0, current_policy().version, True)


def test_a_saved_version_classes_new_leads_and_old_leads_keep_theirs(session: Session) -> None:
    first = capture_lead(session, FACTS, ConversationRef(channel="rest", sender_id="before"))
    assert (first.temperature, first.policy_version) == (Temperature.WARM, current_policy().version)

    text = edited(
        **{'version: "2026-12-01.2"': 'version: "strict-1"', "warm_max_days: 90": "warm_max_days: 45"}
    )
    saved = save_policy(session, text, saved_by="admin@example.com")

    assert (saved.number, saved.version, saved.active, saved.source_text) == (1, "strict-1", True, text)
    assert active_policy(session).temperature.warm_max_days == 45
    second = capture_lead(
        session,
        FACTS.model_copy(update={"email": "b@example.com"}),
        ConversationRef(channel="rest", sender_id="after"),
    )
    assert (second.temperature, second.policy_version) == (Temperature.COLD, "strict-1")
    versions = policy_versions(session)
    assert [(v.number, v.active) for v in versions] == [(1, True), (0, False)]
    assert versions[0].saved_by == "admin@example.com"


def test_versions_saved_with_their_own_rates_use_the_rates_in_force(session: Session) -> None:
    """One table of rates: a version saved when the policy carried rates (USD 0.5 here) is converted with
    the exchange rates in force (USD 0.86 in the rates file), and so is one saved before currencies."""
    with_old_rates = current_policy().model_dump(mode="json") | {"version": "own-rates"}
    with_old_rates["currency"] = {"code": "EUR", "rates_taken_on": "2026-01-01", "rates": {"USD": "0.5"}}
    session.add(PolicyVersion(version="own-rates", document=with_old_rates, source_text="…", saved_by="a"))
    session.flush()
    currency = active_policy(session).currency
    assert currency is not None and currency.rates["USD"] == Decimal("0.86")
    assert currency.rates_version == "2026-12-01.1"

    older = current_policy().model_dump(mode="json", exclude={"currency"}) | {"version": "before-rates"}
    session.add(PolicyVersion(version="before-rates", document=older, source_text="…", saved_by="admin"))
    session.flush()
    assert (active_policy(session).version, active_policy(session).currency) == ("before-rates", None)


@pytest.mark.parametrize(
    ("replacements", "problem"),
    [
        ({"hot_max_days: 30": "hot_max_days: [30"}, "not valid YAML"),
        ({"hot_max_days: 30": "hot_max_days: -1"}, "temperature.hot_max_days: Input should be greater than"),
        ({"warm_max_days: 90": "warm_max_days: 10"}, "warm_max_days must be at least hot_max_days"),
        ({"nurture_recheck_days: 180": "nurture_recheck_days: 180\nsurprise: 1"}, "surprise: Extra inputs"),
        ({"min: 5": "min: 9000"}, "min must not exceed max"),
        (
            {"sql_authorities: [decision_maker, influencer]": "sql_authorities: []"},
            "name at least one authority",
        ),
        ({"need: 25": "need: lots"}, "score.need: Input should be a valid integer"),
        ({"code: EUR": "code: EUR\n  rates: {USD: 0.9}"}, "exchange rates are kept in one place"),
        ({"code: EUR": "code: euro"}, "currency.code: String should match pattern"),
        ({}, "'2026-12-01.2' is already used"),
    ],
)
def test_an_invalid_policy_is_refused_with_its_problems_and_nothing_saved(
    session: Session, replacements: dict[str, str], problem: str
) -> None:
    with pytest.raises(InvalidPolicy) as refused:
        save_policy(session, edited(**replacements), saved_by="admin")
    assert any(problem in line for line in refused.value.problems), refused.value.problems
    assert stored(session) == 0


def test_several_problems_are_reported_together_and_labels_are_never_reused(session: Session) -> None:
    with pytest.raises(InvalidPolicy) as refused:
        save_policy(
            session, edited(**{"warm_max_days: 90": "warm_max_days: 1", "min: 5": "min: 9000"}), "admin"
        )
    assert len(refused.value.problems) == 3  # warm < hot, size range, version already used
    save_policy(session, edited(**{'version: "2026-12-01.2"': 'version: "v2"'}), "admin")
    with pytest.raises(InvalidPolicy, match="'v2' is already used"):
        save_policy(session, edited(**{'version: "2026-12-01.2"': 'version: "v2"'}), "admin")
    with pytest.raises(InvalidPolicy, match="must be a YAML mapping"):
        save_policy(session, "- just a list", "admin")
    assert stored(session) == 1
