"""Persistent CRM records (SQLAlchemy 2 typed ORM). Rules about them live in the service modules."""

import enum
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Numeric,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    event,
    func,
    inspect,
    literal_column,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    SessionTransaction,
    UOWTransaction,
    mapped_column,
    relationship,
)
from sqlalchemy.orm.util import identity_key


def utcnow() -> datetime:
    return datetime.now(UTC)


class Qualification(enum.StrEnum):
    SUSPECT = "suspect"
    MQL = "mql"
    SQL = "sql"
    DISQUALIFIED = "disqualified"
    NURTURE = "nurture"


class Temperature(enum.StrEnum):
    HOT = "hot"
    WARM = "warm"
    COLD = "cold"


class Authority(enum.StrEnum):
    DECISION_MAKER = "decision_maker"
    INFLUENCER = "influencer"
    RESEARCHER = "researcher"
    UNKNOWN = "unknown"


class Stage(enum.StrEnum):
    NEW = "new"
    MQL = "mql"
    SQL = "sql"
    CONTACTED = "contacted"
    PROPOSAL = "proposal"
    NEGOTIATION = "negotiation"
    WON = "won"
    LOST = "lost"


OPEN_STAGES = frozenset(Stage) - {Stage.WON, Stage.LOST}


def stage_bit(stage: Stage) -> int:
    """The stage's bit in ``Lead.reached_stages`` (new 1, mql 2, … lost 128: the enum's order)."""
    return 1 << list(Stage).index(stage)


def _enum(kind: type[enum.StrEnum]) -> Enum:
    """Enums stored as their plain string values, checked by the database too."""
    return Enum(
        kind, values_callable=lambda members: [m.value for m in members], native_enum=False, length=20
    )


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend.

    SQLite keeps no zone, and a ``DateTime`` subclass is replaced by the dialect's own type, so this
    is a TypeDecorator: values are stored as UTC and read back with ``tzinfo=UTC``.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    pass


# SQLite AUTOINCREMENT on the tables whose ids leave the database (links, buttons, webhooks, the API):
# without it SQLite reuses the id of a deleted newest row (migration 0024). PostgreSQL never reuses one.
NEVER_REUSED = {"sqlite_autoincrement": True}


class Rep(Base):
    __tablename__ = "reps"
    __table_args__ = NEVER_REUSED

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    telegram_chat_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    email: Mapped[str | None] = mapped_column(String(320))
    capacity: Mapped[int] = mapped_column(default=20)
    active: Mapped[bool] = mapped_column(default=True)
    territories: Mapped[list[str]] = mapped_column(JSON, default=list)  # empty: covers every territory
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    # weekday ("mon".."sun") → ["HH:MM", "HH:MM"] in the rep's time zone; empty: always available
    working_hours: Mapped[dict[str, list[str]]] = mapped_column(JSON, default=dict)
    away_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    is_admin: Mapped[bool] = mapped_column(default=False)
    last_assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Leads assigned to the rep and not won or lost: the load routing balances. Kept in step by
    # _keep_counters in the transaction of each change (whoever made it), so routing never counts.
    open_leads: Mapped[int] = mapped_column(default=0, server_default="0")
    # The rep's own CalDAV calendar (optional): its busy times are taken out of the offered meeting slots
    # (crm_core.scheduling.calendars). The password is stored as given (see the README's "Meetings"); it is
    # never shown.
    caldav_url: Mapped[str | None] = mapped_column(String(500))
    caldav_username: Mapped[str | None] = mapped_column(String(200))
    caldav_password: Mapped[str | None] = mapped_column(String(500))
    # Set when the calendar could last not be read, cleared when it can: the rep is told once per outage.
    caldav_failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime())

    leads: Mapped[list["Lead"]] = relationship(back_populates="assigned_rep")


def _trigram_index(name: str, column: str, lower: bool = True) -> Index:
    """A pg_trgm GIN index on ``lower(column)`` (or the column) for ``LIKE '%text%'``: PostgreSQL only
    (revision 0021); SQLite keeps the plain query."""
    expression = func.lower(literal_column(column)) if lower else literal_column(column)
    return Index(
        name, expression.label(name), postgresql_using="gin", postgresql_ops={name: "gin_trgm_ops"}
    ).ddl_if(dialect="postgresql")


class Contact(Base):
    __tablename__ = "contacts"
    # lead search reads these columns with LIKE '%text%' (leads._search): trigram indexes serve it
    __table_args__ = (
        _trigram_index("ix_contacts_name_trgm", "name"),
        _trigram_index("ix_contacts_company_trgm", "company"),
        _trigram_index("ix_contacts_email_trgm", "email"),
        _trigram_index("ix_contacts_phone_trgm", "phone", lower=False),
        NEVER_REUSED,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200), index=True)  # lead lists sort by it
    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    phone: Mapped[str | None] = mapped_column(String(32), index=True)  # E.164 when it could be parsed
    company: Mapped[str | None] = mapped_column(String(200))
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The person asked for no more messages (``crm_core.outreach.winback.unsubscribe``): nothing is sent to
    # them again.
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    leads: Mapped[list["Lead"]] = relationship(back_populates="contact")


class Lead(Base):
    __tablename__ = "leads"
    __table_args__ = (
        # the filtered lead list pages newest first; recounting open leads per rep
        Index("ix_leads_stage_id", "stage", "id"),
        Index("ix_leads_rep_id", "assigned_rep_id", "id"),
        Index(
            "ix_leads_rep_stage_id", "assigned_rep_id", "stage", "id"
        ),  # (0016: was rep, stage) + a rep's board
        # the console's lead lists: the other filters, newest first, and the "highest score" order
        Index("ix_leads_qualification_id", "qualification", "id"),
        Index("ix_leads_temperature_id", "temperature", "id"),
        Index("ix_leads_source_id", "source", "id"),
        Index("ix_leads_score_id", "score", "id"),
        # the board: a column is a stage, often narrowed to one temperature or class
        Index("ix_leads_stage_temperature_id", "stage", "temperature", "id"),
        Index("ix_leads_stage_qualification_id", "stage", "qualification", "id"),
        # revision 0030: class + temperature by score (language read from the index too); the KPI's win
        # rate by score and temperature (closed leads by creation time, from the index alone); one rep's
        # overdue leads (partial: only leads not yet accepted have a clock running)
        Index("ix_leads_class_temp_score", "qualification", "temperature", "score", "id", "language"),
        Index("ix_leads_stage_created_outcome", "stage", "created_at", "score", "temperature"),
        Index(
            "ix_leads_rep_due",
            "assigned_rep_id",
            "sla_due_at",
            postgresql_where=text("accepted_at IS NULL"),
            sqlite_where=text("accepted_at IS NULL"),
        ),
        NEVER_REUSED,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    need: Mapped[str | None] = mapped_column(Text)
    budget_amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    budget_currency: Mapped[str | None] = mapped_column(String(3))
    budget_none_yet: Mapped[bool] = mapped_column(default=False)
    authority: Mapped[Authority] = mapped_column(_enum(Authority), default=Authority.UNKNOWN)
    timeline_days: Mapped[int | None]
    company_size: Mapped[int | None]
    consent: Mapped[bool] = mapped_column(default=False)
    just_asking: Mapped[bool] = mapped_column(default=False)
    bought_competitor: Mapped[bool] = mapped_column(default=False)
    language: Mapped[str] = mapped_column(String(8), default="en")
    source: Mapped[str | None] = mapped_column(String(200), active_history=True)

    score: Mapped[int] = mapped_column(default=0, active_history=True)  # (active_history: outcome tallies)
    qualification: Mapped[Qualification] = mapped_column(_enum(Qualification), index=True)
    temperature: Mapped[Temperature] = mapped_column(_enum(Temperature), active_history=True)
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    policy_version: Mapped[str] = mapped_column(String(40))
    # When to look at the lead again: a nurture-later verdict, or a lost lead (``crm_core.outreach.winback``);
    # cleared once the re-check was made.
    recheck_on: Mapped[date | None] = mapped_column(index=True)
    # A lead won back: the closed lead whose win-back message the visitor answered (source ``recycled``).
    # No foreign key: an erasure of the old lead leaves this one standing (it is set NULL then).
    recycled_from_id: Mapped[int | None]

    # active_history: the old value is loaded before a change, so the counters below can move it
    stage: Mapped[Stage] = mapped_column(_enum(Stage), default=Stage.NEW, index=True, active_history=True)
    assigned_rep_id: Mapped[int | None] = mapped_column(
        ForeignKey("reps.id"), index=True, active_history=True
    )
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    territory: Mapped[str | None] = mapped_column(String(40))
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sla_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    sla_passes: Mapped[int] = mapped_column(default=0)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, index=True, active_history=True
    )
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    # One bit (models.stage_bit) per stage the lead's own history shows: what the funnel counts, so it
    # never groups the history table. Set by pipeline.record_stage with each history row.
    reached_stages: Mapped[int] = mapped_column(default=0, server_default="0", active_history=True)
    # Speed to lead, kept with each change (``crm_core.sales.pipeline``): the lead's first move to sql, its
    # first acceptance after that and by which rep, and its first contact after that (a call, e-mail or
    # meeting logged, the move to contacted, a rep's message). The KPI reads these, never the history.
    qualified_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    first_accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    accepted_by_id: Mapped[int | None]  # a rep id (no foreign key: the lead's rep relationship stays one)
    first_contact_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    contact: Mapped[Contact] = relationship(back_populates="leads")
    assigned_rep: Mapped[Rep | None] = relationship(back_populates="leads")
    conversations: Mapped[list["Conversation"]] = relationship(back_populates="lead")


class Conversation(Base):
    """A dialogue on one channel; ``sender_id`` is Rasa's conversation (tracker) id."""

    __tablename__ = "conversations"
    __table_args__ = (UniqueConstraint("channel", "sender_id"), NEVER_REUSED)
    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(40))
    sender_id: Mapped[str] = mapped_column(String(255))
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id"), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The newest value of every slot the bot set: what admins filter transcripts by.
    slots: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    lead: Mapped[Lead | None] = relationship(back_populates="conversations")
    messages: Mapped[list["Message"]] = relationship(back_populates="conversation", order_by="Message.id")


# A lead as a card reads it: plain rows from one Core select (``crm_core.sales.lead_rows``), no ORM
# objects, shaped like ``Lead`` where the card, its overdue flag and its win probability read it
# (``lead.contact.name``, ``lead.assigned_rep.name``, ``lead.conversations[0].channel``), so the same
# functions take either.
@dataclass(frozen=True, slots=True)
class ContactRow:
    name: str | None
    email: str | None
    phone: str | None
    company: str | None


@dataclass(frozen=True, slots=True)
class RepRow:
    name: str


@dataclass(frozen=True, slots=True)
class ConversationRow:
    channel: str
    sender_id: str


@dataclass(frozen=True, slots=True)
class LeadRow:
    id: int
    need: str | None
    budget_amount: Decimal | None
    budget_currency: str | None
    budget_none_yet: bool
    authority: Authority
    timeline_days: int | None
    company_size: int | None
    consent: bool
    just_asking: bool
    bought_competitor: bool
    language: str
    source: str | None
    score: int
    qualification: Qualification
    temperature: Temperature
    reasons: list[dict[str, Any]]
    policy_version: str
    recheck_on: date | None
    recycled_from_id: int | None
    stage: Stage
    assigned_rep_id: int | None
    accepted_at: datetime | None
    sla_due_at: datetime | None
    created_at: datetime
    first_accepted_at: datetime | None
    first_contact_at: datetime | None
    contact: ContactRow
    assigned_rep: RepRow | None
    conversations: list[ConversationRow]  # the first (by id) only, or none: all a card reads of them


class ActivityKind(enum.StrEnum):
    NOTE = "note"
    CALL = "call"
    EMAIL = "email"
    MEETING = "meeting"
    TASK = "task"


class Deal(Base):
    """Money attached to a lead: what it is worth, in which currency, and when it should close."""

    __tablename__ = "deals"
    __table_args__ = (Index("ix_deals_currency_stage_closed", "currency", "stage", "closed_at"), NEVER_REUSED)
    id: Mapped[int] = mapped_column(primary_key=True)
    # NULL once the lead's contact was erased: the deal stays, anonymised, so revenue history holds.
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id"), index=True, active_history=True)
    title: Mapped[str] = mapped_column(String(200))
    value: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    currency: Mapped[str] = mapped_column(String(3))
    expected_close_date: Mapped[date | None] = mapped_column(index=True)
    stage: Mapped[Stage] = mapped_column(_enum(Stage), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    # From the deal's history (pipeline.record_stage keeps them): its first row, and its latest move to won.
    # The sales cycle is the time between them, read without grouping the history table.
    first_stage_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    won_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Copies of the lead's source, owner and creation time, kept equal by ``_keep_counters``: the source
    # and rep KPIs add up deals without joining a million leads.
    lead_source: Mapped[str | None] = mapped_column(String(200))
    lead_rep_id: Mapped[int | None] = mapped_column(ForeignKey("reps.id"))
    lead_created_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Why it was lost (one of the pipeline's ``lost_reasons``), asked by the move to lost; NULL otherwise.
    lost_reason: Mapped[str | None] = mapped_column(String(40))
    # A lost deal's re-check (chosen when it was lost, else the policy's days): ``crm_core.outreach.winback``.
    recheck_on: Mapped[date | None] = mapped_column(index=True)

    lead: Mapped[Lead | None] = relationship()


class StageChange(Base):
    """One move of a lead (deal_id NULL) or of a deal between stages: the history KPIs are computed from."""

    __tablename__ = "stage_changes"
    __table_args__ = (Index("ix_stage_changes_lead_stage", "lead_id", "deal_id", "to_stage"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"), index=True)
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deals.id"), index=True)
    from_stage: Mapped[Stage | None] = mapped_column(_enum(Stage))
    to_stage: Mapped[Stage] = mapped_column(_enum(Stage))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    made_by: Mapped[str | None] = mapped_column(String(200))  # who moved it (NULL: before revision 0020)


class Activity(Base):
    """A note, call, e-mail, meeting or task on a lead."""

    __tablename__ = "activities"
    __table_args__ = NEVER_REUSED

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"), index=True)
    rep_id: Mapped[int | None] = mapped_column(ForeignKey("reps.id"))
    kind: Mapped[ActivityKind] = mapped_column(_enum(ActivityKind))
    body: Mapped[str] = mapped_column(Text)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)  # a rep's tasks, soonest first
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # a task (anything with a due time) done
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    made_by: Mapped[str | None] = mapped_column(String(200))  # who logged it (NULL: before revision 0020)
    done_by: Mapped[str | None] = mapped_column(String(200))  # who marked the task done
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # its reminder was written (once)


class MeetingStatus(enum.StrEnum):
    BOOKED = "booked"
    CANCELLED = "cancelled"


class Meeting(Base):
    """A meeting of a lead with a rep, booked in the chat, the API or the console
    (``crm_core.scheduling.meetings``).

    ``sequence`` counts the changes sent out as invitations (iCalendar SEQUENCE); ``uid`` stays.
    """

    __tablename__ = "meetings"
    __table_args__ = (
        # two visitors can never hold one slot of one rep (the booking also locks the rep's row)
        Index(
            "uq_meetings_rep_booked_start",
            "rep_id",
            "starts_at",
            unique=True,
            sqlite_where=literal_column("status = 'booked'"),
            postgresql_where=literal_column("status = 'booked'"),
        ),
        Index("ix_meetings_lead_id", "lead_id", "id"),
        NEVER_REUSED,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"))
    rep_id: Mapped[int] = mapped_column(ForeignKey("reps.id"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[MeetingStatus] = mapped_column(_enum(MeetingStatus), default=MeetingStatus.BOOKED)
    visitor_timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    uid: Mapped[str] = mapped_column(String(100), unique=True)
    sequence: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    made_by: Mapped[str | None] = mapped_column(String(200))
    # The secret in the visitor's reschedule / cancel link (random, unguessable; shown only to the visitor)
    link_token: Mapped[str] = mapped_column(String(64), unique=True)

    lead: Mapped[Lead] = relationship()
    rep: Mapped[Rep] = relationship()


class Quota(Base):
    """A rep's goal: won deal value in ``currency`` closed in [period_start, period_end)."""

    __tablename__ = "quotas"
    __table_args__ = (UniqueConstraint("rep_id", "period_start", "currency"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    rep_id: Mapped[int] = mapped_column(ForeignKey("reps.id"), index=True)
    period_start: Mapped[date]
    period_end: Mapped[date]
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    currency: Mapped[str] = mapped_column(String(3))


class AssignmentAction(enum.StrEnum):
    ASSIGNED = "assigned"
    QUEUED = "queued"
    ACCEPTED = "accepted"
    PASSED = "passed"
    EXPIRED = "expired"
    ESCALATED = "escalated"
    RELEASED = "released"


class AssignmentEvent(Base):
    """The audit log of routing: every assignment decision with the reason it was taken."""

    __tablename__ = "assignment_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"), index=True)
    rep_id: Mapped[int | None] = mapped_column(ForeignKey("reps.id"))
    action: Mapped[AssignmentAction] = mapped_column(_enum(AssignmentAction))
    reason: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    made_by: Mapped[str | None] = mapped_column(String(200))  # who decided (NULL: before revision 0020)


class DealEdit(Base):
    """A change to a deal's title, value, currency or close date, or its deletion: what, by whom, when.
    Kept after the deal is deleted (``deal_id`` has no foreign key for that reason)."""

    __tablename__ = "deal_edits"

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"), index=True)
    deal_id: Mapped[int]
    change: Mapped[str] = mapped_column(Text)
    made_by: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ContactMerge(Base):
    """The log of contact merges, with what is needed to undo one."""

    __tablename__ = "contact_merges"

    id: Mapped[int] = mapped_column(primary_key=True)
    kept_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    merged_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    # {"kept": {...fields before}, "merged": {...fields before}, "lead_ids": [...], "conversation_ids": [...]}
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)
    merged_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    undone_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class MessageRole(enum.StrEnum):
    VISITOR = "visitor"
    BOT = "bot"
    REP = "rep"  # a person who took the conversation over (``Message.rep_id`` says who)


class Message(Base):
    """One line of a conversation's transcript, copied from Rasa's conversation events."""

    __tablename__ = "messages"
    __table_args__ = NEVER_REUSED

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"), index=True)
    role: Mapped[MessageRole] = mapped_column(_enum(MessageRole))
    text: Mapped[str] = mapped_column(Text, default="")
    intent: Mapped[str | None] = mapped_column(String(100))
    confidence: Mapped[float | None] = mapped_column(Float)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    rasa_event_id: Mapped[int] = mapped_column(unique=True)
    rep_id: Mapped[int | None] = mapped_column(ForeignKey("reps.id"))  # the author of a REP message

    conversation: Mapped[Conversation] = relationship(back_populates="messages")


class Owner(enum.StrEnum):
    """Who answers the visitor: the bot, nobody yet (a person was asked for), or a rep."""

    BOT = "bot"
    WAITING = "waiting"
    REP = "rep"


class ConversationOwner(Base):
    """Who owns a conversation now; no row means the bot. Changed only by ``ownership.change``."""

    __tablename__ = "conversation_owners"

    sender_id: Mapped[str] = mapped_column(String(255), primary_key=True)  # Rasa's conversation id
    owner: Mapped[Owner] = mapped_column(_enum(Owner))
    rep_id: Mapped[int | None] = mapped_column(ForeignKey("reps.id"), index=True)
    since: Mapped[datetime] = mapped_column(UTCDateTime())

    rep: Mapped[Rep | None] = relationship()


class OwnershipChange(Base):
    """One change of a conversation's owner: from what, to what (which rep), by whom, when."""

    __tablename__ = "ownership_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    sender_id: Mapped[str] = mapped_column(String(255), index=True)
    from_owner: Mapped[Owner] = mapped_column(_enum(Owner))
    to_owner: Mapped[Owner] = mapped_column(_enum(Owner))
    rep_id: Mapped[int | None] = mapped_column(ForeignKey("reps.id"))  # the rep taking over or handing back
    changed_by: Mapped[str] = mapped_column(String(200))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class IngestCursor(Base):
    """How far a reader of an external event stream has got, so each event is copied once."""

    __tablename__ = "ingest_cursors"

    source: Mapped[str] = mapped_column(String(100), primary_key=True)
    last_event_id: Mapped[int] = mapped_column(default=0)


class OutboxRow:
    """The delivery state of every outbox row: attempts, when next, delivered or given up, and why."""

    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)


class NotificationChannel(enum.StrEnum):
    TELEGRAM = "telegram"
    EMAIL = "email"
    INBOX = "inbox"


class Notification(OutboxRow, Base):
    """The outbox of rep notifications, written in the transaction that hands a lead to a rep.

    A notifier delivers Telegram and e-mail rows with retries; inbox rows are the rep's web inbox.
    """

    __tablename__ = "notifications"
    __table_args__ = NEVER_REUSED

    id: Mapped[int] = mapped_column(primary_key=True)
    rep_id: Mapped[int] = mapped_column(ForeignKey("reps.id"), index=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"), index=True)
    channel: Mapped[NotificationChannel] = mapped_column(_enum(NotificationChannel))
    reason: Mapped[str] = mapped_column(Text)
    external_id: Mapped[str | None] = mapped_column(String(100))  # e.g. the Telegram message id
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Set just before the send is made, cleared when its outcome is recorded: still set after the lease
    # means the sender stopped mid-send, and the row is never sent again (it may have arrived).
    sending_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    alerted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # an admin was told it is stuck
    # Set: a reminder that this task is due (crm_core.scheduling.task_reminders), not a lead handed to the
    # rep.
    activity_id: Mapped[int | None] = mapped_column(ForeignKey("activities.id"))
    # Set: news about this meeting (booked, moved, cancelled), not a lead handed to the rep.
    meeting_id: Mapped[int | None] = mapped_column(ForeignKey("meetings.id"))

    rep: Mapped[Rep] = relationship()
    lead: Mapped[Lead] = relationship()
    activity: Mapped["Activity | None"] = relationship()
    meeting: Mapped["Meeting | None"] = relationship()


class WebhookDelivery(OutboxRow, Base):
    """Outgoing webhooks: written in the transaction of the change, delivered (and retried) later."""

    __tablename__ = "webhook_outbox"
    __table_args__ = NEVER_REUSED

    id: Mapped[int] = mapped_column(primary_key=True)
    event: Mapped[str] = mapped_column(String(40))
    url: Mapped[str] = mapped_column(String(500))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)


class Invitation(OutboxRow, Base):
    """The outbox of the visitor's calendar invitations (e-mail with an .ics), written in the transaction
    that books, moves or cancels the meeting; the notifier sends them
    (``crm_core.scheduling.invitations``)."""

    __tablename__ = "invitations"
    __table_args__ = NEVER_REUSED

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"), index=True)
    email: Mapped[str] = mapped_column(String(320))
    method: Mapped[str] = mapped_column(String(10))  # iCalendar METHOD: REQUEST (new or moved) | CANCEL
    sequence: Mapped[int]  # the meeting's SEQUENCE when this was written
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())  # the time this invitation announces
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())

    meeting: Mapped[Meeting] = relationship()


class OutreachKind(enum.StrEnum):
    WINBACK = "winback"  # a lost deal or lead, or a nurture-later lead, came due for its re-check
    NURTURE = "nurture"  # the next message of an MQL's nurture schedule


class Outreach(OutboxRow, Base):
    """A message to a contact (``crm_core.outreach.winback``): written when a re-check comes due, with the
    rep's task, and sent by the notifier on the contact's channel. ``channel`` "none" records a re-check whose
    contact could not be written to (no consent on record, unsubscribed, no channel): failed at once, never
    sent. ``key`` makes writing one twice impossible (one per lead and due date, or per nurture step)."""

    __tablename__ = "outreach"
    __table_args__ = NEVER_REUSED

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(100), unique=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"), index=True)
    kind: Mapped[OutreachKind] = mapped_column(_enum(OutreachKind))
    step: Mapped[int] = mapped_column(default=0)  # which message of the nurture schedule (0 for win-back)
    channel: Mapped[str] = mapped_column(String(20))  # telegram | email | none
    address: Mapped[str | None] = mapped_column(String(320))  # the Telegram conversation or the e-mail
    language: Mapped[str] = mapped_column(String(8))
    subject: Mapped[str] = mapped_column(String(300))
    text: Mapped[str] = mapped_column(Text)
    # The secret of the message's unsubscribe link (random, unguessable; only in the message itself).
    token: Mapped[str] = mapped_column(String(64), unique=True)
    activity_id: Mapped[int | None] = mapped_column(ForeignKey("activities.id"))  # the rep's re-check task
    sending_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # as ``Notification.sending_at``
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # the visitor came back

    lead: Mapped[Lead] = relationship()


class LeadTally(Base):
    """Leads counted by the UTC day they were created, source, stages reached and whether won.

    The funnel and source KPIs add these rows up instead of reading a million leads; the counts are kept
    in step by ``_keep_counters`` in the transaction of every change, and equal a recount of the leads.
    """

    __tablename__ = "lead_tallies"

    day: Mapped[date] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(200), primary_key=True)  # NULL is counted as "unknown"
    reached_stages: Mapped[int] = mapped_column(primary_key=True)
    won: Mapped[bool] = mapped_column(primary_key=True)
    leads: Mapped[int] = mapped_column(default=0)


class StageTimeTally(Base):
    """Moves out of a stage by the UTC day they were made, for leads or for deals: how many, and the days
    spent in the stage before them. Written by ``pipeline.record_stage`` with each move; the time-in-stage
    KPI adds these rows up, and they outlive an erasure (the figures, not the person)."""

    __tablename__ = "stage_time_tallies"

    day: Mapped[date] = mapped_column(primary_key=True)
    of_deals: Mapped[bool] = mapped_column(primary_key=True)
    stage: Mapped[Stage] = mapped_column(_enum(Stage), primary_key=True)
    moves: Mapped[int] = mapped_column(default=0)
    days: Mapped[float] = mapped_column(Float, default=0.0)


class SlaTally(Base):
    """Acceptance clocks decided, by the UTC day the lead was handed to the rep: how many (accepted,
    passed or expired) and how many were accepted in time. Written by ``crm_core.sales.lifecycle`` when a rep
    accepts or passes a lead or its clock runs out; the SLA-compliance KPI adds these rows up."""

    __tablename__ = "sla_tallies"

    day: Mapped[date] = mapped_column(primary_key=True)
    rep_id: Mapped[int] = mapped_column(primary_key=True)
    decided: Mapped[int] = mapped_column(default=0)
    met: Mapped[int] = mapped_column(default=0)


class OutcomeTally(Base):
    """Closed (won or lost) leads by the UTC day they were created, the 20-point band of their score, their
    temperature and whether won: the win rate by score and temperature adds these rows up instead of every
    closed lead. Kept in step by ``_keep_counters`` like ``LeadTally`` (revision 0031)."""

    __tablename__ = "outcome_tallies"

    day: Mapped[date] = mapped_column(primary_key=True)
    band: Mapped[int] = mapped_column(primary_key=True)  # score_band: the band's lowest score
    temperature: Mapped[Temperature] = mapped_column(_enum(Temperature), primary_key=True)
    won: Mapped[bool] = mapped_column(primary_key=True)
    leads: Mapped[int] = mapped_column(default=0)


def score_band(score: int) -> int:
    """The lowest score of the 20-point band ``score`` is in: 0–19, 20–39, 40–59, 60–79, 80–100 (below 0
    counts in the first, above 100 in the last). The KPI's bands (``reporting.kpis_scoring``), and
    ``OutcomeTally``'s."""
    return max(0, min(80, score // 20 * 20))


UNKNOWN_SOURCE = "unknown"

TallyKey = tuple[date, str, int, bool]


def tally_key(created_at: datetime, source: str | None, reached_stages: int, stage: Stage) -> TallyKey:
    """The ``lead_tallies`` row a lead is counted in."""
    created_at = created_at if created_at.tzinfo else created_at.replace(tzinfo=UTC)
    return created_at.astimezone(UTC).date(), source or UNKNOWN_SOURCE, reached_stages, stage is Stage.WON


OutcomeKey = tuple[date, int, Temperature, bool]


def outcome_key(
    created_at: datetime, score: int, temperature: Temperature, stage: Stage
) -> OutcomeKey | None:
    """The ``outcome_tallies`` row a lead is counted in; None while it is not closed."""
    if stage not in (Stage.WON, Stage.LOST):
        return None
    day = tally_key(created_at, None, 0, stage)[0]
    return day, score_band(score), Temperature(temperature), stage is Stage.WON


def _before_and_now(row: Base, field: str) -> tuple[Any, Any]:
    """(value in the database, value now) of a row's attribute, from its attribute history."""
    history = inspect(row).attrs[field].history
    now = getattr(row, field)
    return (history.deleted[0] if history.deleted else None) if history.has_changes() else now, now


def _owner_before_and_now(lead: Lead) -> tuple[int | None, int | None]:
    """A change of ``assigned_rep`` reaches ``assigned_rep_id`` only at the flush: read it from either."""
    before, now = _before_and_now(lead, "assigned_rep_id")
    moved = inspect(lead).attrs.assigned_rep.history
    if moved.has_changes():
        rep = moved.added[0] if moved.added else None
        if rep is not None and rep.id is None:
            raise ValueError(
                "Save a new rep (add_rep flushes it) before giving it leads: its load is counted by id."
            )
        now = rep.id if rep is not None else None
    return before, now


# Leads this session inserted in its current transaction that no deal or meeting has pointed at since: in the
# database they have neither, so what would only look for them (the copy to a lead's deals, the meetings to
# follow its new owner) has nothing to do. Kept by ``_note_fresh_leads``, forgotten when the transaction ends.
_FRESH_LEADS = "embudo_fresh_leads"


@event.listens_for(Session, "after_flush")
def _note_fresh_leads(session: Session, _flush: UOWTransaction) -> None:
    """Leads this flush inserted are fresh; a lead a deal or meeting written by it points at is not (any
    more). Every ORM write of deals and meetings passes here; crm_core writes neither with Core statements
    (``privacy`` only takes deals off their lead)."""
    fresh: set[int] = session.info.setdefault(_FRESH_LEADS, set())
    fresh.update(row.id for row in session.new if isinstance(row, Lead))
    for row in (*session.new, *session.dirty):
        if isinstance(row, Deal | Meeting) and row.lead_id is not None:
            fresh.discard(row.lead_id)


@event.listens_for(Session, "after_transaction_end")
def _forget_fresh_leads(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_FRESH_LEADS, None)


def has_no_deals_or_meetings(session: Session, lead_id: int | None) -> bool:
    """True when ``lead_id`` is certainly without deals and meetings, written or pending: a lead inserted in
    this transaction that none has pointed at since (False means "maybe": read the database)."""
    if lead_id is None or lead_id not in session.info.get(_FRESH_LEADS, ()):
        return False
    return not any(isinstance(row, Deal | Meeting) for row in (*session.new, *session.dirty))


@event.listens_for(Session, "before_flush")
def _keep_counters(session: Session, _flush: UOWTransaction, _instances: object) -> None:
    """Move reps' ``open_leads`` and the ``lead_tallies`` rows for every lead this flush adds, changes or
    deletes, in the same transaction: whichever code path changed the lead, the counts stay exact."""
    loads: dict[int, int] = {}
    tallies: dict[TallyKey, int] = {}
    outcomes: dict[OutcomeKey, int] = {}

    def count(rep_id: int | None, stage: Stage, key: TallyKey | None, sign: int) -> None:
        if rep_id is not None and stage in OPEN_STAGES:
            loads[rep_id] = loads.get(rep_id, 0) + sign
        if key is not None:
            tallies[key] = tallies.get(key, 0) + sign

    def count_outcome(key: OutcomeKey | None, sign: int) -> None:
        if key is not None:
            outcomes[key] = outcomes.get(key, 0) + sign

    for lead in session.new:
        if isinstance(lead, Lead):
            lead.created_at = lead.created_at or utcnow()
            lead.stage = lead.stage or Stage.NEW
            lead.reached_stages = lead.reached_stages or 0
            lead.score = lead.score or 0
            count(
                _owner_before_and_now(lead)[1],
                lead.stage,
                tally_key(lead.created_at, lead.source, lead.reached_stages, lead.stage),
                1,
            )
            count_outcome(outcome_key(lead.created_at, lead.score, lead.temperature, lead.stage), 1)
    for lead in session.dirty:
        if isinstance(lead, Lead) and session.is_modified(lead):
            owner = _owner_before_and_now(lead)
            stage = _before_and_now(lead, "stage")
            created = _before_and_now(lead, "created_at")
            source = _before_and_now(lead, "source")
            reached = _before_and_now(lead, "reached_stages")
            count(owner[0], stage[0], tally_key(created[0], source[0], reached[0], stage[0]), -1)
            count(owner[1], stage[1], tally_key(created[1], source[1], reached[1], stage[1]), 1)
            score, temperature = _before_and_now(lead, "score"), _before_and_now(lead, "temperature")
            count_outcome(outcome_key(created[0], score[0], temperature[0], stage[0]), -1)
            count_outcome(outcome_key(created[1], score[1], temperature[1], stage[1]), 1)
            if (owner[0], source[0], created[0]) != (owner[1], source[1], created[1]):
                _copy_to_deals(session, lead.id, owner[1], source[1], created[1])
    for deal in (*session.new, *session.dirty):
        if (
            isinstance(deal, Deal)
            and (deal.lead is not None or deal.lead_id is not None)
            and (deal in session.new or _before_and_now(deal, "lead_id")[0] != deal.lead_id)
        ):
            owner_lead = deal.lead if deal.lead is not None else session.get(Lead, deal.lead_id)
            if owner_lead is not None:
                deal.lead_source = owner_lead.source
                deal.lead_rep_id = _owner_before_and_now(owner_lead)[1]
                deal.lead_created_at = owner_lead.created_at
    for lead in session.deleted:
        if isinstance(lead, Lead):
            key = tally_key(lead.created_at, lead.source, lead.reached_stages, lead.stage)
            count(lead.assigned_rep_id, lead.stage, key, -1)
            count_outcome(outcome_key(lead.created_at, lead.score, lead.temperature, lead.stage), -1)
    _apply(session, loads, tallies, outcomes)


def _copy_to_deals(
    session: Session, lead_id: int, rep_id: int | None, source: str | None, created_at: datetime
) -> None:
    """A lead's new owner, source or creation time reaches the copies on its deals (a lead just inserted
    has none yet: no statement)."""
    if has_no_deals_or_meetings(session, lead_id):
        return
    session.connection().execute(
        update(Deal)
        .where(Deal.lead_id == lead_id)
        .values(lead_rep_id=rep_id, lead_source=source, lead_created_at=created_at)
    )
    for deal in list(session.identity_map.values()):
        if isinstance(deal, Deal) and deal.lead_id == lead_id and deal not in session.new:
            session.expire(deal, ["lead_rep_id", "lead_source", "lead_created_at"])


def _apply(
    session: Session, loads: dict[int, int], tallies: dict[TallyKey, int], outcomes: dict[OutcomeKey, int]
) -> None:
    """Add the deltas in SQL (``x = x + n``), so concurrent transactions add up rather than overwrite."""
    connection = session.connection()
    for rep_id, delta in loads.items():
        if not delta:
            continue
        rep = session.identity_map.get(identity_key(Rep, rep_id))
        if rep is not None:  # this flush writes the rep anyway (e.g. last_assigned_at): one UPDATE for both
            rep.open_leads = Rep.open_leads + delta  # SQL: x = x + n, written by this flush
        else:
            connection.execute(update(Rep).where(Rep.id == rep_id).values(open_leads=Rep.open_leads + delta))
    for (day, source, reached, won), delta in tallies.items():
        _add_leads(connection, LeadTally, delta, day=day, source=source, reached_stages=reached, won=won)
    for (day, band, temperature, won), delta in outcomes.items():
        _add_leads(connection, OutcomeTally, delta, day=day, band=band, temperature=temperature, won=won)


def _add_leads(
    connection: Connection, tally: type[LeadTally] | type[OutcomeTally], delta: int, **key: object
) -> None:
    """Adds ``delta`` to the ``leads`` of ``tally``'s row with this key (its primary key), inserting the row
    when there is none: one upsert, so concurrent transactions add up."""
    if not delta:
        return
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    statement = insert(tally).values(**key, leads=delta)
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=[getattr(tally, name) for name in key],
            set_={"leads": tally.leads + statement.excluded.leads},
        )
    )


class UserRole(enum.StrEnum):
    ADMIN = "admin"
    REP = "rep"


class User(Base):
    """A login to the console. A rep's user is tied to their ``reps`` row and sees only that rep's leads."""

    __tablename__ = "users"
    __table_args__ = NEVER_REUSED

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)  # normalised, lower-case
    password_hash: Mapped[str] = mapped_column(String(255))  # argon2id, with its parameters and salt
    role: Mapped[UserRole] = mapped_column(_enum(UserRole))
    rep_id: Mapped[int | None] = mapped_column(ForeignKey("reps.id"), unique=True)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_login: Mapped[datetime | None] = mapped_column(UTCDateTime())

    rep: Mapped[Rep | None] = relationship()


class ConsoleSession(Base):
    """A signed-in browser. Only a hash of the cookie's token is stored, so a leaked table opens nothing."""

    __tablename__ = "console_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 hex of the token
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)

    user: Mapped[User] = relationship()


class LoginAttempt(Base):
    """One try at signing in, kept for a while so repeated failures can be slowed down."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_email_at", "email", "at"),
        Index("ix_login_attempts_ip_at", "ip", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320))  # as typed, lower-cased: unknown accounts count too
    ip: Mapped[str] = mapped_column(String(64))
    succeeded: Mapped[bool]
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class Brake(Base):
    """A streak of tries for one key (an account from one address, an address): see
    crm_core.people.login_brake."""

    __tablename__ = "brakes"

    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    tries: Mapped[int]
    window_ends_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    next_try_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PolicyVersion(Base):
    """A qualification policy saved by an admin; the newest one classifies new leads.

    The YAML file (``EMBUDO_POLICY_FILE``) is version 0, the default while no version is stored.
    ``version`` is the policy's own label, which each lead records (``Lead.policy_version``).
    """

    __tablename__ = "policy_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[str] = mapped_column(String(40), unique=True)
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    source_text: Mapped[str] = mapped_column(Text)  # the YAML as the admin wrote it, comments and all
    saved_by: Mapped[str] = mapped_column(String(200))
    saved_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SuggestionStatus(enum.StrEnum):
    PROPOSED = "proposed"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class PolicySuggestion(Base):
    """A change to the qualification policy proposed from closed leads' outcomes (policy_suggestions).

    ``change`` says what to set (a path in the policy and the new value), ``evidence`` the counts, rates and
    intervals behind it. Only ``policy_suggestions.decide`` moves ``status``; accepting saves a new policy
    version. ``change_key`` names the change against its policy version: one open suggestion per key.
    """

    __tablename__ = "policy_suggestions"
    __table_args__ = (
        Index(
            "uq_policy_suggestions_open_change",
            "change_key",
            unique=True,
            sqlite_where=literal_column("status = 'proposed'"),
            postgresql_where=literal_column("status = 'proposed'"),
        ),
        NEVER_REUSED,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    policy_version: Mapped[str] = mapped_column(String(40))  # the version the evidence was compared with
    kind: Mapped[str] = mapped_column(String(20))  # weight | threshold | sql_authority
    change: Mapped[dict[str, Any]] = mapped_column(JSON)
    change_key: Mapped[str] = mapped_column(String(64))
    summary: Mapped[str] = mapped_column(Text)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[SuggestionStatus] = mapped_column(
        _enum(SuggestionStatus), default=SuggestionStatus.PROPOSED, index=True
    )
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    saved_version: Mapped[str | None] = mapped_column(String(40))  # the policy version accepting it saved


class ExchangeRateVersion(Base):
    """A table of exchange rates imported by an admin (``embudo rates import``); the newest is in force.

    The YAML file (``EMBUDO_RATES_FILE``) is version 0, in force while none is stored. Never changed or
    deleted: each import is a new row, so the rates behind any past figure can be read back.
    """

    __tablename__ = "exchange_rate_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[str] = mapped_column(String(40), unique=True)
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    source_text: Mapped[str] = mapped_column(Text)
    imported_by: Mapped[str] = mapped_column(String(200))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Erasure(Base):
    """The audit record of an erasure or a retention purge: who erased what and when — never the data."""

    __tablename__ = "erasures"
    __table_args__ = NEVER_REUSED

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # "contact" (on request) or "retention"
    contact_id: Mapped[int | None]  # the erased contact's former id (no foreign key: the row is gone)
    erased_by: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text)
    # how many rows of each kind went, e.g. {"leads": 1, "messages": 31, "rasa_events": 80}
    counts: Mapped[dict[str, int]] = mapped_column(JSON)
    erased_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class WinModel(Base):
    """A learned win probability (``crm_core.learning.win_training``): fitted on the closed leads created in
    [window_start, window_end], the newest of them held out for the metrics. The newest row scores open
    leads (``crm_core.learning.win_probability``). ``model`` is plain JSON (features, coefficients, intercept,
    calibration), never a pickle: scoring is a dot product, and a stored row can be read and audited.
    Never changed or deleted: each training is a new version."""

    __tablename__ = "win_models"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(unique=True)
    trained_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    trained_by: Mapped[str | None] = mapped_column(String(200))
    window_start: Mapped[datetime] = mapped_column(UTCDateTime())
    window_end: Mapped[datetime] = mapped_column(UTCDateTime())
    held_out_from: Mapped[datetime] = mapped_column(UTCDateTime())  # leads created from here on: the test
    won: Mapped[int]
    lost: Mapped[int]
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON)
    model: Mapped[dict[str, Any]] = mapped_column(JSON)
