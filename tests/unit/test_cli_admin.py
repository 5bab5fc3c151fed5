"""`embudo privacy` and `embudo policy`, run as a user runs them: subprocesses on a real database."""

import json
import os
import subprocess
from pathlib import Path

from sqlalchemy import func, select

from crm_core.chats.transcripts import sync_transcripts
from crm_core.db import unit_of_work
from crm_core.models import Contact, PolicyVersion
from crm_core.qualification.policy import LeadFacts
from crm_core.qualification.policy_store import default_policy_text
from crm_core.sales.leads import capture_lead
from crm_core.schemas import ConversationRef
from tests.unit.test_transcripts import RasaEvents

EMBUDO = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "embudo"


def embudo(db_url: str, events_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "EMBUDO_DATABASE_URL": db_url, "EMBUDO_EVENTS_URL": events_url}
    return subprocess.run([str(EMBUDO), *args], env=env, capture_output=True, text=True, timeout=60)


def test_find_erase_and_log_a_contact(db_url: str, tmp_path: Path) -> None:
    events = RasaEvents(tmp_path / "events.db")
    events.user("web-1", "I'm Ana, ana@example.com", "inform", 0.9)
    with unit_of_work(db_url) as session:
        sync_transcripts(session, events.url)
        capture_lead(
            session,
            LeadFacts(name="Ana", email="ana@example.com"),
            ConversationRef(channel="rest", sender_id="web-1"),
        )
    found = embudo(db_url, events.url, "privacy", "find", "ana@")
    assert found.returncode == 0, found.stderr
    assert "contact 1: Ana <ana@example.com> -, 1 lead(s)" in found.stdout

    refused = embudo(db_url, events.url, "privacy", "erase", "99", "--by", "dpo")
    assert (refused.returncode, refused.stderr.strip()) == (1, "No contact with id 99.")

    erased = embudo(db_url, events.url, "privacy", "erase", "1", "--by", "dpo@example.com", "--reason", "R-7")
    assert erased.returncode == 0, erased.stderr
    assert "contact 1 by dpo@example.com: 1 conversations, 1 messages" in erased.stdout
    assert "1 rasa_events" in erased.stdout
    with unit_of_work(db_url) as session:
        assert session.scalar(select(func.count()).select_from(Contact)) == 0
    logged = json.loads(embudo(db_url, events.url, "privacy", "log", "--format", "json").stdout)
    assert [(row["contact_id"], row["erased_by"], row["reason"]) for row in logged] == [
        (1, "dpo@example.com", "R-7")
    ]
    assert "ana" not in json.dumps(logged).lower()
    assert embudo(db_url, events.url, "privacy", "purge", "--days", "30").stdout.strip() == "nothing to purge"


def test_policy_set_refuses_an_invalid_file_and_saves_a_valid_one(db_url: str, tmp_path: Path) -> None:
    events_url = f"sqlite:///{tmp_path / 'none.db'}"
    bad = tmp_path / "bad.yml"
    bad.write_text(default_policy_text().replace("warm_max_days: 90", "warm_max_days: 7"), encoding="utf-8")
    refused = embudo(db_url, events_url, "policy", "set", str(bad), "--by", "admin")
    assert refused.returncode == 1
    assert "warm_max_days must be at least hot_max_days" in refused.stderr
    assert "is already used" in refused.stderr
    with unit_of_work(db_url) as session:
        assert session.scalar(select(func.count()).select_from(PolicyVersion)) == 0

    good = tmp_path / "good.yml"
    good.write_text(
        default_policy_text().replace('version: "2026-12-01.2"', 'version: "v2"'), encoding="utf-8"
    )
    saved = embudo(db_url, events_url, "policy", "set", str(good), "--by", "admin")
    assert saved.returncode == 0, saved.stderr
    assert "saved policy version v2 (#1)" in saved.stdout
    shown = embudo(db_url, events_url, "policy", "show").stdout
    assert shown.startswith("# version v2 (#1)") and 'version: "v2"' in shown
    versions = embudo(db_url, events_url, "policy", "versions").stdout.splitlines()
    assert versions[0].startswith("#1    v2") and versions[0].endswith("(active)")
    assert versions[1].startswith("#0    2026-12-01.2") and "the YAML file" in versions[1]
