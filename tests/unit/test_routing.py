"""Assignment of SQL leads to reps, on a real SQLite database."""

from datetime import timedelta

from sqlalchemy import event
from sqlalchemy.orm import Session

from crm_core.assignment.routing import pick_rep
from crm_core.db import get_engine, unit_of_work
from crm_core.models import Lead, Qualification, Rep, Stage, Temperature, utcnow
from crm_core.people.reps import add_rep
from crm_core.sales.lifecycle import assign
from crm_core.schemas import NewRep


def rep(session: Session, name: str, languages: str = "en", capacity: int = 5) -> Rep:
    out = add_rep(session, NewRep(name=name, languages=languages.split(","), capacity=capacity))
    found = session.get(Rep, out.id)
    assert found is not None
    return found


def open_lead(session: Session, language: str = "en") -> Lead:
    from crm_core.models import Contact

    lead = Lead(
        contact=Contact(),
        qualification=Qualification.SQL,
        temperature=Temperature.HOT,
        policy_version="test",
        stage=Stage.SQL,
        language=language,
    )
    session.add(lead)
    session.flush()
    return lead


def test_nobody_eligible_leaves_the_lead_in_the_queue(session: Session) -> None:
    lead = open_lead(session)
    assert assign(session, lead) is None
    assert lead.assigned_rep_id is None


def test_only_reps_speaking_the_language_are_eligible(session: Session) -> None:
    rep(session, "Only English", "en")
    spanish = rep(session, "Habla Español", "es,en")
    assert pick_rep(session, "es") is spanish
    assert pick_rep(session, "de") is None


def test_inactive_and_full_reps_are_skipped(session: Session) -> None:
    away = rep(session, "Away")
    away.active = False
    full = rep(session, "Full", capacity=1)
    assign(session, open_lead(session))  # goes to Full, the only active rep
    assert open_lead(session).assigned_rep_id is None
    assert full.last_assigned_at is not None
    assert pick_rep(session, "en") is None


def test_least_loaded_rep_wins(session: Session) -> None:
    busy = rep(session, "Busy")
    idle = rep(session, "Idle")
    for _ in range(2):
        lead = open_lead(session)
        lead.assigned_rep = busy
    session.flush()
    assert pick_rep(session, "en") is idle


def test_closed_leads_do_not_count_as_load(session: Session) -> None:
    first = rep(session, "First")
    second = rep(session, "Second")
    won = open_lead(session)
    won.assigned_rep, won.stage = first, Stage.WON
    first.last_assigned_at = utcnow() - timedelta(hours=1)
    second.last_assigned_at = utcnow()
    session.flush()
    assert pick_rep(session, "en") is first


def test_ties_go_round_robin_to_whoever_waited_longest(session: Session) -> None:
    reps = [rep(session, name) for name in ("Ana", "Ben", "Cai")]
    order = [assign(session, open_lead(session)) for _ in range(6)]
    assert [r.name for r in order if r] == ["Ana", "Ben", "Cai", "Ana", "Ben", "Cai"]
    assert all(r.last_assigned_at is not None for r in reps)


def test_routing_a_lead_of_this_transaction_reads_no_deals_or_meetings(db_url: str) -> None:
    """A lead inserted in this transaction has neither deals nor meetings: routing it writes no owner copy
    to deals and looks for no meetings to move. In a later transaction, it does both."""
    with unit_of_work(db_url) as session:
        rep(session, "Ana")
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    event.listen(get_engine(db_url), "before_cursor_execute", seen)
    try:
        with unit_of_work(db_url) as session:
            lead = open_lead(session)
            statements.clear()
            assert assign(session, lead) is not None
            assert not [s for s in statements if "deals" in s or "meetings" in s]
            session.rollback()
            lead = open_lead(session)
            lead_id = lead.id
        with unit_of_work(db_url) as session:
            lead = session.get(Lead, lead_id)
            assert lead is not None
            statements.clear()
            assert assign(session, lead) is not None
            assert [s.split()[0] for s in statements if "deals" in s or "meetings" in s] == [
                "SELECT",
                "UPDATE",
            ]
    finally:
        event.remove(get_engine(db_url), "before_cursor_execute", seen)
