"""Alembic environment: runs migrations on the URL that crm_core.db.upgrade_database sets."""

from alembic import context
from sqlalchemy import create_engine

from crm_core.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations() -> None:
    url = config.get_main_option("sqlalchemy.url")
    assert url, "crm_core.db.upgrade_database sets sqlalchemy.url"
    connectable = create_engine(url)
    with connectable.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
    connectable.dispose()


run_migrations()
