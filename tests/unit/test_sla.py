"""Routing eligibility (territory, hours, availability), the assignment audit log, and the acceptance SLA."""

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from crm_core.assignment.routing import audit_log, pick_rep
from crm_core.assignment.sla import enforce_sla, unassigned_queue
from crm_core.errors import InvalidInput, InvalidTransition
from crm_core.models import AssignmentAction, Lead, Rep, Stage
from crm_core.people.reps import add_rep, update_rep
from crm_core.sales.lifecycle import accept, assign, pass_lead
from crm_core.schemas import NewRep, RepUpdate
from tests.unit.helpers import at, make_lead

MONDAY_10_UTC = at(5, hour=10)  # 2026-01-05 is a Monday


def rep(session: Session, name: str, **fields: object) -> Rep:
    out = add_rep(session, NewRep.model_validate({"name": name, "languages": ["en"], **fields}))
    found = session.get(Rep, out.id)
    assert found is not None
    return found


def sql_lead(session: Session, territory: str | None = None) -> Lead:
    lead = make_lead(session, Stage.SQL, created=MONDAY_10_UTC)
    lead.territory = territory
    return lead


def test_territories_restrict_reps_who_define_them(session: Session) -> None:
    iberia = rep(session, "Iberia", territories=["es", "pt"])
    rep(session, "Nordics", territories=["SE"])
    assert pick_rep(session, "en", "ES", now=MONDAY_10_UTC) is iberia
    assert pick_rep(session, "en", "DE", now=MONDAY_10_UTC) is None
    anywhere = rep(session, "Anywhere")
    assert pick_rep(session, "en", "DE", now=MONDAY_10_UTC) is anywhere


def test_working_hours_in_the_reps_time_zone_and_away_until(session: Session) -> None:
    madrid = rep(session, "Madrid", timezone="Europe/Madrid", working_hours={"mon": ["09:00", "17:00"]})
    # 10:00 UTC is 11:00 in Madrid in January: working. 17:30 UTC is 18:30: off. Tuesday: no hours.
    assert pick_rep(session, "en", now=MONDAY_10_UTC) is madrid
    assert pick_rep(session, "en", now=at(5, hour=17)) is None
    assert pick_rep(session, "en", now=at(6, hour=10)) is None
    update_rep(session, madrid.id, RepUpdate(away_until=at(5, hour=12)))
    assert pick_rep(session, "en", now=MONDAY_10_UTC) is None
    assert pick_rep(session, "en", now=at(5, hour=13)) is madrid


def test_every_decision_is_audited_with_its_reason(session: Session) -> None:
    away = rep(session, "Away")
    update_rep(session, away.id, RepUpdate(active=False))
    rep(session, "Spanish only", languages=["es"])
    lead = sql_lead(session)
    assert assign(session, lead, now=MONDAY_10_UTC) is None
    ana = rep(session, "Ana")  # a rep added takes the queue there and then
    events = audit_log(session, lead.id)
    assert [(e.action, e.rep_id) for e in events] == [
        (AssignmentAction.QUEUED, None),
        (AssignmentAction.ASSIGNED, ana.id),
    ]
    assert events[0].reason == "no eligible rep (Spanish only: does not speak en)"
    assert events[1].reason.startswith("to Ana from the queue after ")
    assert events[1].reason.endswith(": 1 eligible; least loaded (0/20 open)")
    assert unassigned_queue(session) == []


def test_accepting_in_time_stops_the_clock(session: Session) -> None:
    ana = rep(session, "Ana")
    lead = sql_lead(session)
    assign(session, lead, now=MONDAY_10_UTC)
    assert lead.sla_due_at == MONDAY_10_UTC + timedelta(minutes=15)
    accept(session, lead.id, ana.id, now=MONDAY_10_UTC + timedelta(minutes=5))
    assert enforce_sla(session, now=MONDAY_10_UTC + timedelta(hours=1)) == []
    assert lead.assigned_rep_id == ana.id and lead.accepted_at is not None
    with pytest.raises(InvalidTransition, match="already accepted"):
        accept(session, lead.id, ana.id)


def test_only_the_assigned_rep_can_accept_or_pass(session: Session) -> None:
    rep(session, "Ana")
    ben = rep(session, "Ben")
    lead = sql_lead(session)
    assign(session, lead, now=MONDAY_10_UTC)
    for action in (accept, pass_lead):
        with pytest.raises(InvalidInput, match=f"Lead {lead.id} is not assigned to rep {ben.id}"):
            action(session, lead.id, ben.id)


def test_overdue_moves_to_the_next_rep_then_to_an_admin(session: Session) -> None:
    ana = rep(session, "Ana")
    ben = rep(session, "Ben")
    boss = rep(session, "Boss", is_admin=True)
    lead = sql_lead(session)
    assign(session, lead, now=MONDAY_10_UTC)
    assert lead.assigned_rep_id == ana.id

    assert enforce_sla(session, now=MONDAY_10_UTC + timedelta(minutes=14)) == []
    first = MONDAY_10_UTC + timedelta(minutes=15)
    assert enforce_sla(session, now=first) == [lead.id]
    assert (lead.assigned_rep_id, lead.sla_passes) == (ben.id, 1)
    assert lead.sla_due_at == first + timedelta(minutes=15)

    second = first + timedelta(minutes=20)
    assert enforce_sla(session, now=second) == [lead.id]
    assert (lead.assigned_rep_id, lead.sla_passes, lead.escalated_at) == (boss.id, 2, second)
    assert lead.sla_due_at is None  # the admin has no acceptance clock
    assert [(e.action, e.rep_id) for e in audit_log(session, lead.id)] == [
        (AssignmentAction.ASSIGNED, ana.id),
        (AssignmentAction.EXPIRED, ana.id),
        (AssignmentAction.ASSIGNED, ben.id),
        (AssignmentAction.EXPIRED, ben.id),
        (AssignmentAction.ESCALATED, boss.id),
    ]


def test_a_pass_goes_to_someone_new_and_nobody_left_means_the_queue(session: Session) -> None:
    ana = rep(session, "Ana")
    lead = sql_lead(session)
    assign(session, lead, now=MONDAY_10_UTC)
    assert pass_lead(session, lead.id, ana.id, now=MONDAY_10_UTC) is None
    assert lead.assigned_rep_id is None and lead.sla_passes == 1
    assert unassigned_queue(session) == [lead]
    last = audit_log(session, lead.id)[-1]
    assert (last.action, last.reason) == (
        AssignmentAction.QUEUED,
        "no eligible rep (Ana: already had this lead)",
    )


def test_escalation_without_an_admin_queues_and_flags(session: Session) -> None:
    ana = rep(session, "Ana")
    ben = rep(session, "Ben")
    lead = sql_lead(session)
    assign(session, lead, now=MONDAY_10_UTC)
    pass_lead(session, lead.id, ana.id, now=MONDAY_10_UTC)
    pass_lead(session, lead.id, ben.id, now=MONDAY_10_UTC)
    assert lead.assigned_rep_id is None and lead.escalated_at == MONDAY_10_UTC
    assert audit_log(session, lead.id)[-1].reason == "not accepted after 2 passes; no active admin: queued"


def test_a_rep_who_becomes_eligible_takes_the_queue_at_once(session: Session) -> None:
    """Added, back from away, active again or given room: the queue is handed out in the same change, not
    at the notifier's next round."""
    waiting = [sql_lead(session) for _ in range(3)]
    assert unassigned_queue(session) == waiting
    full = rep(session, "Full", capacity=0)
    assert unassigned_queue(session) == waiting  # added, but no room: still waiting
    more_room = update_rep(session, full.id, RepUpdate(capacity=1))
    assert more_room.picked_up == [waiting[0].id] and waiting[0].assigned_rep is full
    assert "from the queue after" in audit_log(session, waiting[0].id)[-1].reason
    away = Rep(name="Away", languages=["en"], capacity=1, away_until=at(1, year=2100))  # before these came
    session.add(away)
    session.flush()
    assert unassigned_queue(session) == waiting[1:]
    assert update_rep(session, away.id, RepUpdate(clear_away=True)).picked_up == [waiting[1].id]
    newcomer = add_rep(session, NewRep(name="New", languages=["en"]))
    assert newcomer.picked_up == [waiting[2].id] and unassigned_queue(session) == []
