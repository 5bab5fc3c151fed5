"""Meetings that change hands (``crm_core.scheduling.meeting_moves``), through the real entry points: a rep made away
or inactive (``reps.update_rep``) hands their meetings of that time to a free colleague who could serve the
lead; a lead given to another rep (``lifecycle.assign_to``, the SLA's re-routing) takes its meetings to
them when free. Nobody free: the meeting stays and an admin is asked. Each move is in the lead's history,
tells both reps, queues an updated invitation (same UID, next SEQUENCE), all in the causing transaction."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_core.assignment.sla import enforce_sla
from crm_core.db import unit_of_work
from crm_core.delivery.notifications import claim_due
from crm_core.errors import NotFound
from crm_core.models import Activity, Invitation, Lead, Meeting, Notification, NotificationChannel, Rep, Stage
from crm_core.people import users
from crm_core.people.reps import add_rep, update_rep
from crm_core.sales.lifecycle import assign, assign_to
from crm_core.scheduling import meetings
from crm_core.scheduling.slots import Calendar, fits
from crm_core.schemas import NewRep, RepUpdate
from tests.unit.helpers import make_lead

NOW = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)  # a Tuesday
TEN = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
TOMORROW = TEN + timedelta(days=1)
WEEKDAYS = {d: ["09:00", "17:00"] for d in ("mon", "tue", "wed", "thu", "fri")}


def rep(session: Session, name: str, languages: tuple[str, ...] = ("en",), **fields: object) -> Rep:
    fields.setdefault("working_hours", WEEKDAYS)
    out = add_rep(session, NewRep(name=name, languages=list(languages), **fields))  # type: ignore[arg-type]
    found = session.get(Rep, out.id)
    assert found is not None
    return found


def booked(session: Session, owner: Rep, at: datetime = TEN, now: datetime = NOW) -> Meeting:
    taken = session.scalars(select(Lead.id)).all()
    lead = make_lead(session, Stage.SQL, rep_id=owner.id, email=f"visitor{len(taken)}@example.com")
    meeting = session.get(Meeting, meetings.book(session, lead.id, at, "Europe/Madrid", now).id)
    assert meeting is not None
    return meeting


def news(session: Session, meeting: Meeting) -> dict[str, set[str]]:
    """Who was told what about the meeting, on which channels (booking included)."""
    told: dict[str, set[str]] = {}
    for row in session.scalars(select(Notification).where(Notification.meeting_id == meeting.id)):
        told.setdefault(row.rep.name, set()).add(row.channel.value)
    return told


def history(session: Session, lead_id: int) -> list[str]:
    rows = session.scalars(select(Activity).where(Activity.lead_id == lead_id).order_by(Activity.id))
    return [row.body for row in rows]


def test_a_meeting_fits_a_rep_inside_their_hours_while_not_away_and_not_overlapping() -> None:
    night = Calendar("Europe/Madrid", {"fri": ["22:00", "02:00"]})  # Friday's span runs into Saturday
    saturday_one = datetime(2026, 12, 5, 0, 0, tzinfo=UTC)  # 01:00 in Madrid
    assert fits(night, saturday_one, saturday_one + timedelta(minutes=30))
    assert not fits(night, saturday_one, saturday_one + timedelta(minutes=90))  # ends after 02:00
    off_grid = datetime(2026, 12, 4, 21, 10, tzinfo=UTC)  # 22:10: a handed meeting keeps its time
    assert fits(night, off_grid, off_grid + timedelta(minutes=30))
    assert not fits(Calendar("UTC", WEEKDAYS, away_until=TOMORROW), TEN, TEN + timedelta(minutes=30))
    busy = Calendar("UTC", WEEKDAYS, busy=[(TEN + timedelta(minutes=15), TEN + timedelta(hours=1))])
    assert not fits(busy, TEN, TEN + timedelta(minutes=30)) and fits(busy, TEN - timedelta(hours=1), TEN)


def test_a_rep_going_away_hands_each_meeting_of_that_time_to_a_free_rep_who_serves_the_lead(
    session: Session,
) -> None:
    ana = rep(session, "Ana", telegram_chat_id=501)
    rep(session, "Bea", ("es",))  # does not speak the lead's language
    cleo = rep(session, "Cleo")
    rep(session, "Zoe", is_admin=True)  # admins hold no meetings of others
    dora = rep(session, "Dora", telegram_chat_id=504, timezone="Europe/Madrid")
    meeting, later = booked(session, ana), booked(session, ana, TEN + timedelta(days=3))
    booked(session, cleo)  # Cleo is busy at ten
    update_rep(session, ana.id, RepUpdate(away_until=TEN + timedelta(days=2)), now=NOW)
    session.refresh(meeting)
    assert (meeting.rep_id, meeting.starts_at, meeting.sequence) == (dora.id, TEN, 1)
    assert (later.rep_id, later.sequence) == (ana.id, 0)  # after Ana is back: still hers
    assert meeting.lead.assigned_rep_id == ana.id  # the lead keeps its owner (routing did not move it)
    said = f"Meeting with lead #{meeting.lead_id} handed from Ana to Dora (Ana is away until 2026-12-03 10:00 UTC)"
    assert history(session, meeting.lead_id)[-1] == f"{said}: Tue 01 Dec 2026 11:00 (Europe/Madrid)"
    assert news(session, meeting) == {"Ana": {"inbox", "telegram"}, "Dora": {"inbox", "telegram"}}
    cards = [
        (c.chat_id, c.text.split("\n")[0]) for c in claim_due(session, NotificationChannel.TELEGRAM, NOW)
    ]
    assert sorted((chat, text) for chat, text in cards if f"lead #{meeting.lead_id}" in text) == [
        (501, f"{said}: Tue 01 Dec 2026 10:00 (UTC)"),  # Ana's "booked" card was superseded by this news
        (504, f"{said}: Tue 01 Dec 2026 11:00 (Europe/Madrid)"),
    ]
    [invitation] = session.scalars(select(Invitation).where(Invitation.sequence == 1)).all()
    assert (invitation.meeting_id, invitation.method, invitation.starts_at) == (meeting.id, "REQUEST", TEN)
    assert meetings.upcoming(session, dora.id, NOW)[0].id == meeting.id


def test_no_free_rep_keeps_the_meeting_and_asks_an_admin(session: Session) -> None:
    ana = rep(session, "Ana")
    rep(session, "Bea", working_hours={"sat": ["09:00", "17:00"]})  # not working on Tuesdays
    rep(session, "Zoe", is_admin=True, telegram_chat_id=900, email="zoe@example.com")
    meeting = booked(session, ana)
    update_rep(session, ana.id, RepUpdate(active=False), now=NOW)
    session.refresh(meeting)
    assert (meeting.rep_id, meeting.status.value, meeting.sequence) == (ana.id, "booked", 0)
    assert session.scalars(select(Invitation).where(Invitation.sequence > 0)).all() == []
    trouble = (
        f"Meeting #{meeting.id} with lead #{meeting.lead_id} needs a rep "
        "(Ana is inactive, but no other rep who could hold it is free then)"
    )
    assert history(session, meeting.lead_id)[-1] == f"{trouble}: Tue 01 Dec 2026 10:00 (UTC); asked admin Zoe"
    assert news(session, meeting)["Zoe"] == {"inbox", "telegram", "email"}
    [card] = [c for c in claim_due(session, NotificationChannel.TELEGRAM, NOW) if c.chat_id == 900]
    assert card.text.startswith(f"{trouble}: Tue 01 Dec 2026 10:00 (UTC); it stays booked with Ana")
    assert card.buttons is False and card.text.endswith(f"/console/leads/{meeting.lead_id}")


def test_meetings_already_begun_or_outside_the_away_time_are_left_alone(session: Session) -> None:
    ana, bea = rep(session, "Ana"), rep(session, "Bea")
    begun, tomorrow = booked(session, ana), booked(session, ana, TOMORROW)
    update_rep(session, ana.id, RepUpdate(away_until=TOMORROW), now=TEN + timedelta(minutes=10))
    assert [(m.rep_id, m.sequence) for m in (begun, tomorrow)] == [(ana.id, 0), (ana.id, 0)]
    # away for longer: only the newly away time is handed on
    update_rep(
        session, ana.id, RepUpdate(away_until=TOMORROW + timedelta(hours=1)), now=TEN + timedelta(minutes=10)
    )
    session.refresh(tomorrow)
    assert (begun.rep_id, tomorrow.rep_id, tomorrow.sequence) == (ana.id, bea.id, 1)
    update_rep(session, ana.id, RepUpdate(capacity=3), now=TEN)  # not an availability change: nothing moves
    assert len(history(session, tomorrow.lead_id)) == 2


def test_a_lead_given_to_another_rep_takes_its_meetings_to_them(session: Session) -> None:
    ana, bea = rep(session, "Ana"), rep(session, "Bea", email="bea@example.com")
    meeting = booked(session, ana)
    assign_to(session, meeting.lead_id, bea.id, by="admin@example.com", now=NOW)
    session.refresh(meeting)
    assert (meeting.rep_id, meeting.sequence, meeting.uid.endswith("@embudo")) == (bea.id, 1, True)
    said = f"Meeting with lead #{meeting.lead_id} handed from Ana to Bea (the lead is now Bea's)"
    assert history(session, meeting.lead_id)[-1] == f"{said}: Tue 01 Dec 2026 10:00 (UTC)"
    assert news(session, meeting) == {"Ana": {"inbox"}, "Bea": {"inbox", "email"}}
    assert [i.sequence for i in session.scalars(select(Invitation).order_by(Invitation.id))] == [0, 1]


def test_a_new_owner_busy_at_that_time_leaves_the_meeting_and_an_admin_is_asked(session: Session) -> None:
    ana, bea = rep(session, "Ana"), rep(session, "Bea")
    rep(session, "Zoe", is_admin=True)
    meeting = booked(session, ana)
    booked(session, bea, TEN)  # Bea has a meeting of her own at ten
    assign_to(session, meeting.lead_id, bea.id, by="admin@example.com", now=NOW)
    session.refresh(meeting)
    assert (meeting.rep_id, meeting.sequence) == (ana.id, 0)
    assert session.get(Lead, meeting.lead_id).assigned_rep_id == bea.id  # type: ignore[union-attr]
    assert history(session, meeting.lead_id)[-1].endswith(
        "needs a rep (the lead is now Bea's, but Bea is not free then): Tue 01 Dec 2026 10:00 (UTC); asked admin Zoe"
    )
    assert news(session, meeting) == {"Ana": {"inbox"}, "Zoe": {"inbox"}}


def test_the_slas_re_routing_takes_the_meeting_to_the_next_rep(session: Session) -> None:
    ana = rep(session, "Ana", working_hours={})  # no hours: routing takes them as always there
    lead = make_lead(session, Stage.SQL, email="marta@example.com")
    assert assign(session, lead, NOW) is ana
    meeting = session.get(Meeting, meetings.book(session, lead.id, TEN, now=NOW).id)
    bea = rep(session, "Bea", working_hours={})
    assert enforce_sla(session, NOW + timedelta(hours=1)) == [lead.id]  # Ana did not accept it in time
    assert meeting is not None and (lead.assigned_rep_id, meeting.rep_id) == (bea.id, bea.id)


def test_the_change_and_its_moves_are_one_transaction(db_url: str) -> None:
    with unit_of_work(db_url) as session:
        ana, bea = rep(session, "Ana").id, rep(session, "Bea").id
        meeting_id = booked(session, session.get(Rep, ana)).id  # type: ignore[arg-type]
    with pytest.raises(RuntimeError), unit_of_work(db_url) as session:
        update_rep(session, ana, RepUpdate(active=False), now=NOW)
        assert session.get(Meeting, meeting_id).rep_id == bea  # type: ignore[union-attr]
        raise RuntimeError("the transaction fails after the move")
    with unit_of_work(db_url) as session:
        meeting = session.get(Meeting, meeting_id)
        assert meeting is not None and (meeting.rep_id, meeting.sequence) == (ana, 0)
        assert session.get(Rep, ana).active is True  # type: ignore[union-attr]
        assert len(history(session, meeting.lead_id)) == 1
        assert session.scalars(select(Invitation).where(Invitation.sequence > 0)).all() == []


def test_the_stand_in_may_open_the_lead_they_meet_but_not_change_it_and_not_after_the_meeting(
    session: Session,
) -> None:
    ana, dora = rep(session, "Ana"), rep(session, "Dora")
    meeting = booked(session, ana)
    others = make_lead(session, Stage.SQL, rep_id=ana.id)
    update_rep(session, ana.id, RepUpdate(away_until=TOMORROW), now=NOW)
    assert session.get(Meeting, meeting.id).rep_id == dora.id  # type: ignore[union-attr]
    login = users.create_user(session, "dora@example.com", "a long enough passphrase", "rep", rep_id=dora.id)
    assert users.visible_lead(session, login, meeting.lead_id, now=NOW).id == meeting.lead_id
    with pytest.raises(NotFound):
        users.visible_lead(session, login, others.id, now=NOW)  # Ana's other lead: not Dora's business
    with pytest.raises(NotFound):
        users.visible_lead_row(session, login, meeting.lead_id)  # changing it stays the owner's
    with pytest.raises(NotFound):
        users.visible_lead(session, login, meeting.lead_id, now=meeting.ends_at)  # the meeting is over
