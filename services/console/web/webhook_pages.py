"""A team's payments webhooks (developers and administrators).

- ``GET|POST /teams/{team_id}/webhooks``                          list; create (secret shown once)
- ``GET  /teams/{team_id}/webhooks/{subscription_id}``            its deliveries and attempts
- ``POST /teams/{team_id}/webhooks/{subscription_id}/disable``
- ``POST /teams/{team_id}/webhooks/{subscription_id}/test``       send a test event
- ``POST /teams/{team_id}/webhooks/{subscription_id}/deliveries/{delivery_id}/redeliver``
"""

from __future__ import annotations

import secrets

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute

from services.console.domain.roles import Action
from services.console.service_layer.access import TeamAccess
from services.console.service_layer.payment_webhooks import EVENT_TYPES, PaymentWebhooks
from services.console.web.base import ConsoleWeb, Form
from services.runtime.clock import utcnow
from services.runtime.errors import InvalidArgument
from services.runtime.pages import FieldError


class WebhookPages:
    def __init__(self, web: ConsoleWeb) -> None:
        self.web = web
        self.webhooks = PaymentWebhooks(web.acting, utcnow)

    def subscriptions(self, request: Request, form: Form, access: TeamAccess) -> Response:
        if request.method == "GET":
            return self._list(request, access)
        chosen = [t for t in EVENT_TYPES if form.get("event_" + t) == "yes"]
        try:
            created = self.webhooks.create(
                access.staff,
                access.team.id,
                form.get("url", ""),
                chosen,
                form.get("request_id", ""),
            )
        except InvalidArgument as exc:
            return self._list(
                request,
                access,
                errors=self.web.field_errors(request, exc),
                url=form.get("url", ""),
                status=400,
            )
        # Rendered, not redirected: the signing secret is shown this once.
        return self.web.render(
            request,
            "payments_webhook_created.html",
            access=access,
            subscription=created.subscription,
            signing_secret=created.signing_secret,
        )

    def _list(
        self,
        request: Request,
        access: TeamAccess,
        *,
        errors: list[FieldError] | None = None,
        url: str = "",
        status: int = 200,
    ) -> Response:
        return self.web.render(
            request,
            "payments_webhooks.html",
            status=status,
            access=access,
            subscriptions=self.webhooks.subscriptions(access.staff, access.team.id),
            event_types=EVENT_TYPES,
            errors=errors or [],
            url=url,
            request_id=secrets.token_urlsafe(16),
        )

    def deliveries(self, request: Request, form: Form, access: TeamAccess) -> Response:
        found = self.webhooks.deliveries(
            access.staff,
            access.team.id,
            str(request.path_params["subscription_id"]),
            request.query_params.get("page", ""),
        )
        return self.web.render(
            request,
            "payments_webhook.html",
            access=access,
            found=found,
            request_id=secrets.token_urlsafe(16),
        )

    def disable(self, request: Request, form: Form, access: TeamAccess) -> Response:
        self.webhooks.disable(
            access.staff, access.team.id, str(request.path_params["subscription_id"])
        )
        return RedirectResponse(f"/teams/{access.team.id}/webhooks", status_code=303)

    def send_test(self, request: Request, form: Form, access: TeamAccess) -> Response:
        subscription_id = str(request.path_params["subscription_id"])
        self.webhooks.send_test(
            access.staff, access.team.id, subscription_id, form.get("request_id", "")
        )
        return self._back(access, subscription_id)

    def redeliver(self, request: Request, form: Form, access: TeamAccess) -> Response:
        subscription_id = str(request.path_params["subscription_id"])
        self.webhooks.redeliver(
            access.staff,
            access.team.id,
            subscription_id,
            str(request.path_params["delivery_id"]),
            form.get("request_id", ""),
        )
        return self._back(access, subscription_id)

    @staticmethod
    def _back(access: TeamAccess, subscription_id: str) -> Response:
        return RedirectResponse(
            f"/teams/{access.team.id}/webhooks/{subscription_id}", status_code=303
        )


def webhook_routes(web: ConsoleWeb) -> list[BaseRoute]:
    pages = WebhookPages(web)
    one = "/teams/{team_id}/webhooks/{subscription_id}"
    manage = Action.MANAGE_WEBHOOKS
    return [
        web.team("/teams/{team_id}/webhooks", manage, pages.subscriptions, ("GET", "POST")),
        web.team(one, manage, pages.deliveries),
        web.team(one + "/disable", manage, pages.disable, ("POST",)),
        web.team(one + "/test", manage, pages.send_test, ("POST",)),
        web.team(one + "/deliveries/{delivery_id}/redeliver", manage, pages.redeliver, ("POST",)),
    ]
