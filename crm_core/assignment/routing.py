"""Who gets a lead: an eligible rep, least loaded first, ties to whoever waited longest.

Eligible = active, not away, within working hours, speaks the lead's language, covers its territory
(a rep with no territories covers all), under capacity, not an admin (admins get escalations), and
not one who already had this lead. Every decision is written to the assignment audit log.

Routing only decides who; ``crm_core.sales.lifecycle`` writes the assignment.
"""

from collections.abc import Collection
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_core.db import author_of
from crm_core.models import AssignmentAction, AssignmentEvent, Lead, Rep, utcnow
from crm_core.people import working_hours


def is_working(rep: Rep, now: datetime) -> bool:
    """Within the rep's working hours (in the rep's time zone); no hours set means always."""
    if not rep.working_hours:
        return True
    return working_hours.covers(
        rep.working_hours, now.astimezone(ZoneInfo(rep.timezone)).replace(tzinfo=None)
    )


def why_not_cover(rep: Rep, language: str, territory: str | None) -> str | None:
    """The reason ``rep`` cannot serve a lead in ``language`` from ``territory``, or None when they can."""
    if language not in rep.languages:
        return f"does not speak {language}"
    if territory and rep.territories and territory.upper() not in rep.territories:
        return f"does not cover {territory.upper()}"
    return None


def why_not(rep: Rep, load: int, language: str, territory: str | None, now: datetime) -> str | None:
    """The reason ``rep`` cannot take the lead, or None when eligible."""
    if not rep.active:
        return "inactive"
    if rep.is_admin:
        return "admin (receives escalations only)"
    if rep.away_until is not None and now < rep.away_until:
        return f"away until {rep.away_until:%Y-%m-%d %H:%M} UTC"
    if not is_working(rep, now):
        return "outside working hours"
    if (uncovered := why_not_cover(rep, language, territory)) is not None:
        return uncovered
    if load >= rep.capacity:
        return f"at capacity ({load}/{rep.capacity})"
    return None


def choose(
    session: Session,
    language: str,
    territory: str | None,
    now: datetime,
    exclude: Collection[int],
) -> tuple[Rep | None, str]:
    reps = list(session.scalars(select(Rep).where(Rep.active.is_(True)).order_by(Rep.id)))
    loads = {rep.id: rep.open_leads for rep in reps}  # the kept counters: routing never counts leads
    eligible: list[Rep] = []
    refused: list[str] = []
    for rep in reps:
        if rep.id in exclude:
            refused.append(f"{rep.name}: already had this lead")
            continue
        reason = why_not(rep, loads.get(rep.id, 0), language, territory, now)
        if reason is None:
            eligible.append(rep)
        else:
            refused.append(f"{rep.name}: {reason}")
    if not eligible:
        return None, "no eligible rep" + (f" ({'; '.join(refused)})" if refused else " (no active reps)")
    never = datetime.min.replace(tzinfo=now.tzinfo)
    chosen = min(eligible, key=lambda rep: (loads.get(rep.id, 0), rep.last_assigned_at or never, rep.id))
    load = loads.get(chosen.id, 0)
    ties = [r for r in eligible if loads.get(r.id, 0) == load]
    why = f"{len(eligible)} eligible; least loaded ({load}/{chosen.capacity} open)"
    if len(ties) > 1:
        why += f", waited longest of {len(ties)} tied"
    return chosen, why


def stand_ins(session: Session, lead: Lead, exclude: Collection[int]) -> list[Rep]:
    """Reps who could hold a meeting with ``lead`` in another rep's place
    (``crm_core.scheduling.meeting_moves``): active, not admins, speaking its language and covering its
    territory, in routing's order (least loaded, then who waited longest). Whether they are free at the
    meeting's time is the caller's check; hours now and capacity are not asked (a meeting is not a lead to
    work)."""
    reps = session.scalars(
        select(Rep).where(Rep.active.is_(True), Rep.is_admin.is_(False)).order_by(Rep.id)
    ).all()
    never = datetime.min.replace(tzinfo=UTC)
    fit = [
        rep
        for rep in reps
        if rep.id not in exclude and why_not_cover(rep, lead.language, lead.territory) is None
    ]
    return sorted(fit, key=lambda rep: (rep.open_leads, rep.last_assigned_at or never, rep.id))


def anyone_free(session: Session, now: datetime) -> bool:
    """Whether some rep could take a lead now, whatever its language or territory: a cheap check before
    trying the whole queue."""
    reps = session.scalars(select(Rep).where(Rep.active.is_(True), Rep.is_admin.is_(False)))
    return any(
        why_not(rep, rep.open_leads, rep.languages[0] if rep.languages else "", None, now) is None
        for rep in reps
    )


def pick_rep(
    session: Session,
    language: str,
    territory: str | None = None,
    now: datetime | None = None,
    exclude: Collection[int] = (),
) -> Rep | None:
    """The rep who should get the next lead in ``language``, or None when nobody is eligible."""
    return choose(session, language, territory, now or utcnow(), exclude)[0]


def log_event(
    session: Session, lead: Lead, action: AssignmentAction, rep: Rep | None, reason: str, now: datetime
) -> AssignmentEvent:
    event = AssignmentEvent(
        lead_id=lead.id,
        rep_id=rep.id if rep else None,
        action=action,
        reason=reason,
        at=now,
        made_by=author_of(session),
    )
    session.add(event)
    return event


def previous_owners(session: Session, lead: Lead) -> set[int]:
    """Reps who were given the lead before: a pass or an expiry never hands it back to them."""
    rows = session.scalars(
        select(AssignmentEvent.rep_id).where(
            AssignmentEvent.lead_id == lead.id,
            AssignmentEvent.action == AssignmentAction.ASSIGNED,
            AssignmentEvent.rep_id.is_not(None),
        )
    )
    return {rep_id for rep_id in rows if rep_id is not None}


def least_loaded_admin(session: Session) -> Rep | None:
    """The active admin with the fewest open leads: who receives escalations."""
    admins = session.scalars(select(Rep).where(Rep.is_admin.is_(True), Rep.active.is_(True)).order_by(Rep.id))
    return min(admins, key=lambda rep: rep.open_leads, default=None)


def audit_log(session: Session, lead_id: int) -> list[AssignmentEvent]:
    """Every routing decision about a lead, oldest first."""
    return list(
        session.scalars(
            select(AssignmentEvent)
            .where(AssignmentEvent.lead_id == lead_id)
            .order_by(AssignmentEvent.at, AssignmentEvent.id)
        )
    )
