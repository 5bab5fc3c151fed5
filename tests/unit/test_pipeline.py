"""Stage moves: allowed transitions, refusals that change nothing, and the recorded history."""

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_core.errors import InvalidInput, InvalidTransition, NotFound
from crm_core.models import Deal, Stage, StageChange
from crm_core.sales.activities import add_activity, add_note, list_activities
from crm_core.sales.deals import list_deals, open_deal
from crm_core.sales.lifecycle import move, move_lead
from crm_core.sales.pipeline import current_pipeline, history, load_pipeline, move_deal
from crm_core.schemas import NewDeal
from tests.unit.helpers import at, make_lead


def changes(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(StageChange)) or 0


def test_default_pipeline_is_the_documented_one() -> None:
    pipeline = current_pipeline()
    assert [s.name.value for s in pipeline.stages] == [
        "new", "mql", "sql", "contacted", "proposal", "negotiation", "won", "lost",
    ]  # fmt: skip
    assert pipeline.probability(Stage.WON) == 1.0 and pipeline.probability(Stage.LOST) == 0.0
    assert pipeline.sla.accept_minutes == 15 and pipeline.sla.max_passes == 2


def test_forward_moves_and_skips_are_recorded_with_their_time(session: Session) -> None:
    lead = make_lead(session, Stage.SQL, created=at(1))
    move(session, lead, "contacted", at=at(2))
    move(session, lead, Stage.NEGOTIATION, at=at(5), reason="skipped the proposal")
    move(session, lead, "won", at=at(9))
    rows = history(session, lead.id)
    assert [(r.from_stage, r.to_stage, r.changed_at) for r in rows] == [
        (None, Stage.SQL, at(1)),
        (Stage.SQL, Stage.CONTACTED, at(2)),
        (Stage.CONTACTED, Stage.NEGOTIATION, at(5)),
        (Stage.NEGOTIATION, Stage.WON, at(9)),
    ]
    assert rows[2].reason == "skipped the proposal"


@pytest.mark.parametrize(
    ("start", "target", "reopen", "message"),
    [
        (Stage.PROPOSAL, "contacted", False, "Cannot move back from 'proposal' to 'contacted'"),
        (Stage.PROPOSAL, "proposal", False, "already in stage 'proposal'"),
        (Stage.WON, "negotiation", False, "'won' is final"),
        (Stage.LOST, "won", True, "Reopening moves to an open stage"),
        (Stage.SQL, "contacted", True, "Only won or lost can be reopened"),
    ],
)
def test_invalid_moves_are_refused_and_change_nothing(
    session: Session, start: Stage, target: str, reopen: bool, message: str
) -> None:
    lead = make_lead(session, start)
    before = changes(session)
    with pytest.raises(InvalidTransition, match=message):
        move(session, lead, target, reopen=reopen)
    assert lead.stage is start and changes(session) == before


def test_unknown_stage_and_missing_lead_are_clear_errors(session: Session) -> None:
    lead = make_lead(session)
    with pytest.raises(InvalidInput, match="Unknown stage 'closing'"):
        move_lead(session, lead.id, "closing")
    with pytest.raises(NotFound, match="No lead with id 999"):
        move_lead(session, 999, "mql")


def test_lost_can_be_reopened_explicitly(session: Session) -> None:
    lead = make_lead(session, Stage.PROPOSAL)
    move(session, lead, "lost")
    move(session, lead, "contacted", reopen=True)
    assert lead.stage is Stage.CONTACTED
    assert history(session, lead.id)[-1].reason == "reopened"


def test_any_open_stage_can_be_lost(session: Session) -> None:
    lead = make_lead(session, Stage.NEW)
    move(session, lead, "lost")
    assert lead.stage is Stage.LOST


def test_a_configured_pipeline_without_a_stage_refuses_it(tmp_path: Path, session: Session) -> None:
    config = tmp_path / "pipeline.yml"
    config.write_text(
        "stages:\n  - {name: new, probability: 0.1}\n  - {name: sql, probability: 0.3}\n"
        "  - {name: won, probability: 1, terminal: true}\n  - {name: lost, probability: 0, terminal: true}\n"
        "sla: {accept_minutes: 5, max_passes: 1}\ndefault_currency: USD\n"
    )
    pipeline = load_pipeline(config)
    lead = make_lead(session, Stage.NEW)
    with pytest.raises(InvalidTransition, match="not part of the configured pipeline"):
        move(session, lead, "contacted", pipeline=pipeline)
    move(session, lead, "sql", pipeline=pipeline)
    assert pipeline.probability(Stage.SQL) == 0.3


def test_deals_carry_value_currency_close_date_and_their_own_history(session: Session) -> None:
    lead = make_lead(session, Stage.CONTACTED, created=at(1))
    deal = open_deal(
        session,
        lead.id,
        NewDeal(
            title="Pilot", value=Decimal("12000.50"), currency="eur", expected_close_date=date(2026, 3, 1)
        ),
        at=at(3),
    )
    assert (deal.stage, deal.currency, deal.value) == (Stage.CONTACTED, "EUR", Decimal("12000.50"))
    move_deal(session, deal.id, "proposal")
    closed = move_deal(session, deal.id, "won")
    row = session.get(Deal, deal.id)
    assert row is not None and row.closed_at == closed.changed_at
    assert [(c.deal_id, c.to_stage) for c in history(session, lead.id)] == [
        (None, Stage.CONTACTED),
        (deal.id, Stage.CONTACTED),
        (deal.id, Stage.PROPOSAL),
        (deal.id, Stage.WON),
    ]
    move_deal(session, deal.id, "negotiation", reopen=True)
    assert row.closed_at is None
    assert [d.id for d in list_deals(session, lead.id)] == [deal.id]


def test_bad_deals_are_refused(session: Session) -> None:
    won = make_lead(session, Stage.WON)
    with pytest.raises(InvalidInput, match="open stage"):
        open_deal(session, won.id, NewDeal(title="x", value=Decimal(1), currency="EUR"))
    with pytest.raises(NotFound):
        open_deal(session, 999, NewDeal(title="x", value=Decimal(1), currency="EUR"))
    with pytest.raises(ValueError, match="greater than 0"):
        NewDeal(title="x", value=Decimal(0), currency="EUR")


def test_activities_and_notes_attach_to_leads(session: Session) -> None:
    lead = make_lead(session)
    add_note(session, lead.id, "  Asked for a demo next week ")
    add_activity(session, lead.id, "call", "Intro call, 20 min")
    assert [(a.kind.value, a.body) for a in list_activities(session, lead.id)] == [
        ("note", "Asked for a demo next week"),
        ("call", "Intro call, 20 min"),
    ]
    with pytest.raises(InvalidInput, match="Unknown activity 'fax'"):
        add_activity(session, lead.id, "fax", "hello")
    with pytest.raises(InvalidInput, match="needs some text"):
        add_note(session, lead.id, "  ")
    with pytest.raises(NotFound):
        add_note(session, 999, "x")
