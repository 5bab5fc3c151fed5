"""A lead's lifecycle (crm_core.sales.lifecycle): every transition, allowed and refused, through real rows."""

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_core.assignment.routing import audit_log
from crm_core.assignment.sla import enforce_sla, pick_up_queue, unassigned_queue
from crm_core.errors import InvalidInput, InvalidTransition, NotFound
from crm_core.models import AssignmentAction, Deal, Lead, Qualification, Rep, Stage
from crm_core.people.reps import recount_open_leads, update_rep
from crm_core.qualification.policy import LeadFacts
from crm_core.reporting.kpis import forecast
from crm_core.sales import lifecycle
from crm_core.sales.deals import open_deal
from crm_core.sales.leads import capture_lead
from crm_core.sales.pipeline import history, move_deal
from crm_core.schemas import ConversationRef, NewDeal, RepUpdate
from tests.unit.helpers import at
from tests.unit.test_leads import HOT
from tests.unit.test_sla import MONDAY_10_UTC, rep

COLD = HOT.model_copy(update={"timeline_days": None})  # need, contact, consent, no timeline: MQL
JUST_ASKING = HOT.model_copy(update={"just_asking": True})
CHAT = ConversationRef(channel="rest", sender_id="visitor-1")


def capture(session: Session, facts: LeadFacts, minutes: int = 0) -> Lead:
    out = capture_lead(session, facts, CHAT, now=MONDAY_10_UTC + timedelta(minutes=minutes))
    lead = session.get(Lead, out.id)
    assert lead is not None
    return lead


def stages(session: Session, lead: Lead) -> list[tuple[Stage | None, Stage]]:
    return [(c.from_stage, c.to_stage) for c in history(session, lead.id) if c.deal_id is None]


def actions(session: Session, lead: Lead) -> list[AssignmentAction]:
    return [event.action for event in audit_log(session, lead.id)]


def test_the_policy_moves_the_stage_forward_never_back(session: Session) -> None:
    rep(session, "Ana")
    lead = capture(session, COLD)
    assert (lead.qualification, lead.stage, lead.assigned_rep_id) == (Qualification.MQL, Stage.MQL, None)
    capture(session, HOT, minutes=1)  # MQL → SQL: forward, and routed
    assert (lead.qualification, lead.stage, lead.assigned_rep.name if lead.assigned_rep else None) == (
        Qualification.SQL,
        Stage.SQL,
        "Ana",
    )
    capture(session, COLD, minutes=2)  # SQL → MQL by the policy: the class changes, the stage stays
    assert (lead.qualification, lead.stage) == (Qualification.MQL, Stage.SQL)
    assert stages(session, lead) == [(None, Stage.MQL), (Stage.MQL, Stage.SQL)]


def test_leaving_sql_releases_the_rep_and_stops_the_clock(session: Session) -> None:
    ana = rep(session, "Ana")
    lead = capture(session, HOT)
    assert lead.assigned_rep_id == ana.id and lead.sla_due_at is not None
    capture(session, COLD, minutes=1)
    assert (lead.assigned_rep_id, lead.sla_due_at, lead.assigned_at) == (None, None, None)
    assert actions(session, lead) == [AssignmentAction.ASSIGNED, AssignmentAction.RELEASED]
    assert audit_log(session, lead.id)[-1].reason == "qualified as mql: no longer sales-qualified"
    assert enforce_sla(session, now=MONDAY_10_UTC + timedelta(hours=2)) == []
    assert unassigned_queue(session) == []  # not an SQL: nobody is owed it
    assert recount_open_leads(session) == {} and session.get(Rep, ana.id).open_leads == 0  # type: ignore[union-attr]


def test_a_disqualified_lead_drops_its_rep_and_the_sla_job_leaves_it_alone(session: Session) -> None:
    rep(session, "Ana")
    rep(session, "Ben")
    lead = capture(session, HOT)
    capture(session, JUST_ASKING, minutes=1)
    assert (lead.qualification, lead.stage) == (Qualification.DISQUALIFIED, Stage.SQL)
    assert (lead.assigned_rep_id, lead.sla_due_at) == (None, None)
    assert enforce_sla(session, now=MONDAY_10_UTC + timedelta(hours=2)) == []  # nobody is passed it
    assert actions(session, lead) == [AssignmentAction.ASSIGNED, AssignmentAction.RELEASED]


def test_past_sql_the_verdict_is_recorded_but_stage_and_owner_are_the_reps(session: Session) -> None:
    ana = rep(session, "Ana")
    lead = capture(session, HOT)
    lifecycle.accept(session, lead.id, ana.id, now=MONDAY_10_UTC)
    lifecycle.move(session, lead, "contacted", at=MONDAY_10_UTC)
    capture(session, JUST_ASKING, minutes=5)
    assert (lead.qualification, lead.stage, lead.assigned_rep_id) == (
        Qualification.DISQUALIFIED,
        Stage.CONTACTED,
        ana.id,
    )


def test_a_new_disqualified_lead_starts_at_new_with_nobody(session: Session) -> None:
    rep(session, "Ana")
    lead = capture(session, JUST_ASKING)
    assert (lead.stage, lead.assigned_rep_id, actions(session, lead)) == (Stage.NEW, None, [])


def _deal(session: Session, lead: Lead, title: str, value: int) -> Deal:
    new = NewDeal(title=title, value=Decimal(value), currency="EUR", expected_close_date=date(2026, 3, 1))
    deal = session.get(Deal, open_deal(session, lead.id, new).id)
    assert deal is not None
    return deal


def test_won_is_refused_while_deals_are_open_and_says_which(session: Session) -> None:
    ana = rep(session, "Ana")
    lead = capture(session, HOT)
    lifecycle.accept(session, lead.id, ana.id, now=MONDAY_10_UTC)
    pilot = _deal(session, lead, "Pilot", 5000)
    rollout = _deal(session, lead, "Rollout", 20000)
    with pytest.raises(InvalidTransition, match=rf"open deals: #{pilot.id} 'Pilot' \(sql\), #{rollout.id}"):
        lifecycle.move(session, lead, "won")
    assert lead.stage is Stage.SQL and len(forecast(session)) == 1
    move_deal(session, pilot.id, "won")
    move_deal(session, rollout.id, "lost", lost_reason="timing")
    lifecycle.move(session, lead, "won")
    assert lead.stage is Stage.WON and forecast(session) == []


def test_losing_a_lead_loses_its_open_deals_and_empties_the_forecast(session: Session) -> None:
    rep(session, "Ana")
    lead = capture(session, HOT)
    won = _deal(session, lead, "Pilot", 5000)
    move_deal(session, won.id, "won")
    open_one = _deal(session, lead, "Rollout", 20000)
    change = lifecycle.move(session, lead, "lost", reason="chose a competitor")
    assert change.reason == f"chose a competitor; its open deals #{open_one.id} were lost with it"
    assert (won.stage, open_one.stage, open_one.closed_at is not None) == (Stage.WON, Stage.LOST, True)
    assert forecast(session) == []


def test_closing_a_lead_stops_its_clock_and_keeps_its_owner(session: Session) -> None:
    ana = rep(session, "Ana")
    lead = capture(session, HOT)
    lifecycle.move(session, lead, "lost")
    assert (lead.assigned_rep_id, lead.sla_due_at) == (ana.id, None)
    assert enforce_sla(session, now=MONDAY_10_UTC + timedelta(hours=2)) == []
    with pytest.raises(InvalidTransition, match="nothing to accept"):
        lifecycle.accept(session, lead.id, ana.id)


def test_an_admin_assigns_any_rep_and_the_old_owner_is_no_longer_asked(session: Session) -> None:
    ana = rep(session, "Ana")
    ben = rep(session, "Ben", capacity=0)  # at capacity: routing would never pick Ben, a person may
    boss = rep(session, "Boss", is_admin=True)
    lead = capture(session, HOT)
    assert lead.assigned_rep_id == ana.id
    lifecycle.assign_to(session, lead.id, ben.id, by="boss@example.com", now=MONDAY_10_UTC)
    assert lead.assigned_rep_id == ben.id
    assert lead.sla_due_at == MONDAY_10_UTC + timedelta(minutes=15)
    assert audit_log(session, lead.id)[-1].reason == "to Ben: chosen by boss@example.com (was Ana's)"
    with pytest.raises(InvalidInput, match="not assigned to rep"):
        lifecycle.accept(session, lead.id, ana.id)
    lifecycle.assign_to(session, lead.id, boss.id, by="boss@example.com", now=MONDAY_10_UTC)
    assert (lead.assigned_rep_id, lead.sla_due_at) == (boss.id, None)  # an admin has no clock
    assert recount_open_leads(session) == {boss.id: 1}


def test_explicit_assignment_refuses_what_it_cannot_do(session: Session) -> None:
    ana = rep(session, "Ana")
    ben = rep(session, "Ben")
    gone = rep(session, "Gone")
    update_rep(session, gone.id, RepUpdate(active=False))
    lead = capture(session, HOT)
    with pytest.raises(InvalidTransition, match="already assigned to Ana"):
        lifecycle.assign_to(session, lead.id, ana.id, by="x")
    with pytest.raises(InvalidInput, match="Gone is inactive"):
        lifecycle.assign_to(session, lead.id, gone.id, by="x")
    with pytest.raises(NotFound, match="No rep with id 999"):
        lifecycle.assign_to(session, lead.id, 999, by="x")
    with pytest.raises(NotFound, match="No lead with id 999"):
        lifecycle.assign_to(session, 999, ana.id, by="x")
    lifecycle.move(session, lead, "won")
    with pytest.raises(InvalidTransition, match="is won: reopen it before assigning it"):
        lifecycle.assign_to(session, lead.id, ben.id, by="x")
    assert lead.assigned_rep_id == ana.id


def test_release_is_recorded_once(session: Session) -> None:
    ana = rep(session, "Ana")
    lead = capture(session, HOT)
    lifecycle.release(session, lead, MONDAY_10_UTC, "testing")
    lifecycle.release(session, lead, MONDAY_10_UTC, "testing")
    assert actions(session, lead) == [AssignmentAction.ASSIGNED, AssignmentAction.RELEASED]
    assert audit_log(session, lead.id)[-1].rep_id == ana.id


def test_a_lost_lead_reopens_only_explicitly_and_moves_forward_only(session: Session) -> None:
    rep(session, "Ana")
    lead = capture(session, HOT)
    lifecycle.move(session, lead, "proposal")
    with pytest.raises(InvalidTransition, match="Cannot move back"):
        lifecycle.move(session, lead, "contacted")
    lifecycle.move(session, lead, "lost")
    with pytest.raises(InvalidTransition, match="reopen it explicitly"):
        lifecycle.move(session, lead, "contacted")
    lifecycle.move(session, lead, "contacted", reopen=True)
    assert stages(session, lead)[-1] == (Stage.LOST, Stage.CONTACTED)
    assert history(session, lead.id)[-1].reason == "reopened"


def test_a_phone_number_gives_a_chatbot_lead_its_territory_and_the_reason_says_so(session: Session) -> None:
    rep(session, "Nordics", territories=["SE"])
    iberia = rep(session, "Iberia", territories=["ES"])
    lead = capture(session, HOT.model_copy(update={"phone": "+34 612 345 678"}))
    assert (lead.territory, lead.assigned_rep_id) == ("ES", iberia.id)
    assert audit_log(session, lead.id)[0].reason.startswith(
        "to Iberia: territory ES from the phone number; 1 eligible"
    )


def test_the_browser_locale_gives_a_territory_when_the_phone_does_not(session: Session) -> None:
    from crm_core.chats.conversations import conversation_for
    from crm_core.models import Message, MessageRole

    conversation = conversation_for(session, CHAT.channel, CHAT.sender_id)
    session.flush()
    for n, locale in enumerate(["es", "es-MX"]):  # the newest message says the region
        session.add(
            Message(
                conversation_id=conversation.id,
                role=MessageRole.VISITOR,
                text="hola",
                extra={"metadata": {"locale": locale}},
                sent_at=MONDAY_10_UTC,
                rasa_event_id=n + 1,
            )
        )
    mexico = rep(session, "Mexico", territories=["MX"])
    lead = capture(session, HOT)
    assert (lead.territory, lead.assigned_rep_id) == ("MX", mexico.id)
    assert "territory MX from the visitor's locale (es-MX)" in audit_log(session, lead.id)[0].reason
    assert session.scalars(select(Lead.territory)).all() == ["MX"]


def test_the_browser_time_zone_gives_a_territory_when_phone_and_locale_do_not(session: Session) -> None:
    from crm_core.chats.conversations import conversation_for
    from crm_core.models import Message, MessageRole

    conversation = conversation_for(session, CHAT.channel, CHAT.sender_id)
    session.flush()
    session.add(
        Message(
            conversation_id=conversation.id,
            role=MessageRole.VISITOR,
            text="hola",
            extra={"metadata": {"locale": "es", "timezone": "Europe/Madrid"}},  # "es" alone: no region
            sent_at=MONDAY_10_UTC,
            rasa_event_id=1,
        )
    )
    rep(session, "Mexico", territories=["MX"])
    spain = rep(session, "Spain", territories=["ES"])
    lead = capture(session, HOT)
    assert (lead.territory, lead.assigned_rep_id) == ("ES", spain.id)
    assert (
        "territory ES from the visitor's time zone (Europe/Madrid)" in audit_log(session, lead.id)[0].reason
    )


def test_a_city_the_visitor_names_gives_a_territory_before_their_locale(session: Session) -> None:
    from crm_core.chats.conversations import conversation_for
    from crm_core.models import Message, MessageRole

    conversation = conversation_for(session, CHAT.channel, CHAT.sender_id)
    session.flush()
    said = [("hola, somos de Monterrey", "es-ES"), ("necesitamos un CRM", "es-ES")]  # locale says Spain
    for n, (text, locale) in enumerate(said):
        session.add(
            Message(
                conversation_id=conversation.id,
                role=MessageRole.VISITOR,
                text=text,
                extra={"metadata": {"locale": locale}},
                sent_at=MONDAY_10_UTC,
                rasa_event_id=n + 1,
            )
        )
    rep(session, "Spain", territories=["ES"])
    mexico = rep(session, "Mexico", territories=["MX"])
    lead = capture(session, HOT)
    assert (lead.territory, lead.assigned_rep_id) == ("MX", mexico.id)
    assert "territory MX from the city the visitor named (Monterrey)" in audit_log(session, lead.id)[0].reason


def test_a_time_zone_that_names_no_country_gives_no_territory() -> None:
    from crm_core.people.territories import from_timezone

    assert (from_timezone("America/Mexico_City"), from_timezone("Asia/Tokyo")) == ("MX", "JP")
    assert (from_timezone("UTC"), from_timezone("Mars/Olympus"), from_timezone(None)) == (None, None, None)


MONDAY_20_UTC = at(5, hour=20)
TUESDAY_0830_UTC = at(6, hour=8) + timedelta(minutes=30)


def sql_from(session: Session, who: str, when: datetime) -> Lead:
    facts = HOT.model_copy(update={"email": f"{who}@example.com"})
    out = capture_lead(session, facts, ConversationRef(channel="rest", sender_id=who), now=when)
    lead = session.get(Lead, out.id)
    assert lead is not None
    return lead


def test_a_lead_that_qualifies_at_night_goes_to_the_first_rep_on_shift(session: Session) -> None:
    madrid = rep(session, "Madrid", timezone="Europe/Madrid", working_hours={"tue": ["09:00", "17:00"]})
    lead = sql_from(session, "night", MONDAY_20_UTC)
    assert lead.assigned_rep_id is None and unassigned_queue(session) == [lead]
    assert pick_up_queue(session, now=at(6, hour=7)) == []  # 08:00 in Madrid: still off
    assert actions(session, lead) == [AssignmentAction.QUEUED]  # trying again writes nothing
    assert pick_up_queue(session, now=TUESDAY_0830_UTC) == [lead.id]
    assert (lead.assigned_rep_id, lead.sla_due_at) == (madrid.id, TUESDAY_0830_UTC + timedelta(minutes=15))
    assert audit_log(session, lead.id)[-1].reason == (
        "to Madrid from the queue after 12 h 30 min: 1 eligible; least loaded (0/20 open)"
    )
    assert unassigned_queue(session) == []


def test_the_queue_is_picked_up_oldest_first_as_capacity_frees(session: Session) -> None:
    ana = rep(session, "Ana", capacity=0)
    first = sql_from(session, "first", MONDAY_10_UTC)
    second = sql_from(session, "second", MONDAY_10_UTC + timedelta(minutes=1))
    assert update_rep(session, ana.id, RepUpdate(capacity=1)).picked_up == [first.id]  # room: at once
    assert pick_up_queue(session, now=MONDAY_20_UTC) == []
    assert second.assigned_rep_id is None
    lifecycle.accept(session, first.id, ana.id, now=MONDAY_20_UTC)
    lifecycle.move(session, first, "won", at=MONDAY_20_UTC)  # closed: Ana has room again
    assert pick_up_queue(session, now=MONDAY_20_UTC) == [second.id]
    assert second.assigned_rep_id == ana.id


def test_a_rep_back_from_away_or_newly_added_picks_up_the_queue(session: Session) -> None:
    ana = rep(session, "Ana")
    update_rep(session, ana.id, RepUpdate(away_until=at(7)))
    lead = sql_from(session, "waiting", MONDAY_10_UTC)
    assert pick_up_queue(session, now=at(6)) == []
    assert pick_up_queue(session, now=at(7)) == [lead.id]
    later = sql_from(session, "later", at(7))  # Ana is the only rep and gets it at once
    assert later.assigned_rep_id == ana.id
    update_rep(session, ana.id, RepUpdate(capacity=2))
    third = sql_from(session, "third", at(7))
    assert third.assigned_rep_id is None
    ben = rep(session, "Ben")  # added: takes the queue in the same change
    assert third.assigned_rep_id == ben.id and pick_up_queue(session, now=at(7)) == []


def test_an_escalation_that_found_no_admin_goes_to_the_first_admin_added(session: Session) -> None:
    ana = rep(session, "Ana")
    ben = rep(session, "Ben")
    lead = sql_from(session, "hot", MONDAY_10_UTC)
    enforce_sla(session, now=MONDAY_10_UTC + timedelta(minutes=20))  # Ana's time ran out: to Ben
    enforce_sla(session, now=MONDAY_10_UTC + timedelta(minutes=40))  # Ben's too: escalated, no admin
    assert (lead.assigned_rep_id, lead.escalated_at is not None) == (None, True)
    assert pick_up_queue(session, now=MONDAY_20_UTC) == []  # Ana and Ben had it: only an admin may
    boss = rep(session, "Boss", is_admin=True)  # the escalation goes to them as they are added
    assert (lead.assigned_rep_id, lead.sla_due_at) == (boss.id, None)
    assert {ana.id, ben.id}.isdisjoint({lead.assigned_rep_id})


def test_asking_for_a_person_on_a_closed_lead_without_owner_is_logged_not_routed(session: Session) -> None:
    lead = capture(session, COLD)  # an MQL: nobody has it
    lifecycle.move(session, lead, "lost")
    rep(session, "Ana")
    assert lifecycle.hand_to_a_person(session, lead.id, MONDAY_10_UTC) is None
    assert lead.assigned_rep_id is None
    assert audit_log(session, lead.id)[-1].reason == (
        "the visitor asked to talk to a person, but the lead is lost and has no owner: reopen it to assign it"
    )
