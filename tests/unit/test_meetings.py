"""Booking meetings (``crm_core.scheduling.meetings``): one transaction with the meeting, the lead's history and the
rep's notifications; slots that are not free refused; cancel and move; two visitors racing for one slot
of one rep (threads, each in its own unit of work, on SQLite and PostgreSQL)."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_core.db import unit_of_work
from crm_core.delivery.notifications import claim_due
from crm_core.errors import InvalidInput, NotFound
from crm_core.models import (
    Activity,
    ActivityKind,
    Conversation,
    Meeting,
    Notification,
    NotificationChannel,
    Rep,
    Stage,
)
from crm_core.people.reps import add_rep
from crm_core.reporting.meeting_kpis import meeting_kpis
from crm_core.sales.lifecycle import accept
from crm_core.scheduling import meetings
from crm_core.scheduling.meetings import SlotTaken
from crm_core.schemas import NewRep
from tests.unit.helpers import make_lead

NOW = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)  # a Tuesday
TEN = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def rep(session: Session, chat: int | None = 501, email: str | None = "ana@example.com") -> Rep:
    out = add_rep(
        session,
        NewRep(name="Ana", languages=["en"], telegram_chat_id=chat, email=email,
               working_hours={d: ["09:00", "17:00"] for d in ("mon", "tue", "wed", "thu", "fri")}),
    )  # fmt: skip
    found = session.get(Rep, out.id)
    assert found is not None
    return found


def test_booking_writes_the_meeting_its_history_and_the_reps_notifications(session: Session) -> None:
    ana = rep(session)
    lead = make_lead(session, Stage.SQL, rep_id=ana.id)
    offered = meetings.offer_slots(session, lead.id, NOW)
    assert offered[0] == datetime(2026, 12, 1, 9, 0, tzinfo=UTC) and len(offered) == 4
    booked = meetings.book(session, lead.id, offered[0], "America/New_York", NOW)
    assert (booked.rep_id, booked.status, booked.sequence) == (ana.id, "booked", 0)
    assert booked.ends_at - booked.starts_at == timedelta(minutes=30)
    said = f"Meeting booked with lead #{lead.id}: Tue 01 Dec 2026 09:00 (UTC)"
    notes = session.scalars(select(Notification).where(Notification.meeting_id == booked.id)).all()
    assert {(n.channel, n.reason) for n in notes} == {
        (NotificationChannel.INBOX, said), (NotificationChannel.TELEGRAM, said), (NotificationChannel.EMAIL, said)
    }  # fmt: skip
    [history] = session.scalars(select(Activity).where(Activity.lead_id == lead.id)).all()
    assert (history.kind, history.body) == (ActivityKind.MEETING, said)
    assert offered[0] not in meetings.offer_slots(session, lead.id, NOW)  # taken now
    assert [m.id for m in meetings.of_lead(session, lead.id)] == [booked.id]
    assert [m.id for m in meetings.upcoming(session, ana.id, NOW)] == [booked.id]


def test_a_time_that_is_not_a_free_slot_is_refused_and_nothing_is_written(db_url: str) -> None:
    with unit_of_work(db_url) as session:
        ana = rep(session)
        lead_id = make_lead(session, Stage.SQL, rep_id=ana.id).id
        no_rep = make_lead(session, Stage.SQL).id
    for when, why in [
        (datetime(2026, 12, 1, 8, 0, tzinfo=UTC), "not free"),  # inside the lead time
        (datetime(2026, 12, 5, 10, 0, tzinfo=UTC), "not free"),  # a Saturday
        (datetime(2026, 12, 1, 10, 10, tzinfo=UTC), "not free"),  # off the grid
    ]:
        with pytest.raises(SlotTaken, match=why), unit_of_work(db_url) as session:
            meetings.book(session, lead_id, when, now=NOW)
    with pytest.raises(InvalidInput, match="no rep"), unit_of_work(db_url) as session:
        meetings.book(session, no_rep, TEN, now=NOW)
    with pytest.raises(InvalidInput, match="time zone"), unit_of_work(db_url) as session:
        meetings.book(session, lead_id, TEN, "Mars/Olympus", now=NOW)
    with pytest.raises(InvalidInput, match="time zone"), unit_of_work(db_url) as session:
        meetings.book(session, lead_id, TEN.replace(tzinfo=None), now=NOW)
    with unit_of_work(db_url) as session:
        assert session.scalars(select(Meeting)).all() == []
        assert session.scalars(select(Notification).where(Notification.meeting_id.is_not(None))).all() == []


def test_cancel_frees_the_slot_and_a_move_keeps_the_uid_with_the_next_sequence(session: Session) -> None:
    ana = rep(session, chat=None, email=None)
    lead = make_lead(session, Stage.SQL, rep_id=ana.id)
    first = meetings.book(session, lead.id, TEN, now=NOW)
    eleven = TEN + timedelta(hours=1)
    moved = meetings.reschedule(session, first.id, eleven, lead.id, NOW)
    assert (moved.uid, moved.sequence, moved.starts_at) == (first.uid, 1, eleven)
    assert TEN in meetings.offer_slots(session, lead.id, NOW, after=TEN - timedelta(minutes=1))
    other = make_lead(session, Stage.SQL, rep_id=ana.id)
    with pytest.raises(SlotTaken):
        meetings.book(session, other.id, eleven, now=NOW)
    gone = meetings.cancel(session, first.id, lead.id, NOW)
    assert (gone.status, gone.sequence) == ("cancelled", 2)
    with pytest.raises(InvalidInput, match="cancelled already"):
        meetings.cancel(session, first.id, lead.id, NOW)
    with pytest.raises(NotFound):
        meetings.cancel(session, first.id, other.id, NOW)  # not that lead's meeting
    assert meetings.book(session, other.id, eleven, now=NOW).starts_at == eleven  # free again
    bodies = [a.body.split(" with")[0] for a in session.scalars(select(Activity).order_by(Activity.id))]
    assert bodies == ["Meeting booked", "Meeting moved", "Meeting cancelled", "Meeting booked"]
    assert meetings.upcoming(session, ana.id, NOW)[0].lead_id == other.id


def test_two_visitors_racing_for_one_slot_of_one_rep_get_it_once(db_url: str) -> None:
    with unit_of_work(db_url) as session:
        ana = rep(session)
        leads = [make_lead(session, Stage.SQL, rep_id=ana.id).id for _ in range(4)]
    start = threading.Barrier(len(leads))
    outcomes: list[str] = []

    def visitor(lead_id: int) -> None:
        start.wait()
        try:
            with unit_of_work(db_url) as session:
                meetings.book(session, lead_id, TEN, now=NOW)
            outcomes.append("booked")
        except SlotTaken:
            outcomes.append("taken")

    threads = [threading.Thread(target=visitor, args=(lead_id,)) for lead_id in leads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["booked", "taken", "taken", "taken"]
    with unit_of_work(db_url) as session:
        [meeting] = session.scalars(select(Meeting)).all()
        notes = session.scalars(select(Notification).where(Notification.meeting_id.is_not(None))).all()
        assert {n.lead_id for n in notes} == {meeting.lead_id} and len(notes) == 3


def test_the_reps_telegram_card_for_a_meeting_has_the_lead_link_and_no_accept_buttons(
    session: Session,
) -> None:
    ana = rep(session)
    lead = make_lead(session, Stage.SQL, rep_id=ana.id)
    meetings.book(session, lead.id, TEN, now=NOW)
    accept(session, lead.id, ana.id, NOW)  # accepted after the booking: the meeting is still news
    [card] = claim_due(session, NotificationChannel.TELEGRAM, NOW)
    assert (card.chat_id, card.buttons, card.subject) == (501, False, f"Meeting on lead #{lead.id}")
    assert card.text.startswith("Meeting booked with lead") and card.text.endswith(
        f"/console/leads/{lead.id}"
    )


def test_meeting_kpis_count_qualified_leads_that_booked_and_the_time_from_their_first_message(
    session: Session,
) -> None:
    ana = rep(session)
    booked, not_booked = (make_lead(session, Stage.SQL, rep_id=ana.id) for _ in range(2))
    for lead in (booked, not_booked):
        lead.qualified_at = NOW - timedelta(hours=1)
        lead.created_at = NOW - timedelta(minutes=90)
    session.add(
        Conversation(channel="rest", sender_id="v-1", lead_id=booked.id, started_at=NOW - timedelta(hours=2))
    )
    session.flush()
    meeting = meetings.book(session, booked.id, TEN, now=NOW)
    meetings.cancel(session, meeting.id, now=NOW)  # booked once: it counts
    figures = meeting_kpis(session, since=NOW - timedelta(days=1), until=NOW + timedelta(days=1))
    assert (figures.qualified, figures.booked, figures.qualified_to_booked) == (2, 1, 0.5)
    assert figures.median_minutes_first_message_to_booking == 120.0
    assert meeting_kpis(session, since=NOW + timedelta(days=1)).qualified == 0
