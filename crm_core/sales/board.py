"""The pipeline board: a column per pipeline stage, in the pipeline's order, with that stage's leads.

Each column is one page of the lead list's query (``leads.lead_page_ids`` with the column's stage), so the
board reads the same indexes as a lead list and shows the same leads a list with those filters would. All
columns' pages are read in one statement (``board_page_ids``), then the cards' rows once for all columns.
Cards move through ``crm_core.sales.lifecycle.move`` like every other stage change.
"""

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from sqlalchemy import Select, literal_column, select, union_all
from sqlalchemy.orm import Session

from crm_core.models import Stage, utcnow
from crm_core.sales.leads import LeadQuery, lead_page_ids, leads_by_ids, ordering, sort_keys
from crm_core.sales.pipeline import current_pipeline
from crm_core.schemas import LeadOut


@dataclass(frozen=True)
class BoardColumn:
    stage: Stage
    terminal: bool  # won / lost: its cards are moved out only by reopening them
    leads: list[LeadOut]
    more: bool  # the column has more leads than it shows (the lead list has them all)


def board_page_ids(query: LeadQuery, stages: list[Stage], limit: int, now: datetime) -> Select[int, int]:
    """(column, lead id) rows: for each stage (column = its position in ``stages``) the first ``limit`` ids
    of ``query`` with that stage, column by column in the query's order. One statement, one round trip:
    a UNION ALL of the lead list's page query per stage (each still stops after ``limit`` index entries),
    sorted again by column and the same keys, since a UNION ALL by itself promises no order.

    Building it (eight page queries, their subqueries, the union) costs more than running it, so a statement
    that does not depend on ``now`` (no overdue filter) is built once per query, stages and limit and kept
    (``_page_ids``): statements are immutable, and the same one serves every board with those inputs."""
    if query.overdue is None:
        return _page_ids(query, tuple(stages), limit)
    return _build_page_ids(query, stages, limit, now)


@lru_cache(maxsize=256)
def _page_ids(query: LeadQuery, stages: tuple[Stage, ...], limit: int) -> Select[int, int]:
    # ``now`` is only read by the overdue filter, which this query has not got
    return _build_page_ids(query, list(stages), limit, utcnow())


def _build_page_ids(query: LeadQuery, stages: list[Stage], limit: int, now: datetime) -> Select[int, int]:
    keys = sort_keys(query.sort)
    parts = []
    for column, stage in enumerate(stages):
        page = lead_page_ids(query.model_copy(update={"stage": stage}), limit, 0, now)
        page = page.add_columns(*(key.label(f"key{i}") for i, (key, _, _) in enumerate(keys)))
        one = page.subquery()
        parts.append(
            select(
                literal_column(str(column)).label("board_column"),
                one.c.id,
                *(one.c[f"key{i}"] for i in range(len(keys))),
            )
        )
    pages = union_all(*parts).subquery()
    by_column = [(pages.c[f"key{i}"], descending, nulls) for i, (_, descending, nulls) in enumerate(keys)]
    return select(pages.c.board_column, pages.c.id).order_by(pages.c.board_column, *ordering(by_column))


def board(
    session: Session, query: LeadQuery | None = None, per_stage: int = 25, now: datetime | None = None
) -> list[BoardColumn]:
    """The board for ``query`` (its stage is each column's own): up to ``per_stage`` cards a column, in the
    query's order (newest first by default)."""
    query = query or LeadQuery()
    now = now or utcnow()
    pipeline = current_pipeline()
    stages = [stage.name for stage in pipeline.stages]
    pages: dict[Stage, list[int]] = {stage: [] for stage in stages}
    for column, lead_id in session.execute(board_page_ids(query, stages, per_stage + 1, now)):
        pages[stages[column]].append(lead_id)
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
