"""The CRM commands of `embudo`, run as a user runs them: subprocesses against a real SQLite database."""

import csv
import io
import json
from pathlib import Path

from sqlalchemy import func, select

from crm_core.db import unit_of_work
from crm_core.models import Contact, Lead, Rep, Stage
from tests.unit.helpers import at, make_lead
from tests.unit.test_cli import embudo

CSV_OK = """name,email,phone,company,need,budget_amount,budget_currency,authority,timeline_days,consent,source
Ana Ruiz,ana@ACME.example,+34 600 123 456,Acme,a bot,15000,eur,decision_maker,10,yes,fair-2026
Bo Chen,,+1 415 555 2671,Initech,lead capture,,,,,no,fair-2026
"""
CSV_BAD = """name,email,phone,authority,consent
Ok,ok@example.org,,,yes
Bad,not-an-email,,boss,maybe
,,,,
"""


def lead_count(db_url: str) -> int:
    with unit_of_work(db_url) as session:
        return session.scalar(select(func.count()).select_from(Lead)) or 0


def test_pipeline_move_history_and_refusals(db_url: str) -> None:
    with unit_of_work(db_url) as session:
        lead_id = make_lead(session, Stage.SQL).id
    moved = embudo(db_url, "leads", "move", str(lead_id), "contacted", "--reason", "called her")
    assert moved.returncode == 0, moved.stderr
    assert f"lead {lead_id}: sql → contacted" in moved.stdout
    back = embudo(db_url, "leads", "move", str(lead_id), "new")
    assert back.returncode == 1 and "Cannot move back from 'contacted' to 'new'" in back.stderr
    unknown = embudo(db_url, "leads", "move", str(lead_id), "closing")
    assert unknown.returncode == 1 and "Unknown stage 'closing'" in unknown.stderr
    history = json.loads(embudo(db_url, "leads", "history", str(lead_id), "--format", "json").stdout)
    assert [(r["from"], r["to"], r["reason"], r["by"]) for r in history["stages"]] == [
        (None, "sql", None, "system"),  # made by this test, outside any adapter
        ("sql", "contacted", "called her", "CLI"),
    ]
    as_text = embudo(db_url, "leads", "history", str(lead_id)).stdout
    assert "sql → contacted    called her  · by CLI" in as_text
    board = json.loads(embudo(db_url, "pipeline", "--format", "json").stdout)
    assert {row["stage"]: row["leads"] for row in board}["contacted"] == 1
    note = embudo(db_url, "leads", "note", str(lead_id), "Wants a demo")
    assert note.returncode == 0 and "added note" in note.stdout
    assert "Wants a demo  · by CLI" in embudo(db_url, "leads", "activities", str(lead_id)).stdout


def test_deals_kpis_and_forecast(db_url: str) -> None:
    with unit_of_work(db_url) as session:
        lead_id = make_lead(session, Stage.PROPOSAL).id
    add = embudo(
        db_url, "deals", "add", str(lead_id), "--title", "Pilot", "--value", "8000", "--currency", "eur",
        "--close", "2026-02-15",
    )  # fmt: skip
    assert add.returncode == 0, add.stderr
    assert f"deal 1 on lead {lead_id}: 8000 EUR, proposal" in add.stdout
    months = json.loads(embudo(db_url, "forecast", "--format", "json").stdout)
    assert [{key: m[key] for key in ("month", "deals", "value", "weighted", "overdue")} for m in months] == [
        {"month": "2026-02", "deals": 1, "value": "8000.00", "weighted": "3200.00", "overdue": True}
    ]  # February 2026 is over
    assert months[0]["value_by_currency"] == {"EUR": "8000.00"} and months[0]["unconverted"] == {}
    assert "overdue: should have closed" in embudo(db_url, "forecast").stdout
    bad = embudo(db_url, "deals", "add", str(lead_id), "--title", "x", "--value", "ten", "--currency", "EUR")
    assert bad.returncode == 1 and "--value must be a number" in bad.stderr
    assert embudo(db_url, "deals", "move", "1", "won").returncode == 0
    kpis = json.loads(embudo(db_url, "kpis", "--format", "json").stdout)
    assert (kpis["deals"]["won"], kpis["deals"]["average_deal"]) == (1, "8000.00")
    text = embudo(db_url, "kpis", "--since", "2026-01-01")
    assert text.returncode == 0 and "win rate 100.0%" in text.stdout
    assert "from deal creation" in text.stdout and "from lead creation" in text.stdout
    assert "(0 of 1)" in text.stdout  # the lead was in proposal, and stayed there
    wrong = embudo(db_url, "kpis", "--since", "yesterday")
    assert wrong.returncode == 1 and "--since must be a date" in wrong.stderr


def test_reps_update_quota_sla_and_queue(db_url: str) -> None:
    hours = ("--timezone", "Europe/Madrid", "--hours", "mon-fri=09:00-18:00")
    added = embudo(db_url, "reps", "add", "--name", "Ana", "--languages", "en", "--territories", "es", *hours)
    assert added.returncode == 0, added.stderr
    reps = json.loads(embudo(db_url, "reps", "list", "--format", "json").stdout)
    assert reps[0]["territories"] == ["ES"] and reps[0]["working_hours"]["fri"] == ["09:00", "18:00"]
    assert "sat" not in reps[0]["working_hours"]
    bad = embudo(db_url, "reps", "add", "--name", "X", "--languages", "en", "--hours", "someday")
    assert bad.returncode == 1 and "Cannot read hours 'someday'" in bad.stderr
    off = embudo(db_url, "reps", "update", "1", "--inactive", "--capacity", "5")
    assert off.returncode == 0 and "inactive" in off.stdout
    assert embudo(db_url, "reps", "quota", "1", "--month", "2026-01", "--amount", "20000").returncode == 0
    assert "0 overdue lead(s)" in embudo(db_url, "sla", "enforce").stdout
    assert "the queue is empty" in embudo(db_url, "leads", "queue").stdout
    assert "0 webhook(s) delivered" in embudo(db_url, "webhooks", "deliver").stdout
    nope = embudo(db_url, "leads", "accept", "99", "--rep", "1")
    assert nope.returncode == 1 and "No lead with id 99" in nope.stderr


def test_csv_import_and_export_round_trip(db_url: str, tmp_path: Path) -> None:
    good = tmp_path / "leads.csv"
    good.write_text(CSV_OK)
    result = embudo(db_url, "leads", "import", str(good))
    assert result.returncode == 0, result.stderr
    assert "imported 2 rows: 2 new leads, 0 updated" in result.stdout
    again = embudo(db_url, "leads", "import", str(good))
    assert "0 new leads, 2 updated" in again.stdout
    exported = embudo(db_url, "leads", "export")
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert [(r["email"], r["phone"], r["qualification"], r["source"]) for r in rows] == [
        ("ana@acme.example", "'+34600123456", "sql", "fair-2026"),  # a leading + would run as a formula
        ("", "'+14155552671", "suspect", "fair-2026"),
    ]
    # the export is importable again and changes nothing
    path = tmp_path / "export.csv"
    assert embudo(db_url, "leads", "export", str(path)).returncode == 0
    assert "0 new leads, 2 updated" in embudo(db_url, "leads", "import", str(path)).stdout


def test_a_csv_with_bad_rows_is_refused_whole_with_every_problem(db_url: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(CSV_BAD)
    result = embudo(db_url, "leads", "import", str(bad))
    assert result.returncode == 1
    assert "Nothing imported; 2 bad row(s)" in result.stderr
    assert "line 3: email 'not-an-email' is not valid; authority 'boss' is not one of" in result.stderr
    assert "consent 'maybe' is not yes or no" in result.stderr
    assert "line 4: needs an email or a phone" in result.stderr
    assert lead_count(db_url) == 0
    with unit_of_work(db_url) as session:
        assert session.scalar(select(func.count()).select_from(Contact)) == 0
    missing = embudo(db_url, "leads", "import", str(tmp_path / "nope.csv"))
    assert missing.returncode == 1 and "Cannot read" in missing.stderr


def test_an_admin_assigns_a_queued_lead_from_the_command_line(db_url: str) -> None:
    with unit_of_work(db_url) as session:
        lead_id = make_lead(session, Stage.SQL).id  # nobody was there: it waits in the queue
    # Rosa has no room for routed leads, so adding her leaves it waiting; an admin may still choose her
    assert (
        embudo(db_url, "reps", "add", "--name", "Rosa", "--languages", "en", "--capacity", "0").returncode
        == 0
    )
    assert f"{lead_id:>6}  en" in embudo(db_url, "leads", "queue").stdout
    nobody = embudo(db_url, "leads", "assign", str(lead_id), "--rep", "7")
    assert nobody.returncode == 1 and "No rep with id 7." in nobody.stderr
    done = embudo(db_url, "leads", "assign", str(lead_id), "--rep", "1", "--by", "boss@example.com")
    assert done.returncode == 0, done.stderr
    assert f"lead {lead_id} assigned to Rosa (rep 1)" in done.stdout
    assert "the queue is empty" in embudo(db_url, "leads", "queue").stdout
    history = json.loads(embudo(db_url, "leads", "history", str(lead_id), "--format", "json").stdout)
    assert history["assignments"][-1]["reason"] == "to Rosa: chosen by boss@example.com"
    again = embudo(db_url, "leads", "assign", str(lead_id), "--rep", "1")
    assert again.returncode == 1 and "already assigned to Rosa" in again.stderr


def test_sla_enforce_also_picks_up_the_queue(db_url: str) -> None:
    with unit_of_work(db_url) as session:
        lead_id = make_lead(session, Stage.SQL).id
        # a rep who was away until a moment ago: nothing changed them, time did; the periodic job notices
        session.add(Rep(name="Rosa", languages=["en"], away_until=at(1, year=2020)))
    ran = embudo(db_url, "sla", "enforce")
    assert ran.returncode == 0, ran.stderr
    assert f"1 queued lead(s) assigned: {lead_id}" in ran.stdout


def test_a_rep_back_from_away_takes_the_queue_at_once(db_url: str) -> None:
    with unit_of_work(db_url) as session:
        session.add(Rep(name="Rosa", languages=["en"], away_until=at(1, year=2100)))
        session.flush()
        lead_id = make_lead(session, Stage.SQL).id
    assert f"{lead_id:>6}  en" in embudo(db_url, "leads", "queue").stdout
    back = embudo(db_url, "reps", "update", "1", "--away-until", "back")
    assert back.returncode == 0, back.stderr
    assert f"from the queue: 1 lead(s) handed out ({lead_id})" in back.stdout
    assert "the queue is empty" in embudo(db_url, "leads", "queue").stdout


def test_leads_export_then_import_into_an_empty_database(
    db_url: str, other_db_url: str, tmp_path: Path
) -> None:
    from tests.unit.test_csv_round_trip import REPS, _sales_team_history, _team, _without_ids

    with unit_of_work(db_url) as session:
        _sales_team_history(session)
    path = tmp_path / "export.csv"
    assert embudo(db_url, "leads", "export", str(path)).returncode == 0
    with unit_of_work(other_db_url) as session:
        _team(session, REPS[1:])  # Marta is missing: her leads cannot be matched
    refused = embudo(other_db_url, "leads", "import", str(path))
    assert refused.returncode == 1
    assert "line 2: owner_email 'marta@sales.example' is no rep's e-mail: add the rep first" in refused.stderr
    assert lead_count(other_db_url) == 0
    assert (
        embudo(
            other_db_url,
            "reps",
            "add",
            "--name",
            "Marta",
            "--languages",
            "es,en",
            "--email",
            "marta@sales.example",
        ).returncode
        == 0
    )
    done = embudo(other_db_url, "leads", "import", str(path))
    assert done.returncode == 0, done.stderr
    assert "imported 6 rows: 6 new leads, 0 updated" in done.stdout
    assert "0 new leads, 6 updated" in embudo(other_db_url, "leads", "import", str(path)).stdout
    original = list(csv.DictReader(io.StringIO(embudo(db_url, "leads", "export").stdout)))
    restored = list(csv.DictReader(io.StringIO(embudo(other_db_url, "leads", "export").stdout)))
    assert _without_ids(restored) == _without_ids(original)


def test_a_lost_deal_and_lead_take_a_re_check_date_and_the_nurture_queue_lists_what_came_due(
    db_url: str,
) -> None:
    from datetime import date, timedelta

    from crm_core.models import Deal, utcnow
    from crm_core.outreach import winback

    with unit_of_work(db_url) as session:
        lead_id = make_lead(session, Stage.PROPOSAL).id
    add = embudo(
        db_url, "deals", "add", str(lead_id), "--title", "Pilot", "--value", "10", "--currency", "EUR"
    )
    deal_id = add.stdout.split()[1]
    soon = (date.today() + timedelta(days=3)).isoformat()
    bad = embudo(db_url, "deals", "move", deal_id, "lost", "--lost-reason", "price", "--recheck-on", "soon")
    assert bad.returncode == 1 and "--recheck-on must be a date like 2026-01-31, not 'soon'" in bad.stderr
    lost = embudo(db_url, "deals", "move", deal_id, "lost", "--lost-reason", "price", "--recheck-on", soon)
    assert lost.returncode == 0, lost.stderr
    moved = embudo(db_url, "leads", "move", str(lead_id), "lost", "--recheck-on", soon)
    assert moved.returncode == 0, moved.stderr
    with unit_of_work(db_url) as session:
        deal = session.get(Deal, int(deal_id))
        lead = session.get(Lead, lead_id)
        assert deal is not None and lead is not None
        assert deal.recheck_on == lead.recheck_on == date.fromisoformat(soon)
        winback.find_due(session, utcnow() + timedelta(days=3))
    queue = embudo(db_url, "leads", "rechecks")
    assert f"lead {lead_id}: Re-check: lead lost, re-check due {soon}" in queue.stdout
    assert "message not sent: no consent on record" in queue.stdout
