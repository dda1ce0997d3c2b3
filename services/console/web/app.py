"""The console's routes.

- ``GET  /``                                   start page: your teams
- ``GET  /signin``, ``GET /callback``          staff sign-in through identity
- ``POST /signout``                            forget the session, then identity's logout
- ``GET|POST /agencies/new``                   sign up an agency (its test secret shown once)
- ``GET  /teams/{team_id}``                    the team's home: what it can do
- ``GET  /teams/{team_id}/members``            members, invitations, roles
- ``POST /teams/{team_id}/invitations``        invite by email
- ``POST /teams/{team_id}/members/{subject}/role|remove``
- ``GET  /teams/{team_id}/audit``              the audit trail
- ``GET|POST /invitations/{token}``            see and accept an invitation
- ``/teams/{team_id}/templates...``, ``/send``, ``/notifications/{id}``, ``/callbacks...``
                                               notify (web/notify_pages.py)
- ``/teams/{team_id}/payments...``              payments, export, refunds (web/payment_pages.py)
- ``/teams/{team_id}/webhooks...``              payments' webhooks (web/webhook_pages.py)
- ``/teams/{team_id}/payment-links...``, ``/pay/{slug}...``
                                               payment links (web/payment_link_pages.py)
- ``/teams/{team_id}/upload``, ``/uploads/{team_id}``, ``/teams/{team_id}/uploads/...``,
  ``/teams/{team_id}/bulk-sends/...``           sending to a list (web/bulk_pages.py)
- ``GET  /teams/{team_id}/notifications``      finding notifications (web/search_pages.py)
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.routing import BaseRoute
from starlette.types import ASGIApp

from services.console.domain.roles import Action
from services.console.service_layer.invitations import Invitations
from services.console.web.auth_pages import AuthPages
from services.console.web.base import UPLOAD_BYTES, UPLOADS, ConsoleWeb
from services.console.web.bulk_pages import bulk_routes
from services.console.web.credentials_pages import credentials_routes
from services.console.web.dashboard_pages import dashboard_routes
from services.console.web.golive_pages import golive_routes
from services.console.web.invitation_pages import InvitationPages
from services.console.web.notify_pages import notify_routes
from services.console.web.payment_link_pages import payment_link_routes
from services.console.web.payment_pages import payment_routes
from services.console.web.search_pages import search_routes
from services.console.web.team_pages import TeamPages
from services.console.web.webhook_pages import webhook_routes
from services.runtime.http import build_app

POST = ("POST",)
FORM = ("GET", "POST")


def routes(web: ConsoleWeb, invitations: Invitations, identity_logout_url: str) -> list[BaseRoute]:
    auth = AuthPages(web, identity_logout_url)
    teams = TeamPages(web, invitations)
    invited = InvitationPages(web, invitations)
    member = "/teams/{team_id}/members/{subject}"
    return [
        web.public("/", auth.home),
        web.public("/signin", auth.sign_in),
        web.public("/callback", auth.callback),
        web.public("/signout", auth.sign_out, POST),
        web.signed_in("/agencies/new", teams.sign_up, FORM),
        web.team("/teams/{team_id}", Action.VIEW_TEAM, teams.home),
        web.team("/teams/{team_id}/members", Action.VIEW_TEAM, teams.members),
        web.team("/teams/{team_id}/invitations", Action.INVITE_MEMBER, teams.invite, POST),
        web.team(member + "/role", Action.CHANGE_ROLE, teams.change_role, POST),
        web.team(member + "/remove", Action.REMOVE_MEMBER, teams.remove, POST),
        web.team("/teams/{team_id}/audit", Action.VIEW_AUDIT, teams.audit),
        web.public("/invitations/{token}", invited.show),
        web.public("/invitations/{token}", invited.accept, POST),
        *dashboard_routes(web),
        *credentials_routes(web),
        *golive_routes(web),
        *notify_routes(web),
        *payment_routes(web),
        *webhook_routes(web),
        *payment_link_routes(web),
        *bulk_routes(web),
        *search_routes(web),
    ]


def create_app(
    web: ConsoleWeb, invitations: Invitations, identity_logout_url: str
) -> Callable[[Callable[[], bool]], ASGIApp]:
    found = routes(web, invitations, identity_logout_url)
    # only the upload form's path takes a file larger than a form
    return lambda ready: build_app(found, ready=ready, body_limits={UPLOADS: UPLOAD_BYTES})
