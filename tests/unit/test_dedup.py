"""One contact per person: normalised e-mail and phone, across channels, with reversible logged merges."""

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_core.errors import InvalidInput, InvalidTransition
from crm_core.models import Contact, Lead
from crm_core.qualification.policy import LeadFacts
from crm_core.sales.dedup import (
    merge_contacts,
    merge_log,
    normalize_email,
    normalize_phone,
    resolve_contact,
    unmerge,
)
from crm_core.sales.leads import capture_lead
from crm_core.schemas import ConversationRef


def contacts(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Contact)) or 0


def test_email_normalisation_lowercases_the_domain() -> None:
    assert normalize_email("  Ana.Ruiz@ACME.Example ") == "Ana.Ruiz@acme.example"
    with pytest.raises(InvalidInput, match="not a valid e-mail"):
        normalize_email("ana@")


@pytest.mark.parametrize(
    ("raw", "region", "e164"),
    [
        ("+34 600 12 34 56", None, "+34600123456"),
        ("(0034) 600-123-456", "ES", "+34600123456"),
        ("600 123 456", "ES", "+34600123456"),
        ("+1 (415) 555-2671", None, "+14155552671"),
    ],
)
def test_phone_normalisation_to_e164(raw: str, region: str | None, e164: str) -> None:
    assert normalize_phone(raw, region) == e164


def test_unreadable_phone_is_refused_with_a_hint() -> None:
    with pytest.raises(InvalidInput, match=r"start it with \+"):
        normalize_phone("600 123 456")


def test_a_telegram_user_who_later_gives_the_email_on_the_website_is_one_person(
    session: Session,
) -> None:
    telegram = capture_lead(
        session,
        LeadFacts(need="a bot", name="Ana", phone="+34 600 123 456", consent=True),
        ConversationRef(channel="telegram", sender_id="tg-42"),
        source="telegram",
    )
    web = capture_lead(
        session,
        LeadFacts(need="a bot", email="ana@ACME.example", phone="+34600123456", company="Acme", consent=True),
        ConversationRef(channel="rest", sender_id="web-7"),
        source="web",
    )
    assert web.id == telegram.id  # the returning lead is updated, not duplicated
    assert contacts(session) == 1
    contact = session.scalars(select(Contact)).one()
    assert (contact.name, contact.email, contact.phone, contact.company) == (
        "Ana", "ana@acme.example", "+34600123456", "Acme",
    )  # fmt: skip


def test_email_and_phone_of_two_contacts_merge_them_and_the_merge_can_be_undone(
    session: Session,
) -> None:
    by_mail = resolve_contact(session, name="Ana", email="ana@acme.example")
    by_phone = resolve_contact(session, name="Ana R.", phone="+34600123456", company="Acme")
    assert by_mail.id != by_phone.id
    lead = Lead(contact=by_phone, qualification="mql", temperature="cold", policy_version="t")
    session.add(lead)
    session.flush()

    same = resolve_contact(session, email="ana@acme.example", phone="+34 600 123 456")
    assert same.id == by_mail.id
    [merge] = merge_log(session)
    assert (merge.kept_id, merge.merged_id, merge.reason) == (
        by_mail.id, by_phone.id, f"same phone +34600123456 as contact {by_mail.id}",
    )  # fmt: skip
    kept = session.get(Contact, by_mail.id)
    assert kept is not None and (kept.phone, kept.company) == ("+34600123456", "Acme")
    assert session.get(Lead, lead.id).contact_id == by_mail.id  # type: ignore[union-attr]
    # a later lookup by the merged contact's phone finds the kept one
    assert resolve_contact(session, phone="+34600123456").id == by_mail.id

    unmerge(session, merge.id)
    restored_kept, restored = session.get(Contact, by_mail.id), session.get(Contact, by_phone.id)
    assert restored_kept is not None and restored is not None
    assert (restored_kept.email, restored_kept.phone, restored_kept.company) == (
        "ana@acme.example",
        None,
        None,
    )
    assert (restored.phone, restored.company, restored.merged_into_id) == ("+34600123456", "Acme", None)
    assert session.get(Lead, lead.id).contact_id == by_phone.id  # type: ignore[union-attr]
    with pytest.raises(InvalidTransition, match="already undone"):
        unmerge(session, merge.id)


def test_merging_moves_the_email_when_the_kept_contact_has_none(session: Session) -> None:
    keep = resolve_contact(session, phone="+14155552671")
    other = resolve_contact(session, email="bo@example.org")
    log = merge_contacts(session, keep.id, other.id, "same person, told us on the phone")
    assert session.get(Contact, keep.id).email == "bo@example.org"  # type: ignore[union-attr]
    assert resolve_contact(session, email="bo@example.org").id == keep.id
    unmerge(session, log.id)
    assert session.get(Contact, other.id).email == "bo@example.org"  # type: ignore[union-attr]
    assert session.get(Contact, keep.id).email is None  # type: ignore[union-attr]


def test_bad_merges_are_refused(session: Session) -> None:
    one = resolve_contact(session, email="a@example.org")
    with pytest.raises(InvalidInput, match="into itself"):
        merge_contacts(session, one.id, one.id, "x")
    two = resolve_contact(session, email="b@example.org")
    merge_contacts(session, one.id, two.id, "x")
    with pytest.raises(InvalidTransition, match="already merged"):
        merge_contacts(session, one.id, two.id, "again")
