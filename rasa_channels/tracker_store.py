"""Rasa's SQL tracker store, with its database work off the event loop (``endpoints.yml`` names it).

Rasa 3.6's ``SQLTrackerStore`` is synchronous SQLAlchemy inside ``async`` methods: every turn reads the
conversation (``retrieve``, once or twice) and writes its new events (``save``) on the Sanic event loop,
so while SQLite (or PostgreSQL) works — and while SQLite waits for the disk at each commit — no other
conversation moves. Under 10 concurrent conversations that was about a third of the loop's time
(``make bench-profile``). Here the same queries run in one worker thread, each on an event loop of its
own there, and the Rasa loop serves other conversations meanwhile; the database calls release the GIL.
Rasa's lock store still lets one turn of a conversation run at a time, so a conversation's reads and
writes keep their order. On SQLite the file is in WAL mode, as the CRM's is (``crm_core.db``): the
transcript copier's reads never block a turn's write, and each commit still reaches the disk.
"""

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import event

T = TypeVar("T")


class _DatabaseThread:
    """One thread with its own event loop, where the tracker store's coroutines run."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        threading.Thread(target=self._loop.run_forever, name="embudo-tracker-store", daemon=True).start()

    async def run(self, work: Coroutine[Any, Any, T]) -> T:
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(work, self._loop))


def _sqlite_settings(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


class OffLoopSQLTrackerStore(SQLTrackerStore):  # type: ignore[misc]
    """``SQLTrackerStore`` whose reads and writes run in a worker thread; otherwise Rasa's, unchanged."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_settings)
        self._thread = _DatabaseThread()

    async def _retrieve(
        self, sender_id: str, fetch_events_from_all_sessions: bool
    ) -> DialogueStateTracker | None:
        tracker: DialogueStateTracker | None = await self._thread.run(
            super()._retrieve(sender_id, fetch_events_from_all_sessions)
        )
        return tracker

    async def save(self, tracker: DialogueStateTracker) -> None:
        if self.event_broker is not None:  # a broker publishes on Rasa's loop (Pika's client is bound to it)
            await super().save(tracker)
        else:
            await self._thread.run(super().save(tracker))
