"""The `embudo` command, run as a user runs it: a subprocess against a real SQLite database."""

import json
import os
import subprocess
from decimal import Decimal
from pathlib import Path

from crm_core.db import unit_of_work
from crm_core.models import Authority
from crm_core.qualification.policy import LeadFacts
from crm_core.sales.leads import capture_lead
from crm_core.schemas import ConversationRef

EMBUDO = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "embudo"


def embudo(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "EMBUDO_DATABASE_URL": db_url}
    return subprocess.run([str(EMBUDO), *args], env=env, capture_output=True, text=True, timeout=60)


def test_reps_add_and_list(db_url: str) -> None:
    added = embudo(db_url, "reps", "add", "--name", "Rosa Diaz", "--languages", "en,ES", "--capacity", "3")
    assert added.returncode == 0, added.stderr
    assert "added rep 1: Rosa Diaz (en, es, capacity 3)" in added.stdout
    listed = embudo(db_url, "reps", "list", "--format", "json")
    assert json.loads(listed.stdout)[0] | {"open_leads": 0} == {
        "id": 1,
        "name": "Rosa Diaz",
        "languages": ["en", "es"],
        "telegram_chat_id": None,
        "email": None,
        "capacity": 3,
        "active": True,
        "territories": [],
        "timezone": "UTC",
        "working_hours": {},
        "away_until": None,
        "is_admin": False,
        "open_leads": 0,
        "caldav_url": None,
        "caldav_username": None,
    }


def test_bad_rep_input_is_refused_with_a_clear_message_and_nothing_written(db_url: str) -> None:
    for args in (["--name", " ", "--languages", "en"], ["--name", "X", "--languages", "e1"]):
        result = embudo(db_url, "reps", "add", *args)
        assert result.returncode == 1
        assert "Cannot add rep" in result.stderr
    assert json.loads(embudo(db_url, "reps", "list", "--format", "json").stdout) == []


def test_leads_list_json_and_show(db_url: str) -> None:
    with unit_of_work(db_url) as session:
        embudo(db_url, "reps", "add", "--name", "Rosa", "--languages", "en")
        lead = capture_lead(
            session,
            LeadFacts(
                need="a bot",
                budget_amount=Decimal(5000),
                authority=Authority.DECISION_MAKER,
                timeline_days=10,
                company="Acme",
                name="Ana",
                email="ana@acme.example",
                consent=True,
            ),
            ConversationRef(channel="rest", sender_id="conv-1"),
        )
    listed = embudo(db_url, "leads", "list", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    [row] = json.loads(listed.stdout)
    required = {
        "id", "name", "email", "company", "qualification", "temperature", "score", "reasons",
        "assigned_rep", "channel", "conversation_id", "created_at",
    }  # fmt: skip
    assert required <= row.keys()
    summary = (row["id"], row["qualification"], row["temperature"], row["assigned_rep"])
    assert summary == (lead.id, "sql", "hot", "Rosa")
    assert (row["channel"], row["conversation_id"]) == ("rest", "conv-1")
    assert all({"component", "points", "why"} <= reason.keys() for reason in row["reasons"])

    shown = embudo(db_url, "leads", "show", str(lead.id))
    assert "class sql, hot" in shown.stdout and "assigned to Rosa" in shown.stdout
    missing = embudo(db_url, "leads", "show", "999")
    assert missing.returncode == 1 and "No lead with id 999" in missing.stderr


def test_leads_list_searches_filters_and_sorts_like_the_console(db_url: str) -> None:
    with unit_of_work(db_url) as session:
        for name, email, budget in (("Ana", "ana@acme.example", 5000), ("Bo", "bo@fjord.example", None)):
            capture_lead(
                session,
                LeadFacts(
                    name=name, email=email, budget_amount=Decimal(budget) if budget else None, consent=True
                ),
                ConversationRef(channel="rest", sender_id=f"conv-{name}"),
            )

    def names(*args: str) -> list[str]:
        listed = embudo(db_url, "leads", "list", "--format", "json", *args)
        assert listed.returncode == 0, listed.stderr
        return [row["name"] for row in json.loads(listed.stdout)]

    assert names() == ["Bo", "Ana"]
    assert names("--sort", "oldest") == ["Ana", "Bo"]
    assert names("--search", "FJORD") == ["Bo"]
    assert names("--search", "acme", "--unassigned", "--not-overdue") == ["Ana"]
    assert names("--limit", "1", "--offset", "1") == ["Ana"]
    refused = embudo(db_url, "leads", "list", "--temperature", "boiling")
    assert refused.returncode == 1 and "Cannot list leads: temperature:" in refused.stderr
