"""The period a KPI page covers ([since, until), UTC), and the SQL for times within it and spans between."""

from datetime import UTC, date, datetime, time
from typing import Any

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
