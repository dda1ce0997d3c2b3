"""Demo data for the local platform: an agency whose credentials ``make run`` prints.

Demo only: the secret is written in clear to ``var/demo/agency.json`` so that a
developer can call the services straight away.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from services.identity.bootstrap import open_identity
from services.identity.domain.scopes import AGENCY_SCOPES
from services.identity.settings import IdentitySettings
from services.identity.web.app import TOKEN_PATH
from services.runtime.config import PlatformSettings

DEMO_AGENCY_NAME = "Demo Agency (residents' parking permits)"
DEMO_REDIRECT_URI = "http://127.0.0.1:8080/callback"


def ensure_demo_agency(platform: PlatformSettings, settings: IdentitySettings) -> dict[str, Any]:
    """Reuse the demo agency in ``var/demo/agency.json`` if identity still knows it,
    otherwise register a new one and write its credentials there."""
    path = platform.var_dir / "demo" / "agency.json"
    identity = open_identity(platform, settings)
    try:
        saved = _read(path)
        if saved and identity.registry.find_active(str(saved.get("client_id", ""))):
            agency = identity.registry.get(saved["client_id"])
            if agency.check_secret(str(saved.get("client_secret", ""))):
                return saved
        created = identity.registry.create(
            name=DEMO_AGENCY_NAME,
            scopes=list(AGENCY_SCOPES),
            redirect_uris=[DEMO_REDIRECT_URI],
            mode="test",
        )
    finally:
        identity.database.close()
    assert created.client_secret is not None
    demo = {
        "client_id": created.agency.client_id,
        "client_secret": created.client_secret,
        "token_endpoint": platform.issuer + TOKEN_PATH,
        "scopes": list(created.agency.scopes),
        "note": "Demo credentials for a local test-mode agency. Never use them elsewhere.",
    }
    _write_private(path, demo)
    return demo


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _write_private(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(data, out, indent=2)
        out.write("\n")
    tmp.replace(path)
