"""Capturing and reading leads; their lifecycle is ``crm_core.lifecycle``."""

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from crm_core.conversations import conversation_for
from crm_core.dedup import _lenient, normalize_email, normalize_phone, resolve_contact
from crm_core.errors import NotFound
from crm_core.lifecycle import qualify
from crm_core.models import Contact, Lead, Qualification, Stage
from crm_core.pipeline import current_pipeline
from crm_core.policy import LeadFacts, Policy
from crm_core.policy import qualify as verdict_on
from crm_core.policy_store import active_policy
from crm_core.schemas import ConversationRef, LeadOut
from crm_core.territories import Territory, territory_of


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
    while an open lead exists, updates that lead rather than creating a second one.
    """
    verdict = verdict_on(facts, policy or active_policy(session))
    contact = resolve_contact(session, facts.name, facts.email, facts.phone, facts.company)
    conversation = conversation_for(session, conversation_ref.channel, conversation_ref.sender_id)
    given = Territory(territory.strip().upper(), None) if territory else None
    found = given or territory_of(session, contact.phone, conversation)
    lead = conversation.lead or _returning_lead(session, contact) or Lead(stage=Stage.NEW)
    lead.contact = contact
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
    lead.territory = found.code if found else lead.territory
    conversation.lead = lead
    cause = f"territory {found.code} from {found.origin}" if found and found.origin else None
    qualify(session, lead, verdict, now, cause=cause)
    return lead_out(lead)


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


def lead_out(lead: Lead) -> LeadOut:
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
        stage=lead.stage,
        assigned_rep=lead.assigned_rep.name if lead.assigned_rep else None,
        assigned_rep_id=lead.assigned_rep_id,
        channel=conversation.channel if conversation else None,
        conversation_id=conversation.sender_id if conversation else None,
        created_at=lead.created_at,
    )


_LEAD_RELATIONS = (
    selectinload(Lead.contact),
    selectinload(Lead.assigned_rep),
    selectinload(Lead.conversations),
)


def list_leads(
    session: Session,
    limit: int = 100,
    offset: int = 0,
    *,
    stage: Stage | None = None,
    qualification: Qualification | None = None,
    rep_id: int | None = None,
    source: str | None = None,
) -> list[LeadOut]:
    """A page of leads, newest first, optionally filtered.

    The page's ids are found first, from an index alone ((stage, id) or (rep, id)), and only those rows
    are read: skipping ``offset`` rows then costs index entries, not scattered table rows.
    """
    page = select(Lead.id)
    if stage is not None:
        page = page.where(Lead.stage == stage)
    if qualification is not None:
        page = page.where(Lead.qualification == qualification)
    if rep_id is not None:
        page = page.where(Lead.assigned_rep_id == rep_id)
    if source is not None:
        page = page.where(Lead.source == source)
    page = page.order_by(Lead.id.desc()).limit(limit).offset(offset)
    leads = session.scalars(
        select(Lead)
        .options(*_LEAD_RELATIONS)
        .where(Lead.id.in_(page.scalar_subquery()))
        .order_by(Lead.id.desc())
    )
    return [lead_out(lead) for lead in leads]


def get_lead(session: Session, lead_id: int) -> LeadOut:
    lead = session.scalar(select(Lead).options(*_LEAD_RELATIONS).where(Lead.id == lead_id))
    if lead is None:
        raise NotFound(f"No lead with id {lead_id}.")
    return lead_out(lead)
