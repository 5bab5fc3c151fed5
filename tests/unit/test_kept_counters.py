"""The figures crm_core keeps instead of counting (reps' open leads, leads' reached stages, deals' cycle ends and
lead copies, daily lead and outcome tallies) equal a recount from the rows themselves after every kind of
change, each change in its own transaction as the app makes them. Runs on SQLite and, under scripts/with-postgres, PostgreSQL.
"""

from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_core.assignment.sla import enforce_sla
from crm_core.db import MIGRATIONS_DIR, unit_of_work
from crm_core.models import (
    Authority,
    Contact,
    Deal,
    Lead,
    LeadTally,
    OutcomeTally,
    Rep,
    Stage,
    StageChange,
    Temperature,
    outcome_key,
    stage_bit,
    tally_key,
)
from crm_core.people.reps import add_rep, recount_open_leads, update_rep
from crm_core.qualification.policy import LeadFacts
from crm_core.sales import lifecycle
from crm_core.sales.deals import open_deal
from crm_core.sales.dedup import merge_contacts, unmerge
from crm_core.sales.leads import capture_lead
from crm_core.sales.lifecycle import accept, assign, move_lead, pass_lead
from crm_core.sales.pipeline import move
from crm_core.schemas import ConversationRef, NewDeal, NewRep, RepUpdate
from tests.unit.helpers import at, make_lead

HOT = LeadFacts(
    need="a chatbot",
    budget_amount=Decimal("15000"),
    budget_currency="EUR",
    authority=Authority.DECISION_MAKER,
    timeline_days=7,
    name="Eva",
    email="eva@example.com",
    consent=True,
)


def assert_kept_figures_equal_a_recount(session: Session) -> None:
    kept_loads = {rep.id: rep.open_leads for rep in session.scalars(select(Rep)) if rep.open_leads}
    assert kept_loads == recount_open_leads(session)

    bits: dict[int, int] = {}
    for lead_id, stage in session.execute(
        select(StageChange.lead_id, StageChange.to_stage).where(StageChange.deal_id.is_(None))
    ):
        bits[lead_id] = bits.get(lead_id, 0) | stage_bit(stage)
    leads = list(session.scalars(select(Lead)))
    assert {lead.id: lead.reached_stages for lead in leads} == {
        lead.id: bits.get(lead.id, 0) for lead in leads
    }

    tallies = Counter(
        tally_key(lead.created_at, lead.source, lead.reached_stages, lead.stage) for lead in leads
    )
    kept = {
        (row.day, row.source, row.reached_stages, row.won): row.leads
        for row in session.scalars(select(LeadTally))
        if row.leads
    }
    assert kept == dict(tallies)
    outcomes = Counter(
        key
        for lead in leads
        if (key := outcome_key(lead.created_at, lead.score, lead.temperature, lead.stage)) is not None
    )
    kept_outcomes = {
        (row.day, row.band, row.temperature, row.won): row.leads
        for row in session.scalars(select(OutcomeTally))
        if row.leads
    }
    assert kept_outcomes == dict(outcomes)

    # a deal of an erased contact has no lead nor history any more: its kept copies are its record
    for deal in session.scalars(select(Deal).where(Deal.lead_id.is_not(None))):
        lead = session.get(Lead, deal.lead_id)
        assert lead is not None
        assert (deal.lead_rep_id, deal.lead_source, deal.lead_created_at) == (
            lead.assigned_rep_id,
            lead.source,
            lead.created_at,
        )
        first, won = session.execute(
            select(
                func.min(StageChange.changed_at),
                func.max(StageChange.changed_at).filter(StageChange.to_stage == Stage.WON),
            ).where(StageChange.deal_id == deal.id)
        ).one()
        assert (deal.first_stage_at, deal.won_at) == (first, won)


def test_kept_figures_equal_a_recount_after_mixed_operations(db_url: str) -> None:
    ids: dict[str, int] = {}

    def step(action: Callable[[Session], object]) -> None:
        """One change in its own transaction, then a check in a fresh one (nothing cached)."""
        with unit_of_work(db_url) as session:
            action(session)
        with unit_of_work(db_url) as session:
            assert_kept_figures_equal_a_recount(session)

    def reps(session: Session) -> None:
        for name in ("Ana", "Ben", "Cai"):
            ids[name] = add_rep(session, NewRep(name=name, languages=["en"])).id
        ids["Boss"] = add_rep(session, NewRep(name="Boss", languages=["en"], is_admin=True)).id

    def leads(session: Session) -> None:
        for n in range(4):
            lead = make_lead(session, Stage.SQL, created=at(1 + n), source=["web", None][n % 2])
            ids[f"L{n}"] = lead.id
            assign(session, lead, now=at(1 + n))
        ids["captured"] = capture_lead(session, HOT, ConversationRef(channel="rest", sender_id="x")).id

    def lead(session: Session, name: str) -> Lead:
        found = session.get(Lead, ids[name])
        assert found is not None
        return found

    def owner(session: Session, name: str) -> int:
        rep_id = lead(session, name).assigned_rep_id
        assert rep_id is not None
        return rep_id

    step(reps)
    step(leads)
    step(lambda s: accept(s, ids["L0"], owner(s, "L0"), now=at(5)))
    step(lambda s: pass_lead(s, ids["L1"], owner(s, "L1"), now=at(5)))
    step(lambda s: pass_lead(s, ids["L1"], owner(s, "L1"), now=at(5)))  # second pass: escalated to Boss
    step(lambda s: enforce_sla(s, now=at(20)))  # every unaccepted lead expires and moves on
    step(lambda s: update_rep(s, ids["Cai"], RepUpdate(active=False)))
    step(lambda s: enforce_sla(s, now=at(25)))  # nobody left for some: queued, or to the admin
    step(lambda s: open_deal(s, ids["L0"], NewDeal(title="d", value=Decimal(5), currency="EUR"), at=at(6)))
    step(lambda s: move(s, s.scalars(select(Deal)).one(), "won", at=at(9)))
    step(lambda s: move(s, s.scalars(select(Deal)).one(), "proposal", reopen=True, at=at(10)))
    step(lambda s: move(s, s.scalars(select(Deal)).one(), "won", at=at(12)))
    step(lambda s: move_lead(s, ids["L0"], "won"))
    step(lambda s: move_lead(s, ids["L2"], "lost"))
    step(lambda s: move_lead(s, ids["L2"], "contacted", reopen=True))
    step(lambda s: move_lead(s, ids["L0"], "negotiation", reopen=True))
    step(lambda s: move_lead(s, ids["L3"], "won"))

    def direct_edits(session: Session) -> None:
        """Code that sets a lead's fields itself (a console, a script) is counted the same way."""
        first, second = lead(session, "L0"), lead(session, "L2")
        first.assigned_rep_id = ids["Ben"]
        first.source = "telegram"
        second.assigned_rep = session.get(Rep, ids["Ana"])
        second.created_at = second.created_at - timedelta(days=3)
        won = lead(session, "L3")  # closed: re-scored and re-tempered, its outcome moves band and temperature
        won.score, won.temperature = won.score + 40, Temperature.COLD

    step(direct_edits)

    def merge(session: Session) -> None:
        other = Contact(email="other@example.com")
        session.add(other)
        session.flush()
        lead(session, "L3").contact_id = other.id
        session.flush()
        ids["merge"] = merge_contacts(session, lead(session, "L2").contact_id, other.id, "same person").id

    step(merge)
    step(lambda s: unmerge(s, ids["merge"]))

    def add_bare_lead(session: Session) -> None:
        """A lead written directly with an owner (no routing, no history), as an import script might."""
        bare = Lead(
            contact=Contact(), qualification="sql", temperature="hot", policy_version="t", stage=Stage.SQL
        )
        bare.assigned_rep_id = ids["Cai"]
        session.add(bare)
        session.flush()
        ids["bare"] = bare.id

    def delete(session: Session) -> None:
        session.delete(lead(session, "bare"))

    step(add_bare_lead)
    step(delete)
    with unit_of_work(db_url) as session:
        assert (
            session.scalar(select(func.sum(Rep.open_leads))) == 4
        )  # L0 and L2 (reopened), L1 (with the admin), the captured one


def test_the_migration_fills_the_kept_figures_from_existing_rows(db_url: str) -> None:
    """Rows written before revision 0012 (downgrade drops the kept figures) get them back on upgrade."""
    with unit_of_work(db_url) as session:
        ana = add_rep(session, NewRep(name="Ana", languages=["en"])).id
        for n in range(3):
            lead = make_lead(session, Stage.SQL, created=at(1 + n, hour=23), source=["web", None, "x"][n])
            assign(session, lead, now=at(1 + n))
        deal = open_deal(session, lead.id, NewDeal(title="d", value=Decimal(5), currency="EUR"), at=at(4))
        move(session, session.get(Deal, deal.id), "won", at=at(8))  # type: ignore[arg-type]
        lifecycle.move(session, lead, "won", at=at(9))
        capture_lead(session, HOT, ConversationRef(channel="rest", sender_id="x"))
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", db_url.replace("%", "%%"))
    command.downgrade(config, "0011")
    command.upgrade(config, "head")
    with unit_of_work(db_url) as session:
        assert session.get(Rep, ana).open_leads == 3  # type: ignore[union-attr]
        assert session.scalar(select(func.count()).select_from(LeadTally)) == 4
        assert_kept_figures_equal_a_recount(session)


def test_a_lead_cannot_go_to_a_rep_not_yet_saved(session: Session) -> None:
    """Loads are counted by rep id: a rep created in the same flush would be missed, so it is refused."""
    rep = Rep(name="New", languages=["en"])
    session.add(
        Lead(contact=Contact(), qualification="sql", temperature="hot", policy_version="t", assigned_rep=rep)
    )
    with pytest.raises(ValueError, match="Save a new rep"):
        session.flush()
    session.rollback()


def test_a_deal_opened_on_a_lead_of_this_transaction_still_gets_its_new_owner(session: Session) -> None:
    """A lead inserted in this transaction is known to have no deals (its owner's copy is then not written to
    deals): until a deal is opened on it, after which the copy is written again."""
    ana = session.get(Rep, add_rep(session, NewRep(name="Ana", languages=["en"])).id)
    bea = session.get(Rep, add_rep(session, NewRep(name="Bea", languages=["en"])).id)
    assert ana is not None and bea is not None
    lead = make_lead(session, Stage.SQL)
    deal = session.get(
        Deal, open_deal(session, lead.id, NewDeal(title="d", value=Decimal(5), currency="EUR")).id
    )
    assert deal is not None and deal.lead_rep_id is None
    lifecycle.assign_to(session, lead.id, ana.id, by="admin")
    assert deal.lead_rep_id == ana.id
    lifecycle.assign_to(session, lead.id, bea.id, by="admin")
    session.expire_all()
    assert deal.lead_rep_id == bea.id
    assert_kept_figures_equal_a_recount(session)
