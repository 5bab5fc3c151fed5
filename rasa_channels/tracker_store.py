"""Rasa's SQL tracker store, its database work off the event loop and cheaper (``endpoints.yml`` names it).

Rasa 3.6's ``SQLTrackerStore`` is synchronous SQLAlchemy inside ``async`` methods: every turn reads the
conversation (``retrieve``) and writes its new events (``save``) on the Sanic event loop, so while SQLite
(or PostgreSQL) works — and while SQLite waits for the disk at each commit — no other conversation moves.
Under 10 concurrent conversations that was about a third of the loop's time (``make bench-profile``).
Here the same queries run in one worker thread, each on an event loop of its own there, and the Rasa loop
serves other conversations meanwhile; the database calls release the GIL. Rasa's lock store still lets one
turn of a conversation run at a time, so a conversation's reads and writes keep their order. On SQLite the
file is in WAL mode, as the CRM's is (``crm_core.db``): the transcript copier's reads never block a turn's
write, and each commit still reaches the disk.

What a turn costs there is less than Rasa's own (the rows and their order are the same):

- on SQLite one connection is kept open (SQLAlchemy 1.4, which Rasa 3.6 pins, opened a new one for every
  read and every save);
- a read fetches only the events' JSON, not ORM objects, and remembers on the tracker how many of its
  events were stored; the save of that same tracker object writes the events after those, so it no longer
  counts the stored events with a second query first (any other tracker is counted as Rasa does);
- a save inserts its new events in one statement instead of through the ORM's unit of work;
- an event's class is looked up once per event type: Rasa's ``Event.resolve_by_type`` walked every
  subclass of ``Event`` for every event it read back.
"""

import asyncio
import itertools
import json
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import Event, SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY
from sqlalchemy import event
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import QueuePool

T = TypeVar("T")
STORED = "_embudo_stored"  # on a tracker read here: (the tracker's id, how many of its events are stored)


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
    """``SQLTrackerStore`` whose reads and writes run in a worker thread, with fewer and cheaper queries."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.engine.dialect.name == "sqlite":
            # SQLAlchemy 1.4 opens a new SQLite connection for every session (NullPool): each read and save
            # paid a connect and the PRAGMAs. One kept connection, used by one caller at a time, instead.
            url = self.engine.url
            self.engine.dispose()
            self.engine = sa.create_engine(
                url, poolclass=QueuePool, connect_args={"check_same_thread": False}
            )
            event.listen(self.engine, "connect", _sqlite_settings)
            self.sessionmaker = sessionmaker(bind=self.engine)
        self._thread = _DatabaseThread()

    async def _retrieve(
        self, sender_id: str, fetch_events_from_all_sessions: bool
    ) -> DialogueStateTracker | None:
        tracker: DialogueStateTracker | None = await self._thread.run(
            self._read(sender_id, fetch_events_from_all_sessions)
        )
        return tracker

    async def save(self, tracker: DialogueStateTracker) -> None:
        if self.event_broker is not None:  # a broker publishes on Rasa's loop (Pika's client is bound to it)
            tracker.__dict__.pop(STORED, None)
            await super().save(tracker)
        else:
            await self._thread.run(self._write(tracker))

    def _events_query(self, sender_id: str, all_sessions: bool) -> Any:
        """Rasa's ``_event_query`` for the events' JSON only: every session's, or since the latest start."""
        events = self.SQLEvent.__table__
        query = sa.select(events.c.data).where(events.c.sender_id == sender_id)
        if not all_sessions:
            latest_start = (
                sa.select(sa.func.max(events.c.timestamp))
                .where(events.c.sender_id == sender_id, events.c.type_name == SessionStarted.type_name)
                .scalar_subquery()
            )
            query = query.where(sa.or_(events.c.timestamp >= latest_start, latest_start.is_(None)))
        return query.order_by(events.c.id)

    async def _read(self, sender_id: str, all_sessions: bool) -> DialogueStateTracker | None:
        with self.session_scope() as session:
            rows = session.execute(self._events_query(sender_id, all_sessions)).scalars().all()
        if not (self.domain and rows):
            return None
        tracker = DialogueStateTracker.from_dict(
            sender_id, [json.loads(row) for row in rows], self.domain.slots
        )
        if not all_sessions:  # Rasa's save counts the latest session's stored events: these
            setattr(tracker, STORED, (id(tracker), len(rows)))
        return tracker

    async def _write(self, tracker: DialogueStateTracker) -> None:
        with self.session_scope() as session:
            read = tracker.__dict__.get(STORED)
            if read is not None and read[0] == id(tracker):
                stored = read[1]
            else:  # not read here (a new conversation, a copy): counted as Rasa counts
                stored = self._event_query(
                    session, tracker.sender_id, fetch_events_from_all_sessions=False
                ).count()
            rows = [self._row(tracker.sender_id, e) for e in itertools.islice(tracker.events, stored, None)]
            if rows:
                session.execute(sa.insert(self.SQLEvent.__table__), rows)
            session.commit()
        setattr(tracker, STORED, (id(tracker), max(stored, len(tracker.events))))

    @staticmethod
    def _row(sender_id: str, stored_event: Event) -> dict[str, Any]:
        """The events table's row of one event, as Rasa's ``save`` writes it."""
        data = stored_event.as_dict()
        return {
            "sender_id": sender_id,
            "type_name": stored_event.type_name,
            "timestamp": data.get("timestamp"),
            "intent_name": data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
            "action_name": data.get("name"),
            "data": json.dumps(data),
        }


_event_classes: dict[str, type[Event]] = {}
_rasa_resolve_by_type = Event.resolve_by_type


def _resolve_by_type(type_name: str, default: type[Event] | None = None) -> type[Event] | None:
    """Rasa's ``Event.resolve_by_type``, remembering each event class it found (they never change)."""
    found = _event_classes.get(type_name)
    if found is None:
        found = _rasa_resolve_by_type(type_name, default)
        if found is not None and found is not default:
            _event_classes[type_name] = found
    return found


Event.resolve_by_type = staticmethod(_resolve_by_type)  # type: ignore[method-assign]
