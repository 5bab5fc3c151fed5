"""Lead CSV export → import into an empty database: the same leads, stages, owners, dates and deals; a
second import adds nothing; a bad row is refused with its line and field, and nothing is written."""

import csv
import io
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_core.db import unit_of_work
from crm_core.errors import InvalidInput
from crm_core.exchange.csv_io import export_leads, import_leads
from crm_core.models import AssignmentEvent, Contact, Deal, Lead, Notification, Stage, StageChange
from crm_core.people.reps import add_rep, open_lead_counts, recount_open_leads
from crm_core.qualification.policy import LeadFacts
from crm_core.sales import lifecycle
from crm_core.sales.deals import open_deal
from crm_core.sales.leads import capture_lead
from crm_core.sales.pipeline import move_deal
from crm_core.schemas import ConversationRef, NewDeal, NewRep
from tests.unit.helpers import at
from tests.unit.test_leads import HOT

REPS = [
    NewRep(name="Marta", languages=["es", "en"], email="marta@sales.example"),
    NewRep(name="Tom", languages=["en"], email="tom@sales.example"),
    NewRep(name="Ines", languages=["es"], email="ines@sales.example", capacity=5),
]


def _team(session: Session, reps: list[NewRep]) -> dict[str, int]:
    return {rep.name: add_rep(session, rep).id for rep in reps}


def _facts(name: str, email: str | None, phone: str | None = None, **changes: object) -> LeadFacts:
    return HOT.model_copy(update={"name": name, "email": email, "phone": phone, **changes})


def _sales_team_history(session: Session) -> None:
    """Six leads as a team works them: routed, accepted, moved, won, lost; deals in EUR and USD."""
    reps = _team(session, REPS)

    def capture(facts: LeadFacts, day: int, language: str = "en", source: str = "web") -> Lead:
        ref = ConversationRef(channel="web", sender_id=f"visitor-{day}")
        out = capture_lead(session, facts, ref, language=language, source=source, now=at(day))
        lead = session.get(Lead, out.id)
        assert lead is not None
        return lead

    def give(lead: Lead, rep: str, hour: int) -> None:
        if lead.assigned_rep_id != reps[rep]:  # routing may have picked them already
            lifecycle.assign_to(
                session, lead.id, reps[rep], by="admin", now=lead.created_at.replace(hour=hour)
            )

    won = capture(_facts("Ana Ruiz", "ana@acme.example"), 2)
    give(won, "Marta", 10)
    lifecycle.accept(session, won.id, reps["Marta"], now=at(2, hour=11))
    lifecycle.move(session, won, Stage.PROPOSAL, at=at(5))
    pilot = open_deal(
        session, won.id, NewDeal(title="Pilot", value=Decimal("12000"), currency="EUR"), at=at(5)
    )
    extra = open_deal(
        session, won.id, NewDeal(title="Support", value=Decimal("2500.50"), currency="USD"), at=at(6)
    )
    move_deal(session, pilot.id, Stage.WON)
    move_deal(session, extra.id, Stage.LOST, lost_reason="competitor")
    lifecycle.move(session, won, Stage.WON, at=at(20))

    open_one = capture(_facts("Bo Lee", None, "+1 415 555 2671", budget_currency="USD"), 3, source="fair")
    give(open_one, "Tom", 12)
    lifecycle.accept(session, open_one.id, reps["Tom"], now=at(3, hour=13))
    lifecycle.move(session, open_one, Stage.PROPOSAL, at=at(8))
    open_deal(
        session,
        open_one.id,
        NewDeal(title="Rollout", value=Decimal("40000"), currency="USD", expected_close_date=at(28).date()),
        at=at(8),
    )

    waiting = capture(_facts("Carla Gil", "carla@gil.example", language="es"), 4, language="es")
    give(waiting, "Ines", 10)

    lost = capture(_facts("Dan Fox", "dan@fox.example"), 5)
    lifecycle.move(session, lost, Stage.LOST, at=at(9))

    capture(_facts("Eve Kim", "eve@kim.example", authority="unknown", budget_amount=None, need=None), 6)
    capture(_facts("Fay Ono", None, "+34 600 123 456", consent=False, timeline_days=90), 7, source="ads")
    session.flush()


def _export(session: Session) -> list[dict[str, str]]:
    stream = io.StringIO()
    export_leads(session, stream)
    return list(csv.DictReader(io.StringIO(stream.getvalue())))


def _csv(rows: list[dict[str, str]]) -> io.StringIO:
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return io.StringIO(text.getvalue())


def _without_ids(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    return [{key: value for key, value in row.items() if key != "id"} for row in rows]


def _counts(session: Session) -> dict[str, int]:
    tables = {"contacts": Contact, "leads": Lead, "deals": Deal, "history": StageChange}
    return {
        name: session.scalar(select(func.count()).select_from(model)) or 0 for name, model in tables.items()
    }


def test_an_export_imported_into_an_empty_database_gives_the_same_leads(
    db_url: str, other_db_url: str
) -> None:
    with unit_of_work(db_url) as session:
        _sales_team_history(session)
    with unit_of_work(db_url) as session:
        exported = _export(session)
        before = _counts(session)
    with unit_of_work(other_db_url) as session:
        _team(session, list(reversed(REPS)))  # the same people, other ids: owners are matched by e-mail
    with unit_of_work(other_db_url) as session:
        report = import_leads(session, _csv(exported))
        assert (report.rows, report.created, report.updated) == (6, 6, 0)
    with unit_of_work(other_db_url) as session:
        again = _export(session)
        assert _counts(session) == before
        assert session.scalar(select(func.count()).select_from(Notification)) == 0  # nobody is told again
        assert open_lead_counts(session) == recount_open_leads(session) != {}

    assert len(again) == len(exported) == 6
    for original, imported in zip(_without_ids(exported), _without_ids(again), strict=True):
        for field, value in original.items():
            assert imported[field] == value, (original["name"], field)
    by_name = {row["name"]: row for row in again}
    assert (
        by_name["Ana Ruiz"]["stage"] == "won" and by_name["Ana Ruiz"]["owner_email"] == "marta@sales.example"
    )
    assert by_name["Ana Ruiz"]["stage_history"].split("; ")[-1].startswith("won 2026-01-20T09:00:00")
    assert (
        '"currency": "USD"' in by_name["Ana Ruiz"]["deals"]
        and '"currency": "EUR"' in by_name["Ana Ruiz"]["deals"]
    )
    assert by_name["Bo Lee"]["accepted_at"].startswith("2026-01-03T13:00:00")
    assert (
        by_name["Carla Gil"]["owner_email"] == "ines@sales.example"
        and not by_name["Carla Gil"]["accepted_at"]
    )


def test_an_imported_lead_keeps_its_clock_owner_and_deal_dates(db_url: str, other_db_url: str) -> None:
    with unit_of_work(db_url) as session:
        _sales_team_history(session)
    with unit_of_work(db_url) as session:
        stream = io.StringIO()
        export_leads(session, stream)
    with unit_of_work(other_db_url) as session:
        reps = _team(session, list(reversed(REPS)))
        import_leads(session, io.StringIO(stream.getvalue()))
    with unit_of_work(other_db_url) as session:
        carla = session.scalar(select(Lead).join(Contact).where(Contact.email == "carla@gil.example"))
        assert carla is not None and carla.assigned_rep_id == reps["Ines"]
        assert carla.accepted_at is None and carla.sla_due_at is not None  # still waiting to be accepted
        assert carla.sla_due_at > carla.assigned_at  # type: ignore[operator]
        ana = session.scalar(select(Lead).join(Contact).where(Contact.email == "ana@acme.example"))
        assert ana is not None and ana.sla_due_at is None and ana.accepted_at == at(2, hour=11)
        pilot = session.scalar(select(Deal).where(Deal.title == "Pilot"))
        assert pilot is not None and pilot.created_at == at(5) and pilot.stage is Stage.WON
        assert pilot.closed_at is not None and pilot.won_at == pilot.closed_at
        assert pilot.lead_rep_id == reps["Marta"] and pilot.lead_created_at == ana.created_at
        events = session.scalars(select(AssignmentEvent.reason).where(AssignmentEvent.lead_id == ana.id))
        assert list(events) == ["to Marta: imported"]


def test_importing_an_export_twice_adds_nothing(db_url: str, other_db_url: str) -> None:
    with unit_of_work(db_url) as session:
        _sales_team_history(session)
    with unit_of_work(db_url) as session:
        stream = io.StringIO()
        export_leads(session, stream)
    with unit_of_work(other_db_url) as session:
        _team(session, REPS)
    for created, updated in ((6, 0), (0, 6)):
        with unit_of_work(other_db_url) as session:
            report = import_leads(session, io.StringIO(stream.getvalue()))
            assert (report.created, report.updated) == (created, updated)
    with unit_of_work(other_db_url) as session:
        # Ana 3 moves + her deals 2 + 2, Bo 2 + his deal 1, Carla 1, Dan 2, Eve 1, Fay 1
        assert _counts(session) == {"contacts": 6, "leads": 6, "deals": 3, "history": 15}
    # and importing it back where it came from adds nothing either
    with unit_of_work(db_url) as session:
        before = _counts(session)
        assert import_leads(session, io.StringIO(stream.getvalue())).created == 0
        assert _counts(session) == before


def test_a_bad_record_is_refused_by_line_and_field_and_nothing_is_written(
    db_url: str, other_db_url: str
) -> None:
    with unit_of_work(db_url) as session:
        _sales_team_history(session)
    with unit_of_work(db_url) as session:
        rows = _export(session)
    rows[1]["owner_email"] = "nobody@sales.example"
    rows[2]["stage_history"] = "sql yesterday"
    rows[3]["deals"] = (
        '[{"title": "X", "value": "-5", "currency": "EUR", "history": "new 2026-01-05T09:00:00+00:00"}]'
    )
    rows[4]["created_at"] = "2026-01-06 09:00"
    with unit_of_work(other_db_url) as session:
        _team(session, REPS)
    with unit_of_work(other_db_url) as session, pytest.raises(InvalidInput) as refused:
        import_leads(session, _csv(rows))
    message = str(refused.value)
    assert "Nothing imported; 4 bad row(s)" in message
    assert "line 3: owner_email 'nobody@sales.example' is no rep's e-mail" in message
    assert "line 4: stage_history 'yesterday' is not a date and time" in message
    assert "line 5: deals[1]: value: Value error, give the amount as a number" in message  # "-5"
    assert "line 6: created_at '2026-01-06 09:00' has no time zone" in message
    with unit_of_work(other_db_url) as session:
        assert _counts(session) == {"contacts": 0, "leads": 0, "deals": 0, "history": 0}


def test_a_row_without_a_record_is_captured_and_routed_like_a_bot_lead(db_url: str) -> None:
    with unit_of_work(db_url) as session:
        _team(session, REPS)
        text = "name,email,need,budget_amount,budget_currency,authority,timeline_days,consent\n"
        text += "Gus Roy,gus@roy.example,a chatbot,20000,EUR,decision_maker,10,yes\n"
        report = import_leads(session, io.StringIO(text))
        lead = session.get(Lead, report.lead_ids[0])
        assert lead is not None and lead.stage is Stage.SQL and lead.assigned_rep_id is not None
        assert lead.source == "csv import"
