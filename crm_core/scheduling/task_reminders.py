"""Task reminders: when a task (an activity with a due time) falls due and is not done, its rep is told
once — in their console inbox, and on Telegram when they have a chat linked — through the notifications
outbox, written in the same transaction that marks the task reminded.

The rep is whoever has the lead now (the one whose inbox lists its tasks, ``activities.due_tasks``), else
the rep the task was logged for. A task on a lead nobody has waits until someone has it. A reminder whose
task is done, or whose lead went to someone else, before it was sent is cancelled (``notifications``).
"""

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from crm_core.models import Activity, Lead, Notification, NotificationChannel, Rep, utcnow


def reminder_text(activity: Activity) -> str:
    """What the rep is told, the same on every channel (times in UTC: the outbox has no viewer)."""
    assert activity.due_at is not None
    return f"Task due {activity.due_at:%Y-%m-%d %H:%M} UTC on lead #{activity.lead_id}: {activity.body}"


def _rep_for(session: Session, activity: Activity) -> Rep | None:
    lead = session.get(Lead, activity.lead_id)
    rep_id = (lead.assigned_rep_id if lead is not None else None) or activity.rep_id
    rep = session.get(Rep, rep_id) if rep_id is not None else None
    return rep if rep is not None and rep.active else None


def remind_due_tasks(session: Session, now: datetime | None = None, limit: int = 200) -> list[int]:
    """Write the reminders of the open tasks due by ``now`` that have none yet; returns their task ids."""
    now = now or utcnow()
    due = session.scalars(
        select(Activity)
        .join(Lead, Lead.id == Activity.lead_id)
        .where(Activity.due_at <= now, Activity.done_at.is_(None), Activity.reminded_at.is_(None))
        .where(or_(Lead.assigned_rep_id.is_not(None), Activity.rep_id.is_not(None)))
        .order_by(Activity.due_at, Activity.id)
        .limit(limit)
    ).all()
    reminded = []
    for activity in due:
        rep = _rep_for(session, activity)
        if rep is None:
            continue  # nobody to tell yet: looked at again next round
        channels = [NotificationChannel.INBOX]
        if rep.telegram_chat_id is not None:
            channels.append(NotificationChannel.TELEGRAM)
        for channel in channels:
            session.add(
                Notification(
                    rep_id=rep.id,
                    lead_id=activity.lead_id,
                    activity_id=activity.id,
                    channel=channel,
                    reason=reminder_text(activity),
                    created_at=now,
                    next_attempt_at=now,
                    delivered_at=now if channel is NotificationChannel.INBOX else None,
                    attempts=0,
                )
            )
        activity.reminded_at = now
        reminded.append(activity.id)
    session.flush()
    return reminded
