"""Task reminders (``crm_core.scheduling.task_reminders``, the notifier's chore ``bot.notify.reminders``): a task that
falls due reminds its rep once, in the console inbox and on Telegram when the rep has a chat; through the
outbox, so a done task's pending reminder is cancelled rather than sent."""

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from telegram import Bot

from bot.notify.worker import Notifier
from crm_core.config import get_settings
from crm_core.db import get_engine, unit_of_work
from crm_core.delivery.notifications import claim_due, inbox
from crm_core.models import Notification, NotificationChannel, Stage, utcnow
from crm_core.sales import activities
from crm_core.sales.lifecycle import accept, assign_to
from crm_core.scheduling.task_reminders import remind_due_tasks
from tests.fake_telegram import FakeTelegram
from tests.unit.helpers import at, make_lead
from tests.unit.test_notifications import rep, rows

DUE = at(5, hour=10)


def reminders(session: Session) -> list[tuple[NotificationChannel, int, str]]:
    return [(n.channel, n.rep_id, n.reason) for n in rows(session) if n.activity_id is not None]


def test_a_due_task_reminds_the_leads_rep_once_in_the_inbox_and_on_telegram(session: Session) -> None:
    ana = rep(session, "Ana", chat=501, email="ana@example.com")
    lead = make_lead(session, Stage.SQL)
    assign_to(session, lead.id, ana.id, by="admin")
    accept(session, lead.id, ana.id, at(5, hour=9))
    task = activities.add_activity(session, lead.id, "call", "Call Marta", due_at=DUE)
    activities.add_activity(session, lead.id, "task", "Later", due_at=DUE + timedelta(days=1))
    assert remind_due_tasks(session, DUE - timedelta(minutes=1)) == []  # not due yet
    assert remind_due_tasks(session, DUE) == [task.id]
    said = f"Task due 2026-01-05 10:00 UTC on lead #{lead.id}: Call Marta"
    assert reminders(session) == [
        (NotificationChannel.INBOX, ana.id, said),
        (NotificationChannel.TELEGRAM, ana.id, said),
    ]
    assert remind_due_tasks(session, DUE + timedelta(hours=1)) == []  # once per task
    assert inbox(session, ana.id)[0].reason == said  # newest first, above the hand-off
    [card] = claim_due(session, NotificationChannel.TELEGRAM, DUE)  # the lead was accepted: still news
    assert (card.chat_id, card.buttons) == (501, False)
    assert card.text.startswith(said + "\nLead: ") and card.text.endswith(f"/console/leads/{lead.id}")


def test_a_rep_without_telegram_is_reminded_in_the_inbox_only(session: Session) -> None:
    ben = rep(session, "Ben")
    lead = make_lead(session, Stage.CONTACTED, rep_id=ben.id)
    activities.add_activity(session, lead.id, "task", "Send the offer", due_at=DUE)
    remind_due_tasks(session, DUE)
    assert [channel for channel, _, _ in reminders(session)] == [NotificationChannel.INBOX]


def test_done_tasks_and_leads_nobody_has_are_not_reminded(session: Session) -> None:
    ana = rep(session, "Ana", chat=501)
    mine = make_lead(session, Stage.CONTACTED, rep_id=ana.id)
    done = activities.add_activity(session, mine.id, "task", "Done already", due_at=DUE)
    activities.complete(session, done.id, DUE - timedelta(minutes=5))
    nobodys = make_lead(session, Stage.CONTACTED)
    waiting = activities.add_activity(session, nobodys.id, "task", "Whoever takes it", due_at=DUE)
    assert remind_due_tasks(session, DUE) == []
    nobodys.assigned_rep_id = ana.id  # someone has it now: reminded then
    assert remind_due_tasks(session, DUE + timedelta(minutes=1)) == [waiting.id]


def test_a_reminder_whose_task_was_done_before_it_was_sent_is_cancelled(session: Session) -> None:
    ana = rep(session, "Ana", chat=501)
    lead = make_lead(session, Stage.CONTACTED, rep_id=ana.id)
    task = activities.add_activity(session, lead.id, "task", "Call back", due_at=DUE)
    remind_due_tasks(session, DUE)
    activities.complete(session, task.id, DUE + timedelta(seconds=10))
    assert claim_due(session, NotificationChannel.TELEGRAM, DUE + timedelta(seconds=20)) == []
    [telegram] = rows(session, NotificationChannel.TELEGRAM)
    assert telegram.last_error == "cancelled: the task is done or the lead is someone else's"


def test_the_running_notifier_sends_a_due_tasks_reminder_to_telegram_without_buttons(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with unit_of_work(db_url) as session:
        ana = rep(session, "Ana", chat=501)
        lead = make_lead(session, Stage.CONTACTED, rep_id=ana.id).id
        task = activities.add_activity(session, lead, "task", "Send the offer", due_at=utcnow()).id

    def delivered() -> list[bool]:
        with unit_of_work(db_url) as session:
            return [
                row.delivered_at is not None
                for row in session.scalars(
                    select(Notification).where(
                        Notification.activity_id == task, Notification.channel == NotificationChannel.TELEGRAM
                    )
                )
            ]

    monkeypatch.setenv("EMBUDO_DATABASE_URL", db_url)
    get_settings.cache_clear()
    get_engine.cache_clear()  # the default engine is cached: another test's database otherwise
    fake = FakeTelegram()
    running = fake.serve()
    try:

        async def run_until_delivered() -> None:
            async with Bot("123:ABC", base_url=fake.base_url) as bot:
                notifier = asyncio.create_task(Notifier(get_settings(), bot).run(interval=0.05))
                try:
                    for _ in range(400):
                        if delivered() == [True]:
                            return
                        await asyncio.sleep(0.05)
                finally:
                    notifier.cancel()

        asyncio.run(run_until_delivered())
    finally:
        running.stop()
        get_settings.cache_clear()
        get_engine.cache_clear()
    assert delivered() == [True]
    [sent] = fake.sent(chat_id=501)
    assert "Send the offer" in sent["text"] and "reply_markup" not in sent
