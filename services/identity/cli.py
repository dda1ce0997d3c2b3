"""``gaap-admin``: the operator's command line for identity.

It works on identity's database directly, so the first agency can be onboarded
before any token exists. It finds that database the way ``gaap-identity`` does:
``IDENTITY_DATABASE_URL``, or else ``identity.db`` in ``GAAP_VAR_DIR`` (by default
the ``var`` folder of the checkout it runs from, wherever the current folder is).
It says on stderr which database it uses, and refuses to start a new, empty one
unless given ``--create``. Output is JSON on stdout; errors are one line on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from services.identity.adapters.unit_of_work import identity_transactions
from services.identity.bootstrap import Identity, open_identity
from services.identity.domain.agencies import Agency
from services.identity.domain.agency_profiles import PROFILES
from services.identity.domain.signing_keys import SIGNING_ALGORITHMS
from services.identity.service_layer.keys import KeyInfo, longest_token
from services.identity.service_layer.operators import AccountStatus, Operators
from services.identity.settings import IdentitySettings
from services.identity.web.app import TOKEN_PATH
from services.runtime import config, db
from services.runtime.errors import DomainError, FieldViolation, InvalidArgument, StartupError
from services.runtime.pagination import PageRequest

# Who acted, in the audit log: the CLI works on the database directly, with no token.
ACTOR = "gaap-admin"


CREATE_HELP = (
    "make identity's database if it does not exist yet (a new platform); without it, "
    "gaap-admin works only on a database the platform already uses"
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gaap-admin",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--create", action="store_true", help=CREATE_HELP)
    # --create is also accepted after the command (``gaap-admin create-agency --create``).
    either_place = argparse.ArgumentParser(add_help=False)
    either_place.add_argument(
        "--create", action="store_true", default=argparse.SUPPRESS, help=CREATE_HELP
    )
    commands = parser.add_subparsers(dest="command", required=True)

    def add_command(name: str, **kwargs: Any) -> argparse.ArgumentParser:
        return commands.add_parser(name, parents=[either_place], **kwargs)

    create = add_command("create-agency", help="register an agency (an OAuth client)")
    create.add_argument("--name", required=True)
    create.add_argument("--scope", action="append", required=True, dest="scopes")
    create.add_argument("--redirect-uri", action="append", default=[], dest="redirect_uris")
    create.add_argument("--mode", choices=("test", "live"), default="test")
    create.add_argument(
        "--jwks-file",
        type=Path,
        help="the agency's public JWK Set, for private_key_jwt (then no secret is issued)",
    )
    create.add_argument(
        "--public",
        action="store_true",
        help="a public client (browser or native app): no credential, PKCE only",
    )
    _oidc_options(create)

    update = add_command(
        "update-agency", help="change an agency (only the options given; lists are replaced)"
    )
    update.add_argument("client_id")
    update.add_argument("--name")
    update.add_argument("--scope", action="append", dest="scopes")
    update.add_argument("--redirect-uri", action="append", dest="redirect_uris")
    _oidc_options(update)
    update.add_argument(
        "--clear",
        action="append",
        default=[],
        choices=_CLEARABLE,
        help="empty this field (repeatable)",
    )

    listing = add_command("list-agencies", help="list agencies as JSON")
    listing.add_argument("--all", action="store_true", help="include disabled agencies")

    disable = add_command("disable-agency", help="stop issuing tokens to an agency")
    disable.add_argument("client_id")

    rotate = add_command(
        "rotate-keys",
        help="publish a new signing key now, sign with it after "
        "IDENTITY_KEY_PROPAGATION_SECONDS; the old key is unpublished once its tokens expired",
    )
    rotate.add_argument(
        "--alg",
        choices=SIGNING_ALGORITHMS,
        help="rotate only this algorithm's key (default: every key that signs now)",
    )
    add_command("list-keys", help="signing keys and their status, newest first")

    for name, what in (
        ("lookup-account", "a citizen account's status (never its secrets)"),
        ("lock-account", "lock a citizen account: sessions end, tokens are revoked"),
        ("unlock-account", "lift a citizen account's lock"),
    ):
        command = add_command(name, help=what)
        which = command.add_mutually_exclusive_group(required=True)
        which.add_argument("--account-id", default="")
        which.add_argument("--email", default="")
        if name != "lookup-account":
            command.add_argument("--reason", default="", help="for the audit log")
        if name == "lock-account":
            command.add_argument(
                "--until", help="ISO 8601 time (UTC if no offset); default: indefinitely"
            )
    return parser


_CLEARABLE = (
    "redirect_uris",
    "post_logout_redirect_uris",
    "backchannel_logout_uri",
    "sector_identifier",
)


def _oidc_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--subject-type", choices=("pairwise", "public"))
    command.add_argument("--sector-identifier")
    command.add_argument("--id-token-alg", choices=("ES256", "RS256"))
    command.add_argument(
        "--post-logout-redirect-uri", action="append", dest="post_logout_redirect_uris"
    )
    command.add_argument("--backchannel-logout-uri")
    command.add_argument(
        "--require-par",
        action=argparse.BooleanOptionalAction,
        dest="require_pushed_authorization_requests",
        help="its authorization requests must be pushed to /par first (RFC 9126); "
        "set by --profile fapi2, which refuses --no-require-par",
    )
    command.add_argument(
        "--profile",
        choices=PROFILES,
        help="fapi2: the FAPI 2.0 Security Profile (needs --jwks-file; keys only for ES256, "
        "or PS256 with alg PS256; ES256 ID tokens; sets --require-par and "
        "--dpop-bound-access-tokens); standard: the platform's rules (default)",
    )
    command.add_argument(
        "--require-signed-request-object",
        action=argparse.BooleanOptionalAction,
        help="its authorization requests must be request objects signed by its keys "
        "(RFC 9101); needs --jwks-file",
    )
    command.add_argument(
        "--dpop-bound-access-tokens",
        action=argparse.BooleanOptionalAction,
        help="its access tokens must be bound to a DPoP key (RFC 9449); "
        "set by --profile fapi2, which refuses --no-dpop-bound-access-tokens",
    )


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
        "subject_type": agency.subject_type,
        "sector_identifier": agency.sector_identifier,
        "id_token_alg": agency.id_token_alg,
        "post_logout_redirect_uris": list(agency.post_logout_redirect_uris),
        "backchannel_logout_uri": agency.backchannel_logout_uri,
        "require_pushed_authorization_requests": agency.require_pushed_authorization_requests,
        "profile": agency.profile,
        "require_signed_request_object": agency.require_signed_request_object,
        "dpop_bound_access_tokens": agency.dpop_bound_access_tokens,
    }


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def key_json(key: KeyInfo) -> dict[str, Any]:
    return {
        "kid": key.kid,
        "alg": key.alg,
        "status": key.status,
        "created_at": _time(key.created_at),
        "signs_from": _time(key.activates_at),
        "signs_until": _time(key.retires_at),
        "unpublished_at": _time(key.expires_at),
    }


def account_json(account: AccountStatus) -> dict[str, Any]:
    return {
        "account_id": account.account_id,
        "email": account.email,
        "email_verified": account.email_verified,
        "phone_number_verified": account.phone_number_verified,
        "has_second_factor": account.has_second_factor,
        "locked": account.locked,
        "locked_until": None if account.locked_indefinitely else _time(account.locked_until),
        "locked_indefinitely": account.locked_indefinitely,
        "failed_attempts": account.failed_attempts,
        "created_at": _time(account.created_at),
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


def _oidc(args: argparse.Namespace) -> dict[str, Any]:
    """The OpenID Connect and security options given on the command line."""
    given = {
        name: getattr(args, name)
        for name in (
            "subject_type",
            "sector_identifier",
            "id_token_alg",
            "post_logout_redirect_uris",
            "backchannel_logout_uri",
            "require_pushed_authorization_requests",
            "profile",
            "require_signed_request_object",
            "dpop_bound_access_tokens",
        )
        if getattr(args, name) is not None
    }
    for name in ("sector_identifier", "backchannel_logout_uri"):
        if name in given and not given[name]:
            given[name] = None
    return given


def _until(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidArgument.from_violations(
            [FieldViolation("--until", "an ISO 8601 time such as 2030-01-31T12:00:00Z")]
        ) from None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def run(
    args: argparse.Namespace,
    identity: Identity,
    issuer: str,
    settings: IdentitySettings | None = None,
) -> Any:
    registry = identity.registry
    settings = settings or IdentitySettings()
    if args.command == "create-agency":
        jwks = _read_jwks(args.jwks_file) if args.jwks_file else None
        created = registry.create(
            name=args.name,
            scopes=args.scopes,
            redirect_uris=args.redirect_uris,
            mode=args.mode,
            jwks=jwks,
            public=args.public,
            actor=ACTOR,
            **_oidc(args),
        )
        out = agency_json(created.agency)
        out["token_endpoint"] = issuer + TOKEN_PATH
        if created.client_secret:
            out["client_secret"] = created.client_secret
        return out
    if args.command == "update-agency":
        changes: dict[str, Any] = {
            name: getattr(args, name)
            for name in ("name", "scopes", "redirect_uris")
            if getattr(args, name) is not None
        }
        changes.update(_oidc(args))
        for name in args.clear:
            changes[name] = [] if name.endswith("uris") else None
        return agency_json(registry.update(args.client_id, changes, actor=ACTOR))
    if args.command == "list-agencies":
        found: list[dict[str, Any]] = []
        after = ""
        while True:
            page = registry.list(PageRequest.parse(500, after), include_disabled=args.all)
            found.extend(agency_json(a) for a in page.items)
            if not page.next_page_token:
                return found
            after = page.next_page_token
    if args.command == "disable-agency":
        return agency_json(registry.disable(args.client_id, actor=ACTOR))
    if args.command == "rotate-keys":
        rotations = identity.keys.rotate(
            alg=args.alg,
            longest_token=longest_token(settings.access_token_ttl_seconds),
            propagation=timedelta(seconds=settings.key_propagation_seconds),
            actor=ACTOR,
        )
        return [
            {
                "alg": r.new.alg,
                "new_kid": r.new.kid,
                "new_key_signs_from": _time(r.switch_at),
                "retired_kid": r.retired.kid,
                "retired_key_unpublished_at": _time(r.retired.expires_at),
            }
            for r in rotations
        ]
    if args.command == "list-keys":
        return [key_json(k) for k in identity.keys.list_keys()]
    operators = Operators(identity_transactions(identity.database.sessions))
    account_id = args.account_id or operators.lookup(email=args.email).account_id
    if args.command == "lock-account":
        locked = operators.lock(
            account_id, until=_until(args.until), reason=args.reason, actor=ACTOR
        )
        return account_json(locked)
    if args.command == "unlock-account":
        return account_json(operators.unlock(account_id, reason=args.reason, actor=ACTOR))
    return account_json(operators.lookup(account_id=account_id))


def _check_database(url: str, *, create: bool) -> None:
    """Say which database this is, and refuse to make a new one unless asked:
    one made by mistake (a wrong folder, a wrong setting) would hold agencies the
    running platform never sees."""
    shown = db.shown(url)
    sys.stderr.write(f"gaap-admin: identity's database is {shown}\n")
    if create or db.holds_schema(url):
        return
    raise StartupError(
        f"{shown} is not an identity database (it does not exist or is empty); "
        "nothing was created. Point gaap-admin at the platform's database: run it from "
        "the repository the platform runs from, or set GAAP_VAR_DIR or "
        "IDENTITY_DATABASE_URL as the platform has them. To start a new platform's "
        "database there, add --create."
    )


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    try:
        platform = config.load(config.PlatformSettings)
        settings = config.load(IdentitySettings)
        _check_database(settings.resolved_database_url(platform), create=args.create)
        identity = open_identity(platform, settings)
        try:
            result = run(args, identity, platform.issuer, settings)
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
