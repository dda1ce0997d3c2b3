"""The console under ``make run``: its own agency (it signs staff in through
identity, registers agencies and sends invitations through notify), and a demo
staff member who administers the demo agency's team.

Demo only: the credentials are written in clear under ``var/``.
"""

from __future__ import annotations

import json
from typing import Any

from services.console.bootstrap import seed_administrator, seed_payment_link
from services.console.settings import ConsoleSettings
from services.devstack.demo import DEMO_AGENCY_NAME, ensure_account, ensure_agency
from services.identity.bootstrap import open_identity
from services.identity.settings import IdentitySettings
from services.runtime.config import PlatformSettings

CONSOLE_AGENCY_NAME = "GaaP console"
# The console signs staff in (openid, email, profile), registers agencies as an
# operator (identity:agencies), acts for a team's agency at payments and notify
# (identity:act_for_agencies) and mails invitations as an agency of notify.
CONSOLE_SCOPES = [
    "identity:agencies",
    "identity:act_for_agencies",
    "notify:send",
    "notify:templates",
    "notify:read",
    "openid",
    "email",
    "profile",
]
DEMO_STAFF_EMAIL = "demo.staff@example.com"


def ensure_console_agency(
    platform: PlatformSettings, settings: IdentitySettings, console: ConsoleSettings
) -> dict[str, Any]:
    return ensure_agency(
        platform,
        settings,
        console.resolved_agency_file(platform),
        name=CONSOLE_AGENCY_NAME,
        scopes=CONSOLE_SCOPES,
        app_url=console.resolved_public_url(),
    )


def ensure_demo_staff(
    platform: PlatformSettings,
    settings: IdentitySettings,
    console: ConsoleSettings,
    console_agency: dict[str, Any],
    demo_agency: dict[str, Any],
) -> dict[str, Any]:
    """A citizen account that administers the demo agency's team in the console,
    saved in ``var/demo/staff.json``. Its membership is keyed by the ``sub``
    identity will give the console's agency for it (pairwise)."""
    staff = ensure_account(
        platform,
        settings,
        platform.var_dir / "demo" / "staff.json",
        email=DEMO_STAFF_EMAIL,
        given_name="Sam",
        family_name="Staff",
    )
    identity = open_identity(platform, settings)
    try:
        account = identity.accounts.by_email(DEMO_STAFF_EMAIL)
        assert account is not None
        agency = identity.registry.get(str(console_agency["client_id"]))
        subject = identity.citizen_tokens.subject(account.id, agency)
    finally:
        identity.database.close()
    seed_administrator(
        platform,
        console,
        agency_id=str(demo_agency["client_id"]),
        team_name=DEMO_AGENCY_NAME,
        subject=subject,
        email=DEMO_STAFF_EMAIL,
    )
    return staff


def ensure_demo_payment_link(
    platform: PlatformSettings, console: ConsoleSettings, demo_agency: dict[str, Any]
) -> dict[str, Any]:
    """The demo agency's team's payment link, saved in ``var/demo/payment-link.json``
    (``url``); its team exists once ``ensure_demo_staff`` ran."""
    url = seed_payment_link(platform, console, agency_id=str(demo_agency["client_id"]))
    saved = {"url": url}
    path = platform.var_dir / "demo" / "payment-link.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(saved, indent=2) + "\n")  # a public address: no secret
    return saved


def ensure_demo_console(
    platform: PlatformSettings,
    settings: IdentitySettings,
    console: ConsoleSettings,
    console_agency: dict[str, Any],
    demo_agency: dict[str, Any],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The demo staff member, then the demo payment link of their team."""
    staff = ensure_demo_staff(platform, settings, console, console_agency, demo_agency)
    return staff, ensure_demo_payment_link(platform, console, demo_agency)
