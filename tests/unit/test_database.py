"""The suite runs on the database it was asked for, with the schema Alembic made."""

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from crm_core.db import get_engine
from crm_core.models import Base
from tests.conftest import POSTGRES_ADMIN_URL


def test_runs_on_the_requested_backend_with_the_migrated_schema(db_url: str) -> None:
    engine = get_engine(db_url)
    assert engine.dialect.name == ("postgresql" if POSTGRES_ADMIN_URL else "sqlite")
    tables = set(inspect(engine).get_table_names())
    assert {"reps", "contacts", "leads", "conversations", "alembic_version"} <= tables


def test_the_migrations_build_exactly_the_schema_the_models_describe(db_url: str) -> None:
    with get_engine(db_url).connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []
