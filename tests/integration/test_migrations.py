"""Every service's migrations build exactly the schema its code declares, on both
backends: a table or column added to the code without a migration fails here."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from services.runtime import db
from tests.support.databases import for_service

SERVICES = {
    "identity": ("services.identity.adapters.tables",),
    "payments": ("services.payments.adapters.tables",),
    "notify": ("services.notify.adapters.tables",),
    "demo_app": ("services.demo_app.adapters.tables",),
    # The console's later tables are declared on MetaData of their own (its first
    # migration creates tables.metadata whole): every one is compared.
    "console": (
        "services.console.adapters.tables",
        "services.console.adapters.payment_link_tables",
        "services.console.adapters.bulk_upload_tables",
        "services.console.adapters.go_live_tables",
    ),
}


def declared(service: str) -> tuple[Path, sa.MetaData]:
    """The service's migrations folder and every table its code declares."""
    modules = [importlib.import_module(name) for name in SERVICES[service]]
    combined = sa.MetaData()
    for module in modules:
        for table in module.metadata.sorted_tables:
            table.to_metadata(combined)
    return Path(str(modules[0].__file__)).parents[1] / "migrations", combined


def _relevant(diff: Any) -> bool:
    # Drift is a table, column or declared index the code has and the database
    # lacks (or the other way round for tables and columns). Extra indexes a
    # migration adds for speed (partial ones, say) and type-rendering differences
    # between dialects are not drift.
    kind = diff[0][0] if isinstance(diff, list) else diff[0]
    return kind in ("add_table", "remove_table", "add_column", "remove_column", "add_index")


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_migrations_match_the_tables_the_code_declares(database_url: str, service: str) -> None:
    url = for_service(database_url, service)
    migrations, metadata = declared(service)
    engine = db.create_engine(url)
    try:
        db.migrate(engine, migrations)
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": False})
            diffs = [d for d in compare_metadata(context, metadata) if _relevant(d)]
    finally:
        engine.dispose()
    assert diffs == []


def test_a_notify_database_from_before_0002_gets_the_traceparent_column(
    database_url: str,
) -> None:
    # A database in service before 0002 (at 0001, no traceparent column) is
    # brought up to date by the next start.
    url = for_service(database_url, "notify")
    module_file = importlib.import_module(SERVICES["notify"][0]).__file__
    assert module_file is not None
    migrations = Path(module_file).parents[1] / "migrations"
    config = Config()
    config.set_main_option("script_location", str(migrations))
    engine = db.create_engine(url)
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "0001")
        db.migrate(engine, migrations)
        with engine.connect() as connection:
            columns = {c["name"] for c in sa.inspect(connection).get_columns("notifications")}
            version = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    finally:
        engine.dispose()
    assert "traceparent" in columns
    assert version == ScriptDirectory.from_config(config).get_current_head()
