"""Who owns a live conversation: the moves allowed, the refusals (nothing written), and the history."""

import re
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_core.chats import ownership
from crm_core.chats.conversations import conversation_for
from crm_core.chats.ownership import Move
from crm_core.chats.transcripts import transcript
from crm_core.db import unit_of_work
from crm_core.errors import InvalidInput, InvalidTransition, NotFound
from crm_core.models import Owner, OwnershipChange, Rep
from tests.unit.test_transcripts import RasaEvents


@pytest.fixture
def reps(session: Session) -> tuple[int, int]:
    ana, bo = Rep(name="Ana", languages=["en"]), Rep(name="Bo", languages=["en"])
    session.add_all([ana, bo])
    conversation_for(session, "socketio", "visitor-1")
    session.flush()
    return ana.id, bo.id


def changes(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(OwnershipChange)) or 0


def test_a_new_conversation_belongs_to_the_bot(session: Session, reps: tuple[int, int]) -> None:
    state = ownership.current(session, "visitor-1")
    assert (state.owner, state.rep_id) == (Owner.BOT, None)


def test_waiting_take_over_and_hand_back_are_each_recorded(session: Session, reps: tuple[int, int]) -> None:
    ana, _ = reps
    ownership.change(session, "visitor-1", Move.ASK_FOR_PERSON, by="visitor")
    assert ownership.current(session, "visitor-1").owner is Owner.WAITING
    ownership.change(session, "visitor-1", Move.TAKE_OVER, rep_id=ana, by="console: ana@example.com")
    state = ownership.current(session, "visitor-1")
    assert (state.owner, state.rep_id, state.rep_name) == (Owner.REP, ana, "Ana")
    assert ownership.owned_by(session, ana) == ["visitor-1"]
    ownership.change(session, "visitor-1", Move.HAND_BACK, rep_id=ana, by="api")
    assert ownership.current(session, "visitor-1").owner is Owner.BOT
    assert [
        (c.from_owner, c.to_owner, c.rep_id, c.changed_by) for c in ownership.history(session, "visitor-1")
    ] == [
        (Owner.BOT, Owner.WAITING, None, "visitor"),
        (Owner.WAITING, Owner.REP, ana, "console: ana@example.com"),
        (Owner.REP, Owner.BOT, ana, "api"),
    ]
    shown = transcript(session, "visitor-1").ownership
    assert [(c.to_owner, c.changed_by) for c in shown] == [
        (Owner.WAITING, "visitor"),
        (Owner.REP, "console: ana@example.com"),
        (Owner.BOT, "api"),
    ]
    assert all(c.changed_at.tzinfo is not None for c in shown)


def test_nobody_taking_it_gives_it_back_to_the_bot(session: Session, reps: tuple[int, int]) -> None:
    ownership.change(session, "visitor-1", Move.ASK_FOR_PERSON, by="visitor")
    ownership.change(session, "visitor-1", Move.GIVE_UP_WAITING, by="timer")
    assert ownership.current(session, "visitor-1").owner is Owner.BOT


@pytest.mark.parametrize(
    ("setup", "move", "rep", "message"),
    [
        ([], Move.HAND_BACK, 0, "not owned by a rep: nothing to hand back"),
        ([], Move.GIVE_UP_WAITING, 0, "is owned by bot"),
        ([(Move.TAKE_OVER, 0)], Move.TAKE_OVER, 1, "Ana (rep 1) already owns conversation visitor-1."),
        ([(Move.TAKE_OVER, 0)], Move.HAND_BACK, 1, "Rep 2 does not own conversation visitor-1: Ana does."),
        ([(Move.TAKE_OVER, 0)], Move.ASK_FOR_PERSON, 0, "already has a person asked for or answering (rep)"),
    ],
)
def test_refused_moves_say_why_and_change_nothing(
    db_url: str,
    reps: tuple[int, int],
    session: Session,
    setup: list[tuple[Move, int]],
    move: Move,
    rep: int,
    message: str,
) -> None:
    session.commit()
    for earlier, who in setup:
        with unit_of_work(db_url) as work:
            ownership.change(work, "visitor-1", earlier, rep_id=reps[who], by="test")
    before = changes(session)
    with pytest.raises(InvalidTransition, match=re.escape(message)), unit_of_work(db_url) as work:
        ownership.change(work, "visitor-1", move, rep_id=reps[rep], by="test")
    session.expire_all()
    assert changes(session) == before


def test_take_over_needs_a_known_active_rep_and_a_known_conversation(
    session: Session, reps: tuple[int, int]
) -> None:
    ana, _ = reps
    with pytest.raises(InvalidInput, match="rep_id is required"):
        ownership.change(session, "visitor-1", Move.TAKE_OVER, by="api")
    with pytest.raises(NotFound, match="No rep with id 999"):
        ownership.change(session, "visitor-1", Move.TAKE_OVER, rep_id=999, by="api")
    rep = session.get(Rep, ana)
    assert rep is not None
    rep.active = False
    with pytest.raises(InvalidTransition, match="Ana is not an active rep"):
        ownership.change(session, "visitor-1", Move.TAKE_OVER, rep_id=ana, by="api")
    with pytest.raises(NotFound, match="No conversation with id nobody"):
        ownership.change(session, "nobody", Move.TAKE_OVER, rep_id=ana, by="api")
    with pytest.raises(InvalidInput, match="who makes the change"):
        ownership.change(session, "visitor-1", Move.ASK_FOR_PERSON, by=" ")
    assert changes(session) == 0


def test_only_the_owner_writes_and_only_real_text(session: Session, reps: tuple[int, int]) -> None:
    ana, bo = reps
    with pytest.raises(InvalidTransition, match="owned by the bot: take it over before writing"):
        ownership.writer(session, "visitor-1", ana, "hello")
    ownership.change(session, "visitor-1", Move.TAKE_OVER, rep_id=ana, by="api")
    rep, text = ownership.writer(session, "visitor-1", ana, "  Hi, Ana here.  ")
    assert (rep.name, text) == ("Ana", "Hi, Ana here.")
    with pytest.raises(
        InvalidTransition, match=re.escape("Rep 2 does not own conversation visitor-1: Ana does.")
    ):
        ownership.writer(session, "visitor-1", bo, "hello")
    with pytest.raises(InvalidInput, match="The message is empty"):
        ownership.writer(session, "visitor-1", ana, " \n ")
    with pytest.raises(InvalidInput, match="has 4001 characters; at most 4000 fit"):
        ownership.writer(session, "visitor-1", ana, "x" * 4001)


def test_rep_messages_in_rasa_events_become_rep_lines_of_the_transcript(
    session: Session, reps: tuple[int, int], tmp_path: Path
) -> None:
    from crm_core.chats.transcripts import sync_transcripts
    from crm_core.models import MessageRole

    ana, _ = reps
    events = RasaEvents(tmp_path / "tracker.db")
    events.user("visitor-1", "can I talk to a person?", "request_human", 0.9, channel="socketio")
    events.publish(
        "visitor-1",
        {
            "event": "bot",
            "text": None,
            "data": {"custom": {"data": {"text": "Ana here, how can I help?"}}},
            "metadata": {"author": "rep", "rep_id": ana, "rep_name": "Ana"},
        },
    )
    events.publish("visitor-1", {"event": "bot", "text": "a bot line", "data": {}, "metadata": {}})
    sync_transcripts(session, events.url)
    lines = [(m.role, m.rep_id, m.text) for m in transcript(session, "visitor-1").messages]
    assert lines == [
        (MessageRole.VISITOR, None, "can I talk to a person?"),
        (MessageRole.REP, ana, "Ana here, how can I help?"),
        (MessageRole.BOT, None, "a bot line"),
    ]


def test_lines_to_relay_are_rep_lines_and_visitor_lines_of_conversations_a_rep_answers(
    session: Session, reps: tuple[int, int], tmp_path: Path
) -> None:
    from crm_core.chats.transcripts import sync_transcripts
    from crm_core.models import MessageRole

    ana, _ = reps
    rep = session.get(Rep, ana)
    assert rep is not None
    rep.telegram_chat_id = 5501
    conversation_for(session, "rest", "telegram-77")
    events = RasaEvents(tmp_path / "tracker.db")
    events.user("visitor-1", "before the takeover", "greet", 0.9, channel="socketio")
    events.user("telegram-77", "someone nobody answers", "greet", 0.9)
    sync_transcripts(session, events.url)
    start = ownership.newest_message_id(session)
    assert ownership.lines_to_relay(session, start) == []
    ownership.change(session, "visitor-1", Move.TAKE_OVER, rep_id=ana, by="api")
    events.user("visitor-1", "are you a person?", "request_human", 0.9, channel="socketio")
    events.user("telegram-77", "still the bot's", "greet", 0.9)
    events.publish(
        "visitor-1",
        {
            "event": "bot",
            "text": "Yes!",
            "data": {},
            "metadata": {"author": "rep", "rep_id": ana, "rep_name": "Ana"},
        },
    )
    sync_transcripts(session, events.url)
    relayed = [
        (line.sender_id, line.author, line.text, line.rep_chat_id)
        for line in ownership.lines_to_relay(session, start)
    ]
    assert relayed == [
        ("visitor-1", MessageRole.VISITOR, "are you a person?", 5501),
        ("visitor-1", MessageRole.REP, "Yes!", None),
    ]


def test_lines_the_bot_said_on_its_own_initiative_are_relayed_and_its_replies_are_not(
    session: Session, reps: tuple[int, int], tmp_path: Path
) -> None:
    from crm_core.chats.transcripts import sync_transcripts
    from crm_core.models import MessageRole

    events = RasaEvents(tmp_path / "tracker.db")
    events.user("telegram-78", "hello", "greet", 0.9)
    events.publish("telegram-78", {"event": "bot", "text": "Hi! What are you looking for?", "data": {}})
    sync_transcripts(session, events.url)
    start = ownership.newest_message_id(session)
    events.publish(  # a hand-back: the bot resumes without being asked
        "telegram-78",
        {"event": "bot", "text": "And your name?", "data": {}, "metadata": {"spoken_first": True}},
    )
    sync_transcripts(session, events.url)
    relayed = [(line.author, line.text) for line in ownership.lines_to_relay(session, start)]
    assert relayed == [(MessageRole.BOT, "And your name?")]
    assert ownership.lines_to_relay(session, 0)[0].text == "And your name?"  # the reply never is


def test_the_conversation_of_a_lead(session: Session, reps: tuple[int, int]) -> None:
    from tests.unit.helpers import make_lead

    lead = make_lead(session)
    with pytest.raises(NotFound, match=f"Lead {lead.id} has no conversation to take over"):
        ownership.conversation_of_lead(session, lead.id)
    conversation_for(session, "telegram", "telegram-9").lead_id = lead.id
    session.flush()
    assert ownership.conversation_of_lead(session, lead.id) == "telegram-9"


def test_transcripts_show_prints_rep_lines_and_who_answered_when(
    db_url: str, reps: tuple[int, int], session: Session, tmp_path: Path
) -> None:
    from crm_core.chats.transcripts import sync_transcripts
    from tests.unit.test_cli import embudo

    ana, _ = reps
    events = RasaEvents(tmp_path / "tracker.db")
    events.user("visitor-1", "a person please", "request_human", 0.9, channel="socketio")
    sync_transcripts(session, events.url)
    ownership.change(session, "visitor-1", Move.TAKE_OVER, rep_id=ana, by="api")
    events.clock = 4_000_000_000.0  # after the takeover
    events.publish(
        "visitor-1",
        {
            "event": "bot",
            "data": {"custom": {"data": {"text": "Ana here"}}},
            "metadata": {"author": "rep", "rep_id": ana},
        },
    )
    sync_transcripts(session, events.url)
    session.commit()
    shown = embudo(db_url, "transcripts", "show", "visitor-1").stdout.splitlines()
    assert [line[21:] for line in shown[1:]] == [
        "visitor a person please  [request_human 0.90]",
        f"--      bot → rep (rep #{ana}), by api",
        f"rep #{ana}  Ana here",
    ]


def test_asking_for_a_person_again_or_while_a_rep_answers_changes_nothing(
    session: Session, reps: tuple[int, int]
) -> None:
    ana, _ = reps
    assert ownership.ask_for_person(session, "visitor-1").owner is Owner.WAITING
    assert ownership.ask_for_person(session, "visitor-1").owner is Owner.WAITING and changes(session) == 1
    ownership.change(session, "visitor-1", Move.TAKE_OVER, rep_id=ana, by="console: ana@example.com")
    assert ownership.ask_for_person(session, "visitor-1").owner is Owner.REP and changes(session) == 2


def test_conversations_waiting_for_a_person_longest_first_with_their_lead(
    session: Session, reps: tuple[int, int]
) -> None:
    from datetime import UTC, datetime

    from crm_core.qualification.policy import LeadFacts
    from crm_core.sales.leads import capture_lead
    from crm_core.schemas import ConversationRef

    lead = capture_lead(
        session, LeadFacts(need="a bot"), ConversationRef(channel="rest", sender_id="with-lead")
    )
    conversation_for(session, "rest", "visitor-2")
    ownership.ask_for_person(session, "with-lead", at=datetime(2026, 12, 1, 10, 5, tzinfo=UTC))
    ownership.ask_for_person(session, "visitor-1", at=datetime(2026, 12, 1, 10, 0, tzinfo=UTC))
    ownership.change(session, "visitor-2", Move.TAKE_OVER, rep_id=reps[0], by="console")  # a rep has it
    assert [(w.sender_id, w.lead_id) for w in ownership.waiting(session)] == [
        ("visitor-1", None),
        ("with-lead", lead.id),
    ]
