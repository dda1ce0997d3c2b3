"""Finding notifications: ``GET /teams/{team_id}/notifications`` with its filters
in the query (a GET form, so a search can be bookmarked and the browser's back
button works); each row links to the notification's own page
(web/notify_pages.py). The use case is service_layer/notification_search.py."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from services.console.domain.roles import Action
from services.console.service_layer.access import TeamAccess
from services.console.service_layer.notification_search import (
    STATUSES,
    Filters,
    NotificationSearch,
)
from services.console.web.base import ConsoleWeb, Form
from services.runtime.errors import InvalidArgument

FIELDS = ("recipient", "reference", "template", "status", "sent_from", "sent_to", "bulk_send")


class SearchPages:
    def __init__(self, web: ConsoleWeb) -> None:
        self.web = web
        self.search = NotificationSearch(web.acting.connect)

    def notifications(self, request: Request, form: Form, access: TeamAccess) -> Response:
        query = {name: request.query_params.get(name, "")[:400] for name in FIELDS}
        filters = Filters(**query, page=request.query_params.get("page", "")[:400])
        found = None
        errors = []
        try:
            found = self.search.search(access.staff, access.team.id, filters)
        except InvalidArgument as exc:
            errors = self.web.field_errors(request, exc)
        kept = {k: v for k, v in query.items() if v}
        next_page = (
            "?" + urlencode({**kept, "page": found.next_page_token})
            if found and found.next_page_token
            else ""
        )
        return self.web.render(
            request,
            "notifications_search.html",
            status=400 if errors else 200,
            access=access,
            query=query,
            statuses=list(STATUSES),
            notifications=list(found.notifications) if found else [],
            searched=bool(kept),
            first_page="?" + urlencode(kept) if filters.page else "",
            next_page=next_page,
            errors=errors,
        )


def search_routes(web: ConsoleWeb) -> list[BaseRoute]:
    pages = SearchPages(web)
    return [
        web.team("/teams/{team_id}/notifications", Action.VIEW_NOTIFICATIONS, pages.notifications)
    ]
