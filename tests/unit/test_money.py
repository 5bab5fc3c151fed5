"""Exchange rates: the one versioned table, its checks, and `embudo rates import` as a user runs it."""

import json
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from crm_core.db import unit_of_work
from crm_core.models import Authority, Qualification
from crm_core.money import InvalidRates, current_rates, default_rates, import_rates, rate_versions
from crm_core.qualification.policy import LeadFacts
from crm_core.sales.leads import capture_lead
from crm_core.schemas import ConversationRef
from tests.unit.test_cli import embudo

GOOD = """version: "2026-12-02.1"
reporting_currency: eur
taken_on: 2026-12-02
rates:
  usd: 0.9
  GBP: 1.2
  MXN: 0.05
"""


def test_the_rates_file_is_version_zero_and_converts_through_the_reporting_currency(session: Session) -> None:
    rates = current_rates(session)
    assert rates == default_rates() and rates.reporting_currency == "EUR"
    assert rates.rate("EUR") == 1 and rates.rate("USD") == Decimal("0.86") and rates.rate("JPY") is None
    # 1,000 GBP in USD: 1,000 × 1.14 / 0.86 = 1,325.58…
    assert rates.convert(Decimal(1000), "GBP", "USD").quantize(Decimal("0.01")) == Decimal("1325.58")
    assert rates.convert(Decimal(1000), "JPY") is None and rates.convert(Decimal(5), "JPY", "JPY") == 5
    [zero] = rate_versions(session)
    assert (zero.number, zero.active, zero.imported_by) == (0, True, None)


def test_an_import_becomes_the_rates_in_force(session: Session) -> None:
    saved = import_rates(session, GOOD, "admin@example.com")
    assert (saved.version, saved.reporting_currency, saved.number) == ("2026-12-02.1", "EUR", 1)
    assert current_rates(session).rates == {
        "USD": Decimal("0.9"),
        "GBP": Decimal("1.2"),
        "MXN": Decimal("0.05"),
    }
    assert [(v.number, v.active) for v in rate_versions(session)] == [(1, True), (0, False)]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (GOOD.replace("usd: 0.9", "EURO: 0.9"), "unknown currency code EURO"),
        (GOOD.replace("usd: 0.9", "XYZ: 0.9\n  ABC: 2"), "unknown currency codes ABC, XYZ"),
        (GOOD.replace("usd: 0.9", "usd: 0"), "rates.USD: a rate must be greater than 0"),
        (GOOD.replace("usd: 0.9", "usd: -0.9"), "rates.USD: a rate must be greater than 0"),
        (GOOD.replace("usd: 0.9", "usd: lots"), "rates.USD: Input should be a valid decimal"),
        (GOOD.replace("reporting_currency: eur", "reporting_currency: euro"), "'EURO' is not an ISO 4217"),
        (GOOD.replace("usd: 0.9", "EUR: 1"), "leave EUR out of rates"),
        (GOOD.replace('version: "2026-12-02.1"\n', ""), "version: Field required"),
        (GOOD.replace("2026-12-01.1", "x").replace("2026-12-02.1", "2026-12-01.1"), "already used"),
        ("rates: [USD", "not valid YAML"),
        ("- USD: 0.9", "must be a YAML mapping"),
    ],
)
def test_a_bad_rates_file_is_refused_with_its_problem_and_nothing_written(
    session: Session, text: str, problem: str
) -> None:
    with pytest.raises(InvalidRates) as refused:
        import_rates(session, text, "admin")
    assert any(problem in line for line in refused.value.problems), refused.value.problems
    assert len(rate_versions(session)) == 1 and current_rates(session) == default_rates()


def test_the_budget_check_uses_the_rates_in_force(session: Session) -> None:
    """1,100 USD at the file's 0.86 is 946 EUR (under the 1,000 minimum: MQL); at an imported 0.95 it is
    1,045 EUR (fits: SQL)."""
    facts = LeadFacts(
        need="a bot", budget_amount=Decimal(1100), budget_currency="USD", authority=Authority.DECISION_MAKER,
        timeline_days=10, email="a@example.com", consent=True,
    )  # fmt: skip
    first = capture_lead(session, facts, ConversationRef(channel="rest", sender_id="one"))
    assert first.qualification is Qualification.MQL
    import_rates(session, GOOD.replace("usd: 0.9", "usd: 0.95"), "admin")
    second = capture_lead(
        session,
        facts.model_copy(update={"email": "b@example.com"}),
        ConversationRef(channel="rest", sender_id="two"),
    )
    assert second.qualification is Qualification.SQL
    assert any("≈ 1,045 EUR fits" in reason.why for reason in second.reasons)


def test_embudo_rates_import_checks_the_file_and_writes_nothing_when_wrong(
    db_url: str, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text(GOOD.replace("usd: 0.9", "usd: 0").replace("GBP: 1.2", "GBX: 1.2"), encoding="utf-8")
    refused = embudo(db_url, "rates", "import", str(bad), "--by", "admin")
    assert refused.returncode == 1
    assert "rates.USD: a rate must be greater than 0" in refused.stderr and "GBX" in refused.stderr
    missing = embudo(db_url, "rates", "import", str(tmp_path / "nowhere.yml"), "--by", "admin")
    assert missing.returncode == 1 and "Cannot read" in missing.stderr
    with unit_of_work(db_url) as session:
        assert len(rate_versions(session)) == 1
    good = tmp_path / "rates.yml"
    good.write_text(GOOD, encoding="utf-8")
    done = embudo(db_url, "rates", "import", str(good), "--by", "admin")
    assert done.returncode == 0, done.stderr
    assert "imported exchange rates 2026-12-02.1 (#1): 3 currencies in EUR" in done.stdout
    shown = json.loads(embudo(db_url, "rates", "show", "--format", "json").stdout)
    assert (shown["version"], shown["rates"]["USD"]) == ("2026-12-02.1", "0.9")
    assert "(in force)" in embudo(db_url, "rates", "versions").stdout
