"""The suite runs on the database it was asked for, with the schema Alembic made."""

from sqlalchemy import inspect

from crm_core.db import get_engine
from tests.conftest import POSTGRES_ADMIN_URL


def test_runs_on_the_requested_backend_with_the_migrated_schema(db_url: str) -> None:
    engine = get_engine(db_url)
    assert engine.dialect.name == ("postgresql" if POSTGRES_ADMIN_URL else "sqlite")
    tables = set(inspect(engine).get_table_names())
    assert {"reps", "contacts", "leads", "conversations", "alembic_version"} <= tables
