"""The body of every service's Alembic ``env.py``.

Migrations run online only, on the connection ``db.migrate`` hands over (or, from
the ``alembic`` command line, on the URL in ``sqlalchemy.url``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context


def run(target_metadata: sa.MetaData) -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        url = context.config.get_main_option("sqlalchemy.url") or ""
        engine = sa.create_engine(url, hide_parameters=True)
        with engine.begin() as conn:
            _run(conn, target_metadata)
        return
    _run(connection, target_metadata)


def _run(connection: sa.Connection, target_metadata: sa.MetaData) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
