"""The KPI page and `embudo kpis` over deals in EUR, USD, GBP and MXN (and one JPY deal without a rate).

Seeded: Rosa and Ben each have an SQL lead. Deals, all won today (rates file, EUR per unit):
    Rosa: 10,000 EUR; 2,000 GBP = 2,280.00; 40,000 MXN = 1,880.00; 500,000 JPY (no rate: flagged)
    Ben:  5,000 USD = 4,300.00 (his only currency)
  Won 5; won value 10,000 + 2,280 + 1,880 + 4,300 = 18,460.00 EUR. Ben's quota this month 4,000 EUR →
  4,300 / 4,000 = 107.5 %. Rosa's: 20,000 EUR → (10,000 + 2,280 + 1,880) / 20,000 = 70.8 %, JPY flagged.
"""

import json
import os
import re
import subprocess
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from crm_core.db import unit_of_work
from crm_core.models import Deal
from crm_core.people.reps import set_quota
from crm_core.sales import deals, pipeline
from crm_core.schemas import NewDeal
from tests.console import ADMIN, Seeded, console_server, csrf_of, seed, signed_in
from tests.unit.test_cli import EMBUDO


def month_bounds() -> tuple[date, date]:
    today = datetime.now(UTC).date()
    start = today.replace(day=1)
    return start, (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )


@pytest.fixture
def seeded(db_url: str) -> Seeded:
    people = seed(db_url)
    with unit_of_work(db_url) as session:
        for lead_id, value, currency in (
            (people.rosa_lead, 10_000, "EUR"),
            (people.rosa_lead, 2_000, "GBP"),
            (people.rosa_lead, 40_000, "MXN"),
            (people.rosa_lead, 500_000, "JPY"),
            (people.ben_lead, 5_000, "USD"),
        ):
            new = NewDeal(title=f"{currency} deal", value=Decimal(value), currency=currency)
            row = session.get(Deal, deals.open_deal(session, lead_id, new).id)
            assert row is not None
            pipeline.move(session, row, "won")
        set_quota(session, people.rosa_rep_id, *month_bounds(), Decimal(20_000), "EUR")
        set_quota(session, people.ben_rep_id, *month_bounds(), Decimal(4_000), "EUR")
    return people


@pytest.fixture
def web(db_url: str, seeded: Seeded, tmp_path: Path) -> Iterator[str]:
    with console_server(db_url, tmp_path / "web.log") as url:
        yield url


def cells(page: str, table: str, first: str) -> str:
    """The row of table ``table`` whose first cell is ``first``, tags stripped."""
    body = page.split(f'id="{table}"')[1].split("</table>")[0]
    row = next(r for r in body.split("<tr") if f"<td>{first}</td>" in r)
    return " ".join(re.sub(r"<[^>]+>", " ", row).split())


def test_the_dashboard_shows_every_win_in_eur_and_quotas_read_right(web: str, db_url: str) -> None:
    admin = signed_in(web, ADMIN)
    page = admin.get("/console/kpis").text
    assert "won / lost</dt><dd>5 / 0" in page
    assert "18,460.00 EUR" in page
    assert "every deal converted into EUR at exchange rates 2026-12-01.1" in page
    assert 'id="missing-rates"' in page and "No exchange rate for JPY" in page
    assert "4,300.00 EUR" in cells(page, "reps", "Ben Okafor")  # his USD deal, converted
    assert "107.5%" in cells(page, "quotas", "Ben Okafor")
    rosa = cells(page, "quotas", "Rosa Diaz")
    assert "14,160.00 EUR" in rosa and "70.8%" in rosa and "1 JPY deal left out: no rate" in rosa
    assert "5,000.00 USD" in cells(page, "deals-by-currency", "USD")
    only_usd = admin.get("/console/kpis", params={"currency": "usd"}).text
    assert "won / lost</dt><dd>1 / 0" in only_usd and "only the deals in USD, in USD" in only_usd
    before = admin.get("/console/kpis", params={"since": "2020-01-01", "until": "2020-02-01"}).text
    assert "won / lost</dt><dd>0 / 0" in before and "Period: 2020-01-01 to 2020-02-01" in before
    wrong = admin.get("/console/kpis", params={"currency": "EURO"}).text
    assert "&#39;EURO&#39; is not a currency code" in wrong


def test_the_cli_prints_the_same_converted_figures(web: str, db_url: str) -> None:
    env = {**os.environ, "EMBUDO_DATABASE_URL": db_url}
    run = subprocess.run([str(EMBUDO), "kpis"], env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert "won 5, lost 0" in run.stdout and "won value 18,460.00 EUR" in run.stdout
    assert "no exchange rate for JPY" in run.stdout
    ben = next(line for line in run.stdout.splitlines() if line.strip().startswith("Ben Okafor"))
    assert "4,300.00 EUR" in ben
    board = json.loads(
        subprocess.run(
            [str(EMBUDO), "kpis", "--format", "json"], env=env, capture_output=True, text=True, timeout=60
        ).stdout
    )
    assert (board["deals"]["won_value"], board["missing_rates"]) == ("18460.00", ["JPY"])


def test_losing_a_deal_in_the_console_asks_why(web: str, db_url: str, seeded: Seeded) -> None:
    with unit_of_work(db_url) as session:
        new = NewDeal(title="Renewal", value=Decimal(900), currency="EUR")
        deal_id = deals.open_deal(session, seeded.ben_lead, new).id
    admin = signed_in(web, ADMIN)
    lead_page = admin.get(f"/console/leads/{seeded.ben_lead}").text
    assert 'name="lost_reason"' in lead_page and '<option value="competitor">' in lead_page
    move = f"/console/leads/{seeded.ben_lead}/deals/{deal_id}/move"
    refused = admin.post(move, data={"csrf_token": csrf_of(lead_page), "stage": "lost"})
    assert refused.status_code == 422 and "Say why deal" in refused.text
    done = admin.post(
        move, data={"csrf_token": csrf_of(lead_page), "stage": "lost", "lost_reason": "competitor"}
    )
    assert done.status_code in (200, 303)
    with unit_of_work(db_url) as session:
        row = session.get(Deal, deal_id)
        assert row is not None and (row.stage.value, row.lost_reason) == ("lost", "competitor")
    assert "competitor" in cells(admin.get("/console/kpis").text, "lost-reasons", "competitor")


def test_a_deal_lost_in_the_console_takes_a_re_check_date(web: str, db_url: str, seeded: Seeded) -> None:
    from datetime import date, timedelta

    with unit_of_work(db_url) as session:
        new = NewDeal(title="Upsell", value=Decimal(400), currency="EUR")
        deal_id = deals.open_deal(session, seeded.ben_lead, new).id
    admin = signed_in(web, ADMIN)
    lead_page = admin.get(f"/console/leads/{seeded.ben_lead}").text
    assert 'name="recheck_on"' in lead_page
    move = f"/console/leads/{seeded.ben_lead}/deals/{deal_id}/move"
    form = {"csrf_token": csrf_of(lead_page), "stage": "lost", "lost_reason": "timing"}
    refused = admin.post(move, data={**form, "recheck_on": "next spring"})
    assert refused.status_code == 422 and "Cannot read the re-check date" in refused.text
    soon = date.today() + timedelta(days=60)
    assert admin.post(move, data={**form, "recheck_on": soon.isoformat()}).status_code in (200, 303)
    with unit_of_work(db_url) as session:
        row = session.get(Deal, deal_id)
        assert row is not None and (row.stage.value, row.recheck_on) == ("lost", soon)
    assert f"(re-check {soon.isoformat()})" in admin.get(f"/console/leads/{seeded.ben_lead}").text
