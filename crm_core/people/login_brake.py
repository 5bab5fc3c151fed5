"""Brakes on repeated tries: a counter per key (an account from one address, an address, ...) kept in the
database, so every web worker shares it.

A try is counted *before* it is checked, in one atomic statement (an upsert with ``RETURNING``), so a
burst of simultaneous tries can never slip more than ``free`` of them past the brake. The first
``free`` tries of a streak pass; from then on each try makes the next one wait, for ``first_delay``
doubling up to ``max_delay``. A streak is forgotten when its window ends, or cleared (``clear``) when the
caller decides the key has proved itself (the right password).
"""

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, case, delete, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from crm_core.models import Brake, UTCDateTime, utcnow


@dataclass(frozen=True)
class BrakeRule:
    """How many tries pass freely within ``window`` and how long the tries after them must wait."""

    free: int
    window: timedelta
    first_delay: timedelta = timedelta(minutes=1)
    max_delay: timedelta = timedelta(minutes=15)

    def wait_after(self, tries: int) -> timedelta:
        """How long the next try waits once ``tries`` tries of the streak were counted."""
        if tries < self.free:
            return timedelta(0)
        doublings = min(tries - self.free, 30)  # 2**30 minutes is past any cap anyone sets
        delay: timedelta = min(self.first_delay * 2**doublings, self.max_delay)
        return delay

    def delay_steps(self) -> int:
        """Tries after ``free`` until the delay reaches its cap (beyond that it stays there)."""
        if self.first_delay >= self.max_delay or self.first_delay <= timedelta(0):
            return 0
        return math.ceil(math.log2(self.max_delay / self.first_delay))


class BrakeOn(Exception):
    """The key is braked: no try may start before ``retry_after_seconds``; nothing was counted."""

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__(f"braked for {retry_after_seconds} s")
        self.retry_after_seconds = retry_after_seconds


def _at(moment: datetime) -> ColumnElement[datetime]:
    return literal(moment, UTCDateTime())


# "The next try need not wait": a moment before any try's clock. Not the try's own `now`: a concurrent try
# whose clock was read a moment earlier would see that later `now` as a wait and be refused.
NO_WAIT = datetime(2000, 1, 1, tzinfo=UTC)


def _may_start(now: datetime, wait: timedelta) -> datetime:
    return now + wait if wait else NO_WAIT


def _next_try(rule: BrakeRule, tries: ColumnElement[int], now: datetime) -> ColumnElement[datetime]:
    """The moment the next try may start once ``tries`` are counted: one CASE over the delay ladder."""
    steps = rule.delay_steps()
    ladder = [(tries < rule.free, _at(NO_WAIT))]
    for step in range(steps):
        ladder.append((tries == rule.free + step, _at(now + rule.wait_after(rule.free + step))))
    return case(*ladder, else_=_at(now + rule.wait_after(rule.free + steps)))


def _insert(session: Session) -> Any:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(Brake)
    if dialect == "sqlite":
        return sqlite.insert(Brake)
    raise NotImplementedError(f"The login brake needs SQLite or PostgreSQL, not {dialect}.")


def count_try(session: Session, key: str, rule: BrakeRule, now: datetime | None = None) -> int:
    """Count one try for ``key`` and return how many the streak has; BrakeOn (nothing counted) while braked.

    One statement does it all, so concurrent tries are counted one by one by the database itself.
    """
    now = now or utcnow()
    row = Brake.__table__.c
    expired = row.window_ends_at <= _at(now)
    tries = case((expired, 1), else_=row.tries + 1)
    statement = (
        _insert(session)
        .values(
            key=key,
            tries=1,
            window_ends_at=now + rule.window,
            next_try_at=_may_start(now, rule.wait_after(1)),
        )
        .on_conflict_do_update(
            index_elements=[row.key],
            set_={
                "tries": tries,
                "next_try_at": _next_try(rule, tries, now),
                "window_ends_at": case((expired, _at(now + rule.window)), else_=row.window_ends_at),
            },
            where=(row.next_try_at <= _at(now)) | expired,
        )
        .returning(row.tries)
    )
    counted = session.execute(statement).scalar_one_or_none()
    if counted is not None:
        return int(counted)
    next_try_at = session.scalar(select(Brake.next_try_at).where(Brake.key == key))
    wait = (next_try_at - now).total_seconds() if next_try_at else 1
    raise BrakeOn(max(1, math.ceil(wait)))


def refund_try(session: Session, key: str, rule: BrakeRule, now: datetime | None = None) -> None:
    """Take back one counted try that turned out fine (it must not count against the key); a lock it set is
    lifted only when fewer than ``free`` tries remain."""
    now = now or utcnow()
    remaining = Brake.tries - 1
    session.execute(
        update(Brake)
        .where(Brake.key == key, Brake.tries > 0)
        .values(
            tries=remaining, next_try_at=case((remaining < rule.free, _at(NO_WAIT)), else_=Brake.next_try_at)
        )
    )


def clear(session: Session, key: str) -> None:
    """Forget the key's streak (e.g. the right password was given)."""
    session.execute(delete(Brake).where(Brake.key == key))


def forget_expired(session: Session, now: datetime | None = None) -> None:
    """Drop the streaks whose window ended and whose wait is over (they would restart from zero anyway)."""
    now = now or utcnow()
    session.execute(delete(Brake).where(Brake.window_ends_at <= now, Brake.next_try_at <= now))
