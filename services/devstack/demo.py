"""Demo data for the local platform: an agency whose credentials ``make run`` prints.

The demo agency is registered under the FAPI 2.0 profile (``fapi2``): it
authenticates by ``private_key_jwt`` with an ES256 key and its tokens are
DPoP-bound. Demo only: the private keys (the agency's and the DPoP key the demo
app binds tokens to) are written in clear to ``var/demo/agency.json`` so that a
developer can call the services straight away
(``GaapClient.from_agency_file``).
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc.jwk import ECKey

from gaap_client import DpopKey
from services.identity.bootstrap import open_identity
from services.identity.domain import totp
from services.identity.domain.scopes import AGENCY_SCOPES
from services.identity.settings import IdentitySettings
from services.identity.web.app import TOKEN_PATH
from services.runtime.config import PlatformSettings

DEMO_AGENCY_NAME = "Demo Agency (residents' parking permits)"
# A plain agency (client secret, bearer tokens) for a developer's first calls with
# curl: the demo agency's FAPI 2.0 profile needs a signed assertion and a DPoP
# proof on every request.
DEMO_API_AGENCY_NAME = "Demo API agency (your own calls)"
DEMO_APP_URL = "http://127.0.0.1:8080"  # the demo app's default public URL
DEMO_CITIZEN_SCOPES = ["openid", "profile", "email", "phone", "offline_access"]
# example.com, not a .test domain: notify (rightly) refuses special-use domains.
DEMO_CITIZEN_EMAIL = "demo.citizen@example.com"


def ensure_demo_agency(
    platform: PlatformSettings, settings: IdentitySettings, app_url: str = DEMO_APP_URL
) -> dict[str, Any]:
    """Reuse the demo agency in ``var/demo/agency.json`` if identity still knows it
    (under the fapi2 profile, with the saved key registered and the demo app's
    sign-in URIs at ``app_url``), otherwise register a new one with a new key and
    write its credentials there."""
    redirect_uri, signed_out_uri = app_url + "/callback", app_url + "/"
    path = platform.var_dir / "demo" / "agency.json"
    identity = open_identity(platform, settings)
    try:
        saved = _read(path)
        if saved and identity.registry.find_active(str(saved.get("client_id", ""))):
            agency = identity.registry.get(saved["client_id"])
            if (
                agency.profile == "fapi2"
                and _registered(saved, agency.jwks)
                and redirect_uri in agency.redirect_uris
                and saved.get("issuer") == platform.issuer
            ):
                return saved
        key = ec.generate_private_key(ec.SECP256R1())
        kid = "demo-" + secrets.token_hex(4)
        public = dict(ECKey.import_key(key.public_key()).as_dict(private=False))
        created = identity.registry.create(
            name=DEMO_AGENCY_NAME,
            scopes=[*AGENCY_SCOPES, *DEMO_CITIZEN_SCOPES],
            redirect_uris=[redirect_uri],
            mode="test",
            post_logout_redirect_uris=[signed_out_uri],
            jwks={"keys": [{**public, "kid": kid, "alg": "ES256", "use": "sig"}]},
            profile="fapi2",
        )
    finally:
        identity.database.close()
    demo = {
        "client_id": created.agency.client_id,
        "profile": "fapi2",
        "issuer": platform.issuer,
        "token_endpoint": platform.issuer + TOKEN_PATH,
        "kid": kid,
        "algorithm": "ES256",
        "private_key": key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode(),
        # The key the demo app's tokens are bound to (DPoP), the same in every replica.
        "dpop_private_key": DpopKey.generate().to_pem(),
        "scopes": list(created.agency.scopes),
        "note": "Demo credentials for a local test-mode agency. Never use them elsewhere.",
    }
    _write_private(path, demo)
    return demo


def _registered(saved: dict[str, Any], jwks: Any) -> bool:
    """Whether the saved private key's public half is in the agency's JWK Set."""
    try:
        private = serialization.load_pem_private_key(
            str(saved["private_key"]).encode(), password=None
        )
        if not isinstance(private, ec.EllipticCurvePrivateKey):
            return False
        mine = ECKey.import_key(private.public_key()).as_dict(private=False)
    except (KeyError, ValueError, TypeError):
        return False
    keys = jwks.get("keys", []) if isinstance(jwks, Mapping) else []
    return any(
        k.get("kid") == saved.get("kid") and (k.get("x"), k.get("y")) == (mine["x"], mine["y"])
        for k in keys
    )


def ensure_demo_api_agency(
    platform: PlatformSettings, settings: IdentitySettings, app_url: str = DEMO_APP_URL
) -> dict[str, Any]:
    """The plain agency of ``var/demo/api-agency.json`` (the quick start's curl)."""
    return ensure_agency(
        platform,
        settings,
        platform.var_dir / "demo" / "api-agency.json",
        name=DEMO_API_AGENCY_NAME,
        scopes=list(AGENCY_SCOPES),
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
