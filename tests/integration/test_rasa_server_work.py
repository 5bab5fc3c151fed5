"""The Rasa server's work moved off its event loop or done once (rasa_channels/understanding.py,
tracker_store.py, action_replies.py), tried in Rasa's own environment (Python 3.10, the real Rasa 3.6
classes) and through the running stack."""

import json
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import ROOT, Stack, running_stack

pytestmark = pytest.mark.integration

RASA_PYTHON = ROOT / ".venv-rasa" / "bin" / "python"

# Run by Rasa's interpreter: the checked answers and the stored trackers, printed as JSON.
IN_RASA = r"""
import asyncio, json, sys, threading
from jsonschema import ValidationError, validate
from rasa.core.actions.action import RemoteAction
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import event

import rasa_channels.failsafe  # what credentials.yml loads: it brings the faster check with it
from rasa_channels.tracker_store import OffLoopSQLTrackerStore

answers = [
    {"events": [{"event": "slot", "name": "budget", "value": 12000}], "responses": [{"text": "ok"}]},
    {"events": [], "responses": []},
    {},
    {"events": [{"event": "no such event"}]},
    {"events": [{"event": "slot"}]},
    {"events": "not a list"},
    {"responses": ["not an object"]},
]

def verdict(check, answer):
    try:
        return bool(check(answer))
    except ValidationError as error:
        return "refused: " + error.message

action = RemoteAction("validate_qualification_form", None)
ours = [verdict(action._validate_action_result, answer) for answer in answers]
rasas = [verdict(lambda a: validate(a, RemoteAction.action_response_format_spec()) or True, a) for a in answers]

domain = Domain.from_yaml("slots:\n  budget:\n    type: any\n    mappings: [{type: custom}]\n")
threads = set()

async def store_and_read():
    store = OffLoopSQLTrackerStore(domain=domain, dialect="sqlite", db=sys.argv[1])
    event.listen(store.engine, "before_cursor_execute", lambda *_: threads.add(threading.current_thread().name))
    tracker = DialogueStateTracker.from_events("v-1", [
        ActionExecuted("action_listen"), UserUttered("we have 12k", {"name": "inform", "confidence": 0.9}),
        SlotSet("budget", 12000),
    ], domain.slots)
    await store.save(tracker)
    tracker.update(SlotSet("budget", 15000))
    await asyncio.gather(store.save(tracker), store.retrieve("nobody"))
    again = await OffLoopSQLTrackerStore(domain=domain, dialect="sqlite", db=sys.argv[1]).retrieve("v-1")
    return [e.as_dict()["event"] for e in again.events], again.get_slot("budget")

events, budget = asyncio.run(store_and_read())
print(json.dumps({"ours": ours, "rasas": rasas, "events": events, "budget": budget, "threads": sorted(threads)}))
"""


def test_in_rasas_own_environment(tmp_path: Path) -> None:
    database = tmp_path / "tracker.db"
    done = subprocess.run(
        [str(RASA_PYTHON), "-c", IN_RASA, str(database)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": "/usr/bin:/bin", "RASA_TELEMETRY_ENABLED": "false", "PYTHONWARNINGS": "ignore"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])

    # The action server's answers: accepted and refused exactly as Rasa's own check does, with its message.
    assert [str(v).split(". Failed to validate")[0] for v in seen["ours"]] == [str(v) for v in seen["rasas"]]
    assert seen["ours"][:3] == [True, True, True]
    assert all(str(v).startswith("refused: ") for v in seen["ours"][3:])
    assert all("Failed to validate Action server response" in str(v) for v in seen["ours"][3:])

    # The tracker store: every event stored once, in order, read back by another store; in WAL mode.
    assert seen["events"] == ["action", "user", "slot", "slot"]
    assert seen["budget"] == 15000
    assert seen["threads"] == ["embudo-tracker-store"]  # every query after start-up, none on the loop
    with sqlite3.connect(database) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert connection.execute("SELECT count(*) FROM events WHERE sender_id = 'v-1'").fetchone() == (4,)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("rasa-work")) as stack:
        yield stack


def test_the_running_server_understands_and_keeps_every_turn(stack: Stack) -> None:
    """endpoints.yml names our tracker store (Rasa would fall back to keeping trackers in memory, with a
    warning only, had it not loaded) and the channels understand messages off the loop: the turns Rasa
    recorded carry the understood intent, the form is open, and the SQLite file holds every message."""
    sender = "rasa-work-1"
    texts = ["hey, good afternoon to you", "could you send me a quote for the chatbot?"]
    for text in texts:
        assert stack.say(sender, text)
    tracker = stack.tracker(sender)
    said = [e for e in tracker["events"] if e["event"] == "user"]
    assert [e["text"] for e in said] == texts
    assert said[1]["parse_data"]["intent"]["name"] == "request_sales"
    assert tracker["active_loop"]["name"] == "qualification_form"
    with sqlite3.connect(stack.logs / "tracker.db") as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        stored = connection.execute(
            "SELECT data FROM events WHERE sender_id = ? AND type_name = 'user' ORDER BY id", (sender,)
        ).fetchall()
    assert [json.loads(row[0])["text"] for row in stored] == [e["text"] for e in said]
