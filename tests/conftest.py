"""Shared fixtures: a real, migrated database per test — SQLite, or PostgreSQL when
EMBUDO_TEST_POSTGRES_URL names a server (``make test`` runs the unit suite on both)."""

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from crm_core.config import get_settings
from crm_core.db import get_engine, unit_of_work, upgrade_database

POSTGRES_ADMIN_URL = os.environ.get("EMBUDO_TEST_POSTGRES_URL")
TEMPLATE = "embudo_test_template"


def _admin_execute(*statements: str) -> None:
    assert POSTGRES_ADMIN_URL
    engine = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        for statement in statements:
            connection.execute(text(statement))
    engine.dispose()


def _database_url(name: str) -> str:
    assert POSTGRES_ADMIN_URL
    return make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def database_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str | Path]:
    """A migrated template database, copied for each test (much faster than migrating each time: the
    migrations take about a second): a PostgreSQL database, or a SQLite file."""
    if not POSTGRES_ADMIN_URL:
        path = tmp_path_factory.mktemp("template") / "crm.db"
        upgrade_database(f"sqlite:///{path}")
        get_engine(f"sqlite:///{path}").dispose()
        yield path
        return
    _admin_execute(f"DROP DATABASE IF EXISTS {TEMPLATE}", f"CREATE DATABASE {TEMPLATE}")
    url = _database_url(TEMPLATE)
    upgrade_database(url)
    get_engine(url).dispose()
    yield TEMPLATE
    _admin_execute(f"DROP DATABASE IF EXISTS {TEMPLATE} WITH (FORCE)")


def _fresh_database(path: Path, template: str | Path) -> Iterator[str]:
    if isinstance(template, Path):
        shutil.copyfile(template, path)
        yield f"sqlite:///{path}"
        return
    name = f"embudo_test_{uuid4().hex[:12]}"
    _admin_execute(f"CREATE DATABASE {name} TEMPLATE {template}")
    url = _database_url(name)
    yield url
    get_engine(url).dispose()
    _admin_execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def db_url(tmp_path: Path, database_template: str | Path) -> Iterator[str]:
    yield from _fresh_database(tmp_path / "crm.db", database_template)


@pytest.fixture
def other_db_url(tmp_path: Path, database_template: str | Path) -> Iterator[str]:
    """A second, empty database of the same kind (e.g. where an export is imported)."""
    yield from _fresh_database(tmp_path / "other.db", database_template)


@pytest.fixture
def crm(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """``db_url`` as the database of code that reads its settings (the actions): set, and caches cleared."""
    monkeypatch.setenv("EMBUDO_DATABASE_URL", db_url)
    get_settings.cache_clear()
    get_engine.cache_clear()
    yield db_url
    get_settings.cache_clear()
    get_engine.cache_clear()


@pytest.fixture
def session(db_url: str) -> Iterator[Session]:
    with unit_of_work(db_url) as session:
        yield session
