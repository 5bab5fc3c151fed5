"""Editing and deleting deals (``crm_core.sales.deals``, and the API's PATCH / DELETE): open deals change, closed
deals and the deals of a closed lead are the record and are refused with what to do instead."""

from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.web.app import WebSettings, create_app
from crm_core.config import get_settings
from crm_core.db import get_engine, unit_of_work
from crm_core.errors import InvalidTransition, NotFound
from crm_core.models import Stage, StageChange
from crm_core.sales import lifecycle
from crm_core.sales.deals import delete_deal, get_deal, list_deals, open_deal, update_deal
from crm_core.sales.pipeline import move_deal
from crm_core.schemas import DealUpdate, NewDeal
from tests.unit.helpers import make_lead

PILOT = NewDeal(title="Pilot", value=Decimal("12000"), currency="EUR", expected_close_date=date(2026, 3, 1))


def test_an_open_deal_changes_only_the_fields_given(session: Session) -> None:
    lead = make_lead(session, Stage.PROPOSAL)
    deal = open_deal(session, lead.id, PILOT)
    changed = update_deal(session, deal.id, DealUpdate(value=Decimal("15000.50"), currency="usd"))
    assert (changed.title, changed.value, changed.currency) == ("Pilot", Decimal("15000.50"), "USD")
    assert changed.expected_close_date == date(2026, 3, 1)
    cleared = update_deal(session, deal.id, DealUpdate.model_validate({"expected_close_date": None}))
    assert cleared.expected_close_date is None and cleared.value == Decimal("15000.50")


def test_an_unknown_currency_is_refused_not_guessed(session: Session) -> None:
    with pytest.raises(ValidationError, match="'EURO' is not a currency code"):
        NewDeal(title="x", value=Decimal(1), currency="EURO")
    with pytest.raises(ValidationError, match="'XYZ' is not a currency code"):
        DealUpdate(currency="XYZ")
    assert NewDeal(title="x", value=Decimal(1), currency=" mxn ").currency == "MXN"


def test_deleting_an_open_deal_removes_it_and_its_history(session: Session) -> None:
    lead = make_lead(session, Stage.PROPOSAL)
    deal = open_deal(session, lead.id, PILOT)
    move_deal(session, deal.id, "negotiation")
    assert delete_deal(session, deal.id).title == "Pilot"
    assert list_deals(session, lead.id) == []
    assert session.scalars(select(StageChange).where(StageChange.deal_id == deal.id)).all() == []
    assert [
        c.deal_id for c in session.scalars(select(StageChange).where(StageChange.lead_id == lead.id))
    ] == [None]  # the lead's own history stays
    with pytest.raises(NotFound):
        delete_deal(session, deal.id)


def test_a_closed_deal_is_neither_edited_nor_deleted_until_reopened(session: Session) -> None:
    lead = make_lead(session, Stage.PROPOSAL)
    deal = open_deal(session, lead.id, PILOT)
    move_deal(session, deal.id, "lost", lost_reason="price")
    with pytest.raises(
        InvalidTransition, match=f"Deal #{deal.id} is lost: .* Reopen it before you delete it"
    ):
        delete_deal(session, deal.id)
    with pytest.raises(InvalidTransition, match="Reopen it before you edit it"):
        update_deal(session, deal.id, DealUpdate(value=Decimal(1)))
    move_deal(session, deal.id, "proposal", reopen=True)
    assert update_deal(session, deal.id, DealUpdate(value=Decimal(1))).value == Decimal(1)


def test_the_deals_of_a_won_lead_are_its_record(session: Session) -> None:
    lead = make_lead(session, Stage.PROPOSAL)
    deal = open_deal(session, lead.id, PILOT)
    move_deal(session, deal.id, "won")
    lifecycle.move(session, lead, "won")
    with pytest.raises(
        InvalidTransition, match=f"Lead {lead.id} is won .* reopen the lead before you delete"
    ):
        delete_deal(session, deal.id)
    assert get_deal(session, deal.id).stage is Stage.WON  # nothing changed


@pytest.fixture
def client(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("EMBUDO_DATABASE_URL", db_url)
    get_settings.cache_clear()
    get_engine.cache_clear()
    yield TestClient(create_app(WebSettings(api_token="t0ken")), headers={"Authorization": "Bearer t0ken"})
    get_settings.cache_clear()
    get_engine.cache_clear()


def test_the_api_edits_and_deletes_deals(client: TestClient, db_url: str) -> None:
    with unit_of_work(db_url) as session:
        lead = make_lead(session, Stage.PROPOSAL)
        open_id = open_deal(session, lead.id, PILOT).id
        won_id = open_deal(session, lead.id, PILOT).id
        move_deal(session, won_id, "won")
    edited = client.patch(f"/api/v1/deals/{open_id}", json={"title": "Pilot, phase 2", "value": "9000"})
    assert edited.status_code == 200, edited.text
    assert (edited.json()["title"], edited.json()["value"]) == ("Pilot, phase 2", "9000.00")
    euro = client.patch(f"/api/v1/deals/{open_id}", json={"currency": "EURO"})
    assert euro.status_code == 422 and "'EURO' is not a currency code" in euro.text
    refused = client.delete(f"/api/v1/deals/{won_id}")
    assert refused.status_code == 409 and "is won" in refused.json()["detail"]
    assert client.delete(f"/api/v1/deals/{open_id}").status_code == 200
    assert client.get(f"/api/v1/deals/{open_id}").status_code == 404
    assert [d["id"] for d in client.get("/api/v1/deals").json()] == [won_id]


def test_the_api_lists_leads_by_search_filters_and_order(client: TestClient, db_url: str) -> None:
    with unit_of_work(db_url) as session:
        web = make_lead(session, Stage.SQL, source="web", email="ana@acme.example").id
        make_lead(session, Stage.MQL, source="telegram", email="ben@fjord.example")
    found = client.get("/api/v1/leads", params={"q": "acme", "source": "web", "sort": "oldest"})
    assert [lead["id"] for lead in found.json()] == [web]
    assert found.json()[0]["overdue"] is False
    bad = client.get("/api/v1/leads", params={"sort": "sideways"})
    assert bad.status_code == 422
