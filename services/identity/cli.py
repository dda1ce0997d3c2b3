"""``gaap-admin``: the operator's command line for identity.

It works on identity's database directly (the same one ``gaap-identity`` uses,
from ``IDENTITY_DATABASE_URL``), so the first agency can be onboarded before
any token exists. Output is JSON on stdout; errors are one line on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from services.identity.bootstrap import Identity, open_identity
from services.identity.domain.agencies import Agency
from services.identity.settings import IdentitySettings
from services.identity.web.app import TOKEN_PATH
from services.runtime import config
from services.runtime.errors import DomainError, InvalidArgument, StartupError
from services.runtime.pagination import PageRequest


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gaap-admin", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    create = commands.add_parser("create-agency", help="register an agency (an OAuth client)")
    create.add_argument("--name", required=True)
    create.add_argument("--scope", action="append", required=True, dest="scopes")
    create.add_argument("--redirect-uri", action="append", default=[], dest="redirect_uris")
    create.add_argument("--mode", choices=("test", "live"), default="test")
    create.add_argument(
        "--jwks-file",
        type=Path,
        help="the agency's public JWK Set, for private_key_jwt (then no secret is issued)",
    )

    listing = commands.add_parser("list-agencies", help="list agencies as JSON")
    listing.add_argument("--all", action="store_true", help="include disabled agencies")

    disable = commands.add_parser("disable-agency", help="stop issuing tokens to an agency")
    disable.add_argument("client_id")
    return parser


def agency_json(agency: Agency) -> dict[str, Any]:
    return {
        "client_id": agency.client_id,
        "name": agency.name,
        "mode": agency.mode,
        "scopes": list(agency.scopes),
        "redirect_uris": list(agency.redirect_uris),
        "auth_methods": list(agency.auth_methods),
        "created_at": agency.created_at.isoformat(),
        "disabled_at": agency.disabled_at.isoformat() if agency.disabled_at else None,
    }


def _read_jwks(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text())
    except OSError as exc:
        raise StartupError(f"cannot read {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise StartupError(f"{path} is not JSON: {exc.msg} at line {exc.lineno}") from None
    if not isinstance(document, dict):
        raise StartupError(f"{path} must hold a JWK Set object")
    return document


def run(args: argparse.Namespace, identity: Identity, issuer: str) -> Any:
    registry = identity.registry
    if args.command == "create-agency":
        jwks = _read_jwks(args.jwks_file) if args.jwks_file else None
        created = registry.create(
            name=args.name,
            scopes=args.scopes,
            redirect_uris=args.redirect_uris,
            mode=args.mode,
            jwks=jwks,
        )
        out = agency_json(created.agency)
        out["token_endpoint"] = issuer + TOKEN_PATH
        if created.client_secret:
            out["client_secret"] = created.client_secret
        return out
    if args.command == "list-agencies":
        found: list[dict[str, Any]] = []
        after = ""
        while True:
            page = registry.list(PageRequest.parse(500, after), include_disabled=args.all)
            found.extend(agency_json(a) for a in page.items)
            if not page.next_page_token:
                return found
            after = page.next_page_token
    return agency_json(registry.disable(args.client_id))


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    try:
        platform = config.load(config.PlatformSettings)
        identity = open_identity(platform, config.load(IdentitySettings))
        try:
            result = run(args, identity, platform.issuer)
        finally:
            identity.database.close()
    except InvalidArgument as exc:
        details = "; ".join(f"{v.field}: {v.description}" for v in exc.violations)
        sys.stderr.write(f"gaap-admin: {exc.message}{' (' + details + ')' if details else ''}\n")
        raise SystemExit(2) from None
    except (DomainError, StartupError) as exc:
        sys.stderr.write(f"gaap-admin: {exc}\n")
        raise SystemExit(2) from None
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
