"""Speed to lead, SLA compliance per rep and time in stage, on a fixture worked out by hand below.

Monday March 2nd 2026; the SLA gives a rep 15 minutes to accept. Every lead becomes SQL at 09:00.
    L1 → Ana 09:00, accepted 09:10 (in time); a call logged 09:30           accept 10, contact 30 min
    L2 → Ana 09:00, accepted 09:20 (late: 20 > 15); moved to contacted 10:00  accept 20, contact 60 min
    L3 → Ben 09:00, passed 09:05 → Ana 09:05, accepted 09:08 (in time)      accept 8 (from 09:00)
    L4 → Ben 09:00, still waiting (not decided: not counted in the SLA)      counts for Ben, its owner
  Ana: 3 leads, to accept (10 + 20 + 8)/3 = 12.67 min, to first contact (30 + 60)/2 = 45 min,
       SLA 2 of 3 (L1, L3 in time; L2 late). Ben: 1 lead, none accepted; SLA 0 of 1 (the pass).
  Team: 4 leads, the same averages, SLA 2 of 4 = 0.5.
Time in stage (deals on L5): D1 opened Mar 1 in sql, proposal Mar 4, won Mar 10 → sql 3 days,
  proposal 6; D2 opened Mar 1 in proposal, lost Mar 3 → proposal 2. Deals: sql 3 (1 move),
  proposal (6 + 2)/2 = 4 (2 moves). Leads: L2 left sql after 1 hour = 1/24 day.
  Since March 4th: deals sql 3 (1), proposal 6 (1, the won move); no lead moves.
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session

from crm_core.models import Deal, Stage
from crm_core.people.reps import add_rep
from crm_core.reporting.kpis_speed import speed_to_lead, time_in_stage
from crm_core.sales import activities, lifecycle, pipeline
from crm_core.sales.deals import open_deal
from crm_core.schemas import NewDeal, NewRep
from tests.unit.helpers import make_lead

NINE = datetime(2026, 3, 2, 9, tzinfo=UTC)


def minutes(n: int) -> datetime:
    return NINE + timedelta(minutes=n)


def day(n: int) -> datetime:
    return datetime(2026, 3, n, 9, tzinfo=UTC)


@pytest.fixture
def worked(session: Session) -> Session:
    ana = add_rep(session, NewRep(name="Ana", languages=["en"])).id
    ben = add_rep(session, NewRep(name="Ben", languages=["en"])).id
    l1, l2, l3, l4 = (make_lead(session, Stage.SQL, created=NINE) for _ in range(4))
    for lead, rep in ((l1, ana), (l2, ana), (l3, ben), (l4, ben)):
        lifecycle.assign_to(session, lead.id, rep, by="test", now=NINE)
    lifecycle.accept(session, l1.id, ana, now=minutes(10))
    activities.add_activity(session, l1.id, "call", "first call", rep_id=ana, at=minutes(30))
    activities.add_activity(session, l1.id, "note", "not a contact", rep_id=ana, at=minutes(20))
    lifecycle.accept(session, l2.id, ana, now=minutes(20))
    lifecycle.move(session, l2, "contacted", at=minutes(60))
    assert lifecycle.pass_lead(session, l3.id, ben, now=minutes(5)).id == ana  # type: ignore[union-attr]
    lifecycle.accept(session, l3.id, ana, now=minutes(8))

    l5 = make_lead(session, created=datetime(2026, 3, 1, 9, tzinfo=UTC))
    d1 = open_deal(
        session, l5.id, NewDeal(title="a", value=Decimal(1), currency="EUR", stage=Stage.SQL), at=day(1)
    )
    d2 = open_deal(
        session, l5.id, NewDeal(title="b", value=Decimal(1), currency="EUR", stage=Stage.PROPOSAL), at=day(1)
    )
    first, second = session.get(Deal, d1.id), session.get(Deal, d2.id)
    assert first is not None and second is not None
    pipeline.move(session, first, "proposal", at=day(4))
    pipeline.move(session, first, "won", at=day(10))
    pipeline.move(session, second, "lost", at=day(3), lost_reason="price")
    session.flush()
    return session


def test_speed_to_lead_and_sla_compliance_per_rep(worked: Session) -> None:
    report = speed_to_lead(worked)
    rows = {row.name: row for row in report.reps}
    ana, ben, team = rows["Ana"], rows["Ben"], report.team
    assert (ana.qualified_leads, ana.accepted, ana.first_contacted) == (3, 3, 2)
    assert ana.average_minutes_to_accept == pytest.approx(38 / 3)
    assert ana.average_minutes_to_first_contact == pytest.approx(45)
    assert (ana.sla_met, ana.sla_decided, ana.sla_compliance) == (2, 3, pytest.approx(2 / 3))
    assert (ben.qualified_leads, ben.accepted, ben.average_minutes_to_accept) == (1, 0, None)
    assert (ben.sla_met, ben.sla_decided, ben.sla_compliance) == (0, 1, 0.0)
    assert (team.qualified_leads, team.sla_met, team.sla_decided, team.sla_compliance) == (4, 2, 4, 0.5)
    assert team.average_minutes_to_accept == pytest.approx(38 / 3)


def test_speed_to_lead_over_a_period(worked: Session) -> None:
    later = speed_to_lead(worked, since=datetime(2026, 3, 3, tzinfo=UTC))
    assert (later.team.qualified_leads, later.team.sla_decided, later.team.sla_compliance) == (0, 0, None)
    same_day = speed_to_lead(worked, since=NINE, until=minutes(1))
    # leads are counted to the minute, SLA clocks by the day the lead was handed over: all four
    assert (same_day.team.qualified_leads, same_day.team.sla_decided) == (4, 4)


def test_time_in_stage_for_leads_and_deals(worked: Session) -> None:
    times = time_in_stage(worked)
    assert [(t.stage, t.moves_out, t.average_days) for t in times.deals] == [
        (Stage.SQL, 1, pytest.approx(3)),
        (Stage.PROPOSAL, 2, pytest.approx(4)),
    ]
    assert [(t.stage, t.moves_out, t.average_days) for t in times.leads] == [
        (Stage.SQL, 1, pytest.approx(1 / 24))
    ]
    since = time_in_stage(worked, since=datetime(2026, 3, 4, tzinfo=UTC))
    assert [(t.stage, t.moves_out, t.average_days) for t in since.deals] == [
        (Stage.SQL, 1, pytest.approx(3)),
        (Stage.PROPOSAL, 1, pytest.approx(6)),
    ]
    assert since.leads == []


def test_revision_0018_fills_the_kept_figures_from_the_history(worked: Session, db_url: str) -> None:
    """Going back to 0017 drops what is kept; upgrading again computes it from the history and the routing
    log alone, and every figure comes out as it was kept change by change."""
    from alembic import command
    from alembic.config import Config

    from crm_core.db import MIGRATIONS_DIR, unit_of_work, upgrade_database

    kept = (speed_to_lead(worked), time_in_stage(worked))
    worked.commit()
    worked.close()
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", db_url.replace("%", "%%"))
    command.downgrade(config, "0017_task_done")
    upgrade_database(db_url)
    with unit_of_work(db_url) as session:
        filled = (speed_to_lead(session), time_in_stage(session))
    assert filled[0] == kept[0]
    assert [(t.stage, t.moves_out) for t in filled[1].deals] == [
        (t.stage, t.moves_out) for t in kept[1].deals
    ]
    assert [t.average_days for t in filled[1].deals] == pytest.approx([t.average_days for t in kept[1].deals])
    assert [t.average_days for t in filled[1].leads] == pytest.approx([t.average_days for t in kept[1].leads])
