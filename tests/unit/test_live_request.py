"""Asking for a person (crm_core.assignment.live_request): who can join the chat now, when the team is back, how long a
visitor waits. Times are worked out by hand: in December Madrid is UTC+1 and New York UTC−5; 1 December 2026
is a Tuesday."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from crm_core.assignment import live_request
from crm_core.chats import ownership
from crm_core.chats.conversations import conversation_for
from crm_core.chats.ownership import Move
from crm_core.delivery.notifications import claim_due, inbox
from crm_core.models import Lead, Message, MessageRole, NotificationChannel, Owner, Rep
from crm_core.qualification.policy import LeadFacts
from crm_core.sales.leads import capture_lead
from crm_core.sales.lifecycle import accept
from crm_core.schemas import ConversationRef

WEEKDAYS_9_TO_5 = {day: ["09:00", "17:00"] for day in ("mon", "tue", "wed", "thu", "fri")}
TUESDAY_10_UTC = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)  # 11:00 in Madrid, 05:00 in New York
TUESDAY_23_UTC = datetime(2026, 12, 1, 23, 0, tzinfo=UTC)  # Wednesday 00:00 in Madrid, 18:00 in New York


def madrid_rep(**extra: object) -> Rep:
    fields: dict[str, object] = {"languages": ["en", "es"], "capacity": 5, "active": True, "open_leads": 0}
    return Rep(
        name="Ana",
        timezone="Europe/Madrid",
        working_hours=WEEKDAYS_9_TO_5,
        is_admin=False,
        **(fields | extra),
    )


def new_york_rep(**extra: object) -> Rep:
    fields: dict[str, object] = {"languages": ["en"], "capacity": 5, "active": True, "open_leads": 0}
    return Rep(
        name="Ben",
        timezone="America/New_York",
        working_hours=WEEKDAYS_9_TO_5,
        is_admin=False,
        **(fields | extra),
    )


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (TUESDAY_10_UTC, TUESDAY_10_UTC),  # on shift: now
        (datetime(2026, 12, 1, 7, 0, tzinfo=UTC), datetime(2026, 12, 1, 8, 0, tzinfo=UTC)),  # 08:00 → 09:00
        (
            datetime(2026, 12, 1, 16, 30, tzinfo=UTC),
            datetime(2026, 12, 2, 8, 0, tzinfo=UTC),
        ),  # 17:30 → Wed 9:00
        (datetime(2026, 12, 1, 16, 0, tzinfo=UTC), datetime(2026, 12, 2, 8, 0, tzinfo=UTC)),  # 17:00 is off
        (
            datetime(2026, 12, 4, 17, 0, tzinfo=UTC),
            datetime(2026, 12, 7, 8, 0, tzinfo=UTC),
        ),  # Friday → Monday
    ],
)
def test_the_next_shift_starts_at_the_reps_next_working_hour(now: datetime, expected: datetime) -> None:
    assert live_request.next_shift_start(madrid_rep(), now) == expected


def test_time_away_pushes_the_next_shift_to_the_first_working_hour_after_it() -> None:
    away = madrid_rep(away_until=datetime(2026, 12, 3, 0, 0, tzinfo=UTC))  # back Thursday
    assert live_request.next_shift_start(away, TUESDAY_10_UTC) == datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
    assert not live_request.on_shift(away, TUESDAY_10_UTC)


def test_a_rep_without_hours_is_always_on_and_an_inactive_one_never() -> None:
    always = Rep(name="Cy", languages=["en"], timezone="UTC", working_hours={}, active=True)
    assert live_request.next_shift_start(always, TUESDAY_23_UTC) == TUESDAY_23_UTC
    gone = madrid_rep(active=False)
    assert live_request.next_shift_start(gone, TUESDAY_10_UTC) is None
    assert not live_request.on_shift(gone, TUESDAY_10_UTC)


def conversation(session: Session, sender: str = "visitor-1") -> str:
    conversation_for(session, "socketio", sender)
    session.flush()
    return sender


def test_a_rep_on_shift_who_speaks_the_language_can_join(session: Session) -> None:
    session.add_all([madrid_rep(), new_york_rep()])
    sender = conversation(session)
    offer = live_request.who_can_join(session, sender, "en", TUESDAY_10_UTC)
    assert (offer.rep_name, offer.back_at) == ("Ana", None)  # Ben's day starts at 14:00 UTC


def test_out_of_hours_the_team_is_back_at_the_earliest_next_shift(session: Session) -> None:
    session.add_all([madrid_rep(), new_york_rep()])
    sender = conversation(session)
    offer = live_request.who_can_join(session, sender, "en", TUESDAY_23_UTC)
    # Ana: Wednesday 09:00 Madrid = 08:00 UTC; Ben: Wednesday 09:00 New York = 14:00 UTC.
    assert (offer.rep_id, offer.back_at) == (None, datetime(2026, 12, 2, 8, 0, tzinfo=UTC))


def test_when_back_counts_only_reps_who_speak_the_visitors_language(session: Session) -> None:
    session.add_all([madrid_rep(languages=["es"]), new_york_rep()])
    sender = conversation(session)
    offer = live_request.who_can_join(session, sender, "en", TUESDAY_23_UTC)
    assert offer.back_at == datetime(2026, 12, 2, 14, 0, tzinfo=UTC)  # Ben only


def test_on_shift_but_full_is_nobody_free_now_with_no_time_to_promise(session: Session) -> None:
    session.add(madrid_rep(capacity=1, open_leads=1))
    sender = conversation(session)
    assert live_request.who_can_join(session, sender, "en", TUESDAY_10_UTC) == live_request.Availability(
        None, None, None
    )


def test_with_no_rep_at_all_nobody_can_join_and_nothing_is_promised(session: Session) -> None:
    sender = conversation(session)
    assert live_request.who_can_join(session, sender, "en", TUESDAY_10_UTC).back_at is None


def lead_in(session: Session, sender: str, now: datetime) -> Lead:
    facts = LeadFacts(need="a chat bot for our shop")
    out = capture_lead(session, facts, ConversationRef(channel="socketio", sender_id=sender), now=now)
    lead = session.get(Lead, out.id)
    assert lead is not None
    return lead


def test_a_lead_that_has_a_rep_waits_for_that_rep(session: Session) -> None:
    ana, ben = madrid_rep(), new_york_rep()
    session.add_all([ana, ben])
    session.flush()
    lead = lead_in(session, "visitor-2", TUESDAY_10_UTC)
    lead.assigned_rep = ben  # off shift at 10:00 UTC, though Ana is on
    session.flush()
    offer = live_request.who_can_join(session, "visitor-2", "en", TUESDAY_10_UTC)
    assert (offer.rep_id, offer.back_at) == (None, datetime(2026, 12, 1, 14, 0, tzinfo=UTC))
    at_15 = TUESDAY_10_UTC + timedelta(hours=5)
    assert live_request.who_can_join(session, "visitor-2", "en", at_15).rep_name == "Ben"


def test_joining_hands_the_lead_over_and_the_conversation_waits_with_a_link_to_join(session: Session) -> None:
    session.add(madrid_rep(telegram_chat_id=7001))
    session.flush()
    lead = lead_in(session, "visitor-3", TUESDAY_10_UTC)
    rep = live_request.join_now(session, lead.id, "visitor-3", TUESDAY_10_UTC)
    assert rep is not None and rep.name == "Ana" and lead.assigned_rep is rep
    state = ownership.current(session, "visitor-3")
    assert (state.owner, state.since) == (Owner.WAITING, TUESDAY_10_UTC)
    [card] = claim_due(session, NotificationChannel.TELEGRAM, TUESDAY_10_UTC)
    assert "waiting in the chat" in card.text
    assert "join at http://localhost:8000/console/live/visitor-3" in card.text
    [item] = inbox(session, rep.id)  # the console inbox links to the live view while the visitor waits
    assert item.waiting_in == "visitor-3"
    ownership.change(session, "visitor-3", Move.TAKE_OVER, rep_id=rep.id, by="console")
    assert inbox(session, rep.id)[0].waiting_in is None


def test_a_rep_who_already_accepted_the_lead_is_still_told_the_visitor_waits(session: Session) -> None:
    session.add(madrid_rep(telegram_chat_id=7001))
    session.flush()
    lead = lead_in(session, "visitor-4", TUESDAY_10_UTC)
    live_request.join_now(session, lead.id, "visitor-4", TUESDAY_10_UTC)  # first request: assigned
    claim_due(session, NotificationChannel.TELEGRAM, TUESDAY_10_UTC)
    accept(session, lead.id, lead.assigned_rep_id or 0, TUESDAY_10_UTC + timedelta(minutes=1))
    ownership.change(session, "visitor-4", Move.GIVE_UP_WAITING, by="test")
    later = TUESDAY_10_UTC + timedelta(minutes=30)
    live_request.join_now(session, lead.id, "visitor-4", later)  # asks again: already hers
    [card] = claim_due(session, NotificationChannel.TELEGRAM, later)
    assert "(already yours)" in card.text and "join at" in card.text


def test_a_visitor_waits_until_the_deadline_then_the_conversation_is_overdue(session: Session) -> None:
    session.add(madrid_rep())
    sender = conversation(session, "visitor-5")
    ownership.ask_for_person(session, sender, at=TUESDAY_10_UTC)
    assert live_request.deadline(TUESDAY_10_UTC, 3) == TUESDAY_10_UTC + timedelta(minutes=3)
    assert live_request.overdue(session, TUESDAY_10_UTC + timedelta(minutes=2, seconds=59), 3) == []
    assert live_request.overdue(session, TUESDAY_10_UTC + timedelta(minutes=3), 3) == [sender]
    assert live_request.overdue(session, TUESDAY_10_UTC + timedelta(seconds=6), 0.1) == [sender]


def test_a_conversation_taken_over_in_time_is_never_overdue(session: Session) -> None:
    session.add(madrid_rep())
    sender = conversation(session, "visitor-6")
    ownership.ask_for_person(session, sender, at=TUESDAY_10_UTC)
    rep_id = session.query(Rep.id).scalar()
    ownership.change(session, sender, Move.TAKE_OVER, rep_id=rep_id, by="console")
    assert live_request.overdue(session, TUESDAY_10_UTC + timedelta(hours=1), 3) == []


def test_the_wait_is_a_setting_of_a_few_minutes_by_default() -> None:
    assert live_request.wait_minutes() == 3.0


# --- an owner who goes off shift ---------------------------------------------------------------------------

TUESDAY_1550_UTC = datetime(2026, 12, 1, 15, 50, tzinfo=UTC)  # 16:50 in Madrid: Ana's last shift hour
_event_ids = iter(range(10_000, 20_000))


def taken_over_by(session: Session, rep: Rep, sender: str, at: datetime) -> str:
    session.add(rep)
    conversation(session, sender)
    ownership.change(session, sender, Move.TAKE_OVER, rep_id=rep.id, by="console", at=at)
    return sender


def line(session: Session, sender: str, role: MessageRole, at: datetime) -> None:
    talk = conversation_for(session, "socketio", sender)
    session.add(
        Message(conversation_id=talk.id, role=role, text="…", sent_at=at, rasa_event_id=next(_event_ids))
    )
    session.flush()


def test_a_visitor_left_waiting_by_an_owner_gone_off_shift_goes_back_to_the_bot(session: Session) -> None:
    sender = taken_over_by(session, madrid_rep(), "visitor-20", TUESDAY_1550_UTC)
    line(session, sender, MessageRole.REP, TUESDAY_1550_UTC + timedelta(minutes=1))
    line(session, sender, MessageRole.VISITOR, TUESDAY_1550_UTC + timedelta(minutes=8))  # 16:58 Madrid
    off_shift = datetime(2026, 12, 1, 16, 0, tzinfo=UTC)  # 17:00 in Madrid
    assert live_request.stranded(session, off_shift, 3) == []  # waited 2 minutes so far
    assert live_request.stranded(session, off_shift + timedelta(minutes=1), 3) == [sender]
    ownership.change(session, sender, Move.OWNER_GONE, by="Ana went off shift", at=off_shift)
    assert ownership.current(session, sender).owner is Owner.BOT
    assert live_request.stranded(session, off_shift + timedelta(hours=1), 3) == []
    assert [c.changed_by for c in ownership.history(session, sender)][-1] == "Ana went off shift"


def test_an_owner_on_shift_or_who_answered_last_keeps_the_conversation(session: Session) -> None:
    on_shift = taken_over_by(session, madrid_rep(), "visitor-21", TUESDAY_10_UTC)
    line(session, on_shift, MessageRole.VISITOR, TUESDAY_10_UTC + timedelta(minutes=1))
    assert live_request.stranded(session, TUESDAY_10_UTC + timedelta(hours=1), 3) == []  # 12:00 Madrid
    answered = taken_over_by(session, new_york_rep(), "visitor-22", TUESDAY_10_UTC)  # 05:00 New York
    line(session, answered, MessageRole.VISITOR, TUESDAY_10_UTC + timedelta(minutes=1))
    line(session, answered, MessageRole.REP, TUESDAY_10_UTC + timedelta(minutes=2))
    assert live_request.stranded(session, TUESDAY_10_UTC + timedelta(hours=1), 3) == []


def test_an_owner_who_went_away_within_working_hours_leaves_the_visitor_to_the_bot(session: Session) -> None:
    sender = taken_over_by(session, madrid_rep(), "visitor-23", TUESDAY_10_UTC)
    line(session, sender, MessageRole.VISITOR, TUESDAY_10_UTC + timedelta(minutes=1))
    rep = session.query(Rep).filter(Rep.name == "Ana").one()
    rep.away_until = TUESDAY_10_UTC + timedelta(hours=2)
    assert live_request.stranded(session, TUESDAY_10_UTC + timedelta(minutes=5), 3) == [sender]


def test_a_visitor_who_has_not_written_since_the_take_over_is_not_waiting(session: Session) -> None:
    sender = taken_over_by(session, madrid_rep(), "visitor-24", TUESDAY_1550_UTC)
    line(session, sender, MessageRole.VISITOR, TUESDAY_1550_UTC - timedelta(minutes=5))  # before it
    assert live_request.stranded(session, TUESDAY_1550_UTC + timedelta(hours=1), 3) == []
