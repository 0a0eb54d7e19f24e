"""The body of every service's alembic env.py (online and offline modes)."""
from __future__ import annotations

from alembic import context
from sqlalchemy import MetaData

from shared.db import make_engine
from shared.messaging.tables import messaging_metadata


def run(service_metadata: MetaData) -> None:
    target = [service_metadata, messaging_metadata]
    config = context.config
    url = config.get_main_option("sqlalchemy.url")
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=target, literal_binds=True,
                          render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(url)
    with engine.connect() as connection:
        # render_as_batch: SQLite can only alter tables by copying them
        context.configure(connection=connection, target_metadata=target, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()
