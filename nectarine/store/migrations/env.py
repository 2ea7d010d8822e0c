"""Alembic environment: the ticket store's schema (nectarine.store), migrated at start-up."""

from alembic import context
from sqlalchemy import engine_from_config, pool

from nectarine.store.database import Base
import nectarine.store.conversations  # noqa: F401,E402 - registers the tables
import nectarine.store.tickets  # noqa: F401,E402

config = context.config
target_metadata = Base.metadata


def run() -> None:
    connectable = engine_from_config(config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.", poolclass=pool.NullPool)
    with connectable.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


run()
