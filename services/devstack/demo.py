"""Demo data for the local platform: an agency whose credentials ``make run`` prints.

Demo only: the secret is written in clear to ``var/demo/agency.json`` so that a
developer can call the services straight away.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

from services.identity.bootstrap import open_identity
from services.identity.domain import totp
from services.identity.domain.scopes import AGENCY_SCOPES
from services.identity.settings import IdentitySettings
from services.identity.web.app import TOKEN_PATH
from services.runtime.config import PlatformSettings

DEMO_AGENCY_NAME = "Demo Agency (residents' parking permits)"
DEMO_APP_URL = "http://127.0.0.1:8080"  # the demo app's default public URL
DEMO_CITIZEN_SCOPES = ["openid", "profile", "email", "phone", "offline_access"]
# example.com, not a .test domain: notify (rightly) refuses special-use domains.
DEMO_CITIZEN_EMAIL = "demo.citizen@example.com"


def ensure_demo_agency(
    platform: PlatformSettings, settings: IdentitySettings, app_url: str = DEMO_APP_URL
) -> dict[str, Any]:
    """Reuse the demo agency in ``var/demo/agency.json`` if identity still knows it
    (with the demo app's sign-in URIs at ``app_url``), otherwise register a new one
    and write its credentials there."""
    return ensure_agency(
        platform,
        settings,
        platform.var_dir / "demo" / "agency.json",
        name=DEMO_AGENCY_NAME,
        scopes=[*AGENCY_SCOPES, *DEMO_CITIZEN_SCOPES],
        app_url=app_url,
    )


def ensure_agency(
    platform: PlatformSettings,
    settings: IdentitySettings,
    path: Path,
    *,
    name: str,
    scopes: list[str],
    app_url: str,
) -> dict[str, Any]:
    """An agency whose credentials are saved at ``path``: reused while identity
    still knows it with ``app_url``'s sign-in URIs, otherwise registered anew."""
    redirect_uri, signed_out_uri = app_url + "/callback", app_url + "/"
    identity = open_identity(platform, settings)
    try:
        saved = _read(path)
        if saved and identity.registry.find_active(str(saved.get("client_id", ""))):
            agency = identity.registry.get(saved["client_id"])
            if agency.check_secret(str(saved.get("client_secret", ""))) and (
                redirect_uri in agency.redirect_uris
            ):
                return saved
        created = identity.registry.create(
            name=name,
            scopes=scopes,
            redirect_uris=[redirect_uri],
            mode="test",
            post_logout_redirect_uris=[signed_out_uri],
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


def ensure_demo_citizen(platform: PlatformSettings, settings: IdentitySettings) -> dict[str, Any]:
    """A citizen to sign in as (demo only), saved in ``var/demo/citizen.json``."""
    return ensure_account(
        platform,
        settings,
        platform.var_dir / "demo" / "citizen.json",
        email=DEMO_CITIZEN_EMAIL,
        given_name="Alex",
        family_name="Demo",
    )


def ensure_account(
    platform: PlatformSettings,
    settings: IdentitySettings,
    path: Path,
    *,
    email: str,
    given_name: str,
    family_name: str,
) -> dict[str, Any]:
    """A demo-only citizen account: reused while identity still knows it,
    otherwise created with a fresh password and authenticator secret, written to
    ``path``."""
    identity = open_identity(platform, settings)
    try:
        saved = _read(path)
        account = identity.accounts.by_email(email)
        if saved and account is not None and account.totp_secret == saved.get("totp_secret"):
            return saved
        if account is not None:
            # The saved file is gone or stale: a demo account can be replaced.
            identity.accounts.delete(account.id)
        demo = {
            "email": email,
            "password": "demo-" + secrets.token_urlsafe(12),
            "totp_secret": totp.new_secret(),
            "note": "A demo-only citizen of the local platform. Sign in at Cl.Cm with the "
            "password and a code from any authenticator app using totp_secret.",
        }
        identity.accounts.create(
            email=demo["email"],
            password=demo["password"],
            email_verified=True,
            totp_secret=demo["totp_secret"],
            given_name=given_name,
            family_name=family_name,
            # A mobile number notify accepts (the 07700 900xxx drama range is not one).
            phone_number="+447912345678",
            locale="en",
        )
    finally:
        identity.database.close()
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
