"""The team's dashboard, ``GET /teams/{team_id}/dashboard``: the last 7 UTC days
at a glance (two SVG charts drawn here, with the same numbers in tables) and
what needs attention. Every member and operator may see it."""

from __future__ import annotations

from datetime import date

from babel.dates import format_skeleton
from babel.numbers import format_decimal
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from services.console.domain.roles import Action
from services.console.service_layer.access import TeamAccess
from services.console.service_layer.dashboard import Dashboard
from services.console.web.base import ConsoleWeb, Form
from services.console.web.dashboard_chart import Series, bar_chart
from services.console.web.payment_pages import LOCALES, money


class DashboardPages:
    def __init__(self, web: ConsoleWeb) -> None:
        self.web = web
        self.dashboard = Dashboard(web.acting.connect)

    def dashboard_page(self, request: Request, form: Form, access: TeamAccess) -> Response:
        overview = self.dashboard.overview(access.staff, access.team.id)
        language = self.web.language(request)
        locale = LOCALES.get(language, "en_GB")

        def number(n: int) -> str:
            return str(format_decimal(n, locale=locale))

        def day(d: date) -> str:
            """A day as the language writes it: "Mon 2 Mar", "3月2日周一"."""
            return str(format_skeleton("MMMEd", d, locale=locale))

        labels = [day(d.day) for d in overview.days]

        def chart(
            chart_id: str, title: str, description: str, series: list[tuple[str, list[int], bool]]
        ) -> Markup:
            """Called from the template, so every word of the chart is in it."""
            return bar_chart(
                chart_id,
                title=title,
                description=description,
                labels=labels,
                series=[Series(name, values, hatched) for name, values, hatched in series],
                number=number,
            )

        return self.web.render(
            request,
            "dashboard.html",
            access=access,
            overview=overview,
            chart=chart,
            day=day,
            number=number,
            money=lambda amount, currency: money(amount, currency, language),
            may_manage_webhooks=access.may(Action.MANAGE_WEBHOOKS),
        )


def dashboard_routes(web: ConsoleWeb) -> list[BaseRoute]:
    pages = DashboardPages(web)
    return [web.team("/teams/{team_id}/dashboard", Action.VIEW_PAYMENTS, pages.dashboard_page)]
