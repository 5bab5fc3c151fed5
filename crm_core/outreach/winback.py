"""Winning back the lost, and nurturing MQLs: what comes due, what the contact is told, and who is told.

- **Re-checks.** A lost deal or lead carries ``recheck_on`` (the date chosen when it was lost, else the
  policy's ``nurture_recheck_days``: ``pipeline.recheck_date``); so does a nurture-later lead (the policy's
  verdict). ``find_due`` takes what came due, under row locks (``FOR UPDATE SKIP LOCKED`` on PostgreSQL;
  SQLite has one writer), clears its date and, in the same transaction, gives the owning rep a re-check task
  (the task-reminder chore tells them; a lead nobody owns is in ``nurture_queue``) and writes one message
  (``Outreach``) for the contact. Each lead is re-checked once per due date (``Outreach.key`` is unique).
- **Nurture.** ``nurture_due`` writes the next message of the schedule in ``outreach.yml`` to an MQL, on the
  schedule's days after its capture, until it comes back (a visitor message after the first send), leaves
  MQL, unsubscribes, or the schedule ends (stale).
- **Only with consent.** A message is written only when the lead has consent on record, the contact never
  unsubscribed and there is a channel: the lead's Telegram conversation, else the contact's e-mail.
  Otherwise the re-check is recorded as not sent (channel "none") and only the rep is told. Consent and
  unsubscribes are checked again when a message is claimed and just before it is sent.
- **Texts** are ``crm_core.outreach.outreach_texts``' (``outreach.yml``); **sending** is
  ``crm_core.outreach.outreach_outbox`` (an outbox like the rep notifications': a lease, "sending" committed
  before the send, an activity per send).
- **Unsubscribing** (``unsubscribe``, the link in every message) records it on the contact and cancels
  every message not yet sent to them, in one transaction. Erasure deletes the rows (``privacy``).
- **Coming back.** A visitor who answers a win-back message and qualifies again is a lead with source
  ``recycled`` (``answered_winback``, called by ``leads.capture_lead``): a closed (lost) lead stays as the
  KPIs counted it and a *new* lead links to it (``recycled_from_id``); a lead that was never closed (a
  nurture-later lead, or one whose deals were all lost) goes on, its source now ``recycled``.
"""

import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from crm_core.db import author_of
from crm_core.errors import NotFound
from crm_core.models import (
    Activity,
    ActivityKind,
    Contact,
    Conversation,
    Deal,
    Lead,
    Message,
    MessageRole,
    Outreach,
    OutreachKind,
    Qualification,
    Stage,
    utcnow,
)
from crm_core.outreach.outreach_texts import (
    EMAIL,
    LANGUAGES,
    NOT_SENT,
    TELEGRAM,
    current_outreach,
    fill,
    nurture_text,
)
from crm_core.sales.pipeline import current_pipeline

RECYCLED = "recycled"  # the source of a lead won back


# --- who can be written to ----------------------------------------------------------------------------


def reach(session: Session, lead: Lead) -> tuple[str, str | None, str]:
    """(channel, address, why): the lead's Telegram conversation, else the contact's e-mail; channel
    "none" with the reason when the contact may not (or cannot) be written to."""
    if lead.contact.unsubscribed_at is not None:
        return NOT_SENT, None, "the contact unsubscribed"
    if not lead.consent:
        return NOT_SENT, None, "no consent on record"
    telegram = session.scalar(
        select(Conversation.sender_id)
        .where(Conversation.lead_id == lead.id, Conversation.sender_id.startswith(f"{TELEGRAM}-"))
        .order_by(Conversation.id.desc())
        .limit(1)
    )
    if telegram:
        return TELEGRAM, telegram, "on Telegram"
    if lead.contact.email:
        return EMAIL, lead.contact.email, f"by e-mail to {lead.contact.email}"
    return NOT_SENT, None, "no Telegram chat or e-mail to write to"


def _write(
    session: Session,
    lead: Lead,
    kind: OutreachKind,
    key: str,
    step: int,
    now: datetime,
    held: str | None = None,
) -> tuple[Outreach, str]:
    """The message for ``lead`` (not sent — channel "none", failed at once — when it may not be, or when
    ``held`` says why not); returns it and what was done, in words."""
    channel, address, how = (NOT_SENT, None, held) if held else reach(session, lead)
    token = secrets.token_urlsafe(24)
    language = lead.language if lead.language in LANGUAGES else "en"
    if kind is OutreachKind.WINBACK:
        template = current_outreach().winback.get(language) or current_outreach().winback["en"]
        subject, text = template.subject, fill(template.text, lead, channel, token)
    else:
        subjects = current_outreach().nurture.subject
        subject = subjects.get(language) or subjects.get("en") or "Embudo"
        text = nurture_text(lead, step, channel, token) or ""
    row = Outreach(
        key=key,
        lead_id=lead.id,
        kind=kind,
        step=step,
        channel=channel,
        address=address,
        language=language,
        subject=subject,
        text=text,
        token=token,
        created_at=now,
        next_attempt_at=now,
        attempts=0,
    )
    if channel == NOT_SENT:
        row.failed_at, row.last_error = now, f"not sent: {how}"
    session.add(row)
    return row, (f"message not sent: {how}" if channel == NOT_SENT else f"a message goes {how}")


# --- re-checks ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recheck:
    lead_id: int
    why: str  # what came due, in words
    outcome: str  # what was done about the contact
    rep_id: int | None  # who was given the task (None: the nurture queue)


def find_due(session: Session, now: datetime | None = None, limit: int = 100) -> list[Recheck]:
    """Take the lost deals and leads and the nurture-later leads whose re-check date has come: each once."""
    now = now or utcnow()
    today = now.date()
    deals = session.scalars(
        select(Deal)
        .where(Deal.stage == Stage.LOST, Deal.recheck_on <= today, Deal.lead_id.is_not(None))
        .order_by(Deal.recheck_on, Deal.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    open_stages = current_pipeline().open_stages
    leads = session.scalars(
        select(Lead)
        .where(
            Lead.recheck_on <= today,
            (Lead.stage == Stage.LOST)
            | ((Lead.qualification == Qualification.NURTURE) & Lead.stage.in_(open_stages)),
        )
        .order_by(Lead.recheck_on, Lead.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    why: dict[int, list[str]] = {}
    due_on: dict[int, date] = {}
    for lead in leads:
        kind = "lost" if lead.stage is Stage.LOST else "parked for later (bought from a competitor)"
        why.setdefault(lead.id, []).append(f"lead {kind}, re-check due {lead.recheck_on}")
        assert lead.recheck_on is not None
        due_on[lead.id] = lead.recheck_on
        lead.recheck_on = None
    for deal in deals:
        assert deal.lead_id is not None and deal.recheck_on is not None
        why.setdefault(deal.lead_id, []).append(
            f"deal #{deal.id} '{deal.title}' lost ({deal.lost_reason}), re-check due {deal.recheck_on}"
        )
        due_on[deal.lead_id] = min(due_on.get(deal.lead_id, deal.recheck_on), deal.recheck_on)
        deal.recheck_on = None
    done = []
    for lead_id, reasons in why.items():
        due = session.get(Lead, lead_id)
        assert due is not None
        key = f"winback:{lead_id}:{due_on[lead_id].isoformat()}"
        if session.scalar(select(Outreach.id).where(Outreach.key == key)) is not None:
            continue  # re-checked already for this date (a reopened and lost again deal, say)
        # a lost deal on a lead that is won, or has another deal open, is the rep's to raise: not written to
        still_open = select(Deal.id).where(Deal.lead_id == due.id, Deal.stage.in_(open_stages)).limit(1)
        worked = due.stage is Stage.WON or session.scalar(still_open) is not None
        held = "the lead is won or has an open deal" if worked else None
        row, outcome = _write(session, due, OutreachKind.WINBACK, key, 0, now, held)
        rep = due.assigned_rep if due.assigned_rep is not None and due.assigned_rep.active else None
        task = Activity(
            lead_id=due.id,
            rep_id=rep.id if rep else None,
            kind=ActivityKind.TASK,
            body=f"Re-check: {'; '.join(reasons)}. Has anything changed? ({outcome})",
            due_at=now,
            created_at=now,
            made_by=author_of(session),
        )
        session.add(task)
        session.flush()
        row.activity_id = task.id
        done.append(Recheck(due.id, "; ".join(reasons), outcome, rep.id if rep else None))
    session.flush()
    return done


def nurture_queue(session: Session, limit: int = 100) -> list[tuple[int, str]]:
    """Re-checks nobody owns: (lead id, the task) of open re-check tasks on leads without a rep."""
    rows = session.execute(
        select(Activity.lead_id, Activity.body)
        .join(Outreach, Outreach.activity_id == Activity.id)
        .join(Lead, Lead.id == Activity.lead_id)
        .where(Activity.done_at.is_(None), Lead.assigned_rep_id.is_(None))
        .order_by(Activity.due_at, Activity.id)
        .limit(limit)
    ).all()
    return [(lead_id, body) for lead_id, body in rows]


# --- nurture ------------------------------------------------------------------------------------------


def _came_back(session: Session, lead: Lead, since: datetime) -> bool:
    """The visitor wrote in one of the lead's conversations after ``since``."""
    found = session.scalar(
        select(Message.id)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(Conversation.lead_id == lead.id, Message.role == MessageRole.VISITOR, Message.sent_at > since)
        .limit(1)
    )
    return found is not None


def nurture_due(session: Session, now: datetime | None = None, limit: int = 100) -> list[int]:
    """Write the next nurture message of the MQLs whose day has come; returns their lead ids."""
    now = now or utcnow()
    days = current_outreach().nurture.schedule_days
    first_day = now - timedelta(days=min(days))
    candidates = session.scalars(
        select(Lead)
        .join(Contact, Contact.id == Lead.contact_id)
        .where(
            Lead.qualification == Qualification.MQL,
            Lead.stage == Stage.MQL,
            Lead.consent.is_(True),
            Contact.unsubscribed_at.is_(None),
            Lead.created_at <= first_day,
        )
        .order_by(Lead.id)
        .limit(limit)
        .with_for_update(of=Lead, skip_locked=True)
    ).all()
    written = []
    for lead in candidates:
        sent = session.scalars(
            select(Outreach)
            .where(Outreach.lead_id == lead.id, Outreach.kind == OutreachKind.NURTURE)
            .order_by(Outreach.step)
        ).all()
        step = len(sent)
        if step >= len(days) or now < lead.created_at + timedelta(days=days[step]):
            continue  # stale (the schedule is over), or not yet
        if not sent and now > lead.created_at + timedelta(days=days[-1]):
            continue  # the whole schedule passed before its first message (an old MQL): stale
        if sent and now < sent[-1].created_at + timedelta(days=days[step] - days[step - 1]):
            continue  # late messages keep the schedule's spacing: never two in a row
        if sent and _came_back(session, lead, sent[0].created_at):
            continue  # re-engaged: a person takes it from here
        row, _outcome = _write(session, lead, OutreachKind.NURTURE, f"nurture:{lead.id}:{step}", step, now)
        if row.channel != NOT_SENT:
            written.append(lead.id)
    session.flush()
    return written


# --- unsubscribing and coming back ------------------------------------------------------------------


def unsubscribe(session: Session, token: str, now: datetime | None = None) -> Outreach:
    """The contact behind a message's link asks for no more messages: recorded on the contact, every message
    not yet sent to them cancelled, and a note on the lead. Safe to follow twice."""
    now = now or utcnow()
    row = session.scalar(select(Outreach).where(Outreach.token == token))
    if row is None:
        raise NotFound("This link is not known (it may have been erased).")
    contact = row.lead.contact
    if contact.unsubscribed_at is None:
        contact.unsubscribed_at = now
        lead_ids = select(Lead.id).where(Lead.contact_id == contact.id).scalar_subquery()
        session.execute(
            update(Outreach)
            .where(
                Outreach.lead_id.in_(lead_ids), Outreach.delivered_at.is_(None), Outreach.failed_at.is_(None)
            )
            .values(failed_at=now, last_error="cancelled: the contact unsubscribed")
            .execution_options(synchronize_session="fetch")
        )
        session.add(
            Activity(
                lead_id=row.lead_id,
                kind=ActivityKind.NOTE,
                body="The contact unsubscribed (link in our message): no more messages are sent to them.",
                created_at=now,
                made_by=author_of(session),
            )
        )
    session.flush()
    return row


def answered_winback(
    session: Session, contact: Contact, lead: Lead | None, now: datetime | None = None
) -> Lead | None:
    """The lead whose win-back message was delivered and not yet answered, which the visitor now qualifying
    again answers (marked so): ``lead`` when it is open (a nurture-later lead), else ``lead`` or another of
    the contact's closed leads. None when there is none."""
    closed = current_pipeline().terminal_stages
    if lead is not None and lead.id is not None and lead.stage not in closed:
        candidates = [lead.id]
    else:
        candidates = [lead.id] if lead is not None and lead.id is not None else []
        if contact.id is not None:
            candidates += session.scalars(
                select(Lead.id).where(Lead.contact_id == contact.id, Lead.stage.in_(closed))
            ).all()
    if not candidates:
        return None
    row = session.scalar(
        select(Outreach)
        .where(
            Outreach.lead_id.in_(candidates),
            Outreach.kind == OutreachKind.WINBACK,
            Outreach.delivered_at.is_not(None),
            Outreach.answered_at.is_(None),
        )
        .order_by(Outreach.delivered_at.desc(), Outreach.id.desc())
        .limit(1)
    )
    if row is None:
        return None
    row.answered_at = now or utcnow()
    return row.lead
