"""Capturing a lead: contact, lead, classification, conversation and assignment in one transaction."""

from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_core.db import unit_of_work
from crm_core.errors import NotFound
from crm_core.models import Authority, Contact, Conversation, Lead, Qualification, Stage
from crm_core.people.reps import add_rep
from crm_core.qualification.policy import LeadFacts
from crm_core.sales import lifecycle
from crm_core.sales.leads import capture_lead, get_lead, list_leads
from crm_core.schemas import ConversationRef, NewRep

HOT = LeadFacts(
    need="lead capture on our site",
    budget_amount=Decimal("15000"),
    budget_currency="EUR",
    authority=Authority.DECISION_MAKER,
    timeline_days=7,
    company="Acme",
    name="Ana Ruiz",
    email="ana@acme.example",
    consent=True,
)


def count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_sql_lead_is_stored_and_assigned(session: Session) -> None:
    add_rep(session, NewRep(name="Rita", languages=["en"]))
    lead = capture_lead(session, HOT, ConversationRef(channel="rest", sender_id="abc"))
    assert lead.qualification is Qualification.SQL
    assert lead.stage is Stage.SQL
    assert lead.assigned_rep == "Rita"
    assert (lead.channel, lead.conversation_id) == ("rest", "abc")
    assert lead.reasons and lead.score == 95  # company size unknown: fit 5 of 10


def test_submitting_twice_from_one_conversation_updates_the_lead(session: Session) -> None:
    ref = ConversationRef(channel="rest", sender_id="same")
    first = capture_lead(session, HOT.model_copy(update={"timeline_days": None}), ref)
    second = capture_lead(session, HOT, ref)
    assert first.id == second.id
    assert second.qualification is Qualification.SQL
    assert count(session, Lead) == 1 and count(session, Conversation) == 1


def test_same_email_is_the_same_contact_and_a_returning_lead_is_updated(session: Session) -> None:
    first = capture_lead(session, HOT, ConversationRef(channel="rest", sender_id="one"))
    again = capture_lead(
        session,
        HOT.model_copy(update={"email": "ana@ACME.Example"}),
        ConversationRef(channel="socketio", sender_id="two"),
    )
    assert again.id == first.id
    assert (count(session, Contact), count(session, Lead), count(session, Conversation)) == (1, 1, 2)


def test_a_closed_lead_is_not_reopened_by_a_return_visit(session: Session) -> None:
    from crm_core.sales.lifecycle import move_lead

    first = capture_lead(session, HOT, ConversationRef(channel="rest", sender_id="one"))
    move_lead(session, first.id, "won")
    second = capture_lead(session, HOT, ConversationRef(channel="rest", sender_id="two"))
    assert second.id != first.id
    assert (count(session, Contact), count(session, Lead)) == (1, 2)


def test_a_failure_part_way_writes_nothing(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with unit_of_work(db_url) as session:
        add_rep(session, NewRep(name="Rita", languages=["en"]))

    def broken_assign(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("routing failed")

    monkeypatch.setattr(lifecycle, "assign", broken_assign)
    with pytest.raises(RuntimeError), unit_of_work(db_url) as session:
        capture_lead(session, HOT, ConversationRef(channel="rest", sender_id="x"))
    with unit_of_work(db_url) as session:
        assert (count(session, Lead), count(session, Contact), count(session, Conversation)) == (0, 0, 0)


def test_list_and_show(session: Session) -> None:
    made = capture_lead(session, HOT, ConversationRef(channel="rest", sender_id="abc"))
    assert [lead.id for lead in list_leads(session)] == [made.id]
    assert get_lead(session, made.id).email == "ana@acme.example"
    with pytest.raises(NotFound):
        get_lead(session, made.id + 1)


def test_capture_records_the_stage_history(session: Session) -> None:
    from crm_core.sales.pipeline import history

    ref = ConversationRef(channel="rest", sender_id="hist")
    first = capture_lead(session, HOT.model_copy(update={"timeline_days": None}), ref)
    capture_lead(session, HOT, ref)
    assert [(c.from_stage, c.to_stage) for c in history(session, first.id)] == [
        (None, Stage.MQL),
        (Stage.MQL, Stage.SQL),
    ]
