"""CRM work from the action server: off its event loop, retried, and never lost.

Database calls run in a worker thread (``in_thread``), so one conversation waiting for a locked or slow
database never holds up another's answer. A lead capture is tried again after a short pause; if the
database still cannot take it, it stays kept on disk (``crm_core.sales.pending_captures``) and this process
writes it as soon as it can: a background task started here retries with a capped backoff, and every
later turn of any conversation starts that task again when kept captures are waiting. After a restart the
server (``actions/server.py``) starts writing what an earlier run kept before any visitor writes again.
"""

import asyncio
import functools
import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.exc import SQLAlchemyError

from crm_core.sales import pending_captures
from crm_core.sales.pending_captures import PendingCapture
from crm_core.schemas import LeadOut

log = logging.getLogger(__name__)

T = TypeVar("T")

# Pauses between the attempts a turn makes (each attempt itself waits up to the SQLite busy timeout), and
# the background task's first and longest pause.
RETRY_PAUSES: tuple[float, ...] = (0.5,)
DRAIN_FIRST_PAUSE = 1.0
DRAIN_LONGEST_PAUSE = 30.0

_drainer: asyncio.Task[None] | None = None


async def in_thread(work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``work(*args, **kwargs)`` in the event loop's worker threads."""
    return await asyncio.get_running_loop().run_in_executor(None, functools.partial(work, *args, **kwargs))


async def save_capture(capture: PendingCapture) -> LeadOut | None:
    """Writes the conversation's lead, trying again after each of RETRY_PAUSES; None when the database
    still cannot take it: then it is kept and written later (``keep_writing``). Raises OSError only when
    it cannot even be kept."""
    folder = pending_captures.store_dir()
    kept = await in_thread(pending_captures.keep, capture, folder)
    for pause in (*RETRY_PAUSES, None):
        try:
            lead = await in_thread(pending_captures.write, kept.key(), folder)
            # None: another writer (the background task) wrote it just now
            return lead or await in_thread(pending_captures.written_lead, kept)
        except SQLAlchemyError as error:
            log.warning("the CRM could not take the lead of %s: %s", capture.conversation.sender_id, error)
        if pause is not None:
            await asyncio.sleep(pause)
    keep_writing()
    return None


def keep_writing() -> None:
    """Starts the background writer when captures are waiting and it is not running already."""
    global _drainer
    if _drainer is not None and not _drainer.done():
        return
    if pending_captures.waiting(pending_captures.store_dir()):
        _drainer = asyncio.get_running_loop().create_task(_write_waiting())


async def _write_waiting() -> None:
    pause = DRAIN_FIRST_PAUSE
    while True:
        await asyncio.sleep(pause)
        try:
            written = await in_thread(pending_captures.write_waiting, pending_captures.store_dir())
        except SQLAlchemyError as error:
            log.warning("kept lead captures still wait for the CRM: %s", error)
            pause = min(pause * 2, DRAIN_LONGEST_PAUSE)
            continue
        except Exception:  # a broken file or disk: logged, and tried again later
            log.exception("could not write the kept lead captures")
            pause = DRAIN_LONGEST_PAUSE
            continue
        if written:
            log.info("wrote %d kept lead capture(s)", written)
        if not pending_captures.waiting(pending_captures.store_dir()):
            return


def write_kept_from_an_earlier_run() -> threading.Thread | None:
    """Starts writing the captures kept when this process last ran (killed, or stopped with the database
    down), without waiting for some conversation's next turn: in a thread of its own, since the server's
    event loop does not exist yet. None when nothing waits."""
    if not pending_captures.waiting(pending_captures.store_dir()):
        return None
    writer = threading.Thread(target=asyncio.run, args=(_write_waiting(),), name="kept-captures", daemon=True)
    writer.start()
    return writer
