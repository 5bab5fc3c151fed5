"""The rep-notification outbox: written with the hand-off, claimed once, retried with capped backoff until
delivered, sent at most once across crashes, cut to Telegram's limit, cancelled when the lead has moved on."""

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_core.delivery.notifications import (
    TELEGRAM_LIMIT,
    claim_due,
    inbox,
    mark_failed,
    mark_sending,
    mark_sent,
    telegram_length,
)
from crm_core.models import Notification, NotificationChannel, Rep, Stage
from crm_core.people.reps import add_rep
from crm_core.sales.lifecycle import accept, assign, hand_to_a_person, pass_lead
from crm_core.schemas import NewRep
from tests.unit.helpers import at, make_lead


def rep(
    session: Session, name: str, chat: int | None = None, email: str | None = None, admin: bool = False
) -> Rep:
    out = add_rep(
        session, NewRep(name=name, languages=["en"], telegram_chat_id=chat, email=email, is_admin=admin)
    )
    found = session.get(Rep, out.id)
    assert found is not None
    return found


def rows(session: Session, channel: NotificationChannel | None = None) -> list[Notification]:
    query = select(Notification).order_by(Notification.id)
    if channel is not None:
        query = query.where(Notification.channel == channel)
    return list(session.scalars(query))


def test_assignment_writes_a_notification_per_channel_the_rep_has(session: Session) -> None:
    ana = rep(session, "Ana", chat=501, email="ana@example.com")
    lead = make_lead(session, Stage.SQL)
    assign(session, lead, at(5))
    written = rows(session)
    assert {(n.channel, n.rep_id) for n in written} == {
        (NotificationChannel.INBOX, ana.id),
        (NotificationChannel.TELEGRAM, ana.id),
        (NotificationChannel.EMAIL, ana.id),
    }
    assert all("assigned to you" in n.reason for n in written)
    inbox_row = next(n for n in written if n.channel is NotificationChannel.INBOX)
    assert inbox_row.delivered_at is not None, "the inbox entry is there at once"
    assert [item.lead_id for item in inbox(session, ana.id)] == [lead.id]


def test_a_rep_without_telegram_or_email_gets_the_inbox_only(session: Session) -> None:
    rep(session, "Ben")
    assign(session, make_lead(session, Stage.SQL), at(5))
    assert [n.channel for n in rows(session)] == [NotificationChannel.INBOX]


def test_a_due_notification_is_claimed_once_until_its_lease_runs_out(session: Session) -> None:
    rep(session, "Ana", chat=501)
    lead = make_lead(session, Stage.SQL)
    assign(session, lead, at(5))
    [card] = claim_due(session, NotificationChannel.TELEGRAM, at(5))
    assert card.chat_id == 501 and card.lead_id == lead.id
    assert f"#{lead.id}" in card.text and "Accept" not in card.text
    assert claim_due(session, NotificationChannel.TELEGRAM, at(5) + timedelta(seconds=5)) == []
    [again] = claim_due(session, NotificationChannel.TELEGRAM, at(5) + timedelta(seconds=121))
    assert again.notification_id == card.notification_id
    mark_sent(session, card.notification_id, "777")
    assert claim_due(session, NotificationChannel.TELEGRAM, at(6)) == []
    row = rows(session, NotificationChannel.TELEGRAM)[0]
    assert (row.attempts, row.external_id) == (2, "777")


def test_failures_back_off_up_to_a_cap_honour_retry_after_and_never_give_up(session: Session) -> None:
    boss = rep(session, "Boss", admin=True)
    rep(session, "Ana", chat=501)
    assign(session, make_lead(session, Stage.SQL), at(5))
    row = rows(session, NotificationChannel.TELEGRAM)[0]
    now = at(5)
    waits = []
    for _ in range(14):
        claim_due(session, NotificationChannel.TELEGRAM, now)
        mark_failed(session, row.id, "network", now)
        waits.append((row.next_attempt_at - now).total_seconds())
        now = row.next_attempt_at
    assert waits[:4] == [1.0, 2.0, 4.0, 8.0] and waits[-4:] == [600.0] * 4, "capped at 10 min"
    assert row.failed_at is None, "an outage of any length is waited out"
    alerts = [item.reason for item in inbox(session, boss.id)]
    assert len(alerts) == 1 and "still not delivered" in alerts[0], "the admin is told once"
    claim_due(session, NotificationChannel.TELEGRAM, now)
    mark_failed(session, row.id, "429", now, retry_after=17)
    assert (row.next_attempt_at - now).total_seconds() == 17
    mark_failed(session, row.id, "blocked", now, permanent=True)
    assert row.failed_at == now and row.last_error == "blocked"
    assert claim_due(session, NotificationChannel.TELEGRAM, now + timedelta(days=1)) == []
    assert "blocked" in inbox(session, boss.id)[0].reason, "a card refused for good is an admin alert"


def test_a_card_still_sending_after_its_lease_is_never_sent_again(session: Session) -> None:
    boss = rep(session, "Boss", admin=True)
    rep(session, "Ana", chat=501)
    assign(session, make_lead(session, Stage.SQL), at(5))
    [card] = claim_due(session, NotificationChannel.TELEGRAM, at(5))
    assert mark_sending(session, card, at(5))  # ... and the notifier died before recording
    assert claim_due(session, NotificationChannel.TELEGRAM, at(5) + timedelta(seconds=119)) == []
    assert claim_due(session, NotificationChannel.TELEGRAM, at(5) + timedelta(hours=1)) == []
    row = rows(session, NotificationChannel.TELEGRAM)[0]
    assert row.failed_at is not None and "unknown whether delivered" in (row.last_error or "")
    assert "unknown whether delivered" in inbox(session, boss.id)[0].reason


def test_a_claimed_card_whose_sender_died_before_sending_is_retried(session: Session) -> None:
    rep(session, "Ana", chat=501)
    assign(session, make_lead(session, Stage.SQL), at(5))
    [card] = claim_due(session, NotificationChannel.TELEGRAM, at(5))
    [again] = claim_due(session, NotificationChannel.TELEGRAM, at(5) + timedelta(seconds=121))
    assert again.notification_id == card.notification_id
    assert not mark_sending(session, card), "the first claim ran out: only the new one may send"
    assert mark_sending(session, again)
    assert not mark_sending(session, again), "and only once"


def test_a_card_with_a_long_need_fits_telegram_with_the_need_cut(session: Session) -> None:
    rep(session, "Ana", chat=501)
    lead = make_lead(session, Stage.SQL)
    lead.need = "🚀 we need a bot " * 400  # ~6,800 characters, emoji counting two
    assign(session, lead, at(5))
    [card] = claim_due(session, NotificationChannel.TELEGRAM, at(5))
    assert telegram_length(card.text) <= TELEGRAM_LIMIT
    assert f"/console/leads/{lead.id}" in card.text and "…" in card.text
    assert "Transcript:" in card.text and "Why:" in card.text, "only the need is cut"
    assert telegram_length(card.short_text) < 1000 and f"#{lead.id}" in card.short_text


def test_a_notification_for_a_lead_that_moved_on_is_cancelled_not_sent(session: Session) -> None:
    ana, ben = rep(session, "Ana", chat=501), rep(session, "Ben", chat=502)
    lead = make_lead(session, Stage.SQL)
    assign(session, lead, at(5))
    first = lead.assigned_rep_id
    new_owner = pass_lead(session, lead.id, first, at(5, hour=10))  # before the notifier ran
    assert new_owner is not None and new_owner.id != first
    cards = claim_due(session, NotificationChannel.TELEGRAM, at(5, hour=10))
    assert [card.chat_id for card in cards] == [new_owner.telegram_chat_id]
    stale = next(n for n in rows(session, NotificationChannel.TELEGRAM) if n.rep_id == first)
    assert stale.failed_at is not None and "no longer waits" in (stale.last_error or "")
    accept(session, lead.id, new_owner.id, at(5, hour=11))
    assert {ana.id, ben.id} == {first, new_owner.id}


def test_after_two_passes_the_admin_is_notified_of_the_escalation(session: Session) -> None:
    rep(session, "Ana", chat=501)
    rep(session, "Ben", chat=502)
    boss = rep(session, "Boss", chat=900, admin=True)
    lead = make_lead(session, Stage.SQL)
    assign(session, lead, at(5))
    for hour in (10, 11):
        assert lead.assigned_rep_id is not None
        pass_lead(session, lead.id, lead.assigned_rep_id, at(5, hour=hour))
    assert lead.assigned_rep_id == boss.id
    [to_boss] = [n for n in rows(session, NotificationChannel.TELEGRAM) if n.rep_id == boss.id]
    assert "escalated to you" in to_boss.reason


def test_a_visitor_who_asks_for_a_person_gets_one_whatever_the_class(session: Session) -> None:
    ana = rep(session, "Ana", chat=501)
    lead = make_lead(session, Stage.MQL)
    assert lead.assigned_rep_id is None
    assert hand_to_a_person(session, lead.id, at(5)) is ana
    [note] = rows(session, NotificationChannel.TELEGRAM)
    assert "asked to talk to a person" in note.reason
    assert hand_to_a_person(session, lead.id, at(5, hour=10)) is ana  # asked again: told again, same rep
    assert len(rows(session, NotificationChannel.TELEGRAM)) == 2


def test_asking_for_a_person_with_nobody_available_queues_the_lead(session: Session) -> None:
    lead = make_lead(session, Stage.MQL)
    assert hand_to_a_person(session, lead.id, at(5)) is None
    assert lead.assigned_rep_id is None and rows(session) == []


def test_lead_card_buttons_parse_back_and_foreign_data_is_ignored() -> None:
    from bot.notify.lead_buttons import lead_buttons, parse

    rows = lead_buttons(7).inline_keyboard
    assert [parse(str(button.callback_data)) for row in rows for button in row] == [
        ("accept", 7),
        ("pass", 7),
        ("takeover", 7),
    ]
    assert parse("lead:delete:7") is None and parse("lead:takeover:x") is None and parse("lang:es") is None
