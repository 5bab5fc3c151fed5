"""A turn the Rasa server answered with the failure offer (rasa_channels/failsafe.py) leaves the
conversation waiting for a person once its transcript is copied."""

from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from crm_core.chats import ownership
from crm_core.chats.ownership import Move
from crm_core.chats.transcripts import FAILED_TURN, sync_transcripts, transcript
from crm_core.models import Lead, Notification, Owner, Rep
from crm_core.qualification.policy import LeadFacts
from crm_core.sales.leads import capture_lead
from crm_core.schemas import ConversationRef
from rasa_channels.wording import FAILED_TURN as MARK_THE_CHANNELS_WRITE
from tests.unit.test_transcripts import RasaEvents

OFFER: dict[str, Any] = {
    "event": "bot",
    "text": "Sorry, something went wrong on our side.",
    "data": {},
    "metadata": {"embudo": FAILED_TURN},
}


def test_the_channels_and_the_transcripts_agree_on_the_mark() -> None:
    assert FAILED_TURN == MARK_THE_CHANNELS_WRITE


def test_a_failed_turn_makes_the_conversation_wait_for_a_person_once(
    session: Session, tmp_path: Path
) -> None:
    events = RasaEvents(tmp_path / "tracker.db")
    events.user("v-1", "we could spend 12 thousand euros", "inform", 0.9, channel="socketio")
    events.publish("v-1", OFFER)
    sync_transcripts(session, events.url)
    assert ownership.current(session, "v-1").owner is Owner.WAITING
    assert transcript(session, "v-1").messages[-1].text == OFFER["text"]

    events.user("v-1", "marta@lakeshore.example", "inform", 0.9, channel="socketio")
    events.publish("v-1", {**OFFER, "text": "Thank you. Your messages are kept."})
    sync_transcripts(session, events.url)
    assert [(c.to_owner, c.changed_by) for c in ownership.history(session, "v-1")] == [
        (Owner.WAITING, "bot: a turn failed")
    ]


def test_a_failed_turn_leaves_a_conversation_a_rep_answers_with_the_rep(
    session: Session, tmp_path: Path
) -> None:
    events = RasaEvents(tmp_path / "tracker.db")
    events.user("v-2", "hello", "greet", 0.9, channel="rest")
    events.bot("v-2", "Hi!")
    sync_transcripts(session, events.url)
    rep = Rep(name="Ana", languages=["en"])
    session.add(rep)
    session.flush()
    ownership.change(session, "v-2", Move.TAKE_OVER, rep_id=rep.id, by="Ana")
    events.publish("v-2", OFFER)
    sync_transcripts(session, events.url)
    assert ownership.current(session, "v-2").owner is Owner.REP
    assert len(ownership.history(session, "v-2")) == 1


def test_plain_bot_lines_change_no_owner(session: Session, tmp_path: Path) -> None:
    events = RasaEvents(tmp_path / "tracker.db")
    events.user("v-3", "hello", "greet", 0.9)
    events.publish("v-3", {"event": "bot", "text": "Hi!", "data": {}, "metadata": {"embudo": "other"}})
    sync_transcripts(session, events.url)
    assert ownership.current(session, "v-3").owner is Owner.BOT


def test_a_failed_turn_on_a_conversation_with_a_lead_asks_its_person_to_join(
    session: Session, tmp_path: Path
) -> None:
    events = RasaEvents(tmp_path / "tracker.db")
    events.user("v-4", "a chat assistant for our two clinics", "inform", 0.9, channel="socketio")
    sync_transcripts(session, events.url)
    rep = Rep(name="Ana", languages=["en"])  # no working hours: always on shift
    session.add(rep)
    session.flush()
    lead = capture_lead(
        session, LeadFacts(need="a chat assistant"), ConversationRef(channel="socketio", sender_id="v-4")
    )
    events.publish("v-4", OFFER)
    sync_transcripts(session, events.url)
    state = ownership.current(session, "v-4")
    assert state.owner is Owner.WAITING
    assert [c.changed_by for c in ownership.history(session, "v-4")] == ["bot: a turn failed"]
    found = session.get(Lead, lead.id)
    assert found is not None and found.assigned_rep_id == rep.id
    [notice] = session.query(Notification).filter_by(lead_id=lead.id).all()  # the inbox: no Telegram, e-mail
    assert notice.rep_id == rep.id and "offered a person" in notice.reason
