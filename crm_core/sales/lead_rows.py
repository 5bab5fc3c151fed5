"""Reading leads for cards and lists without ORM objects: one Core select of the columns a card shows
(and those its overdue flag and win probability are worked out from) joined to the contact's and owner's,
one more for the leads' conversations, into plain ``models.LeadRow`` values.

Loading a board's 200 leads as ORM entities (identity map, instrumented attributes, relationship
collections) cost most of a board call; these rows are read-only and built straight from the result
tuples."""

from sqlalchemy import ColumnElement, Integer, any_, bindparam, select
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
_CONTACT_FIELDS = [column.name for column in _CONTACT_COLUMNS]


def _one_of(
    column: InstrumentedAttribute[int] | InstrumentedAttribute[int | None], ids: list[int], postgresql: bool
) -> ColumnElement[bool]:
    # PostgreSQL: one array parameter; IN would render (and psycopg parse) 200 parameters a statement
    if postgresql:
        return column == any_(bindparam("ids", ids, type_=ARRAY(Integer)))
    return column.in_(ids)


def lead_rows(session: Session, ids: list[int]) -> dict[int, LeadRow]:
    """The leads with these ids (those that exist), by id. Executed on the session's connection: the
    rows are plain tuples, with nothing for the ORM to do."""
    if not ids:
        return {}
    connection = session.connection()
    postgresql = connection.dialect.name == "postgresql"
    conversations: dict[int | None, list[ConversationRow]] = {}
    # in id order: a lead's first conversation is the one its card shows (the one it started in)
    for lead_id, channel, sender_id in connection.execute(
        select(Conversation.lead_id, Conversation.channel, Conversation.sender_id)
        .where(_one_of(Conversation.lead_id, ids, postgresql))
        .order_by(Conversation.id)
    ):
        conversations.setdefault(lead_id, []).append(ConversationRow(channel, sender_id))
    found = connection.execute(
        select(*_LEAD_COLUMNS, *_CONTACT_COLUMNS, Rep.name.label("rep_name"))
        .join(Contact, Contact.id == Lead.contact_id)
        .outerjoin(Rep, Rep.id == Lead.assigned_rep_id)
        .where(_one_of(Lead.id, ids, postgresql))
    )
    rows = {}
    for row in found:
        fields = row._asdict()
        rep = fields.pop("rep_name")
        contact = ContactRow(*(fields.pop(name) for name in _CONTACT_FIELDS))
        rows[row.id] = LeadRow(
            **fields,
            contact=contact,
            assigned_rep=RepRow(rep) if rep is not None else None,
            conversations=conversations.get(row.id, []),
        )
    return rows
