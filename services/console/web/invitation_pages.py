"""The invitation link: who invited you to what, and accepting it."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from services.console.service_layer.invitations import Invitations
from services.console.web.base import ConsoleWeb, Form


class InvitationPages:
    def __init__(self, web: ConsoleWeb, invitations: Invitations) -> None:
        self.web = web
        self.invitations = invitations

    def show(self, request: Request, form: Form) -> Response:
        invitation, team = self.invitations.preview(str(request.path_params["token"]))
        return self.web.render(
            request,
            "invitation.html",
            invitation=invitation,
            team=team,
            action=request.url.path,
        )

    def accept(self, request: Request, form: Form) -> Response:
        staff = self.web.staff(request)
        if staff is None:
            return RedirectResponse(request.url.path, status_code=303)
        team = self.invitations.accept(staff, str(request.path_params["token"]))
        return RedirectResponse(f"/teams/{team.id}", status_code=303)
