"""The sales pipeline: configurable stages, the history of moves, and the one function that moves a deal.

A lead's stage belongs to its lifecycle (``crm_core.sales.lifecycle``), which checks moves with the same
rules.

Every move is written to ``stage_changes`` with its time, so cycle length and velocity come from
history rather than from the current state.
"""

from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from crm_core.config import get_settings
from crm_core.db import author_of
from crm_core.errors import InvalidInput, InvalidTransition, NotFound
from crm_core.models import Deal, Lead, Stage, StageChange, StageTimeTally, stage_bit, utcnow
from crm_core.qualification.policy_store import active_policy


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StageConfig(_Strict):
    name: Stage
    probability: float = Field(ge=0, le=1)
    terminal: bool = False


class SlaConfig(_Strict):
    accept_minutes: int = Field(ge=1)
    max_passes: int = Field(ge=1)


# The reason a deal lost together with its lead is given (unless the lead's move names one of the list).
LOST_WITH_LEAD = "lead lost"


class PipelineConfig(_Strict):
    stages: list[StageConfig] = Field(min_length=2)
    sla: SlaConfig
    default_currency: str = Field(pattern=r"^[A-Z]{3}$")  # what a new deal's currency field offers
    # Why a deal can be lost: moving one to lost asks for one of these (the lost-reasons KPI counts them).
    lost_reasons: list[str] = Field(
        default=["price", "competitor", "no budget", "timing", "no decision", "no response", "other"],
        min_length=1,
    )

    @model_validator(mode="after")
    def _check(self) -> "PipelineConfig":
        names = [stage.name for stage in self.stages]
        if len(set(names)) != len(names):
            raise ValueError("a stage is listed twice")
        if Stage.WON not in names or Stage.LOST not in names:
            raise ValueError("the pipeline needs the won and lost stages")
        if not (self.stage(Stage.WON).terminal and self.stage(Stage.LOST).terminal):
            raise ValueError("won and lost must be terminal")
        return self

    def stage(self, name: Stage) -> StageConfig:
        for stage in self.stages:
            if stage.name is name:
                return stage
        raise InvalidTransition(f"Stage '{name.value}' is not part of the configured pipeline.")

    def order(self, name: Stage) -> int:
        """Position in the pipeline; a stage dropped from the configuration counts as before the first."""
        names = [stage.name for stage in self.stages]
        return names.index(name) if name in names else -1

    def probability(self, name: Stage) -> float:
        return self.stage(name).probability

    def is_terminal(self, name: Stage) -> bool:
        return any(stage.name is name and stage.terminal for stage in self.stages)

    @property
    def open_stages(self) -> list[Stage]:
        return [stage.name for stage in self.stages if not stage.terminal]

    @property
    def terminal_stages(self) -> list[Stage]:
        return [stage.name for stage in self.stages if stage.terminal]

    def lost_reason(self, text: str | None, what: str) -> str:
        """The configured lost reason ``text`` names (any case), or InvalidInput listing them."""
        wanted = (text or "").strip().lower()
        for reason in self.lost_reasons:
            if reason.lower() == wanted:
                return reason
        listed = ", ".join(self.lost_reasons)
        if not wanted:
            raise InvalidInput(f"Say why {what} was lost: one of {listed}.")
        raise InvalidInput(f"'{text}' is not a lost reason: use one of {listed}.")

    def check_move(self, current: Stage, target: Stage, reopen: bool = False) -> None:
        """Raise InvalidTransition unless ``current`` → ``target`` is allowed."""
        self.stage(target)
        if current is target:
            raise InvalidTransition(f"It is already in stage '{target.value}'.")
        if self.is_terminal(current):
            if not reopen:
                raise InvalidTransition(
                    f"'{current.value}' is final: reopen it explicitly to move it to '{target.value}'."
                )
            if self.is_terminal(target):
                raise InvalidTransition(f"Reopening moves to an open stage, not to '{target.value}'.")
            return
        if reopen:
            raise InvalidTransition(f"Only won or lost can be reopened; it is in '{current.value}'.")
        if self.is_terminal(target):
            return
        if self.order(target) < self.order(current):
            raise InvalidTransition(
                f"Cannot move back from '{current.value}' to '{target.value}': stages move forward."
            )


def load_pipeline(path: Path) -> PipelineConfig:
    with path.open(encoding="utf-8") as handle:
        return PipelineConfig.model_validate(yaml.safe_load(handle))


@lru_cache
def _cached(path: Path) -> PipelineConfig:
    return load_pipeline(path)


def current_pipeline() -> PipelineConfig:
    return _cached(get_settings().pipeline_file)


def parse_stage(value: Stage | str) -> Stage:
    """A stage from user text, with a message listing the valid names."""
    if isinstance(value, Stage):
        return value
    try:
        return Stage(value.strip().lower())
    except ValueError:
        names = ", ".join(stage.value for stage in Stage)
        raise InvalidInput(f"Unknown stage '{value}': use one of {names}.") from None


def aware(at: datetime | None) -> datetime:
    if at is None:
        return utcnow()
    if at.tzinfo is None:
        raise InvalidInput("Times must carry a time zone (UTC).")
    return at


def record_stage(
    session: Session,
    item: Lead | Deal,
    from_stage: Stage | None,
    at: datetime | None = None,
    reason: str | None = None,
) -> StageChange:
    """Write one history row for ``item``'s current stage (also used when it is first created).

    The item keeps what KPIs need from its history: a lead the stages it reached (the funnel), a deal
    its first row and latest move to won (the sales cycle)."""
    lead_id, deal_id = (item.lead_id, item.id) if isinstance(item, Deal) else (item.id, None)
    when = aware(at)
    if from_stage is not None:
        _count_time_in(session, lead_id, deal_id, from_stage, when)
    if isinstance(item, Lead):
        item.reached_stages = (item.reached_stages or 0) | stage_bit(item.stage)
        if item.stage is Stage.SQL and item.qualified_at is None:
            item.qualified_at = when
        if item.stage is Stage.CONTACTED:
            note_first_contact(item, when)
    change = StageChange(
        lead_id=lead_id,
        deal_id=deal_id,
        from_stage=from_stage,
        to_stage=item.stage,
        changed_at=when,
        reason=reason,
        made_by=author_of(session),
    )
    if isinstance(item, Deal):
        when = change.changed_at
        item.first_stage_at = min(item.first_stage_at or when, when)
        if item.stage is Stage.WON:
            item.won_at = max(item.won_at or when, when)
    session.add(change)
    session.flush()
    return change


def _count_time_in(
    session: Session, lead_id: int | None, deal_id: int | None, stage: Stage, left_at: datetime
) -> None:
    """Add a move out of ``stage`` to its day's ``stage_time_tallies`` row, with the days since the item's
    previous history row (when it entered the stage)."""
    of_item = StageChange.deal_id == deal_id if deal_id is not None else StageChange.deal_id.is_(None)
    entered = session.scalar(
        select(func.max(StageChange.changed_at)).where(StageChange.lead_id == lead_id, of_item)
    )
    if entered is None:
        return
    days = (left_at - entered).total_seconds() / 86400
    connection = session.connection()
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    statement = insert(StageTimeTally).values(
        day=left_at.astimezone(UTC).date(), of_deals=deal_id is not None, stage=stage, moves=1, days=days
    )
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=[StageTimeTally.day, StageTimeTally.of_deals, StageTimeTally.stage],
            set_={
                "moves": StageTimeTally.moves + statement.excluded.moves,
                "days": StageTimeTally.days + statement.excluded.days,
            },
        )
    )


def note_first_contact(lead: Lead, at: datetime) -> None:
    """A call, e-mail or meeting, the move to contacted or a rep's message: the first one after the lead
    became SQL is its first contact (speed to lead)."""
    qualified = lead.qualified_at
    if qualified is None or at < qualified:
        return
    if lead.first_contact_at is None or at < lead.first_contact_at:
        lead.first_contact_at = at


def note_acceptance(lead: Lead, rep_id: int, at: datetime) -> None:
    """The first acceptance after the lead became SQL, and by whom (speed to lead counts it for them)."""
    if lead.qualified_at is not None and lead.first_accepted_at is None and at >= lead.qualified_at:
        lead.first_accepted_at = at
        lead.accepted_by_id = rep_id


def recheck_date(session: Session, stage: Stage, chosen: date | None, when: datetime) -> date | None:
    """When a deal or lead moved to ``stage`` is looked at again (``crm_core.outreach.winback``): only a lost
    one, on the day chosen when it was lost (today or later), else the policy's ``nurture_recheck_days``
    on."""
    if stage is not Stage.LOST:
        if chosen is not None:
            raise InvalidInput("A re-check date goes with a move to lost.", "recheck_on")
        return None
    if chosen is None:
        return when.date() + timedelta(days=active_policy(session).nurture_recheck_days)
    if chosen < when.date():
        raise InvalidInput(f"The re-check date {chosen} is in the past: choose today or later.", "recheck_on")
    return chosen


def move(
    session: Session,
    deal: Deal,
    target: Stage | str,
    *,
    reopen: bool = False,
    at: datetime | None = None,
    reason: str | None = None,
    lost_reason: str | None = None,
    recheck_on: date | None = None,
    pipeline: PipelineConfig | None = None,
) -> StageChange:
    """Move a deal to ``target`` if the pipeline allows it, and record the move.

    Lost asks why: ``lost_reason`` must be one of the pipeline's ``lost_reasons`` (``reason`` adds a note),
    and sets the deal's re-check (``recheck_on``, else the policy's days; none for a deal lost with its lead,
    whose own re-check covers it).
    A refused move raises InvalidTransition (or InvalidInput) before anything is changed. A lead's stage
    moves with the rest of its lifecycle: ``crm_core.sales.lifecycle.move``.
    """
    if not isinstance(deal, Deal):
        raise TypeError("A lead's stage changes through crm_core.sales.lifecycle.move.")
    if deal.lead_id is None:
        raise InvalidTransition(
            f"Deal {deal.id} belonged to an erased contact: it stays as it was, for the KPIs."
        )
    pipeline = pipeline or current_pipeline()
    stage = parse_stage(target)
    when = aware(at)
    previous = deal.stage
    pipeline.check_move(previous, stage, reopen=reopen)
    why = None
    if stage is Stage.LOST:
        known = lost_reason == LOST_WITH_LEAD
        why = LOST_WITH_LEAD if known else pipeline.lost_reason(lost_reason, f"deal {deal.id}")
    deal.recheck_on = None if why == LOST_WITH_LEAD else recheck_date(session, stage, recheck_on, when)
    deal.stage = stage
    deal.closed_at = when if pipeline.is_terminal(stage) else None
    deal.lost_reason = why
    note = reason or ("reopened" if reopen else None)
    if why is not None:
        note = f"lost: {why}" + (f"; {note}" if note else "")
    return record_stage(session, deal, previous, at=when, reason=note)


def move_deal(
    session: Session,
    deal_id: int,
    target: Stage | str,
    *,
    reopen: bool = False,
    reason: str | None = None,
    lost_reason: str | None = None,
    recheck_on: date | None = None,
) -> StageChange:
    deal = session.get(Deal, deal_id)
    if deal is None:
        raise NotFound(f"No deal with id {deal_id}.")
    return move(
        session, deal, target, reopen=reopen, reason=reason, lost_reason=lost_reason, recheck_on=recheck_on
    )


def history(session: Session, lead_id: int) -> list[StageChange]:
    """Every recorded move of the lead and of its deals, oldest first."""
    if session.get(Lead, lead_id) is None:
        raise NotFound(f"No lead with id {lead_id}.")
    return list(
        session.scalars(
            select(StageChange)
            .where(StageChange.lead_id == lead_id)
            .order_by(StageChange.changed_at, StageChange.id)
        )
    )
