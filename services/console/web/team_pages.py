"""Signing up an agency, the team's home, members and audit trail."""

from __future__ import annotations

import secrets

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from services.console.domain.roles import Action, Role, parse_role
from services.console.domain.staff import Staff
from services.console.service_layer.access import TeamAccess
from services.console.service_layer.invitations import Invitations
from services.console.web.base import ConsoleWeb, Form
from services.console.web.features import FEATURES
from services.console.web.texts import AUDIT_ACTIONS
from services.runtime.errors import FieldViolation, InvalidArgument
from services.runtime.pages import FieldError

ROLES = tuple(Role)


class TeamPages:
    def __init__(self, web: ConsoleWeb, invitations: Invitations) -> None:
        self.web = web
        self.invitations = invitations

    # -- signing up an agency -----------------------------------------------------------

    def sign_up(self, request: Request, form: Form, staff: Staff) -> Response:
        if request.method == "GET":
            return self._sign_up_form(request, "", [])
        try:
            signed_up = self.web.teams.sign_up(
                staff, form.get("name", ""), form.get("request_id", "")
            )
        except InvalidArgument as exc:
            return self._sign_up_form(
                request, form.get("name", ""), self.web.field_errors(request, exc), status=400
            )
        # Rendered, not redirected: the secret is shown this once and never stored.
        return self.web.render(
            request, "signed_up.html", team=signed_up.team, client_secret=signed_up.client_secret
        )

    def _sign_up_form(
        self, request: Request, name: str, errors: list[FieldError], status: int = 200
    ) -> Response:
        return self.web.render(
            request,
            "sign_up.html",
            status=status,
            name=name,
            errors=errors,
            request_id=secrets.token_urlsafe(16),
        )

    # -- a team -------------------------------------------------------------------------

    def home(self, request: Request, form: Form, access: TeamAccess) -> Response:
        features = [f for f in FEATURES if access.may(f.action)]
        return self.web.render(request, "team.html", access=access, features=features)

    def members(self, request: Request, form: Form, access: TeamAccess) -> Response:
        return self._members(request, access)

    def _members(
        self,
        request: Request,
        access: TeamAccess,
        *,
        errors: list[FieldError] | None = None,
        values: dict[str, str] | None = None,
        status: int = 200,
    ) -> Response:
        overview = self.web.teams.overview(access.staff, access.team.id)
        return self.web.render(
            request,
            "members.html",
            status=status,
            access=overview.access,
            members=overview.members,
            invitations=overview.invitations,
            roles=ROLES,
            errors=errors or [],
            values=values or {"email": "", "role": Role.VIEWER.value},
            can_manage=overview.access.may(Action.CHANGE_ROLE),
            can_invite=overview.access.may(Action.INVITE_MEMBER),
        )

    def invite(self, request: Request, form: Form, access: TeamAccess) -> Response:
        values = {"email": form.get("email", ""), "role": form.get("role", "")}
        try:
            role = _role(form.get("role", ""))
            self.invitations.invite(
                access.staff,
                access.team.id,
                values["email"],
                role,
                form.get("refunder") == "yes",
                self.web.language(request),
            )
        except InvalidArgument as exc:
            errors = self.web.field_errors(request, exc)
            return self._members(request, access, errors=errors, values=values, status=400)
        return RedirectResponse(f"/teams/{access.team.id}/members?invited=1", status_code=303)

    def change_role(self, request: Request, form: Form, access: TeamAccess) -> Response:
        subject = str(request.path_params["subject"])
        role = _role(form.get("role", ""))
        self.web.teams.change_role(
            access.staff, access.team.id, subject, role, form.get("refunder") == "yes"
        )
        return RedirectResponse(f"/teams/{access.team.id}/members", status_code=303)

    def remove(self, request: Request, form: Form, access: TeamAccess) -> Response:
        self.web.teams.remove(access.staff, access.team.id, str(request.path_params["subject"]))
        return RedirectResponse(f"/teams/{access.team.id}/members", status_code=303)

    def audit(self, request: Request, form: Form, access: TeamAccess) -> Response:
        access, entries = self.web.teams.audit_trail(access.staff, access.team.id)
        return self.web.render(
            request, "audit.html", access=access, entries=entries, action_names=AUDIT_ACTIONS
        )


def _role(value: str) -> Role:
    role = parse_role(value)
    if role is None:
        raise InvalidArgument("role", [FieldViolation("role", "Choose a role")])
    return role
