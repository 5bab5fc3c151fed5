"""Whether the score and the temperature predict outcomes: closed leads' win rate per score band and per
temperature (hot / warm / cold), so a team can see whether hot really converts better.

Over leads created in the period [since, until) that are closed (won or lost), each counted by the score
and temperature the policy gave it when it was classed: win rate = won / (won + lost). Bands are 20 points
wide (0–19 … 80–100, ``models.score_band``). Whole UTC days are added up from the daily
``outcome_tallies`` (kept by ``models._keep_counters``); the part of a day at either end of the period is
grouped from the leads themselves, by ``ix_leads_stage_created_outcome`` (stage, creation time, score,
temperature).
"""

from collections import defaultdict
from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from crm_core.models import Lead, OutcomeTally, Stage, Temperature
from crm_core.periods import split_days, within

BAND_WIDTH = 20
BANDS = [(low, low + BAND_WIDTH - 1 if low < 80 else 100) for low in range(0, 100, BAND_WIDTH)]


class ConversionRow(BaseModel):
    label: str  # "0–19", or a temperature
    closed: int  # won + lost
    won: int
    win_rate: float | None


class ScoringConversion(BaseModel):
    by_score: list[ConversionRow]  # every band, lowest first, empty ones too
    by_temperature: list[ConversionRow]  # hot, warm, cold


def _row(label: str, closed: int, won: int) -> ConversionRow:
    return ConversionRow(label=label, closed=closed, won=won, win_rate=won / closed if closed else None)


def _band_label(low: int, high: int) -> str:
    return f"{low}–{high}"


def conversion_by_score(
    session: Session, since: datetime | None = None, until: datetime | None = None
) -> ScoringConversion:
    """Closed leads created in [since, until): win rate per score band and per temperature."""
    band = case(*((Lead.score <= high, low) for low, high in BANDS[:-1]), else_=BANDS[-1][0]).label("band")
    won = func.sum(case((Lead.stage == Stage.WON, 1), else_=0))
    days = split_days(since, until)
    groups: list[tuple[int, Temperature, int, int]] = []  # band, temperature, closed, won
    for start, end in days.partial:  # (band, temperature) groups of the leads, added up below
        groups += session.execute(
            select(band, Lead.temperature, func.count(), won)
            .where(Lead.stage.in_([Stage.WON, Stage.LOST]), *within(Lead.created_at, start, end))
            .group_by(band, Lead.temperature)
        ).all()
    if days.whole_days:
        tallied = select(
            OutcomeTally.band,
            OutcomeTally.temperature,
            func.sum(OutcomeTally.leads),
            func.sum(case((OutcomeTally.won, OutcomeTally.leads), else_=0)),
        ).group_by(OutcomeTally.band, OutcomeTally.temperature)
        if days.first_day is not None:
            tallied = tallied.where(OutcomeTally.day >= days.first_day)
        if days.last_day is not None:
            tallied = tallied.where(OutcomeTally.day < days.last_day)
        groups += session.execute(tallied).all()
    by_band: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    by_temperature: dict[Temperature, list[int]] = defaultdict(lambda: [0, 0])
    for low, temperature, count, wins in groups:
        for totals in (by_band[low], by_temperature[Temperature(temperature)]):
            totals[0] += int(count or 0)
            totals[1] += int(wins or 0)
    return ScoringConversion(
        by_score=[_row(_band_label(low, high), *by_band.get(low, [0, 0])) for low, high in BANDS],
        by_temperature=[_row(t.value, *by_temperature.get(t, [0, 0])) for t in Temperature],
    )
