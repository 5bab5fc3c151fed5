"""Lead captures the CRM database could not take yet: kept on local disk and written once it can.

Every capture from a conversation goes through here: it is kept (one JSON file per conversation, replaced
atomically), then written in one unit of work, then forgotten. When the database is locked or down the file
stays, and whoever calls ``write_waiting`` later (the action server, see ``actions/crm_writes.py``) writes
it. The store lives on local disk, not in the CRM database, because it must work exactly when that
database does not.

Exactly once: a conversation has one file, and a newer capture of it replaces the older one (its facts are
the newer ones; a hand-over asked by either is kept), so however often a turn is retried the conversation
has one lead, written by ``capture_lead``, which updates the conversation's lead rather than adding one.
One writer at a time per conversation (a file lock, across threads and processes); the file is removed
only if no newer capture replaced it meanwhile. A process killed between the commit and the removal writes
the same capture again: the same lead, updated to the same values.
"""

import fcntl
import hashlib
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pydantic import BaseModel, Field
from sqlalchemy.engine import make_url

from crm_core.chats.conversations import conversation_for
from crm_core.config import get_settings
from crm_core.db import BOT, unit_of_work
from crm_core.errors import NotFound
from crm_core.qualification.policy import LeadFacts
from crm_core.sales.leads import capture_lead, correct_lead, lead_out
from crm_core.sales.lifecycle import hand_to_a_person
from crm_core.schemas import ConversationRef, LeadOut


class PendingCapture(BaseModel):
    """What one conversation's lead should become: its facts and what else the turn asked for."""

    conversation: ConversationRef
    facts: LeadFacts
    language: str = "en"
    source: str | None = None
    hand_over: bool = False  # hand the lead to a person in the same transaction
    correction: bool = False  # the visitor corrected a contact detail (``correct_lead``)
    version: str = Field(default_factory=lambda: uuid.uuid4().hex)

    def key(self) -> str:
        ref = f"{self.conversation.channel}\n{self.conversation.sender_id}"
        return hashlib.sha256(ref.encode()).hexdigest()[:32]


def store_dir(database_url: str | None = None) -> Path:
    """``EMBUDO_PENDING_CAPTURES_DIR``, else ``pending-captures/`` beside a SQLite database, else
    ``var/pending-captures``."""
    settings = get_settings()
    if settings.pending_captures_dir is not None:
        return settings.pending_captures_dir
    url = make_url(database_url or settings.database_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        return Path(url.database).parent / "pending-captures"
    return Path("var") / "pending-captures"


def _path(folder: Path, key: str) -> Path:
    return folder / f"{key}.json"


@contextmanager
def _one_writer(folder: Path, key: str) -> Iterator[None]:
    with (folder / f"{key}.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _read(path: Path) -> PendingCapture | None:
    try:
        return PendingCapture.model_validate_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


def _replace(path: Path, capture: PendingCapture) -> None:
    """Written to a temporary file, flushed to disk, then renamed over the old one: never half a file."""
    temporary = path.with_suffix(".tmp")
    with temporary.open("w", encoding="utf-8") as file:
        file.write(capture.model_dump_json())
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)


def keep(capture: PendingCapture, folder: Path | None = None) -> PendingCapture:
    """Keeps ``capture`` on disk in place of the conversation's older one; returns what is kept."""
    folder = folder or store_dir()
    folder.mkdir(parents=True, exist_ok=True)
    with _one_writer(folder, capture.key()):
        older = _read(_path(folder, capture.key()))
        if older is not None:
            capture = capture.model_copy(
                update={
                    "hand_over": capture.hand_over or older.hand_over,
                    "correction": capture.correction or older.correction,
                }
            )
        _replace(_path(folder, capture.key()), capture)
    return capture


def write(key: str, folder: Path | None = None) -> LeadOut | None:
    """Writes the conversation's kept capture in one unit of work and forgets it; None when there is none
    (another writer did it). Raises SQLAlchemyError when the database cannot take it: it stays kept."""
    folder = folder or store_dir()
    with _one_writer(folder, key):
        capture = _read(_path(folder, key))
        if capture is None:
            return None
        with unit_of_work(author=BOT) as session:
            save = correct_lead if capture.correction else capture_lead
            lead = save(session, capture.facts, capture.conversation, capture.language, capture.source)
            if capture.hand_over:
                rep = hand_to_a_person(session, lead.id)
                lead = lead.model_copy(update={"assigned_rep": rep.name if rep else None})
        still = _read(_path(folder, key))
        if still is not None and still.version == capture.version:
            _path(folder, key).unlink()
    return lead


def written_lead(capture: PendingCapture) -> LeadOut:
    """The lead another writer wrote for ``capture``'s conversation."""
    with unit_of_work(author=BOT) as session:
        ref = capture.conversation
        found = conversation_for(session, ref.channel, ref.sender_id).lead
        if found is None:
            raise NotFound(f"No lead for conversation {ref.sender_id}.")
        return lead_out(found)


def save(capture: PendingCapture, folder: Path | None = None) -> LeadOut:
    """Keeps ``capture`` and writes it at once. Raises SQLAlchemyError when the database cannot take it:
    it stays kept for ``write_waiting``."""
    kept = keep(capture, folder)
    return write(kept.key(), folder) or written_lead(kept)


def waiting(folder: Path | None = None) -> list[str]:
    """The keys of the captures not written yet, oldest first."""
    folder = folder or store_dir()
    if not folder.is_dir():
        return []
    kept: list[tuple[float, str]] = []
    for path in folder.glob("*.json"):
        try:
            kept.append((path.stat().st_mtime, path.stem))
        except FileNotFoundError:  # written and removed meanwhile, by another conversation's turn
            continue
    return [key for _, key in sorted(kept)]


def write_waiting(folder: Path | None = None) -> int:
    """Writes every kept capture, oldest first; returns how many were written. Raises SQLAlchemyError at
    the first one the database cannot take (the rest stay kept)."""
    written = 0
    for key in waiting(folder):
        if write(key, folder) is not None:
            written += 1
    return written
