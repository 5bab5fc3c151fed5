"""Persistent CRM records (SQLAlchemy 2 typed ORM). Rules about them live in the service modules."""

import enum
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Enum, ForeignKey, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


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


def _enum(kind: type[enum.StrEnum]) -> Enum:
    """Enums stored as their plain string values, checked by the database too."""
    return Enum(
        kind, values_callable=lambda members: [m.value for m in members], native_enum=False, length=20
    )


class UTCDateTime(DateTime):
    """Timezone-aware datetimes on every backend (SQLite forgets the zone; we put UTC back)."""

    def __init__(self) -> None:
        super().__init__(timezone=True)

    def result_processor(self, dialect: Any, coltype: Any) -> Any:
        parent = super().result_processor(dialect, coltype)

        def process(value: Any) -> Any:
            if parent is not None:
                value = parent(value)
            if isinstance(value, datetime) and value.tzinfo is None:
                value = value.replace(tzinfo=UTC)
            return value

        return process


class Base(DeclarativeBase):
    pass


class Rep(Base):
    __tablename__ = "reps"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    telegram_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    capacity: Mapped[int] = mapped_column(default=20)
    active: Mapped[bool] = mapped_column(default=True)
    last_assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    leads: Mapped[list["Lead"]] = relationship(back_populates="assigned_rep")


class Contact(Base):
    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    phone: Mapped[str | None] = mapped_column(String(32))
    company: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    leads: Mapped[list["Lead"]] = relationship(back_populates="contact")


class Lead(Base):
    __tablename__ = "leads"

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
    source: Mapped[str | None] = mapped_column(String(200))

    score: Mapped[int] = mapped_column(default=0)
    qualification: Mapped[Qualification] = mapped_column(_enum(Qualification), index=True)
    temperature: Mapped[Temperature] = mapped_column(_enum(Temperature))
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    policy_version: Mapped[str] = mapped_column(String(40))
    recheck_on: Mapped[date | None]

    stage: Mapped[Stage] = mapped_column(_enum(Stage), default=Stage.NEW, index=True)
    assigned_rep_id: Mapped[int | None] = mapped_column(ForeignKey("reps.id"), index=True)
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    contact: Mapped[Contact] = relationship(back_populates="leads")
    assigned_rep: Mapped[Rep | None] = relationship(back_populates="leads")
    conversations: Mapped[list["Conversation"]] = relationship(back_populates="lead")


class Conversation(Base):
    """A dialogue on one channel; ``sender_id`` is Rasa's conversation (tracker) id."""

    __tablename__ = "conversations"
    __table_args__ = (UniqueConstraint("channel", "sender_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(40))
    sender_id: Mapped[str] = mapped_column(String(255))
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id"), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The newest value of every slot the bot set: what admins filter transcripts by.
    slots: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    lead: Mapped[Lead | None] = relationship(back_populates="conversations")
    messages: Mapped[list["Message"]] = relationship(back_populates="conversation", order_by="Message.id")


class MessageRole(enum.StrEnum):
    VISITOR = "visitor"
    BOT = "bot"


class Message(Base):
    """One line of a conversation's transcript, copied from Rasa's event broker."""

    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"), index=True)
    role: Mapped[MessageRole] = mapped_column(_enum(MessageRole))
    text: Mapped[str] = mapped_column(Text, default="")
    intent: Mapped[str | None] = mapped_column(String(100))
    confidence: Mapped[float | None]
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    broker_event_id: Mapped[int] = mapped_column(unique=True)

    conversation: Mapped[Conversation] = relationship(back_populates="messages")


class IngestCursor(Base):
    """How far a reader of an external event stream has got, so each event is copied once."""

    __tablename__ = "ingest_cursors"

    source: Mapped[str] = mapped_column(String(100), primary_key=True)
    last_event_id: Mapped[int] = mapped_column(default=0)
