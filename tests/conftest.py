"""Shared fixtures: a real, migrated database per test — SQLite, or PostgreSQL when
``EMBUDO_TEST_POSTGRES_URL`` points at a server (``make unit-pg`` starts a throw-away one)."""

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from crm_core.db import get_engine, unit_of_work, upgrade_database

POSTGRES_URL = os.environ.get("EMBUDO_TEST_POSTGRES_URL")


def _postgres_database(admin_url: str) -> Iterator[str]:
    """A fresh database on the test server, dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade_database(url)
        yield url
    finally:
        get_engine(url).dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def db_url(tmp_path: Path) -> Iterator[str]:
    if POSTGRES_URL:
        yield from _postgres_database(POSTGRES_URL)
        return
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    upgrade_database(url)
    yield url


@pytest.fixture
def session(db_url: str) -> Iterator[Session]:
    with unit_of_work(db_url) as session:
        yield session
