"""Going live (a team's administrators) and the platform operators' pages
(requests to go live, every agency, disabling one), on ``GoingLive``."""

from __future__ import annotations

import secrets

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute

from services.console.domain.roles import Action
from services.console.domain.staff import Staff
from services.console.service_layer.access import TeamAccess
from services.console.service_layer.going_live import GoingLive
from services.console.web.base import ConsoleWeb, Form
from services.runtime.errors import InvalidArgument
from services.runtime.pages import FieldError


class GoLivePages:
    def __init__(self, web: ConsoleWeb, going: GoingLive) -> None:
        self.web = web
        self.going = going

    # -- a team's administrator -----------------------------------------------------------

    def go_live(self, request: Request, form: Form, access: TeamAccess) -> Response:
        if request.method == "POST":
            try:
                self.going.request(
                    access.staff, access.team.id, form.get("reason", ""), form.get("contact", "")
                )
            except InvalidArgument as exc:
                return self._go_live(
                    request, access, self.web.field_errors(request, exc), dict(form), 400
                )
            return RedirectResponse(f"/teams/{access.team.id}/go-live", status_code=303)
        return self._go_live(request, access, [], {})

    def _go_live(
        self,
        request: Request,
        access: TeamAccess,
        errors: list[FieldError],
        values: dict[str, str],
        status: int = 200,
    ) -> Response:
        current = self.going.status(access.staff, access.team.id)
        return self.web.render(
            request,
            "go_live.html",
            status=status,
            access=current.access,
            latest=current.latest,
            errors=errors,
            values=values,
        )

    # -- platform operators ---------------------------------------------------------------

    def requests(self, request: Request, form: Form, staff: Staff) -> Response:
        return self._requests(request, staff, [], "")

    def _requests(
        self,
        request: Request,
        staff: Staff,
        errors: list[FieldError],
        failed: str,
        status: int = 200,
    ) -> Response:
        return self.web.render(
            request,
            "operators_go_live.html",
            status=status,
            waiting=self.going.waiting(staff),
            errors=errors,
            failed=failed,
        )

    def decide(self, request: Request, form: Form, staff: Staff) -> Response:
        request_id = str(request.path_params["request_id"])
        approve = request.url.path.endswith("/approve")
        try:
            self.going.decide(staff, request_id, approve, form.get("decision_reason", ""))
        except InvalidArgument as exc:
            errors = [
                FieldError(f"decision_reason-{request_id}", e.message)
                for e in self.web.field_errors(request, exc)
            ]
            return self._requests(request, staff, errors, request_id, 400)
        return RedirectResponse("/operators/go-live", status_code=303)

    def agencies(self, request: Request, form: Form, staff: Staff) -> Response:
        return self._agencies(request, staff, [], "")

    def _agencies(
        self,
        request: Request,
        staff: Staff,
        errors: list[FieldError],
        failed: str,
        status: int = 200,
    ) -> Response:
        return self.web.render(
            request,
            "operators_agencies.html",
            status=status,
            listed=self.going.agencies(staff),
            errors=errors,
            failed=failed,
            request_id=secrets.token_urlsafe(16),
        )

    def disable(self, request: Request, form: Form, staff: Staff) -> Response:
        agency_id = str(request.path_params["agency_id"])
        try:
            self.going.disable(staff, agency_id, form.get("reason", ""), form.get("request_id", ""))
        except InvalidArgument as exc:
            errors = [
                FieldError(f"reason-{agency_id}", e.message)
                for e in self.web.field_errors(request, exc)
            ]
            return self._agencies(request, staff, errors, agency_id, 400)
        return RedirectResponse("/operators/agencies", status_code=303)


def golive_routes(web: ConsoleWeb) -> list[BaseRoute]:
    if web.agencies is None:
        return []
    pages = GoLivePages(web, GoingLive(web.acting.transactions, web.agencies))
    one = "/operators/go-live/{request_id}"
    post = ("POST",)
    return [
        web.team(
            "/teams/{team_id}/go-live", Action.REQUEST_GO_LIVE, pages.go_live, ("GET", "POST")
        ),
        web.signed_in("/operators/go-live", pages.requests),
        web.signed_in(one + "/approve", pages.decide, post),
        web.signed_in(one + "/refuse", pages.decide, post),
        web.signed_in("/operators/agencies", pages.agencies),
        web.signed_in("/operators/agencies/{agency_id}/disable", pages.disable, post),
    ]
