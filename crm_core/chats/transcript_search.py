"""Finding, reading and exporting transcripts for admins, and where visitors abandon the form.

Every filter but slot values runs in SQL. Slot values are free-form JSON written by the bot (a budget
is the string "20000", a skipped question is "unknown"), which no SQL cast reads the same way on SQLite
and PostgreSQL, so slot conditions are checked in Python on the rows the other filters left.
"""

import csv
import io
import json
import operator
import re
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, aliased

from crm_core.errors import InvalidInput, NotFound
from crm_core.exchange.csv_cells import defused
from crm_core.models import (
    AssignmentEvent,
    Contact,
    Conversation,
    Lead,
    Message,
    MessageRole,
    Qualification,
    Rep,
    Temperature,
)

# The form's questions in the order the bot asks them (domain.yml, qualification_form.required_slots).
FORM_QUESTIONS = (
    "need",
    "budget",
    "authority",
    "timeline",
    "company",
    "person_name",
    "email",
    "phone",
    "consent",
)

Operator = Literal[">=", "<=", ">", "<", "=", "!="]
_CONDITION = re.compile(r"^\s*([a-z_][a-z0-9_]*)\s*(>=|<=|!=|=|>|<)\s*(.+?)\s*$")
# "budget >= 10000" means the parsed amount, not the words the visitor typed
_NUMERIC_SLOT = {"budget": "budget_amount", "timeline": "timeline_days"}
_SYMBOLS = {"≥": ">=", "≤": "<=", "≠": "!="}
_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "=": operator.eq,
    "!=": operator.ne,
}


class SlotCondition(BaseModel):
    """``slot op value``: numbers compare as numbers ("budget_amount >= 10000"), anything else as text."""

    slot: str
    op: Operator
    value: str

    @classmethod
    def parse(cls, text: str) -> "SlotCondition":
        for symbol, ascii_operator in _SYMBOLS.items():
            text = text.replace(symbol, ascii_operator)
        match = _CONDITION.match(text)
        if not match:
            raise InvalidInput(
                f"'{text}' is not a slot condition; write it like 'budget_amount >= 10000' "
                "or 'timeline_days <= 90' (operators >= <= > < = !=)."
            )
        slot, op, value = match.groups()
        without_separators = value.replace(",", "").replace("_", "")
        if _number(without_separators) is not None:
            return cls(slot=_NUMERIC_SLOT.get(slot, slot), op=op, value=without_separators)
        return cls(slot=slot, op=op, value=value)

    def holds(self, slots: dict[str, Any]) -> bool:
        actual = slots.get(self.slot)
        if actual is None:
            return False
        wanted_number, actual_number = _number(self.value), _number(actual)
        if wanted_number is not None and actual_number is not None:
            left: Any = actual_number
            right: Any = wanted_number
        elif self.op in ("=", "!="):
            left, right = str(actual).casefold(), self.value.casefold()
        else:
            return False  # an order between a number and text (or "unknown") means nothing
        return bool(_COMPARE[self.op](left, right))

    def __str__(self) -> str:
        return f"{self.slot} {self.op} {self.value}"


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal):
        return Decimal(str(value))
    if isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            return None
        return number if number.is_finite() else None
    return None


class TranscriptFilter(BaseModel):
    """What admins narrow the transcript list by; every field is optional and they combine with AND."""

    since: date | None = None  # conversations started on or after this day (UTC)
    until: date | None = None  # ... and on or before this day
    channel: str | None = None
    qualification: Qualification | None = None
    temperature: Temperature | None = None
    rep_id: int | None = None
    source: str | None = None
    language: str | None = None
    text: str | None = None  # appears in any message, either side, case-insensitive
    slots: list[SlotCondition] = Field(default_factory=list)


class TranscriptSummary(BaseModel):
    conversation_id: int
    channel: str
    sender_id: str
    started_at: datetime
    messages: int
    last_message_at: datetime | None
    lead_id: int | None
    contact_id: int | None
    contact_name: str | None
    qualification: Qualification | None
    temperature: Temperature | None
    rep: str | None
    source: str | None
    language: str | None


class TranscriptPage(BaseModel):
    items: list[TranscriptSummary]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


class MessageLine(BaseModel):
    id: int
    role: MessageRole
    text: str
    sent_at: datetime
    intent: str | None
    confidence: float | None
    buttons: list[dict[str, Any]]


class AssignmentLine(BaseModel):
    at: datetime
    action: str
    rep: str | None
    reason: str


class LeadView(BaseModel):
    id: int
    contact_id: int
    contact_name: str | None
    email: str | None
    phone: str | None
    company: str | None
    qualification: Qualification
    temperature: Temperature
    score: int
    reasons: list[dict[str, Any]]
    policy_version: str
    stage: str
    source: str | None
    language: str
    rep: str | None


class TranscriptDetail(BaseModel):
    conversation_id: int
    channel: str
    sender_id: str
    started_at: datetime
    slots: dict[str, Any]
    lead: LeadView | None
    messages: list[MessageLine]
    assignments: list[AssignmentLine]


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _filtered(query: Select[Any], found: TranscriptFilter) -> Select[Any]:
    """``query`` (over conversations outer-joined to their lead) narrowed by every SQL-able filter."""
    if found.since:
        query = query.where(Conversation.started_at >= _day_start(found.since))
    if found.until:
        query = query.where(Conversation.started_at < _day_start(found.until + timedelta(days=1)))
    if found.channel:
        query = query.where(Conversation.channel == found.channel)
    if found.qualification:
        query = query.where(Lead.qualification == found.qualification)
    if found.temperature:
        query = query.where(Lead.temperature == found.temperature)
    if found.rep_id is not None:
        query = query.where(Lead.assigned_rep_id == found.rep_id)
    if found.source:
        query = query.where(Lead.source == found.source)
    if found.language:
        language = func.coalesce(Lead.language, Conversation.slots["language"].as_string())
        query = query.where(language == found.language)
    if found.text and found.text.strip():
        mentions = select(Message.id).where(
            Message.conversation_id == Conversation.id,
            Message.text.icontains(found.text.strip(), autoescape=True),
        )
        query = query.where(mentions.exists())
    return query


def _matching_ids(session: Session, found: TranscriptFilter) -> Iterator[int]:
    """Ids of the matching conversations, newest first."""
    query = _filtered(
        select(Conversation.id, Conversation.slots).outerjoin(Lead, Conversation.lead_id == Lead.id),
        found,
    ).order_by(Conversation.id.desc())
    if not found.slots:
        yield from session.scalars(query.with_only_columns(Conversation.id))
        return
    for conversation_id, slots in session.execute(query.execution_options(yield_per=1000)):
        if all(condition.holds(slots or {}) for condition in found.slots):
            yield conversation_id


def search_transcripts(
    session: Session, found: TranscriptFilter, page: int = 1, per_page: int = 50
) -> TranscriptPage:
    """One page of the conversations that match, newest first, with the total."""
    if page < 1 or not 1 <= per_page <= 500:
        raise InvalidInput("Pages start at 1 and hold 1–500 transcripts.")
    offset = (page - 1) * per_page
    if found.slots:
        ids = list(_matching_ids(session, found))
        total, page_ids = len(ids), ids[offset : offset + per_page]
    else:
        base = _filtered(select(Conversation.id).outerjoin(Lead, Conversation.lead_id == Lead.id), found)
        total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
        page_ids = list(session.scalars(base.order_by(Conversation.id.desc()).offset(offset).limit(per_page)))
    return TranscriptPage(items=_summaries(session, page_ids), total=total, page=page, per_page=per_page)


def _summaries(session: Session, ids: Sequence[int]) -> list[TranscriptSummary]:
    if not ids:
        return []
    counts = dict(
        (conversation_id, (count, last))
        for conversation_id, count, last in session.execute(
            select(Message.conversation_id, func.count(), func.max(Message.sent_at))
            .where(Message.conversation_id.in_(ids))
            .group_by(Message.conversation_id)
        )
    )
    rows = session.execute(
        select(Conversation, Lead, Contact.name, Rep.name)
        .outerjoin(Lead, Conversation.lead_id == Lead.id)
        .outerjoin(Contact, Lead.contact_id == Contact.id)
        .outerjoin(Rep, Lead.assigned_rep_id == Rep.id)
        .where(Conversation.id.in_(ids))
        .order_by(Conversation.id.desc())
    )
    summaries = []
    for conversation, lead, contact_name, rep_name in rows:
        count, last = counts.get(conversation.id, (0, None))
        summaries.append(
            TranscriptSummary(
                conversation_id=conversation.id,
                channel=conversation.channel,
                sender_id=conversation.sender_id,
                started_at=conversation.started_at,
                messages=count,
                last_message_at=last,
                lead_id=lead.id if lead else None,
                contact_id=lead.contact_id if lead else None,
                contact_name=contact_name,
                qualification=lead.qualification if lead else None,
                temperature=lead.temperature if lead else None,
                rep=rep_name,
                source=lead.source if lead else None,
                language=lead.language if lead else conversation.slots.get("language"),
            )
        )
    return summaries


def transcript_detail(session: Session, conversation_id: int) -> TranscriptDetail:
    """One conversation with everything an admin reviews: messages with intents, slots, class, routing."""
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        raise NotFound(f"No conversation with id {conversation_id}.")
    lead = conversation.lead
    assignments = []
    if lead is not None:
        events = session.execute(
            select(AssignmentEvent, Rep.name)
            .outerjoin(Rep, AssignmentEvent.rep_id == Rep.id)
            .where(AssignmentEvent.lead_id == lead.id)
            .order_by(AssignmentEvent.id)
        )
        assignments = [
            AssignmentLine(at=event.at, action=event.action.value, rep=rep_name, reason=event.reason)
            for event, rep_name in events
        ]
    return TranscriptDetail(
        conversation_id=conversation.id,
        channel=conversation.channel,
        sender_id=conversation.sender_id,
        started_at=conversation.started_at,
        slots=conversation.slots,
        lead=_lead_view(lead) if lead else None,
        messages=[
            MessageLine(
                id=message.id,
                role=message.role,
                text=message.text,
                sent_at=message.sent_at,
                intent=message.intent,
                confidence=message.confidence,
                buttons=message.extra.get("buttons") or [],
            )
            for message in conversation.messages
        ],
        assignments=assignments,
    )


def _lead_view(lead: Lead) -> LeadView:
    contact = lead.contact
    return LeadView(
        id=lead.id,
        contact_id=contact.id,
        contact_name=contact.name,
        email=contact.email,
        phone=contact.phone,
        company=contact.company,
        qualification=lead.qualification,
        temperature=lead.temperature,
        score=lead.score,
        reasons=lead.reasons,
        policy_version=lead.policy_version,
        stage=lead.stage.value,
        source=lead.source,
        language=lead.language,
        rep=lead.assigned_rep.name if lead.assigned_rep else None,
    )


def matching_conversation_ids(session: Session, found: TranscriptFilter, limit: int = 10_000) -> list[int]:
    """Every matching conversation (newest first, at most ``limit``): what "export all" exports."""
    ids: list[int] = []
    for conversation_id in _matching_ids(session, found):
        if len(ids) == limit:
            raise InvalidInput(f"More than {limit} transcripts match; narrow the filters to export them.")
        ids.append(conversation_id)
    return ids


EXPORT_COLUMNS = (
    "conversation_id",
    "channel",
    "sender_id",
    "lead_id",
    "qualification",
    "temperature",
    "message_id",
    "sent_at",
    "role",
    "text",
    "intent",
    "confidence",
)


def export_json(session: Session, conversation_ids: Sequence[int]) -> str:
    """The transcripts as one JSON array of conversations with their messages, slots, lead and routing."""
    details = [transcript_detail(session, cid).model_dump(mode="json") for cid in conversation_ids]
    return json.dumps(details, ensure_ascii=False, indent=2)


def export_csv(session: Session, conversation_ids: Sequence[int]) -> str:
    """The transcripts as CSV, one row per message (a conversation without messages gets one empty row)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    for conversation_id in conversation_ids:
        detail = transcript_detail(session, conversation_id)
        head = [
            detail.conversation_id,
            detail.channel,
            detail.sender_id,
            detail.lead.id if detail.lead else "",
            detail.lead.qualification.value if detail.lead else "",
            detail.lead.temperature.value if detail.lead else "",
        ]
        if not detail.messages:
            writer.writerow(defused([*head, "", "", "", "", "", ""]))
        for message in detail.messages:
            writer.writerow(
                defused(
                    [
                        *head,
                        message.id,
                        message.sent_at.isoformat(),
                        message.role.value,
                        message.text,
                        message.intent or "",
                        "" if message.confidence is None else f"{message.confidence:.4f}",
                    ]
                )
            )
    return out.getvalue()


class DropOffRow(BaseModel):
    question: str
    reached: int  # conversations in which the bot got to this question (asked, or already answered)
    abandoned: int  # ... and whose visitor left while it was the open question
    rate: float | None  # abandoned ÷ reached


def drop_off(
    session: Session,
    found: TranscriptFilter | None = None,
    now: datetime | None = None,
    idle_minutes: int = 30,
) -> list[DropOffRow]:
    """Per form question: how many conversations reached it and how many were abandoned at it.

    A conversation was abandoned at the question still open (Rasa's ``requested_slot``) when nothing was
    said for ``idle_minutes``; a question counts as reached when it was asked or already has an answer.
    """
    found = found or TranscriptFilter()
    cutoff = (now or datetime.now(UTC)) - timedelta(minutes=idle_minutes)
    last_message = (
        select(Message.conversation_id, func.max(Message.id).label("last_id"))
        .group_by(Message.conversation_id)
        .subquery()
    )
    last = aliased(Message)
    query = _filtered(
        select(Conversation.slots, last.sent_at)
        .outerjoin(Lead, Conversation.lead_id == Lead.id)
        .outerjoin(last_message, last_message.c.conversation_id == Conversation.id)
        .outerjoin(last, last.id == last_message.c.last_id),
        found,
    )
    reached = dict.fromkeys(FORM_QUESTIONS, 0)
    abandoned = dict.fromkeys(FORM_QUESTIONS, 0)
    for slots, last_at in session.execute(query.execution_options(yield_per=1000)):
        slots = slots or {}
        if not all(condition.holds(slots) for condition in found.slots):
            continue
        open_question = slots.get("requested_slot")
        for question in FORM_QUESTIONS:
            if question == open_question or slots.get(question) is not None:
                reached[question] += 1
        if open_question in abandoned and last_at is not None and last_at < cutoff:
            abandoned[open_question] += 1
    return [
        DropOffRow(
            question=question,
            reached=reached[question],
            abandoned=abandoned[question],
            rate=abandoned[question] / reached[question] if reached[question] else None,
        )
        for question in FORM_QUESTIONS
    ]
