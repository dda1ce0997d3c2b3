"""A team's credentials (developers and administrators) and sign-in settings
(administrators), changed at identity through ``AgencyCredentials``."""

from __future__ import annotations

import secrets

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute

from services.console.domain.agency_settings import AgencyView
from services.console.domain.roles import Action
from services.console.service_layer.access import TeamAccess
from services.console.service_layer.agency_credentials import AgencyCredentials
from services.console.web.base import ConsoleWeb, Form
from services.runtime.errors import FieldViolation, InvalidArgument
from services.runtime.pages import FieldError

SETTINGS_FIELDS = (
    "redirect_uris",
    "post_logout_redirect_uris",
    "sector_identifier",
    "display_name",
    "logo_uri",
)


class CredentialsPages:
    def __init__(self, web: ConsoleWeb, credentials: AgencyCredentials) -> None:
        self.web = web
        self.credentials = credentials

    # -- credentials --------------------------------------------------------------------

    def show(self, request: Request, form: Form, access: TeamAccess) -> Response:
        return self._credentials(request, access)

    def _credentials(
        self,
        request: Request,
        access: TeamAccess,
        *,
        errors: list[FieldError] | None = None,
        jwks_json: str | None = None,
        status: int = 200,
    ) -> Response:
        _, agency = self.credentials.view(access.staff, access.team.id, Action.MANAGE_CREDENTIALS)
        return self.web.render(
            request,
            "credentials.html",
            status=status,
            access=access,
            agency=agency,
            errors=errors or [],
            jwks_json=agency.jwks_json if jwks_json is None else jwks_json,
            request_id=secrets.token_urlsafe(16),
        )

    def rotate(self, request: Request, form: Form, access: TeamAccess) -> Response:
        rotated = self.credentials.rotate_secret(
            access.staff, access.team.id, form.get("request_id", "")
        )
        if not rotated.client_secret:  # the form sent twice: the secret was shown once
            return self._back(access)
        # Rendered, not redirected: the secret is shown this once and never stored.
        return self.web.render(
            request,
            "credentials_secret.html",
            access=access,
            agency=rotated.agency,
            client_secret=rotated.client_secret,
        )

    def revoke(self, request: Request, form: Form, access: TeamAccess) -> Response:
        self.credentials.revoke_previous_secret(
            access.staff, access.team.id, form.get("request_id", "")
        )
        return self._back(access)

    def jwks(self, request: Request, form: Form, access: TeamAccess) -> Response:
        try:
            self.credentials.replace_jwks(
                access.staff, access.team.id, form.get("jwks_json", ""), form.get("request_id", "")
            )
        except InvalidArgument as exc:
            errors = _on_fields(self.web, request, exc, ("jwks_json",))
            return self._credentials(
                request, access, errors=errors, jwks_json=form.get("jwks_json", ""), status=400
            )
        return self._back(access)

    @staticmethod
    def _back(access: TeamAccess) -> Response:
        return RedirectResponse(f"/teams/{access.team.id}/credentials", status_code=303)

    # -- sign-in settings ---------------------------------------------------------------

    def settings(self, request: Request, form: Form, access: TeamAccess) -> Response:
        _, agency = self.credentials.view(access.staff, access.team.id, Action.MANAGE_SETTINGS)
        if request.method == "GET":
            return self._settings(request, access, agency, _values(agency))
        try:
            self.credentials.update_sign_in(
                access.staff, access.team.id, dict(form), form.get("request_id", "")
            )
        except InvalidArgument as exc:
            errors = _on_fields(self.web, request, exc, SETTINGS_FIELDS)
            values = {name: form.get(name, "") for name in SETTINGS_FIELDS}
            return self._settings(request, access, agency, values, errors, status=400)
        return RedirectResponse(f"/teams/{access.team.id}/sign-in-settings?saved=1", 303)

    def _settings(
        self,
        request: Request,
        access: TeamAccess,
        agency: AgencyView,
        values: dict[str, str],
        errors: list[FieldError] | None = None,
        status: int = 200,
    ) -> Response:
        return self.web.render(
            request,
            "sign_in_settings.html",
            status=status,
            access=access,
            agency=agency,
            values=values,
            errors=errors or [],
            saved=request.query_params.get("saved") == "1" and request.method == "GET",
            request_id=secrets.token_urlsafe(16),
        )


def _values(agency: AgencyView) -> dict[str, str]:
    return {
        "redirect_uris": "\n".join(agency.redirect_uris),
        "post_logout_redirect_uris": "\n".join(agency.post_logout_redirect_uris),
        "sector_identifier": agency.sector_identifier,
        "display_name": agency.display_name,
        "logo_uri": agency.logo_uri,
    }


def _on_fields(
    web: ConsoleWeb, request: Request, error: InvalidArgument, fields: tuple[str, ...]
) -> list[FieldError]:
    """identity's violations on the form's fields: ``agency.redirect_uris[2]`` is
    the redirect URIs box (its message names the line), anything else the first."""
    found = []
    for violation in error.violations:
        path = violation.field.removeprefix("agency.")
        name = path.split("[")[0].split(".")[0]
        field = name if name in fields else fields[0]
        where = path[len(name) :] if name in fields and path != name else ""
        message = web.gettext(request, violation.description)
        found.append(FieldViolation(field, f"{message} ({where.strip('.')})" if where else message))
    return [FieldError(v.field, v.description) for v in found]


def credentials_routes(web: ConsoleWeb) -> list[BaseRoute]:
    if web.agencies is None:
        return []
    pages = CredentialsPages(web, AgencyCredentials(web.acting.transactions, web.agencies))
    base = "/teams/{team_id}/credentials"
    manage = Action.MANAGE_CREDENTIALS
    post = ("POST",)
    return [
        web.team(base, manage, pages.show),
        web.team(base + "/rotate", manage, pages.rotate, post),
        web.team(base + "/revoke", manage, pages.revoke, post),
        web.team(base + "/jwks", manage, pages.jwks, post),
        web.team(
            "/teams/{team_id}/sign-in-settings",
            Action.MANAGE_SETTINGS,
            pages.settings,
            ("GET", "POST"),
        ),
    ]
