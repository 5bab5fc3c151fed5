"""The notifier's task-reminder chore: tasks that fell due get their reminders written to the outbox
(``crm_core.scheduling.task_reminders``), which the notifier then delivers like every notification."""

import logging

from crm_core.db import unit_of_work
from crm_core.scheduling.task_reminders import remind_due_tasks

log = logging.getLogger(__name__)

REMIND_EVERY = 30.0  # seconds: a reminder comes at most half a minute after its task falls due


def send_task_reminders() -> None:
    with unit_of_work() as session:
        reminded = remind_due_tasks(session)
    if reminded:
        log.info("reminders written for due tasks %s", reminded)
