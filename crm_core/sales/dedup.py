"""Deduplication: one contact per person across channels, found by normalised e-mail or phone.

Merges are written to ``contact_merges`` with a snapshot of both contacts and the moved leads and
conversations, so ``unmerge`` can put everything back.
"""

from typing import Any

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from crm_core.config import get_settings
from crm_core.errors import InvalidInput, InvalidTransition, NotFound
from crm_core.models import Contact, ContactMerge, Conversation, Lead, utcnow

_FIELDS = ("name", "email", "phone", "company")


def normalize_email(raw: str) -> str:
    """The address as email-validator normalises it (domain lower-cased, Unicode normalised)."""
    try:
        return validate_email(raw.strip(), check_deliverability=False).normalized
    except EmailNotValidError as error:
        raise InvalidInput(f"'{raw}' is not a valid e-mail address: {error}") from None


def normalize_phone(raw: str, region: str | None = None) -> str:
    """The number in E.164 (+34600123456); without a + it is read in ``region`` (or the configured one)."""
    region = region or get_settings().default_phone_region
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_possible_number(number):
        hint = "" if region else " (start it with + and the country code)"
        raise InvalidInput(f"'{raw}' is not a phone number we can read{hint}.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _lenient(normalise: Any, raw: str | None) -> str | None:
    """Normalised when possible; otherwise the trimmed text, so capture never fails on odd input."""
    if not raw or not raw.strip():
        return None
    try:
        value: str = normalise(raw)
    except InvalidInput:
        return raw.strip()
    return value


def _root(session: Session, contact: Contact) -> Contact:
    """Follow merges to the contact that absorbed this one."""
    seen = {contact.id}
    while contact.merged_into_id is not None:
        target = session.get(Contact, contact.merged_into_id)
        if target is None or target.id in seen:
            break
        seen.add(target.id)
        contact = target
    return contact


def _by_email(session: Session, email: str | None) -> Contact | None:
    if not email:
        return None
    found = session.scalar(select(Contact).where(Contact.email == email))
    return _root(session, found) if found else None


def _by_phone(session: Session, phone: str | None) -> Contact | None:
    if not phone:
        return None
    found = session.scalar(
        select(Contact).where(Contact.phone == phone, Contact.merged_into_id.is_(None)).order_by(Contact.id)
    )
    if found is None:
        found = session.scalar(select(Contact).where(Contact.phone == phone).order_by(Contact.id))
    return _root(session, found) if found else None


def resolve_contact(
    session: Session,
    name: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    company: str | None = None,
) -> Contact:
    """The one contact for this person: found by e-mail or phone, merged if they point at two, else new.

    Given details update the contact (a returning visitor's newer name or company wins).
    """
    email = _lenient(normalize_email, email)
    phone = _lenient(normalize_phone, phone)
    by_email, by_phone = _by_email(session, email), _by_phone(session, phone)
    if by_email is not None and by_phone is not None and by_email.id != by_phone.id:
        merge_contacts(session, by_email.id, by_phone.id, f"same phone {phone} as contact {by_email.id}")
    contact = by_email or by_phone
    if contact is None:
        contact = Contact()
        session.add(contact)
    if email and contact.email is None:
        contact.email = email
    contact.phone = phone or contact.phone
    contact.name = name or contact.name
    contact.company = company or contact.company
    session.flush()
    return contact


def _fields(contact: Contact) -> dict[str, Any]:
    return {field: getattr(contact, field) for field in _FIELDS}


def merge_contacts(session: Session, keep_id: int, merge_id: int, reason: str) -> ContactMerge:
    """Fold contact ``merge_id`` into ``keep_id``: its leads and conversations move, gaps are filled."""
    if keep_id == merge_id:
        raise InvalidInput("A contact cannot be merged into itself.")
    keep, merged = session.get(Contact, keep_id), session.get(Contact, merge_id)
    if keep is None or merged is None:
        raise NotFound(f"No contact with id {keep_id if keep is None else merge_id}.")
    if merged.merged_into_id is not None or keep.merged_into_id is not None:
        raise InvalidTransition("One of these contacts was already merged into another.")
    lead_ids = list(session.scalars(select(Lead.id).where(Lead.contact_id == merged.id)))
    log = ContactMerge(
        kept_id=keep.id,
        merged_id=merged.id,
        reason=reason,
        snapshot={"kept": _fields(keep), "merged": _fields(merged), "lead_ids": lead_ids},
    )
    session.add(log)
    if lead_ids:
        session.execute(update(Lead).where(Lead.id.in_(lead_ids)).values(contact_id=keep.id))
    moved_email = keep.email is None and merged.email is not None
    email = merged.email
    if moved_email:
        merged.email = None
        session.flush()  # the e-mail is unique: free it before the kept contact takes it
        keep.email = email
    for field in ("name", "phone", "company"):
        if getattr(keep, field) is None:
            setattr(keep, field, getattr(merged, field))
    merged.merged_into_id = keep.id
    session.flush()
    session.expire_all()
    return log


def unmerge(session: Session, merge_id: int) -> ContactMerge:
    """Undo a merge: both contacts get their fields back and the moved leads return."""
    log = session.get(ContactMerge, merge_id)
    if log is None:
        raise NotFound(f"No merge with id {merge_id}.")
    if log.undone_at is not None:
        raise InvalidTransition(f"Merge {merge_id} was already undone.")
    keep, merged = session.get(Contact, log.kept_id), session.get(Contact, log.merged_id)
    assert keep is not None and merged is not None  # foreign keys
    if merged.merged_into_id != keep.id:
        raise InvalidTransition(f"Contact {merged.id} is no longer merged into {keep.id}.")
    lead_ids = log.snapshot.get("lead_ids", [])
    if lead_ids:
        session.execute(
            update(Lead).where(Lead.id.in_(lead_ids), Lead.contact_id == keep.id).values(contact_id=merged.id)
        )
    keep.email = merged.email = None
    session.flush()
    for contact, before in ((keep, log.snapshot["kept"]), (merged, log.snapshot["merged"])):
        for field in _FIELDS:
            setattr(contact, field, before[field])
    merged.merged_into_id = None
    log.undone_at = utcnow()
    session.flush()
    session.expire_all()
    return log


def merge_log(session: Session, contact_id: int | None = None) -> list[ContactMerge]:
    query = select(ContactMerge).order_by(ContactMerge.id)
    if contact_id is not None:
        query = query.where((ContactMerge.kept_id == contact_id) | (ContactMerge.merged_id == contact_id))
    return list(session.scalars(query))


def conversations_of(session: Session, contact_id: int) -> list[Conversation]:
    """Every conversation of the person, whichever channel it came from."""
    return list(
        session.scalars(
            select(Conversation)
            .join(Lead, Lead.id == Conversation.lead_id)
            .where(Lead.contact_id == contact_id)
            .order_by(Conversation.id)
        )
    )
