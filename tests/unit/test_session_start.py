"""A new Rasa session (an hour's silence, a restart) keeps a conversation a rep owns paused
(actions/session.py). Real action, real domain, a real CRM database."""

import asyncio
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.session import ActionSessionStart
from crm_core.chats import ownership
from crm_core.chats.conversations import conversation_for
from crm_core.chats.ownership import Move
from crm_core.db import unit_of_work
from crm_core.models import Rep
from tests.unit.test_contact_first import DOMAIN


def start_session(sender: str, **known: Any) -> list[dict[str, Any]]:
    slots = {name: None for name in DOMAIN["slots"]} | known
    tracker = Tracker(sender, slots, {}, [], False, None, {}, "action_listen")
    return asyncio.run(ActionSessionStart().run(CollectingDispatcher(), tracker, DOMAIN))


def kinds(events: list[dict[str, Any]]) -> list[str]:
    return [e["event"] for e in events]


def test_a_conversation_a_rep_owns_is_paused_again_and_keeps_its_slots(crm: str) -> None:
    with unit_of_work(crm) as session:
        rep = Rep(name="Marta", languages=["es"])
        session.add(rep)
        conversation_for(session, "socketio", "late-visitor")
        session.flush()
        ownership.change(session, "late-visitor", Move.TAKE_OVER, rep_id=rep.id, by="console")
    events = start_session("late-visitor", person_name="Iker", language="es")
    assert kinds(events) == ["session_started", "slot", "slot", "action", "pause"]
    assert {e["name"]: e["value"] for e in events if e["event"] == "slot"} == {
        "person_name": "Iker",
        "language": "es",
    }


@pytest.mark.parametrize("handed_back", [False, True])
def test_a_conversation_the_bot_owns_starts_unpaused(crm: str, handed_back: bool) -> None:
    with unit_of_work(crm) as session:
        rep = Rep(name="Marta", languages=["es"])
        session.add(rep)
        conversation_for(session, "socketio", "visitor")
        session.flush()
        if handed_back:
            ownership.change(session, "visitor", Move.TAKE_OVER, rep_id=rep.id, by="console")
            ownership.change(session, "visitor", Move.HAND_BACK, rep_id=rep.id, by="console")
    assert kinds(start_session("visitor")) == ["session_started", "action"]
    assert kinds(start_session("never-seen-by-the-crm")) == ["session_started", "action"]
