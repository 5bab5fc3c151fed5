"""Deals: the value, currency and expected close date of an opportunity on a lead; opened, edited and
deleted here, moved between stages by ``pipeline.move_deal``.

A closed deal (won or lost) is the record the KPIs count: it is neither edited nor deleted (reopen it
first), and a won or lost lead's deals are its record too (reopen the lead first).
"""

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from crm_core.db import author_of
from crm_core.errors import InvalidInput, InvalidTransition, NotFound
from crm_core.models import Deal, DealEdit, Lead, Stage, StageChange
from crm_core.sales.pipeline import PipelineConfig, current_pipeline, record_stage
from crm_core.schemas import DealOut, DealUpdate, NewDeal


def open_deal(
    session: Session,
    lead_id: int,
    new_deal: NewDeal,
    at: datetime | None = None,
    pipeline: PipelineConfig | None = None,
) -> DealOut:
    """Create a deal on a lead, in the given stage or the lead's own (open) stage; history starts now."""
    pipeline = pipeline or current_pipeline()
    lead = session.get(Lead, lead_id)
    if lead is None:
        raise NotFound(f"No lead with id {lead_id}.")
    stage = new_deal.stage or lead.stage
    if pipeline.is_terminal(stage):
        raise InvalidInput(f"A new deal must start in an open stage, not '{stage.value}'.")
    pipeline.stage(stage)
    deal = Deal(
        lead_id=lead.id,
        title=new_deal.title,
        value=new_deal.value,
        currency=new_deal.currency,
        expected_close_date=new_deal.expected_close_date,
        stage=stage,
    )
    if at is not None:
        deal.created_at = at
    session.add(deal)
    session.flush()
    record_stage(session, deal, None, at=deal.created_at, reason="opened")
    return DealOut.model_validate(deal)


def get_deal(session: Session, deal_id: int) -> DealOut:
    deal = session.get(Deal, deal_id)
    if deal is None:
        raise NotFound(f"No deal with id {deal_id}.")
    return DealOut.model_validate(deal)


def list_deals(session: Session, lead_id: int | None = None) -> list[DealOut]:
    query = select(Deal).order_by(Deal.id)
    if lead_id is not None:
        query = query.where(Deal.lead_id == lead_id)
    return [DealOut.model_validate(deal) for deal in session.scalars(query)]


def _changeable(session: Session, deal_id: int, doing: str) -> Deal:
    """The deal, if it and its lead are still open; otherwise why not, and what to do instead."""
    deal = session.get(Deal, deal_id)
    if deal is None:
        raise NotFound(f"No deal with id {deal_id}.")
    pipeline = current_pipeline()
    lead = session.get(Lead, deal.lead_id)
    if lead is not None and pipeline.is_terminal(lead.stage):
        raise InvalidTransition(
            f"Lead {lead.id} is {lead.stage.value} and deal #{deal.id} is part of that record: "
            f"reopen the lead before you {doing} it."
        )
    if pipeline.is_terminal(deal.stage):
        raise InvalidTransition(
            f"Deal #{deal.id} is {deal.stage.value}: closed deals are what the KPIs count. "
            f"Reopen it before you {doing} it."
        )
    return deal


def _record_edit(session: Session, deal: Deal, change: str) -> None:
    if deal.lead_id is not None:
        edit = DealEdit(lead_id=deal.lead_id, deal_id=deal.id, change=change, made_by=author_of(session))
        session.add(edit)


def update_deal(session: Session, deal_id: int, changes: DealUpdate) -> DealOut:
    """Change an open deal's title, value, currency or expected close date (only the fields given); the
    change is kept in ``deal_edits`` with who made it."""
    deal = _changeable(session, deal_id, "edit")
    given = changes.model_fields_set
    before = DealOut.model_validate(deal)
    for name in ("title", "value", "currency"):
        if name in given:
            if getattr(changes, name) is None:
                raise InvalidInput(f"A deal's {name} cannot be empty.")
            setattr(deal, name, getattr(changes, name))
    if "expected_close_date" in given:
        deal.expected_close_date = changes.expected_close_date
    session.flush()
    session.refresh(deal)  # the value as stored (two decimals)
    after = DealOut.model_validate(deal)
    changed = [
        f"{name.replace('_', ' ')} {getattr(before, name) or '–'} → {getattr(after, name) or '–'}"
        for name in ("title", "value", "currency", "expected_close_date")
        if getattr(before, name) != getattr(after, name)
    ]
    if changed:
        _record_edit(session, deal, f"deal #{deal.id} edited: " + "; ".join(changed))
        session.flush()
    return after


def delete_deal(session: Session, deal_id: int) -> DealOut:
    """Delete an open deal (e.g. one opened by mistake) with its stage history; returns what it was."""
    deal = _changeable(session, deal_id, "delete")
    gone = DealOut.model_validate(deal)
    _record_edit(session, deal, f"deal #{deal.id} '{deal.title}' ({deal.value} {deal.currency}) deleted")
    session.execute(delete(StageChange).where(StageChange.deal_id == deal.id))
    session.delete(deal)
    session.flush()
    return gone


def restore_deal(
    session: Session,
    lead_id: int,
    new_deal: NewDeal,
    stages: list[tuple[Stage, datetime]],
    lost_reason: str | None = None,
) -> DealOut:
    """Bring back a deal as another database recorded it (``csv_io``'s import): created at its first
    history row, then every move as it happened; closed at its last move to won or lost."""
    if not stages:
        raise InvalidInput("A restored deal needs at least one stage in its history.")
    pipeline = current_pipeline()
    first_stage, created_at = stages[0]
    deal = Deal(
        lead_id=lead_id,
        title=new_deal.title,
        value=new_deal.value,
        currency=new_deal.currency,
        expected_close_date=new_deal.expected_close_date,
        stage=first_stage,
        created_at=created_at,
    )
    session.add(deal)
    session.flush()
    previous: Stage | None = None
    for stage, at in stages:
        deal.stage = stage
        deal.closed_at = at if pipeline.is_terminal(stage) else None
        record_stage(session, deal, previous, at=at, reason="imported" if previous is None else None)
        previous = stage
    deal.lost_reason = lost_reason if deal.stage is Stage.LOST else None
    return DealOut.model_validate(deal)
