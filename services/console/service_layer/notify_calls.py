"""What the console's notify pages call at notify as a team's agency, and how
notify's refusals become the console's form errors.

``NotifyApi`` is the part of notify's generated stub the pages use (``GaapClient``
fits it; tests/fakes/console_notify.py fakes it). ``Connect`` is
``ActingFor.connect``: the staff member's action is authorised first, then the
client's token carries that action's scopes only.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol

from gaap.notify.v1 import notify_pb2 as npb

from gaap_client import errors as client_errors
from services.console.domain.roles import Action
from services.console.domain.staff import Staff
from services.runtime.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound


class NotifyApi(Protocol):
    def ListTemplates(self, request: npb.ListTemplatesRequest, /) -> npb.ListTemplatesResponse: ...
    def GetTemplate(self, request: npb.GetTemplateRequest, /) -> npb.Template: ...
    def ListTemplateVersions(
        self, request: npb.ListTemplateVersionsRequest, /
    ) -> npb.ListTemplateVersionsResponse: ...
    def CreateTemplate(self, request: npb.CreateTemplateRequest, /) -> npb.Template: ...
    def UpdateTemplate(self, request: npb.UpdateTemplateRequest, /) -> npb.Template: ...
    def PreviewTemplate(self, request: npb.PreviewTemplateRequest, /) -> npb.Preview: ...
    def SendEmail(self, request: npb.SendEmailRequest, /) -> npb.Notification: ...
    def SendSms(self, request: npb.SendSmsRequest, /) -> npb.Notification: ...
    def GetNotification(self, request: npb.GetNotificationRequest, /) -> npb.Notification: ...
    def ListNotificationEvents(
        self, request: npb.ListNotificationEventsRequest, /
    ) -> npb.ListNotificationEventsResponse: ...
    def GetStatusCallback(self, request: npb.GetStatusCallbackRequest, /) -> npb.StatusCallback: ...
    def SetStatusCallback(self, request: npb.SetStatusCallbackRequest, /) -> npb.StatusCallback: ...
    def DeleteStatusCallback(
        self, request: npb.DeleteStatusCallbackRequest, /
    ) -> npb.DeleteStatusCallbackResponse: ...
    def SendTestStatusCallback(
        self, request: npb.SendTestStatusCallbackRequest, /
    ) -> npb.StatusCallbackDelivery: ...
    def RedeliverStatusCallback(
        self, request: npb.RedeliverStatusCallbackRequest, /
    ) -> npb.StatusCallbackDelivery: ...
    def GetUsage(self, request: npb.GetUsageRequest, /) -> npb.Usage: ...


class NotifyAgency(Protocol):
    @property
    def notify(self) -> NotifyApi: ...


Connect = Callable[[Staff, str, Action], AbstractContextManager[NotifyAgency]]

_INDEXED = re.compile(r"^contents\[(\d+)\]\.(language|subject|body)$")


def form_field(notify_field: str, fields: dict[str, str]) -> str:
    """The form's field for one of notify's request fields: ``contents[1].body``
    is ``body_1``, ``personalisation.name`` is ``p_name``, and ``fields`` renames
    the rest (``email_address`` to ``recipient``)."""
    indexed = _INDEXED.match(notify_field)
    if indexed:
        return f"{indexed[2]}_{indexed[1]}"
    if notify_field.startswith("personalisation."):
        return "p_" + notify_field.removeprefix("personalisation.")
    return fields.get(notify_field, notify_field)


@contextmanager
def refusals(fields: dict[str, str] | None = None) -> Iterator[None]:
    """notify's ``InvalidArgument`` as the console's, on the form's fields, so the
    page re-renders its form with notify's reasons instead of failing; its
    ``NotFound`` (another agency's template or notification, or none) as the
    console's 404; its ``FailedPrecondition`` (no callback registered) as the
    console's 409."""
    try:
        yield
    except client_errors.NotFound:
        raise NotFound("Page not found") from None
    except client_errors.FailedPrecondition as exc:
        raise FailedPrecondition(exc.message) from None
    except client_errors.InvalidArgument as exc:
        violations = [
            FieldViolation(form_field(v.field, fields or {}), v.description)
            for v in exc.field_violations
        ] or [FieldViolation("form", exc.message)]
        raise InvalidArgument.from_violations(violations) from None


def idempotency_key(staff: Staff, purpose: str, request_id: str) -> str:
    """A key for one submission of one form by one staff member: sending the form
    twice (a double click, a reload) does the thing once."""
    digest = hashlib.sha256(f"{staff.subject}\0{purpose}\0{request_id}".encode()).hexdigest()
    return f"console-{purpose}-{digest[:40]}"


def personalisation(values: dict[str, str]) -> dict[str, npb.PersonalisationValue]:
    return {name: npb.PersonalisationValue(text=text) for name, text in values.items()}
