"""The notify pages: templates (list, create, edit, preview), sending one
message, one notification, today's usage against the daily limits, and the
status callback. Every call to notify is the
team's agency's, through the use cases (service_layer/message_templates.py,
sending_messages.py, status_callbacks.py), which authorise each action again.

- ``GET       /teams/{team_id}/templates``                        the templates
- ``GET|POST  /teams/{team_id}/templates/new``                    create one
- ``GET       /teams/{team_id}/templates/{template_id}``          one, with a preview form
- ``POST      /teams/{team_id}/templates/{template_id}/preview``  the same page, previewed
- ``GET|POST  /teams/{team_id}/templates/{template_id}/edit``     a new version
- ``GET|POST  /teams/{team_id}/send``                             send one message
- ``GET       /teams/{team_id}/notifications/{notification_id}``  one notification
- ``GET       /teams/{team_id}/usage``                            today's sends against the limits
- ``GET       /teams/{team_id}/callbacks``                        the status callback
- ``POST      /teams/{team_id}/callbacks[/delete|/test|/redeliver]``
"""

from __future__ import annotations

import secrets

from gaap.notify.v1 import notify_pb2 as npb
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute

from services.console.domain.roles import Action
from services.console.service_layer.access import TeamAccess
from services.console.service_layer.message_templates import MessageTemplates, Wording
from services.console.service_layer.sending_messages import SendingMessages
from services.console.service_layer.status_callbacks import StatusCallbacks
from services.console.web.base import ConsoleWeb, Form
from services.runtime.errors import InvalidArgument
from services.runtime.pages import FieldError

WORDINGS = 3  # language blocks on the template form (the form allows 20 fields)
POST = ("POST",)
FORM = ("GET", "POST")


def _request_id(form: Form) -> str:
    """The form's one-time id (kept when the form comes back with errors), so
    sending it twice does the thing once."""
    return form.get("request_id") or secrets.token_urlsafe(16)


def _wordings(form: Form) -> list[Wording]:
    return [
        Wording(
            form.get(f"language_{i}", ""), form.get(f"subject_{i}", ""), form.get(f"body_{i}", "")
        )
        for i in range(WORDINGS)
    ]


def _values(form: Form) -> dict[str, str]:
    """The personalisation typed in the ``p_<placeholder>`` fields. A field left
    blank is not given, so notify names it as missing rather than sending a
    message with a hole in it."""
    return {k.removeprefix("p_"): v for k, v in form.items() if k.startswith("p_") and v}


def _blocks(template: npb.Template | None) -> list[dict[str, str]]:
    """The form's language blocks, filled from ``template``'s wordings."""
    contents = list(template.contents) if template else []
    blocks = [{"language": c.language, "subject": c.subject, "body": c.body} for c in contents]
    if not blocks:
        blocks.append({"language": "en", "subject": "", "body": ""})
    while len(blocks) < WORDINGS:
        blocks.append({"language": "", "subject": "", "body": ""})
    return blocks[:WORDINGS]


def _posted_blocks(form: Form) -> list[dict[str, str]]:
    return [{"language": w.language, "subject": w.subject, "body": w.body} for w in _wordings(form)]


class NotifyPages:
    def __init__(self, web: ConsoleWeb) -> None:
        self.web = web
        connect = web.acting.connect
        self.templates = MessageTemplates(web.acting.transactions, connect)
        self.sending = SendingMessages(web.acting.transactions, connect)
        self.callbacks = StatusCallbacks(web.acting.transactions, connect)

    # -- templates ----------------------------------------------------------------------

    def template_list(self, request: Request, form: Form, access: TeamAccess) -> Response:
        return self.web.render(
            request,
            "notify_templates.html",
            access=access,
            templates=self.templates.templates(access.staff, access.team.id),
            can_edit=access.may(Action.MANAGE_TEMPLATES),
            can_send=access.may(Action.SEND_MESSAGES),
        )

    def new_template(self, request: Request, form: Form, access: TeamAccess) -> Response:
        if request.method == "POST":
            try:
                made = self.templates.create(
                    access.staff,
                    access.team.id,
                    channel=form.get("channel", ""),
                    name=form.get("name", ""),
                    wordings=_wordings(form),
                    request_id=_request_id(form),
                )
            except InvalidArgument as exc:
                return self._template_form(
                    request, access, form, None, self.web.field_errors(request, exc)
                )
            return RedirectResponse(
                f"/teams/{access.team.id}/templates/{made.id}?saved=1", status_code=303
            )
        return self._template_form(request, access, form, None, [])

    def edit_template(self, request: Request, form: Form, access: TeamAccess) -> Response:
        template_id = str(request.path_params["template_id"])
        current = self.templates.get(access.staff, access.team.id, template_id)
        if request.method == "POST":
            try:
                self.templates.update(
                    access.staff,
                    access.team.id,
                    template_id,
                    name=form.get("name", ""),
                    wordings=_wordings(form),
                    request_id=_request_id(form),
                )
            except InvalidArgument as exc:
                return self._template_form(
                    request, access, form, current, self.web.field_errors(request, exc)
                )
            return RedirectResponse(
                f"/teams/{access.team.id}/templates/{template_id}?saved=1", status_code=303
            )
        return self._template_form(request, access, form, current, [])

    def _template_form(
        self,
        request: Request,
        access: TeamAccess,
        form: Form,
        current: npb.Template | None,
        errors: list[FieldError],
    ) -> Response:
        posted = request.method == "POST"
        channel = (
            form.get("channel", "email")
            if current is None
            else ("sms" if current.channel == npb.CHANNEL_SMS else "email")
        )
        return self.web.render(
            request,
            "notify_template_form.html",
            status=400 if errors else 200,
            access=access,
            tpl=current,
            channel=channel,
            name=form.get("name", "") if posted else (current.name if current else ""),
            blocks=_posted_blocks(form) if posted else _blocks(current),
            errors=errors,
            request_id=_request_id(form),
        )

    def show_template(self, request: Request, form: Form, access: TeamAccess) -> Response:
        template_id = str(request.path_params["template_id"])
        template = self.templates.get(access.staff, access.team.id, template_id)
        preview: npb.Preview | None = None
        errors: list[FieldError] = []
        language = form.get("language", template.contents[0].language)
        if request.method == "POST":
            try:
                preview = self.templates.preview(
                    access.staff, access.team.id, template_id, language, _values(form)
                )
            except InvalidArgument as exc:
                errors = self.web.field_errors(request, exc)
        return self.web.render(
            request,
            "notify_template.html",
            status=400 if errors else 200,
            access=access,
            tpl=template,
            versions=self.templates.versions(access.staff, access.team.id, template_id),
            sms=template.channel == npb.CHANNEL_SMS,
            preview=preview,
            preview_language=language,
            values=_values(form),
            errors=errors,
            saved=request.query_params.get("saved") == "1",
            can_edit=access.may(Action.MANAGE_TEMPLATES),
            can_send=access.may(Action.SEND_MESSAGES),
        )

    # -- sending one message ------------------------------------------------------------

    def send(self, request: Request, form: Form, access: TeamAccess) -> Response:
        template_id = form.get("template") or request.query_params.get("template", "")
        errors: list[FieldError] = []
        if request.method == "POST":
            try:
                sent = self.sending.send(
                    access.staff,
                    access.team.id,
                    template_id=template_id,
                    recipient=form.get("recipient", ""),
                    values=_values(form),
                    reference=form.get("reference", ""),
                    request_id=_request_id(form),
                )
            except InvalidArgument as exc:
                errors = self.web.field_errors(request, exc)
            else:
                return RedirectResponse(
                    f"/teams/{access.team.id}/notifications/{sent.id}?sent=1", status_code=303
                )
        templates = self.templates.templates(access.staff, access.team.id)
        chosen = next((t for t in templates if t.id == template_id), None)
        return self.web.render(
            request,
            "notify_send.html",
            status=400 if errors else 200,
            access=access,
            templates=templates,
            chosen=chosen,
            sms=chosen is not None and chosen.channel == npb.CHANNEL_SMS,
            recipient=form.get("recipient", ""),
            reference=form.get("reference", ""),
            values=_values(form),
            errors=errors,
            request_id=_request_id(form),
        )

    def notification(self, request: Request, form: Form, access: TeamAccess) -> Response:
        found, events = self.sending.notification(
            access.staff, access.team.id, str(request.path_params["notification_id"])
        )
        return self.web.render(
            request,
            "notify_notification.html",
            access=access,
            notification=found,
            events=events,
            sms=found.channel == npb.CHANNEL_SMS,
            sent=request.query_params.get("sent") == "1",
            can_redeliver=access.may(Action.MANAGE_WEBHOOKS),
        )

    def usage(self, request: Request, form: Form, access: TeamAccess) -> Response:
        return self.web.render(
            request,
            "notify_usage.html",
            access=access,
            usage=self.sending.usage(access.staff, access.team.id),
        )

    # -- the status callback ------------------------------------------------------------

    def callback(self, request: Request, form: Form, access: TeamAccess) -> Response:
        return self._callback_page(request, access)

    def set_callback(self, request: Request, form: Form, access: TeamAccess) -> Response:
        try:
            registered = self.callbacks.set(
                access.staff, access.team.id, form.get("url", ""), _request_id(form)
            )
        except InvalidArgument as exc:
            return self._callback_page(
                request, access, errors=self.web.field_errors(request, exc), url=form.get("url", "")
            )
        # Rendered, not redirected: the signing secret is shown this once.
        return self._callback_page(request, access, secret=registered.signing_secret)

    def delete_callback(self, request: Request, form: Form, access: TeamAccess) -> Response:
        self.callbacks.delete(access.staff, access.team.id, _request_id(form))
        return RedirectResponse(f"/teams/{access.team.id}/callbacks", status_code=303)

    def test_callback(self, request: Request, form: Form, access: TeamAccess) -> Response:
        delivery = self.callbacks.send_test(access.staff, access.team.id, _request_id(form))
        return self._callback_page(request, access, delivery=delivery)

    def redeliver(self, request: Request, form: Form, access: TeamAccess) -> Response:
        notification_id = form.get("notification_id", "")
        try:
            delivery = self.callbacks.redeliver(
                access.staff, access.team.id, notification_id, _request_id(form)
            )
        except InvalidArgument as exc:
            return self._callback_page(
                request,
                access,
                errors=self.web.field_errors(request, exc),
                notification_id=notification_id,
            )
        return self._callback_page(request, access, delivery=delivery)

    def _callback_page(
        self,
        request: Request,
        access: TeamAccess,
        *,
        errors: list[FieldError] | None = None,
        secret: str = "",
        delivery: npb.StatusCallbackDelivery | None = None,
        url: str = "",
        notification_id: str = "",
    ) -> Response:
        return self.web.render(
            request,
            "notify_callbacks.html",
            status=400 if errors else 200,
            access=access,
            callback=self.callbacks.current(access.staff, access.team.id),
            secret=secret,
            delivery=delivery,
            url=url,
            notification_id=notification_id,
            errors=errors or [],
            request_id=secrets.token_urlsafe(16),
        )


def notify_routes(web: ConsoleWeb) -> list[BaseRoute]:
    pages = NotifyPages(web)
    team = "/teams/{team_id}"
    template = team + "/templates/{template_id}"
    return [
        web.team(team + "/templates", Action.VIEW_NOTIFICATIONS, pages.template_list),
        web.team(team + "/templates/new", Action.MANAGE_TEMPLATES, pages.new_template, FORM),
        web.team(template, Action.VIEW_NOTIFICATIONS, pages.show_template),
        web.team(template + "/preview", Action.VIEW_NOTIFICATIONS, pages.show_template, POST),
        web.team(template + "/edit", Action.MANAGE_TEMPLATES, pages.edit_template, FORM),
        web.team(team + "/send", Action.SEND_MESSAGES, pages.send, FORM),
        web.team(
            team + "/notifications/{notification_id}",
            Action.VIEW_NOTIFICATIONS,
            pages.notification,
        ),
        web.team(team + "/usage", Action.VIEW_NOTIFICATIONS, pages.usage),
        web.team(team + "/callbacks", Action.MANAGE_WEBHOOKS, pages.callback),
        web.team(team + "/callbacks", Action.MANAGE_WEBHOOKS, pages.set_callback, POST),
        web.team(team + "/callbacks/delete", Action.MANAGE_WEBHOOKS, pages.delete_callback, POST),
        web.team(team + "/callbacks/test", Action.MANAGE_WEBHOOKS, pages.test_callback, POST),
        web.team(team + "/callbacks/redeliver", Action.MANAGE_WEBHOOKS, pages.redeliver, POST),
    ]
