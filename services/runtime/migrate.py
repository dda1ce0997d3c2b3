"""``python -m services.runtime.migrate <service>...``: bring databases' schemas up
to date, then exit. The Kubernetes migration Job runs it before a rollout.

Each service's ``main`` migrates at start too (under a PostgreSQL advisory lock,
so replicas starting together do not race); running the Job first means a new
version's pods never wait on a long migration, and a failed migration stops the
rollout instead of crash-looping pods.
"""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from services.runtime import config, logs
from services.runtime.bootstrap import open_database
from services.runtime.config import DatabaseSettings
from services.runtime.errors import StartupError

log = logging.getLogger(__name__)

SERVICES = {
    "identity": ("services.identity.settings", "IdentitySettings"),
    "payments": ("services.payments.settings", "PaymentsSettings"),
    "notify": ("services.notify.settings", "NotifySettings"),
}


def settings_class(service: str) -> type[DatabaseSettings]:
    module_name, class_name = SERVICES[service]
    found: type[DatabaseSettings] = getattr(importlib.import_module(module_name), class_name)
    return found


def migrate(service: str, platform: config.PlatformSettings) -> None:
    """Apply ``service``'s pending migrations to the database its settings name."""
    settings = config.load(settings_class(service))
    migrations = Path(importlib.import_module(f"services.{service}").__file__ or "").parent
    database = open_database(platform, settings, migrations / "migrations")
    database.close()
    log.info("migrated", extra={"database_of": service})


def main(argv: Sequence[str] | None = None) -> None:
    names = list(sys.argv[1:] if argv is None else argv) or ["all"]
    if names == ["all"]:
        names = list(SERVICES)
    unknown = [n for n in names if n not in SERVICES]
    if unknown:
        sys.stderr.write(
            f"gaap-migrate: unknown service {', '.join(unknown)}; "
            f"choose from {', '.join(SERVICES)} or all\n"
        )
        raise SystemExit(2)
    logs.configure("migrate")
    try:
        platform = config.load(config.PlatformSettings)
        for name in names:
            migrate(name, platform)
    except StartupError as exc:
        sys.stderr.write(f"gaap-migrate: {exc}\n")
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
