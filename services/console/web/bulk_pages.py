"""Sending to a list: upload a CSV or .xlsx for a template, see the bad rows and
a preview, send the good rows, follow the bulk send and cancel it. The use case
(service_layer/bulk_sending.py) authorises every step again.

- ``GET   /teams/{team_id}/upload``                         the upload form
- ``POST  /uploads/{team_id}``                              the file (multipart, 10 MB)
- ``GET   /teams/{team_id}/uploads/{upload_id}``            its bad rows, a preview, "Send"
- ``POST  /teams/{team_id}/uploads/{upload_id}/send``       send once; to its progress
- ``GET   /teams/{team_id}/bulk-sends/{bulk_send_id}``      progress ("Refresh" reloads)
- ``POST  /teams/{team_id}/bulk-sends/{bulk_send_id}/cancel``
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute

from services.console.domain.bulk_uploads import PREVIEWED_ROWS
from services.console.domain.roles import Action
from services.console.domain.spreadsheets import MAX_ROWS
from services.console.service_layer.access import TeamAccess
from services.console.service_layer.bulk_sending import BulkSending
from services.console.service_layer.message_templates import MessageTemplates
from services.console.web.base import ConsoleWeb, Form, Upload
from services.runtime.errors import InvalidArgument
from services.runtime.pages import FieldError

POST = ("POST",)
LISTED_PROBLEMS = 500  # bad rows shown on the page (the count says how many in all)


class BulkPages:
    def __init__(self, web: ConsoleWeb) -> None:
        self.web = web
        self.bulk = BulkSending(web.acting.transactions, web.acting.connect)
        self.templates = MessageTemplates(web.acting.transactions, web.acting.connect)

    def form(self, request: Request, form: Form, access: TeamAccess) -> Response:
        return self._form(request, access, request.query_params.get("template", ""), [])

    def _form(
        self, request: Request, access: TeamAccess, chosen: str, errors: list[FieldError]
    ) -> Response:
        return self.web.render(
            request,
            "bulk_upload.html",
            status=400 if errors else 200,
            access=access,
            templates=self.templates.templates(access.staff, access.team.id),
            chosen=chosen,
            errors=errors,
            max_rows=f"{MAX_ROWS:,}",
        )

    def receive(self, request: Request, form: Form, access: TeamAccess, file: Upload) -> Response:
        template_id = form.get("template", "")
        try:
            made = self.bulk.upload(
                access.staff,
                access.team.id,
                template_id=template_id,
                file_name=file.name,
                data=file.data,
            )
        except InvalidArgument as exc:
            return self._form(request, access, template_id, self._errors(request, exc))
        return RedirectResponse(f"/teams/{access.team.id}/uploads/{made.id}", status_code=303)

    def _errors(self, request: Request, exc: InvalidArgument) -> list[FieldError]:
        """The file's problems in the page's language; a message naming columns
        is "<message id>: <columns>", its columns as the sender wrote them."""
        found = []
        for violation in exc.violations:
            message, _, columns = violation.description.partition(": ")
            shown = self.web.gettext(request, message)
            found.append(FieldError(violation.field, f"{shown}: {columns}" if columns else shown))
        return found

    def upload(self, request: Request, form: Form, access: TeamAccess) -> Response:
        upload_id = str(request.path_params["upload_id"])
        view = self.bulk.view(access.staff, access.team.id, upload_id)
        if view.upload.bulk_send_id:
            return RedirectResponse(
                f"/teams/{access.team.id}/bulk-sends/{view.upload.bulk_send_id}", status_code=303
            )
        problems = view.upload.problems
        return self.web.render(
            request,
            "bulk_check.html",
            access=access,
            view=view,
            sms=view.template.channel == 2,
            problems=problems[:LISTED_PROBLEMS],
            bad_rows=len({p.line for p in problems}),
            previewed=PREVIEWED_ROWS,
        )

    def send(self, request: Request, form: Form, access: TeamAccess) -> Response:
        upload_id = str(request.path_params["upload_id"])
        bulk_send_id = self.bulk.send(access.staff, access.team.id, upload_id)
        return RedirectResponse(
            f"/teams/{access.team.id}/bulk-sends/{bulk_send_id}", status_code=303
        )

    def progress(self, request: Request, form: Form, access: TeamAccess) -> Response:
        bulk_send_id = str(request.path_params["bulk_send_id"])
        return self.web.render(
            request,
            "bulk_progress.html",
            access=access,
            bulk=self.bulk.progress(access.staff, access.team.id, bulk_send_id),
            can_cancel=access.may(Action.SEND_MESSAGES),
            cancelled=request.query_params.get("cancelled") == "1",
        )

    def cancel(self, request: Request, form: Form, access: TeamAccess) -> Response:
        bulk_send_id = str(request.path_params["bulk_send_id"])
        self.bulk.cancel(access.staff, access.team.id, bulk_send_id)
        return RedirectResponse(
            f"/teams/{access.team.id}/bulk-sends/{bulk_send_id}?cancelled=1", status_code=303
        )


def bulk_routes(web: ConsoleWeb) -> list[BaseRoute]:
    pages = BulkPages(web)
    team = "/teams/{team_id}"
    return [
        web.team(team + "/upload", Action.SEND_MESSAGES, pages.form),
        web.team_upload("/uploads/{team_id}", Action.SEND_MESSAGES, pages.receive),
        web.team(team + "/uploads/{upload_id}", Action.SEND_MESSAGES, pages.upload),
        web.team(team + "/uploads/{upload_id}/send", Action.SEND_MESSAGES, pages.send, POST),
        web.team(team + "/bulk-sends/{bulk_send_id}", Action.VIEW_NOTIFICATIONS, pages.progress),
        web.team(
            team + "/bulk-sends/{bulk_send_id}/cancel", Action.SEND_MESSAGES, pages.cancel, POST
        ),
    ]
