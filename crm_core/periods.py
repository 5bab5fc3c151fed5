"""The period a KPI page covers ([since, until), UTC), and the SQL for times within it and spans between."""

from datetime import UTC, date, datetime, time, timedelta
from typing import Any, NamedTuple

from pydantic import BaseModel
from sqlalchemy import ColumnElement, extract, func
from sqlalchemy.orm import InstrumentedAttribute, Session

Expr = ColumnElement[Any] | InstrumentedAttribute[Any]  # a column, or an expression of columns


class Period(BaseModel):
    since: datetime | None = None
    until: datetime | None = None


def as_utc(moment: datetime | date | None) -> datetime | None:
    """A day is its UTC midnight; a naive time is taken as UTC."""
    if moment is None:
        return None
    if not isinstance(moment, datetime):
        return datetime.combine(moment, time(), tzinfo=UTC)
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


class DaySplit(NamedTuple):
    """A period cut for the daily tallies: whole UTC days [first_day, last_day) are added up from a tally
    (when ``whole_days``; None: no bound), the ``partial`` spans at either end counted from the rows."""

    whole_days: bool
    first_day: date | None
    last_day: date | None
    partial: list[tuple[datetime, datetime]]


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


def split_days(since: datetime | None, until: datetime | None) -> DaySplit:
    """[since, until) (UTC) as whole days and the part of a day at either end (at most a day each)."""
    since, until = as_utc(since), as_utc(until)
    first_day = None if since is None else since.date() + timedelta(days=since.time() != time())
    last_day = None if until is None else until.date()
    if not (first_day is None or last_day is None or first_day < last_day):
        return DaySplit(False, None, None, [(since, until)] if since < until else [])  # type: ignore[operator,list-item]
    partial = []
    if since is not None and first_day is not None and since < midnight(first_day):
        partial.append((since, midnight(first_day)))
    if until is not None and last_day is not None and midnight(last_day) < until:
        partial.append((midnight(last_day), until))
    return DaySplit(True, first_day, last_day, partial)


def within(
    column: Expr, since: datetime | date | None, until: datetime | date | None
) -> list[ColumnElement[bool]]:
    """SQL conditions: ``column`` in [since, until); no bound, no condition."""
    conditions = []
    if since is not None:
        conditions.append(column >= as_utc(since))
    if until is not None:
        conditions.append(column < as_utc(until))
    return conditions


def days_between(session: Session, start: Expr, end: Expr) -> ColumnElement[Any]:
    """SQL: days from ``start`` to ``end`` (SQLite keeps times as text, PostgreSQL as timestamps)."""
    if session.get_bind().dialect.name == "postgresql":
        return extract("epoch", end - start) / 86400
    return func.julianday(end) - func.julianday(start)
