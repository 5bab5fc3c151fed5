"""A visitor corrects a detail after their lead was saved: the same lead and contact take the new value."""

from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_core.models import Authority, Contact, Lead, Qualification
from crm_core.qualification.policy import LeadFacts
from crm_core.sales.leads import capture_lead, correct_lead
from crm_core.schemas import ConversationRef

CHAT = ConversationRef(channel="rest", sender_id="visitor-1")
SAVED = LeadFacts(
    need="a bot for our shop",
    budget_amount=Decimal("8000"),
    budget_currency="EUR",
    authority=Authority.DECISION_MAKER,
    timeline_days=150,
    company="Acme",
    name="Ana Ruiz",
    email="ana@acme.exmaple",
    consent=True,
)


def _count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_a_corrected_email_replaces_the_typo_on_the_same_contact(session: Session) -> None:
    first = capture_lead(session, SAVED, CHAT)
    fixed = correct_lead(session, SAVED.model_copy(update={"email": "Ana@Acme.example"}), CHAT)
    assert fixed.id == first.id
    assert fixed.email == "Ana@acme.example"
    assert _count(session, Contact) == 1 and _count(session, Lead) == 1
    assert session.scalar(select(Contact.id).where(Contact.email == "ana@acme.exmaple")) is None


def test_a_corrected_phone_is_stored_in_e164(session: Session) -> None:
    capture_lead(session, SAVED.model_copy(update={"email": None, "phone": "+34 611 222 333"}), CHAT)
    fixed = correct_lead(session, SAVED.model_copy(update={"email": None, "phone": "+34 611 222 444"}), CHAT)
    assert fixed.phone == "+34611222444"
    assert _count(session, Contact) == 1


def test_a_correction_requalifies_the_lead(session: Session) -> None:
    first = capture_lead(session, SAVED, CHAT)
    assert first.qualification is Qualification.MQL
    fixed = correct_lead(session, SAVED.model_copy(update={"timeline_days": 14}), CHAT)
    assert (fixed.id, fixed.qualification, fixed.timeline_days) == (first.id, Qualification.SQL, 14)


def test_an_email_that_belongs_to_another_contact_links_the_lead_to_that_contact(session: Session) -> None:
    capture_lead(
        session,
        SAVED.model_copy(update={"email": "bo@acme.example", "name": "Bo"}),
        ConversationRef(channel="rest", sender_id="other"),
    )
    first = capture_lead(session, SAVED, CHAT)
    fixed = correct_lead(session, SAVED.model_copy(update={"email": "bo@acme.example"}), CHAT)
    bo = session.scalar(select(Contact).where(Contact.email == "bo@acme.example"))
    lead = session.get(Lead, first.id)
    assert bo is not None and lead is not None
    assert (fixed.id, fixed.email, lead.contact_id) == (first.id, "bo@acme.example", bo.id)
    assert _count(session, Lead) == 2


def test_without_a_saved_lead_a_correction_captures_one(session: Session) -> None:
    lead = correct_lead(session, SAVED, CHAT)
    assert lead.email == "ana@acme.exmaple" and _count(session, Lead) == 1
