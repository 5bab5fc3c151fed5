"""A turn is never lost to the CRM database (actions/crm_writes.py, crm_core/sales/pending_captures.py): a capture
the locked database cannot take is kept, the visitor is told their details are being saved, and the lead is
written exactly once when the database is back; meanwhile other conversations get their answers. Runs the
real actions on a real SQLite database held by another writer ("database is locked")."""

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import func, select

from actions import crm_writes
from actions.capture_lead import ActionCaptureLead
from actions.qualification_form import ValidateQualificationForm
from actions.session import ActionSessionStart
from crm_core.config import get_settings
from crm_core.db import get_engine, unit_of_work
from crm_core.models import Notification, Qualification
from crm_core.people.reps import add_rep
from crm_core.qualification.policy import LeadFacts
from crm_core.sales import pending_captures
from crm_core.sales.leads import list_leads
from crm_core.schemas import ConversationRef, NewRep
from tests.harness import ROOT, free_port, wait_until
from tests.unit.test_form_idempotence import ANSWERED

DOMAIN: dict[str, Any] = yaml.safe_load((Path(__file__).parents[2] / "domain.yml").read_text())

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("EMBUDO_TEST_POSTGRES_URL")),
    reason="holds SQLite's write lock from another connection",
)


@pytest.fixture
def locked_crm(crm: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The actions' database, with a rep for SQL leads, quick retries, and a busy timeout long enough that
    only releasing the lock ends a wait (the tests decide the order, not the clock)."""
    with unit_of_work(crm) as session:
        add_rep(session, NewRep(name="Rosa Diaz", languages=["en"]))
    monkeypatch.setenv("EMBUDO_SQLITE_BUSY_TIMEOUT_MS", "30000")
    get_settings.cache_clear()
    get_engine.cache_clear()
    monkeypatch.setattr(crm_writes, "RETRY_PAUSES", (0.01,))
    monkeypatch.setattr(crm_writes, "DRAIN_FIRST_PAUSE", 0.01)
    yield crm


@contextmanager
def writer_holding(url: str) -> Iterator[sqlite3.Connection]:
    crm = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None, check_same_thread=False)
    crm.execute("BEGIN IMMEDIATE")
    try:
        yield crm
    finally:
        if crm.in_transaction:
            crm.execute("ROLLBACK")
        crm.close()


def tracker(sender: str, slots: dict[str, Any], intent: str = "affirm", text: str = "yes") -> Tracker:
    values = {name: None for name in DOMAIN["slots"]} | {"language": "en"} | slots
    message = {
        "text": text,
        "intent": {"name": intent},
        "intent_ranking": [{"name": intent, "confidence": 0.9}],
    }
    events = [{"event": "user", "text": text, "parse_data": message, "input_channel": "rest"}]
    return Tracker(sender, values, message, events, False, None, {}, "action_listen")


async def capture(sender: str) -> tuple[dict[str, Any], list[str | None]]:
    dispatcher = CollectingDispatcher()
    events = await ActionCaptureLead().run(dispatcher, tracker(sender, ANSWERED), DOMAIN)
    slots = {e["name"]: e["value"] for e in events if e["event"] == "slot"}
    # No zone from this channel: the time zone question is asked, its answer read by timezone_form, then the
    # rep's free times are offered.
    asked = [e["name"] for e in events if e["event"] == "active_loop"]
    return slots, [m.get("response") for m in dispatcher.messages] + asked


# What a qualified visitor is told at capture without a zone from the channel.
ASKED_ZONE = ["utter_next_steps_sql", "utter_ask_timezone", "timezone_form"]


def leads_and_cards(url: str) -> tuple[list[Any], int]:
    with unit_of_work(url) as session:
        return list_leads(session), int(session.scalar(select(func.count(Notification.id))) or 0)


def short_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each attempt gives up quickly: the lock is not released while the turn lasts."""
    monkeypatch.setenv("EMBUDO_SQLITE_BUSY_TIMEOUT_MS", "50")
    get_settings.cache_clear()
    get_engine.cache_clear()


def test_a_capture_the_locked_database_cannot_take_is_kept_and_written_once_when_it_can(
    locked_crm: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    short_waits(monkeypatch)

    async def scenario() -> None:
        with writer_holding(locked_crm):
            slots, said = await capture("visitor-1")
            assert said == ["utter_lead_saving"]  # the truth, not "try again"
            assert slots == {"lead_saved": True}  # later answers are corrections of this lead
            assert len(pending_captures.waiting()) == 1
        drainer = crm_writes._drainer
        assert drainer is not None
        await drainer  # the database is free again: the kept capture is written
        assert pending_captures.waiting() == []

    asyncio.run(scenario())
    leads, cards = leads_and_cards(locked_crm)
    assert [(lead.conversation_id, lead.qualification, lead.assigned_rep) for lead in leads] == [
        ("visitor-1", Qualification.SQL, "Rosa Diaz")
    ]
    assert cards >= 1

    # The visitor's turn retried (Rasa again, the form restarted): the same lead, the same class, no new card.
    slots, said = asyncio.run(capture("visitor-1"))
    assert said == ASKED_ZONE and slots["qualification"] == "sql"
    again, cards_again = leads_and_cards(locked_crm)
    assert [(lead.id, lead.qualification, lead.assigned_rep) for lead in again] == [
        (leads[0].id, Qualification.SQL, "Rosa Diaz")
    ]
    assert cards_again == cards


def test_a_restarted_action_server_writes_what_an_earlier_run_kept_before_any_turn(
    locked_crm: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    short_waits(monkeypatch)

    async def kept_while_locked() -> None:
        with writer_holding(locked_crm):
            _, said = await capture("visitor-kept")
            assert said == ["utter_lead_saving"]
        # the process ends here (its writer task with it), the capture still kept

    asyncio.run(kept_while_locked())
    assert len(pending_captures.waiting()) == 1 and leads_and_cards(locked_crm)[0] == []

    log = (tmp_path / "actions.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "actions.server", "--actions", "actions", "--port", str(free_port())],
        cwd=ROOT,
        env={**os.environ, "EMBUDO_DATABASE_URL": locked_crm},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: Sanic's worker processes are stopped with it
    )
    try:  # no visitor writes: the new server writes the kept capture on its own
        wait_until(lambda: leads_and_cards(locked_crm)[0], "the kept lead", 90, {"action server": server})
    finally:  # a server stopped while still starting may not hear SIGTERM: then SIGKILL, workers too
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
    leads, _ = leads_and_cards(locked_crm)
    assert [(lead.conversation_id, lead.qualification) for lead in leads] == [
        ("visitor-kept", Qualification.SQL)
    ]
    assert pending_captures.waiting() == []


def test_another_conversation_gets_its_answer_while_a_capture_waits_for_the_database(
    locked_crm: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    order: list[str] = []
    write = pending_captures.write

    def recorded_write(key: str, folder: Path | None = None) -> Any:
        order.append("capture attempt started")
        try:
            return write(key, folder)
        finally:
            order.append("capture attempt ended")

    monkeypatch.setattr(pending_captures, "write", recorded_write)

    async def other_conversation() -> None:
        dispatcher = CollectingDispatcher()
        other = tracker("visitor-2", {}, intent="greet", text="hello")
        await ActionSessionStart().run(dispatcher, other, DOMAIN)  # reads the CRM (WAL: readers go on)
        form = tracker("visitor-2", {"requested_slot": "need", "need": "a chatbot"}, "inform", "a chatbot")
        form.events.append({"event": "slot", "name": "need", "value": "a chatbot"})
        events = await ValidateQualificationForm().run(dispatcher, form, DOMAIN)
        asked = [e["value"] for e in events if e.get("name") == "requested_slot"]
        assert asked == ["budget"]
        order.append("other conversation answered")

    async def scenario() -> None:
        with writer_holding(locked_crm) as crm:
            waiting = asyncio.create_task(capture("visitor-1"))
            while "capture attempt started" not in order:
                await asyncio.sleep(0.01)
            await other_conversation()
            crm.execute("ROLLBACK")  # the other writer is done
            _, said = await waiting
            assert said == ASKED_ZONE  # then the rep's free times

    asyncio.run(scenario())
    # The other visitor was answered while the capture's first attempt was still waiting for the lock.
    assert order[:2] == ["capture attempt started", "other conversation answered"]
    assert order.index("other conversation answered") < order.index("capture attempt ended")
    leads, _ = leads_and_cards(locked_crm)
    assert [lead.conversation_id for lead in leads] == ["visitor-1"]


def test_a_capture_removed_while_the_waiting_ones_are_listed_is_skipped(tmp_path: Path) -> None:
    """Another conversation's turn may write and remove its capture between the listing of the folder and
    the reading of each file's age: the list leaves it out instead of failing the turn that asked (a load
    test saw that turn answered with the failure message). A dangling link is such a file: listed, gone."""
    kept = pending_captures.keep(
        pending_captures.PendingCapture(
            conversation=ConversationRef(channel="rest", sender_id="visitor-9"), facts=LeadFacts(need="a bot")
        ),
        tmp_path,
    )
    (tmp_path / "written-meanwhile.json").symlink_to(tmp_path / "no-longer-there.json")
    assert pending_captures.waiting(tmp_path) == [kept.key()]
