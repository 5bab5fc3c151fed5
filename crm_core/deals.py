"""Deals: the value, currency and expected close date of an opportunity on a lead."""

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_core.errors import InvalidInput, NotFound
from crm_core.models import Deal, Lead
from crm_core.pipeline import PipelineConfig, current_pipeline, record_stage
from crm_core.schemas import DealOut, NewDeal


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
