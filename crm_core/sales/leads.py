"""Capturing and reading leads (``list_leads``: search, filters, sorting, paging); their lifecycle is
``crm_core.sales.lifecycle``."""

import enum
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.orm import QueryableAttribute, Session, joinedload, selectinload

from crm_core.assignment.sla import is_overdue, overdue_condition
from crm_core.chats.conversations import conversation_for
from crm_core.errors import NotFound
from crm_core.learning.win_probability import WinScorer, win_scorer
from crm_core.limits import Id, Search, as_number
from crm_core.models import Contact, Lead, LeadRow, Qualification, Stage, Temperature, utcnow
from crm_core.outreach.winback import RECYCLED, answered_winback
from crm_core.people.territories import Territory, territory_of
from crm_core.qualification.policy import LeadFacts, Policy
from crm_core.qualification.policy import qualify as verdict_on
from crm_core.qualification.policy_store import active_policy
from crm_core.sales.dedup import _lenient, normalize_email, normalize_phone, resolve_contact
from crm_core.sales.lead_rows import lead_rows
from crm_core.sales.lifecycle import qualify
from crm_core.sales.pipeline import current_pipeline
from crm_core.schemas import ConversationRef, LeadOut


def _returning_lead(session: Session, contact: Contact) -> Lead | None:
    """The contact's newest open lead: a returning visitor updates it rather than starting another."""
    if contact.id is None:
        return None
    return session.scalar(
        select(Lead)
        .where(Lead.contact_id == contact.id, Lead.stage.in_(current_pipeline().open_stages))
        .order_by(Lead.id.desc())
        .limit(1)
    )


def capture_lead(
    session: Session,
    facts: LeadFacts,
    conversation_ref: ConversationRef,
    language: str = "en",
    source: str | None = None,
    policy: Policy | None = None,
    territory: str | None = None,
    now: datetime | None = None,
) -> LeadOut:
    """Store contact, lead and conversation; the verdict goes through ``lifecycle.qualify`` (class, stage
    forward only, an SQL routed to a rep, a lead leaving SQL released).

    The caller's unit of work commits all of it together. The lead's territory is the one given, or else
    one the visitor's phone number or locale shows (``territories``). The contact is deduplicated by
    normalised e-mail or phone across channels; submitting again from the same conversation, or returning
    while an open lead exists, updates that lead rather than creating a second one. A visitor answering a
    win-back message (``winback.answered_winback``) is a new lead with source ``recycled``, linked to the
    closed one; a lead never closed (nurture-later, or whose deals were all lost) goes on as ``recycled``.
    """
    verdict = verdict_on(facts, policy or active_policy(session))
    contact = resolve_contact(session, facts.name, facts.email, facts.phone, facts.company)
    conversation = conversation_for(session, conversation_ref.channel, conversation_ref.sender_id)
    given = Territory(territory.strip().upper(), None) if territory else None
    found = given or territory_of(session, contact.phone, conversation)
    lead = conversation.lead or _returning_lead(session, contact)
    won_back = answered_winback(session, contact, lead, now)
    if won_back is not None and current_pipeline().is_terminal(won_back.stage):
        lead = Lead(stage=Stage.NEW, recycled_from_id=won_back.id)  # the lost lead stays as counted
    lead = lead or Lead(stage=Stage.NEW)
    lead.contact = contact
    recycled = won_back is not None or lead.source == RECYCLED
    apply_facts(lead, facts, language, RECYCLED if recycled else source)
    lead.territory = found.code if found else lead.territory
    conversation.lead = lead
    cause = f"territory {found.code} from {found.origin}" if found and found.origin else None
    qualify(session, lead, verdict, now, cause=cause)
    return lead_out(lead)


def apply_facts(lead: Lead, facts: LeadFacts, language: str, source: str | None) -> None:
    """Copy what the visitor told (or a file says) onto the lead; the contact's fields are dedup's."""
    lead.need = facts.need
    lead.budget_amount = facts.budget_amount
    lead.budget_currency = facts.budget_currency
    lead.budget_none_yet = facts.budget_none_yet
    lead.authority = facts.authority
    lead.timeline_days = facts.timeline_days
    lead.company_size = facts.company_size
    lead.consent = facts.consent
    lead.just_asking = facts.just_asking
    lead.bought_competitor = facts.bought_competitor
    lead.language = language
    lead.source = source or lead.source


def correct_lead(
    session: Session,
    facts: LeadFacts,
    conversation_ref: ConversationRef,
    language: str = "en",
    source: str | None = None,
) -> LeadOut:
    """A visitor corrects what they said after their lead was saved ("actually my e-mail is …").

    A corrected e-mail or phone replaces the old one on the lead's own contact, so a mistyped address does
    not live on as a second contact (unless another contact already has the new value: then capture_lead
    links the lead to that one, as for any returning visitor). Then the lead is captured again with all the
    facts, so its score, class and routing follow the correction.
    """
    conversation = conversation_for(session, conversation_ref.channel, conversation_ref.sender_id)
    contact = conversation.lead.contact if conversation.lead is not None else None
    if contact is not None:
        email = _lenient(normalize_email, facts.email)
        phone = _lenient(normalize_phone, facts.phone)
        if email and session.scalar(select(Contact.id).where(Contact.email == email)) is None:
            contact.email = email
        if phone and session.scalar(select(Contact.id).where(Contact.phone == phone)) is None:
            contact.phone = phone
        session.flush()
    return capture_lead(session, facts, conversation_ref, language=language, source=source)


def lead_out(lead: Lead | LeadRow, now: datetime | None = None, scorer: WinScorer | None = None) -> LeadOut:
    """The lead as callers see it; with ``scorer``, an open lead also gets its learned win probability."""
    win_probability, win_factors = scorer.score(lead) if scorer else (None, [])
    conversation = lead.conversations[0] if lead.conversations else None
    contact = lead.contact
    return LeadOut(
        id=lead.id,
        name=contact.name,
        email=contact.email,
        phone=contact.phone,
        company=contact.company,
        need=lead.need,
        budget_amount=lead.budget_amount,
        budget_currency=lead.budget_currency,
        authority=lead.authority,
        timeline_days=lead.timeline_days,
        consent=lead.consent,
        language=lead.language,
        source=lead.source,
        qualification=lead.qualification,
        temperature=lead.temperature,
        score=lead.score,
        reasons=lead.reasons,
        policy_version=lead.policy_version,
        recheck_on=lead.recheck_on,
        recycled_from_id=lead.recycled_from_id,
        stage=lead.stage,
        assigned_rep=lead.assigned_rep.name if lead.assigned_rep else None,
        assigned_rep_id=lead.assigned_rep_id,
        channel=conversation.channel if conversation else None,
        conversation_id=conversation.sender_id if conversation else None,
        created_at=lead.created_at,
        accept_by=lead.sla_due_at if lead.accepted_at is None else None,
        overdue=is_overdue(lead, now),
        win_probability=win_probability,
        win_factors=win_factors,
    )


_LEAD_RELATIONS = (
    joinedload(Lead.contact),
    joinedload(Lead.assigned_rep),
    selectinload(Lead.conversations),
)


class LeadSort(enum.StrEnum):
    """The orders a lead list can be read in; ties are broken by id (newest first)."""

    NEWEST = "newest"
    OLDEST = "oldest"
    SCORE = "score"  # highest first
    NAME = "name"  # the contact's name, A to Z
    ACCEPT_BY = "accept_by"  # the nearest acceptance deadline first; leads without one last


class LeadQuery(BaseModel):
    """What a lead list shows: a search, filters (all must hold) and an order. Empty: every lead, newest
    first. ``text`` is looked for in the contact's name, company, e-mail and phone (and a number is also a
    lead id); ``unassigned`` means no owner (then ``rep_id`` must be unset)."""

    model_config = ConfigDict(frozen=True)

    text: Search | None = None
    qualification: Qualification | None = None
    temperature: Temperature | None = None
    stage: Stage | None = None
    rep_id: Id | None = None
    unassigned: bool = False
    source: Search | None = None
    language: Annotated[Search, Field(max_length=8)] | None = None
    overdue: bool | None = None
    sort: LeadSort = LeadSort.NEWEST


def _search(text: str) -> ColumnElement[bool]:
    pattern = "%" + text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    matches: list[ColumnElement[bool]] = [
        func.lower(Contact.name).like(pattern, escape="\\"),
        func.lower(Contact.company).like(pattern, escape="\\"),
        func.lower(Contact.email).like(pattern, escape="\\"),
    ]
    digits = "".join(c for c in text if c.isdigit())
    if len(digits) >= 3:  # phones are stored as +E.164: match the digits whatever the spacing typed
        matches.append(Contact.phone.like(f"%{digits}%"))
    lead_id = as_number(text.strip().lstrip("#"), low=1)
    if lead_id is not None:
        matches.append(Lead.id == lead_id)
    return or_(*matches)


SortKey = tuple[ColumnElement[Any] | QueryableAttribute[Any], bool, bool]  # (column, descending, NULLs last)


def sort_keys(sort: LeadSort) -> list[SortKey]:
    """The columns a list in this order is sorted by: the lead list's and each board column's order."""
    if sort is LeadSort.OLDEST:
        return [(Lead.id, False, False)]
    if sort is LeadSort.SCORE:
        return [(Lead.score, True, False), (Lead.id, True, False)]
    # NULLS LAST (both databases know it) is PostgreSQL's B-tree order: the column's index can serve it there
    if sort is LeadSort.NAME:
        return [(Contact.name, False, True), (Lead.id, True, False)]
    if sort is LeadSort.ACCEPT_BY:
        return [(Lead.sla_due_at, False, True), (Lead.id, True, False)]
    return [(Lead.id, True, False)]


def ordering(keys: Sequence[SortKey]) -> list[ColumnElement[Any]]:
    """ORDER BY clauses for ``sort_keys`` (or the same keys read from a subquery)."""
    return [
        column.desc() if descending else column.asc().nulls_last() if nulls_last else column.asc()
        for column, descending, nulls_last in keys
    ]


def lead_page_ids(query: LeadQuery, limit: int, offset: int, now: datetime) -> Select[int]:
    """The ids of one page of ``query``'s leads, in its order: the filters and order read the leads
    table's indexes ((stage, id), (rep, id), (score, id), …), joining contacts only to search or sort by
    name, so that skipping ``offset`` rows costs index entries, not scattered table rows."""
    page = select(Lead.id)
    text = (query.text or "").strip()
    if text or query.sort is LeadSort.NAME:
        page = page.join(Contact, Contact.id == Lead.contact_id)
    if text:
        page = page.where(_search(text))
    if query.stage is not None:
        page = page.where(Lead.stage == query.stage)
    if query.qualification is not None:
        page = page.where(Lead.qualification == query.qualification)
    if query.temperature is not None:
        page = page.where(Lead.temperature == query.temperature)
    if query.unassigned:
        page = page.where(Lead.assigned_rep_id.is_(None))
    elif query.rep_id is not None:
        page = page.where(Lead.assigned_rep_id == query.rep_id)
    if query.source:
        page = page.where(Lead.source == query.source)
    if query.language:
        page = page.where(Lead.language == query.language)
    owned = query.rep_id is not None and not query.unassigned  # one rep's leads: see overdue_condition
    if query.overdue is True:
        page = page.where(overdue_condition(now, owned))
    elif query.overdue is False:
        page = page.where(~overdue_condition(now, owned))
    return page.order_by(*ordering(sort_keys(query.sort))).limit(limit).offset(offset)


def list_leads(
    session: Session,
    limit: int = 100,
    offset: int = 0,
    query: LeadQuery | None = None,
    now: datetime | None = None,
) -> list[LeadOut]:
    """A page of the leads ``query`` finds (every lead, newest first, without one).

    The page's ids are found first, from the indexes alone (``lead_page_ids``), and only those rows are read.
    Ask for one more than a page to know whether another page follows.
    """
    query = query or LeadQuery()
    now = now or utcnow()
    return leads_by_ids(session, list(session.scalars(lead_page_ids(query, limit, offset, now))), now)


def leads_by_ids(session: Session, ids: list[int], now: datetime | None = None) -> list[LeadOut]:
    """The leads with these ids, in this order, read in one go as plain rows (``lead_rows``: with contacts,
    owners and conversations, no ORM objects), open ones scored by the newest win model (loaded once for
    all of them). The board, the console's lists and the API's all read leads through here."""
    now = now or utcnow()
    rows = lead_rows(session, ids)
    scorer = win_scorer(session, now) if rows else None
    return [lead_out(rows[lead_id], now, scorer) for lead_id in ids if lead_id in rows]


def get_lead(session: Session, lead_id: int) -> LeadOut:
    lead = session.scalar(select(Lead).options(*_LEAD_RELATIONS).where(Lead.id == lead_id))
    if lead is None:
        raise NotFound(f"No lead with id {lead_id}.")
    return lead_out(lead, scorer=win_scorer(session))
