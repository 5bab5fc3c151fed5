"""The pipeline board: a column per pipeline stage, in the pipeline's order, with that stage's leads.

Each column is one page of the lead list's query (``leads.lead_page_ids`` with the column's stage), so the
board reads the same indexes as a lead list and shows the same leads a list with those filters would; the
cards' rows are then read once for all columns. Cards move through ``crm_core.sales.lifecycle.move`` like
every other stage change.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from crm_core.models import Stage, utcnow
from crm_core.sales.leads import LeadQuery, lead_page_ids, leads_by_ids
from crm_core.sales.pipeline import current_pipeline
from crm_core.schemas import LeadOut


@dataclass(frozen=True)
class BoardColumn:
    stage: Stage
    terminal: bool  # won / lost: its cards are moved out only by reopening them
    leads: list[LeadOut]
    more: bool  # the column has more leads than it shows (the lead list has them all)


def board(
    session: Session, query: LeadQuery | None = None, per_stage: int = 25, now: datetime | None = None
) -> list[BoardColumn]:
    """The board for ``query`` (its stage is each column's own): up to ``per_stage`` cards a column, in the
    query's order (newest first by default)."""
    query = query or LeadQuery()
    now = now or utcnow()
    pipeline = current_pipeline()
    pages = {  # one index read per column, then every card's row at once
        stage.name: list(
            session.scalars(
                lead_page_ids(query.model_copy(update={"stage": stage.name}), per_stage + 1, 0, now)
            )
        )
        for stage in pipeline.stages
    }
    cards = {
        lead.id: lead
        for lead in leads_by_ids(session, [i for ids in pages.values() for i in ids[:per_stage]], now)
    }
    return [
        BoardColumn(
            stage,
            pipeline.is_terminal(stage),
            [cards[i] for i in ids[:per_stage] if i in cards],
            len(ids) > per_stage,
        )
        for stage, ids in pages.items()
    ]
