"""Shared fixtures: a real, migrated SQLite database per test."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from crm_core.db import unit_of_work, upgrade_database


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    upgrade_database(url)
    return url


@pytest.fixture
def session(db_url: str) -> Iterator[Session]:
    with unit_of_work(db_url) as session:
        yield session
