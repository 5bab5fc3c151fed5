"""Booked meetings that change hands: they follow their lead to its new owner, and leave a rep who goes
away or is made inactive. The time never changes, only the rep (``meetings.hand_over``: same UID, next
SEQUENCE, both reps told, the lead's history). When nobody fitting is free at that time, the meeting stays
booked as it is and an admin is asked to act.

``settle`` is the one function that decides a meeting: the first of the given takers who is free at its
time gets it, else an admin is asked. ``follow_owner`` (called whenever a lead gets a new owner,
``lifecycle._hand``) and ``cover_for`` (called when a rep's availability changes, ``reps.update_rep``)
only say which meetings and who may take them. A lead left without an owner (queued, released) keeps its
meetings with their rep. Everything runs in the caller's transaction.
"""

import logging
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_core.assignment import routing
from crm_core.delivery.notifications import ALERT
from crm_core.models import Lead, Meeting, MeetingStatus, Rep, has_no_deals_or_meetings
from crm_core.scheduling import meetings
from crm_core.scheduling.meetings import SlotTaken

log = logging.getLogger(__name__)


def settle(
    session: Session, meeting: Meeting, takers: Sequence[Rep], why: str, problem: str, now: datetime
) -> Rep | None:
    """Hand ``meeting`` to the first of ``takers`` free at its time, for ``why``; returns who took it.
    None: nobody was free (``problem`` says who was looked for), the meeting stays with its rep and an
    admin is asked."""
    for taker in takers:
        if taker.id == meeting.rep_id or not meetings.is_free_for(session, taker, meeting, now):
            continue
        try:
            meetings.hand_over(session, meeting, taker, why, now)
        except SlotTaken:  # booked by someone else since we looked: try the next
            continue
        return taker
    _ask_admin(session, meeting, f"{why}, but {problem}", now)
    return None


def _ask_admin(session: Session, meeting: Meeting, trouble: str, now: datetime) -> None:
    rep, admin = meeting.rep, routing.least_loaded_admin(session)
    asked = f"asked admin {admin.name}" if admin is not None else "no active admin to ask"
    head = f"Meeting #{meeting.id} with lead #{meeting.lead_id} needs a rep ({trouble})"
    tail = f"it stays booked with {rep.name} until someone reassigns the lead or moves or cancels it"
    meetings.record(session, meeting, f"{head}: {meetings.when_for(meeting, rep)}; {asked}", now)
    if admin is None:
        log.error("%s: %s; no active admin", ALERT, head)
        return
    said = f"{head}: {meetings.when_for(meeting, admin)}; {tail}"
    meetings.notify_about(session, meeting, admin, said, now)


def ahead_of(session: Session, lead: Lead, owner: Rep, now: datetime) -> list[Meeting]:
    """The lead's booked meetings still ahead that ``owner`` does not hold yet: what ``follow_owner`` moves.
    It reads only meetings, so a caller may ask before writing the hand-off itself (``lifecycle._hand``
    does, so that the hand-off's writes go in one flush rather than being flushed by this query). A lead
    inserted in this transaction has none: no query."""
    if has_no_deals_or_meetings(session, lead.id):
        return []
    return list(
        session.scalars(
            select(Meeting)
            .where(
                Meeting.lead_id == lead.id,
                Meeting.status == MeetingStatus.BOOKED,
                Meeting.starts_at > now,
                Meeting.rep_id != owner.id,
            )
            .order_by(Meeting.starts_at, Meeting.id)
        ).all()
    )


def follow_owner(
    session: Session, lead: Lead, owner: Rep, now: datetime, ahead: Sequence[Meeting] | None = None
) -> list[Meeting]:
    """The lead now belongs to ``owner``: its booked meetings still ahead (``ahead``, read now when not
    given) go to them when they are free at that time; otherwise each stays with its rep and an admin is
    asked. Returns the meetings not moved."""
    if ahead is None:
        ahead = ahead_of(session, lead, owner, now)
    why, problem = f"the lead is now {owner.name}'s", f"{owner.name} is not free then"
    return [m for m in ahead if settle(session, m, [owner], why, problem, now) is None]


def cover_for(
    session: Session, rep: Rep, now: datetime, since: datetime | None = None, until: datetime | None = None
) -> list[Meeting]:
    """``rep`` cannot hold their booked meetings that start in [since, until) (from now; no ``until``: all
    ahead, e.g. made inactive): each goes to the lead's owner if free then, else to the next rep routing
    would consider for the lead who is free then, else it stays and an admin is asked. Returns the
    meetings not moved. The leads themselves keep their owner: routing's rules say when a lead moves on."""
    query = select(Meeting).where(
        Meeting.rep_id == rep.id,
        Meeting.status == MeetingStatus.BOOKED,
        Meeting.starts_at > now,
        Meeting.starts_at >= (since or now),
    )
    if until is not None:
        query = query.where(Meeting.starts_at < until)
    why = f"{rep.name} is away until {until:%Y-%m-%d %H:%M} UTC" if until else f"{rep.name} is inactive"
    kept = []
    for meeting in session.scalars(query.order_by(Meeting.starts_at, Meeting.id)).all():
        owner = meeting.lead.assigned_rep
        takers = [owner] if owner is not None and owner.active and owner.id != rep.id else []
        takers += [r for r in routing.stand_ins(session, meeting.lead, {rep.id}) if r not in takers]
        problem = "no other rep who could hold it is free then"
        if settle(session, meeting, takers, why, problem, now) is None:
            kept.append(meeting)
    return kept
