"""Engines, the unit of work, and schema upgrades (Alembic) — nothing is created at import time."""

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from crm_core.config import get_settings

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def _ensure_sqlite_folder(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


@lru_cache
def get_engine(url: str | None = None) -> Engine:
    """One engine per database URL for the life of the process."""
    url = url or get_settings().database_url
    _ensure_sqlite_folder(url)
    engine = create_engine(url)
    busy_timeout = get_settings().sqlite_busy_timeout_ms
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout)}")
            cursor.close()

    return engine


BOT = "the bot"  # the author of what a chat does (actions: capture, corrections, hand-off)
SYSTEM = "system"  # the author of a change no person or channel made (the notifier's chores, migrations)
_process_author = SYSTEM


def set_process_author(author: str) -> None:
    """Who this process's changes are by unless its unit of work names someone ("CLI", "the bot")."""
    global _process_author
    _process_author = author.strip() or SYSTEM


def author_of(session: Session) -> str:
    """Who the session's changes are by: history, activities and the routing log record it."""
    author = session.info.get("author")
    return author if isinstance(author, str) and author else _process_author


@contextmanager
def unit_of_work(url: str | None = None, author: str | None = None) -> Iterator[Session]:
    """A session whose work is committed together, or rolled back together on any error. ``author``
    (e.g. "rep Ana <ana@example.com>", "API") is who makes its changes (else the process's author)."""
    session = sessionmaker(get_engine(url), expire_on_commit=False)()
    if author:
        session.info["author"] = author
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def upgrade_database(url: str | None = None) -> None:
    """Bring the schema to the newest Alembic revision."""
    url = url or get_settings().database_url
    _ensure_sqlite_folder(url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(config, "head")
