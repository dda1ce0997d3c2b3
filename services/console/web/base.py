"""The console's page base: the signed-in staff member, the page language,
CSRF tokens, rendering, and the wrappers every route goes through.

Every page handler is one of three kinds (``ConsoleWeb.route``):
- ``public``:    ``handler(request, form)``, nobody needs to be signed in;
- ``signed_in``: ``handler(request, form, staff)``, signed-out browsers are sent
  to sign in first;
- ``team``:      ``handler(request, form, access)``, for ``/teams/{team_id}/...``:
  the staff member's ``TeamAccess`` after ``authorise`` allowed the route's
  ``Action`` (404 if they are not in the team, 403 if their role forbids it).

Every POST is CSRF-checked before its handler runs: the form carries the token
``csrf(action_path)`` issued for this session and the path it posts to.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from gaap_client import GaapClient
from gaap_client.errors import GaapError
from gaap_client.tokens import TokenError
from services.console.domain.roles import Action
from services.console.domain.staff import Staff
from services.console.service_layer.access import TeamAccess
from services.console.service_layer.acting_for import ActingFor
from services.console.service_layer.agency_ports import AgencyAdmin
from services.console.service_layer.signing_in import SignIn
from services.console.service_layer.teams import Teams
from services.console.web.texts import SHOWN_NOT_FOUND
from services.runtime.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
)
from services.runtime.pages import CsrfTokens, FieldError, Pages, choose_language
from services.runtime.pages.render import LANGUAGE_COOKIE, set_language_cookie
from services.runtime.rate_limit import LocalRateLimiter, RateLimiter

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
COOKIE = "console_session"
LANGUAGE_NAMES = {"en": "English", "zh-Hans": "简体中文"}
Form = Mapping[str, str]
PublicHandler = Callable[[Request, Form], Response]
StaffHandler = Callable[[Request, Form, Staff], Response]
TeamHandler = Callable[[Request, Form, TeamAccess], Response]
UploadHandler = Callable[[Request, Form, TeamAccess, "Upload"], Response]
# Forms that carry a file post under this prefix (``/uploads/{team_id}/...``): the
# app's body limit allows them UPLOAD_BYTES, every other path FORM_BYTES.
UPLOADS = "/uploads/"
UPLOAD_BYTES = 10 * 1024 * 1024 + 64 * 1024  # a 10 MB file and the form around it


class Upload:
    """The one file a form posted: its name as the browser gave it and at most
    ``limit + 1`` of its bytes (so a use case can tell it was too large)."""

    def __init__(self, name: str, data: bytes) -> None:
        self.name = name
        self.data = data


class ConsoleWeb:
    def __init__(
        self,
        sign_in: SignIn,
        teams: Teams,
        csrf: CsrfTokens,
        public_url: str,
        acting: ActingFor[GaapClient],
    ) -> None:
        self.sign_in = sign_in
        self.teams = teams
        # payments and notify as a team's agency, for the pages that call them
        self.acting = acting
        self.csrf = csrf
        self.public_url = public_url
        self.pages = Pages(HERE / "templates", HERE / "locales")
        self.secure = public_url.startswith("https://")
        # per client address on the public pages (payment links); Redis-backed when
        # bootstrap has REDIS_URL, so every replica counts together
        self.limiter: RateLimiter = LocalRateLimiter()
        # identity's operator methods for a team's agency (credentials, sign-in
        # settings); bootstrap sets it, and without it those pages are not served
        self.agencies: AgencyAdmin | None = None

    # -- who and in what language -------------------------------------------------------

    @staticmethod
    def cookie(request: Request) -> str:
        return request.cookies.get(COOKIE, "")

    def staff(self, request: Request) -> Staff | None:
        return self.sign_in.staff(self.cookie(request))

    def language(self, request: Request) -> str:
        return choose_language(
            self.pages.languages,
            explicit=request.query_params.get("lang"),
            cookie=request.cookies.get(LANGUAGE_COOKIE),
            accept_language=request.headers.get("accept-language"),
        )

    def gettext(self, request: Request, message: str) -> str:
        return self.pages.gettext(self.language(request), message)

    def field_errors(self, request: Request, error: InvalidArgument) -> list[FieldError]:
        return [FieldError(v.field, self.gettext(request, v.description)) for v in error.violations]

    def set_cookie(self, response: Response, value: str) -> None:
        response.set_cookie(
            COOKIE, value, httponly=True, samesite="lax", secure=self.secure, path="/"
        )

    # -- rendering ----------------------------------------------------------------------

    def render(
        self, request: Request, template: str, *, status: int = 200, **context: Any
    ) -> Response:
        language = self.language(request)
        cookie = self.cookie(request)
        context.setdefault("errors", [])
        context.setdefault("staff", self.staff(request))
        context.setdefault("access", None)
        response = self.pages.render(
            template,
            language,
            status_code=status,
            language_links=[
                (
                    tag,
                    LANGUAGE_NAMES.get(tag, tag),
                    f"{request.url.path}?{urlencode({'lang': tag})}",
                )
                for tag in self.pages.languages
            ],
            csrf=lambda action: self.csrf.issue(cookie, action),
            **context,
        )
        explicit = request.query_params.get("lang")
        if explicit in self.pages.languages:
            set_language_cookie(response, explicit, secure=self.secure)
        return response

    def problem(self, request: Request, status: int, message: str) -> Response:
        return self.render(
            request, "problem.html", status=status, message=self.gettext(request, message)
        )

    # -- routes -------------------------------------------------------------------------

    def public(self, path: str, handler: PublicHandler, methods: Sequence[str] = ("GET",)) -> Route:
        return self._route(path, handler, methods)

    def signed_in(
        self, path: str, handler: StaffHandler, methods: Sequence[str] = ("GET",)
    ) -> Route:
        def run(request: Request, form: Form) -> Response:
            staff = self.staff(request)
            if staff is None:
                query = urlencode({"next": request.url.path})
                return RedirectResponse(f"/signin?{query}", status_code=303)
            return handler(request, form, staff)

        return self._route(path, run, methods)

    def team(
        self,
        path: str,
        action: Action,
        handler: TeamHandler,
        methods: Sequence[str] = ("GET",),
    ) -> Route:
        """A page of one team (``path`` starts ``/teams/{team_id}``), for those whose
        role allows ``action``; a handler may authorise a further action itself."""
        if not path.startswith("/teams/{team_id}"):
            raise ValueError(f"a team page's path starts /teams/{{team_id}}: {path}")

        def run(request: Request, form: Form, staff: Staff) -> Response:
            access = self.teams.access(staff, str(request.path_params["team_id"]), action)
            return handler(request, form, access)

        return self.signed_in(path, run, methods)

    def team_upload(
        self, path: str, action: Action, handler: UploadHandler, field: str = "file"
    ) -> Route:
        """A POST of a team's form with one file (multipart), at
        ``/uploads/{team_id}/...`` so the body limit lets the file through; the
        same CSRF check and authorisation as ``team``."""
        if not path.startswith(UPLOADS + "{team_id}"):
            raise ValueError(f"an upload's path starts {UPLOADS}{{team_id}}: {path}")

        async def endpoint(request: Request) -> Response:
            async with request.form(max_files=1, max_fields=10) as data:
                form = {k: v for k, v in data.items() if isinstance(v, str)}
                posted = data.get(field)
                upload = Upload("", b"")
                if posted is not None and not isinstance(posted, str):
                    body = await posted.read(UPLOAD_BYTES)
                    upload = Upload(posted.filename or "", body)

            def run(request: Request, form: Form) -> Response:
                staff = self.staff(request)
                if staff is None:
                    return RedirectResponse("/signin", status_code=303)
                team_id = str(request.path_params["team_id"])
                return handler(request, form, self.teams.access(staff, team_id, action), upload)

            return await run_in_threadpool(self._guarded, request, form, run)

        return Route(path, endpoint, methods=["POST"])

    def _route(self, path: str, handler: PublicHandler, methods: Sequence[str]) -> Route:
        async def endpoint(request: Request) -> Response:
            form: dict[str, str] = {}
            if request.method == "POST":
                async with request.form(max_files=0, max_fields=20) as data:
                    form = {k: v for k, v in data.items() if isinstance(v, str)}
            return await run_in_threadpool(self._guarded, request, form, handler)

        return Route(path, endpoint, methods=list(methods))

    def _guarded(self, request: Request, form: Form, handler: PublicHandler) -> Response:
        if request.method == "POST" and not self.csrf.check(
            self.cookie(request), request.url.path, form.get("csrf_token", "")
        ):
            return self.problem(
                request, 400, "This page has expired or the form was sent twice. Please try again."
            )
        try:
            return handler(request, form)
        except NotFound as exc:
            # Only a message the catalogue holds is shown; "No such team" and the
            # like say no more than "Page not found".
            shown = exc.message if exc.message in SHOWN_NOT_FOUND else "Page not found"
            return self.problem(request, 404, shown)
        except InvalidArgument as exc:
            return self.problem(
                request, 400, exc.violations[0].description if exc.violations else exc.message
            )
        except PermissionDenied as exc:
            return self.problem(request, 403, exc.message)
        except (FailedPrecondition, AlreadyExists) as exc:
            return self.problem(request, 409, exc.message)
        except TokenError as exc:
            # identity refused the console a token for the team's agency (its
            # description names no secret): the page is unavailable, not broken.
            log.warning("agency token refused", extra={"error": exc.error})
            return self.problem(
                request, 503, "Sorry, the service is unavailable. Please try again later."
            )
        except GaapError as exc:
            log.warning("platform call failed", extra={"status": exc.status.name})
            return self.problem(
                request, 503, "Sorry, the service is unavailable. Please try again later."
            )
