"""Erasing a contact on request, and purging old conversations of visitors who never qualified.

What goes: the CRM rows about the person (contact, leads, activities, stage history, routing log,
notifications, merge snapshots, conversations and their messages) and the events of their
conversations in Rasa's tracker store. What stays: their deals, anonymised — detached from the erased
lead, the title replaced, the figures kept (value, currency, stage, dates, lost reason, and the copies
of the lead's source, rep and creation time) — so revenue history and quota attainment do not change;
and an ``Erasure`` row saying who erased which contact id when, and how many rows of each kind went
— never the erased data. (Lead counts in the funnel do drop: the lead itself is gone.)

The CRM rows go in the caller's unit of work. The tracker store is another database, so its events are
deleted last, just before the caller commits: if that fails, the CRM work rolls back and nothing is
erased; if the CRM commit then failed, running the erasure again finishes it (deleting is idempotent).
"""

from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Select, delete, exists, func, or_, select, update
from sqlalchemy.orm import Session

from crm_core.chats.transcripts import RASA_EVENTS, events_engine
from crm_core.errors import InvalidInput, NotFound
from crm_core.models import (
    Activity,
    AssignmentEvent,
    Contact,
    ContactMerge,
    Conversation,
    Deal,
    DealEdit,
    Erasure,
    Invitation,
    Lead,
    Meeting,
    Message,
    Notification,
    Outreach,
    Qualification,
    StageChange,
)

ERASED_TITLE = "(erased contact)"

# Leads of these classes never qualified: their conversations fall under the retention purge.
NEVER_QUALIFIED = (Qualification.SUSPECT, Qualification.DISQUALIFIED)


class ErasureOut(BaseModel):
    id: int
    kind: str
    contact_id: int | None
    erased_by: str
    reason: str | None
    counts: dict[str, int]
    erased_at: datetime


def _out(row: Erasure) -> ErasureOut:
    return ErasureOut(
        id=row.id,
        kind=row.kind,
        contact_id=row.contact_id,
        erased_by=row.erased_by,
        reason=row.reason,
        counts=row.counts,
        erased_at=row.erased_at,
    )


def _deleted(session: Session, statement: object) -> int:
    result = session.execute(statement)  # type: ignore[call-overload]
    return int(result.rowcount or 0)


def delete_rasa_events(events_url: str, sender_ids: Collection[str]) -> int:
    """Delete every tracker-store event of these conversations; returns how many went."""
    if not sender_ids:
        return 0
    engine = events_engine(events_url)
    with engine.begin() as connection:
        if not engine.dialect.has_table(connection, RASA_EVENTS.name):
            return 0
        result = connection.execute(delete(RASA_EVENTS).where(RASA_EVENTS.c.sender_id.in_(list(sender_ids))))
        return int(result.rowcount or 0)


def _delete_conversations(session: Session, conversation_ids: Collection[int]) -> dict[str, int]:
    if not conversation_ids:
        return {"conversations": 0, "messages": 0}
    ids = list(conversation_ids)
    messages = _deleted(session, delete(Message).where(Message.conversation_id.in_(ids)))
    conversations = _deleted(session, delete(Conversation).where(Conversation.id.in_(ids)))
    return {"conversations": conversations, "messages": messages}


def _with_merged(session: Session, contact_id: int) -> list[int]:
    """The contact and every contact merged into it, directly or through another merge."""
    found, frontier = [contact_id], [contact_id]
    while frontier:
        frontier = list(session.scalars(select(Contact.id).where(Contact.merged_into_id.in_(frontier))))
        found.extend(i for i in frontier if i not in found)
    return found


class ContactRef(BaseModel):
    id: int
    name: str | None
    email: str | None
    phone: str | None
    leads: int


def find_contacts(session: Session, text: str, limit: int = 20) -> list[ContactRef]:
    """Contacts whose e-mail, phone or name contains ``text``: how an erasure request finds its person."""
    text = text.strip()
    if len(text) < 3:
        raise InvalidInput("Give at least 3 characters of an e-mail, phone or name.")
    leads = select(func.count()).where(Lead.contact_id == Contact.id).scalar_subquery()
    rows = session.execute(
        select(Contact, leads)
        .where(
            Contact.merged_into_id.is_(None),
            or_(
                Contact.email.icontains(text, autoescape=True),
                Contact.phone.icontains(text, autoescape=True),
                Contact.name.icontains(text, autoescape=True),
            ),
        )
        .order_by(Contact.id)
        .limit(limit)
    )
    return [
        ContactRef(id=contact.id, name=contact.name, email=contact.email, phone=contact.phone, leads=count)
        for contact, count in rows
    ]


def erase_contact(
    session: Session, contact_id: int, erased_by: str, events_url: str, reason: str | None = None
) -> ErasureOut:
    """Erase a person: every CRM row about them and their conversations in Rasa, with an audit record.

    Contacts merged into this one are the same person and go too.
    """
    erased_by = erased_by.strip()
    if not erased_by:
        raise InvalidInput("Say who is erasing the contact (--by).")
    contact = session.get(Contact, contact_id)
    if contact is None:
        raise NotFound(f"No contact with id {contact_id}.")
    contact_ids = _with_merged(session, contact_id)
    lead_ids = list(session.scalars(select(Lead.id).where(Lead.contact_id.in_(contact_ids))))
    senders = select(Conversation.sender_id).where(Conversation.lead_id.in_(lead_ids))
    sender_ids = set(session.scalars(senders))
    conversation_ids = set(
        session.scalars(
            select(Conversation.id).where(
                or_(Conversation.lead_id.in_(lead_ids), Conversation.sender_id.in_(sender_ids))
            )
        )
    )
    deal_ids = list(session.scalars(select(Deal.id).where(Deal.lead_id.in_(lead_ids))))
    counts = _delete_conversations(session, conversation_ids)
    counts["stage_changes"] = _deleted(session, delete(StageChange).where(StageChange.lead_id.in_(lead_ids)))
    counts["deals_anonymised"] = _deleted(
        session, update(Deal).where(Deal.id.in_(deal_ids)).values(lead_id=None, title=ERASED_TITLE)
    )
    counts["deal_edits"] = _deleted(session, delete(DealEdit).where(DealEdit.lead_id.in_(lead_ids)))
    counts["notifications"] = _deleted(  # before activities: a task's reminder names its task
        session, delete(Notification).where(Notification.lead_id.in_(lead_ids))
    )
    # messages to the person (sent or waiting) go before the activities their re-check tasks are
    counts["outreach"] = _deleted(session, delete(Outreach).where(Outreach.lead_id.in_(lead_ids)))
    counts["activities"] = _deleted(session, delete(Activity).where(Activity.lead_id.in_(lead_ids)))
    meeting_ids = select(Meeting.id).where(Meeting.lead_id.in_(lead_ids)).scalar_subquery()
    counts["invitations"] = _deleted(
        session, delete(Invitation).where(Invitation.meeting_id.in_(meeting_ids))
    )
    counts["meetings"] = _deleted(session, delete(Meeting).where(Meeting.lead_id.in_(lead_ids)))
    counts["assignment_events"] = _deleted(
        session, delete(AssignmentEvent).where(AssignmentEvent.lead_id.in_(lead_ids))
    )
    session.execute(  # a lead won back from one of these no longer names it
        update(Lead).where(Lead.recycled_from_id.in_(lead_ids)).values(recycled_from_id=None)
    )
    # through the ORM, not a bulk DELETE: the flush's listener takes them off reps' loads and the tallies
    erased_leads = list(session.scalars(select(Lead).where(Lead.id.in_(lead_ids))))
    for lead in erased_leads:
        session.delete(lead)
    session.flush()
    counts["leads"] = len(erased_leads)
    counts["contact_merges"] = _deleted(
        session,
        delete(ContactMerge).where(
            or_(ContactMerge.kept_id.in_(contact_ids), ContactMerge.merged_id.in_(contact_ids))
        ),
    )
    # merged contacts point at the one they were merged into: unlink before deleting either
    session.execute(update(Contact).where(Contact.id.in_(contact_ids)).values(merged_into_id=None))
    counts["contacts"] = _deleted(session, delete(Contact).where(Contact.id.in_(contact_ids)))
    session.expire_all()
    counts["rasa_events"] = delete_rasa_events(events_url, sender_ids)
    audit = Erasure(kind="contact", contact_id=contact_id, erased_by=erased_by, reason=reason, counts=counts)
    session.add(audit)
    session.flush()
    return _out(audit)


def purge_never_qualified(
    session: Session, older_than_days: int, events_url: str, now: datetime | None = None
) -> ErasureOut | None:
    """Delete conversations idle for ``older_than_days`` whose visitor never qualified.

    Never qualified: the conversation has no lead, or its lead is a suspect or disqualified and was
    never moved beyond the first stage. Leads themselves stay (they are the CRM's record and count in
    the KPIs); their conversations, messages and tracker-store events go. Returns the audit record, or
    None when nothing was old enough.
    """
    if older_than_days < 1:
        raise InvalidInput("The retention period must be at least one day.")
    cutoff = (now or datetime.now(UTC)) - timedelta(days=older_than_days)
    recent = exists().where(Message.conversation_id == Conversation.id, Message.sent_at >= cutoff)
    qualified_lead = exists().where(
        Lead.id == Conversation.lead_id,
        or_(Lead.qualification.not_in(NEVER_QUALIFIED), Lead.id.in_(_leads_that_moved())),
    )
    rows = session.execute(
        select(Conversation.id, Conversation.sender_id).where(
            Conversation.started_at < cutoff, ~recent, ~qualified_lead
        )
    ).all()
    if not rows:
        return None
    conversation_ids = [row.id for row in rows]
    sender_ids = {row.sender_id for row in rows}
    counts = _delete_conversations(session, conversation_ids)
    session.expire_all()
    counts["rasa_events"] = delete_rasa_events(events_url, sender_ids)
    audit = Erasure(
        kind="retention",
        contact_id=None,
        erased_by="retention",
        reason=f"conversations of never-qualified visitors idle since before {cutoff:%Y-%m-%d %H:%M} UTC",
        counts=counts,
    )
    session.add(audit)
    session.flush()
    return _out(audit)


def _leads_that_moved() -> Select[Any]:
    """Leads whose history shows more than their creation: someone worked on them."""
    return (
        select(StageChange.lead_id)
        .where(StageChange.deal_id.is_(None))
        .group_by(StageChange.lead_id)
        .having(func.count() > 1)
    )


def erasures(session: Session, limit: int = 100) -> list[ErasureOut]:
    """The audit log, newest first."""
    rows = session.scalars(select(Erasure).order_by(Erasure.id.desc()).limit(limit))
    return [_out(row) for row in rows]
