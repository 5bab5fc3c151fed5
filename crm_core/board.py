"""The pipeline board: a column per pipeline stage, in the pipeline's order, with that stage's leads.

Each column is one page of ``leads.list_leads`` (the board's query with the column's stage), so the board
reads the same indexes as a lead list and shows the same leads a list with those filters would. Cards move
through ``crm_core.lifecycle.move`` like every other stage change.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from crm_core.leads import LeadQuery, list_leads
from crm_core.models import Stage, utcnow
from crm_core.pipeline import current_pipeline
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
    columns = []
    for stage in pipeline.stages:
        found = list_leads(session, per_stage + 1, 0, query.model_copy(update={"stage": stage.name}), now)
        columns.append(
            BoardColumn(
                stage.name, pipeline.is_terminal(stage.name), found[:per_stage], len(found) > per_stage
            )
        )
    return columns
