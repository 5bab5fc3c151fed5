"""Reading leads for cards and lists without ORM objects: one Core select of the columns a card shows
(and those its overdue flag and win probability are worked out from) joined to the contact's, the owner's
and the first conversation's, into plain ``models.LeadRow`` values.

Loading a board's 200 leads as ORM entities (identity map, instrumented attributes, relationship
collections) cost most of a board call; these rows are read-only and built straight from the result
tuples."""

from dataclasses import fields
from typing import Any

from sqlalchemy import ColumnElement, Integer, Select, any_, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import InstrumentedAttribute, Session

from crm_core.models import Contact, ContactRow, Conversation, ConversationRow, Lead, LeadRow, Rep, RepRow

_LEAD_COLUMNS = (
    Lead.id,
    Lead.need,
    Lead.budget_amount,
    Lead.budget_currency,
    Lead.budget_none_yet,
    Lead.authority,
    Lead.timeline_days,
    Lead.company_size,
    Lead.consent,
    Lead.just_asking,
    Lead.bought_competitor,
    Lead.language,
    Lead.source,
    Lead.score,
    Lead.qualification,
    Lead.temperature,
    Lead.reasons,
    Lead.policy_version,
    Lead.recheck_on,
    Lead.recycled_from_id,
    Lead.stage,
    Lead.assigned_rep_id,
    Lead.accepted_at,
    Lead.sla_due_at,
    Lead.created_at,
    Lead.first_accepted_at,
    Lead.first_contact_at,
)
_CONTACT_COLUMNS = (
    Contact.name.label("contact_name"),
    Contact.email.label("contact_email"),
    Contact.phone.label("contact_phone"),
    Contact.company.label("contact_company"),
)
_LEADS = len(_LEAD_COLUMNS)
_CONTACTS = _LEADS + len(_CONTACT_COLUMNS)
if [field.name for field in fields(LeadRow)] != [
    *(column.key for column in _LEAD_COLUMNS),
    "contact",
    "assigned_rep",
    "conversations",
]:
    raise TypeError(
        "LeadRow's fields must be _LEAD_COLUMNS, then its parts, in this order: rows are built by position"
    )


def _one_of(
    column: InstrumentedAttribute[int] | InstrumentedAttribute[int | None], postgresql: bool
) -> ColumnElement[bool]:
    """``column`` is one of the ``ids`` parameter's values. PostgreSQL: one array parameter; IN would render
    (and psycopg parse) 200 parameters a statement. SQLite: an expanding IN."""
    if postgresql:
        return column == any_(bindparam("ids", type_=ARRAY(Integer)))
    return column.in_(bindparam("ids", expanding=True))


def _statement(postgresql: bool) -> Select[*tuple[Any, ...]]:
    """The leads with their contacts' and owners' columns and their first conversation's (by id: the one
    they started in, the one a card shows), built once per dialect: only the ``ids`` parameter changes from
    call to call, so it is not rebuilt (nor its cache key worked out from a fresh tree) for every board and
    list. One statement, one round trip."""
    first = (
        select(Conversation.lead_id, func.min(Conversation.id).label("id"))
        .where(_one_of(Conversation.lead_id, postgresql))
        .group_by(Conversation.lead_id)
        .subquery("first_conversation")
    )
    return (
        select(
            *_LEAD_COLUMNS,
            *_CONTACT_COLUMNS,
            Rep.name.label("rep_name"),
            Conversation.channel,
            Conversation.sender_id,
        )
        .join(Contact, Contact.id == Lead.contact_id)
        .outerjoin(Rep, Rep.id == Lead.assigned_rep_id)
        .outerjoin(first, first.c.lead_id == Lead.id)
        .outerjoin(Conversation, Conversation.id == first.c.id)
        .where(_one_of(Lead.id, postgresql))
    )


_STATEMENTS = {True: _statement(True), False: _statement(False)}


def lead_rows(session: Session, ids: list[int]) -> dict[int, LeadRow]:
    """The leads with these ids (those that exist), by id. Executed on the session's connection: the
    rows are plain tuples, with nothing for the ORM to do. A row's ``conversations`` holds the lead's first
    conversation only (or none): all that cards, lists and the win features read of them."""
    if not ids:
        return {}
    connection = session.connection()
    rows = {}
    for row in connection.execute(_STATEMENTS[connection.dialect.name == "postgresql"], {"ids": ids}).all():
        rep, channel, sender_id = row[_CONTACTS:]
        # by position: LeadRow's fields are the lead's columns, then its parts (checked above)
        values: tuple[Any, ...] = (
            *row[:_LEADS],
            ContactRow(*row[_LEADS:_CONTACTS]),
            RepRow(rep) if rep is not None else None,
            [ConversationRow(channel, sender_id)] if channel is not None else [],
        )
        rows[row[0]] = LeadRow(*values)
    return rows
