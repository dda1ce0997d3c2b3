"""An in-memory notify as one agency sees it through ``GaapClient.notify``, for the
console's notify pages (services/console/service_layer/notify_calls.py::NotifyApi).

It keeps templates with their versions, notifications, one status callback and
the deliveries queued to it; it answers idempotent replays with the first answer
and refuses as notify does (gaap_client's errors, with notify's field names)
where the console's pages depend on it: unknown ids, a missing placeholder, a
malformed recipient, an http callback URL."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import grpc
from gaap.notify.v1 import notify_pb2 as npb
from google.protobuf.timestamp_pb2 import Timestamp

from gaap_client import errors
from gaap_client.errors import FieldViolation

_PLACEHOLDER = re.compile(r"\(\(([^()?]+?)(\?\?[^()]*)?\)\)")


def _invalid(field: str, description: str) -> errors.InvalidArgument:
    return errors.InvalidArgument(
        grpc.StatusCode.INVALID_ARGUMENT,
        f"invalid request: check {field}",
        field_violations=[FieldViolation(field, description)],
    )


def _not_found(what: str) -> errors.NotFound:
    return errors.NotFound(grpc.StatusCode.NOT_FOUND, f"no such {what}")


def _now() -> Timestamp:
    stamp = Timestamp()
    stamp.FromSeconds(1_767_600_000)
    return stamp


def _placeholders(contents: Any) -> list[str]:
    found: list[str] = []
    for content in contents:
        for text in (content.subject, content.body):
            for match in _PLACEHOLDER.finditer(text):
                name = match[1].strip().lower()
                if name not in found:
                    found.append(name)
    return found


@dataclass
class FakeNotifyApi:
    templates: dict[str, list[npb.Template]] = field(default_factory=dict)  # every version
    notifications: dict[str, npb.Notification] = field(default_factory=dict)
    callback: npb.StatusCallback | None = None
    deliveries: list[npb.StatusCallbackDelivery] = field(default_factory=list)
    settings: npb.AgencySettings = field(
        default_factory=lambda: npb.AgencySettings(
            sms_default_region="GB", email_daily_limit=1000, sms_daily_limit=250
        )
    )
    replies: dict[str, Any] = field(default_factory=dict)  # idempotency key -> answer
    calls: list[str] = field(default_factory=list)

    # -- templates ----------------------------------------------------------------------

    def ListTemplates(self, request: npb.ListTemplatesRequest, /) -> npb.ListTemplatesResponse:
        self.calls.append("ListTemplates")
        latest = [versions[-1] for versions in reversed(self.templates.values())]
        return npb.ListTemplatesResponse(templates=latest[: request.page_size or 50])

    def GetTemplate(self, request: npb.GetTemplateRequest, /) -> npb.Template:
        self.calls.append("GetTemplate")
        versions = self.templates.get(request.template_id)
        if not versions:
            raise _not_found("template")
        if request.version:
            if request.version > len(versions):
                raise _not_found("template version")
            return versions[request.version - 1]
        return versions[-1]

    def ListTemplateVersions(
        self, request: npb.ListTemplateVersionsRequest, /
    ) -> npb.ListTemplateVersionsResponse:
        self.calls.append("ListTemplateVersions")
        versions = self.templates.get(request.template_id)
        if not versions:
            raise _not_found("template")
        newest = list(reversed(versions))[: request.page_size or 50]
        return npb.ListTemplateVersionsResponse(versions=newest)

    def CreateTemplate(self, request: npb.CreateTemplateRequest, /) -> npb.Template:
        self.calls.append("CreateTemplate")
        if request.idempotency_key in self.replies:
            answer: npb.Template = self.replies[request.idempotency_key]
            return answer
        self._check_template(request.name, request.contents, request.channel)
        template = npb.Template(
            id=f"tpl_{len(self.templates) + 1}",
            version=1,
            channel=request.channel,
            name=request.name,
            contents=request.contents,
            create_time=_now(),
            version_time=_now(),
            placeholders=_placeholders(request.contents),
            changed_by=request.changed_by,
            actor="console",
        )
        self.templates[template.id] = [template]
        self.replies[request.idempotency_key] = template
        return template

    def UpdateTemplate(self, request: npb.UpdateTemplateRequest, /) -> npb.Template:
        self.calls.append("UpdateTemplate")
        if request.idempotency_key in self.replies:
            answer: npb.Template = self.replies[request.idempotency_key]
            return answer
        current = self.GetTemplate(npb.GetTemplateRequest(template_id=request.template_id))
        self._check_template(request.name or current.name, request.contents, current.channel)
        template = npb.Template()
        template.CopyFrom(current)
        template.version = current.version + 1
        template.changed_by = request.changed_by
        template.name = request.name or current.name
        del template.contents[:]
        template.contents.extend(request.contents)
        del template.placeholders[:]
        template.placeholders.extend(_placeholders(request.contents))
        self.templates[current.id].append(template)
        self.replies[request.idempotency_key] = template
        return template

    def PreviewTemplate(self, request: npb.PreviewTemplateRequest, /) -> npb.Preview:
        self.calls.append("PreviewTemplate")
        template = self.GetTemplate(
            npb.GetTemplateRequest(template_id=request.template_id, version=request.version)
        )
        content = next(
            (c for c in template.contents if c.language == request.language), template.contents[0]
        )
        values = {k: v.text for k, v in request.personalisation.items()}
        self._check_personalisation(template, values)
        body = _fill(content.body, values)
        sms = template.channel == npb.CHANNEL_SMS
        return npb.Preview(
            channel=template.channel,
            language=content.language,
            subject=_fill(content.subject, values),
            body=body,
            fragment_count=(len(body) + 152) // 153 if sms and len(body) > 160 else int(sms),
            encoding="GSM-7" if sms else "",
        )

    @staticmethod
    def _check_template(name: str, contents: Any, channel: int) -> None:
        if not name:
            raise _invalid("name", "required, at most 200 characters")
        if not contents:
            raise _invalid("contents", "1 to 20 languages")
        for i, content in enumerate(contents):
            if not content.body:
                raise _invalid(f"contents[{i}].body", "required")
            if channel == npb.CHANNEL_SMS and content.subject:
                raise _invalid(f"contents[{i}].subject", "SMS templates have no subject")

    @staticmethod
    def _check_personalisation(template: npb.Template, values: dict[str, str]) -> None:
        for name in template.placeholders:
            if name not in values:
                raise _invalid(f"personalisation.{name}", "missing: the template uses it")

    # -- notifications ------------------------------------------------------------------

    def SendEmail(self, request: npb.SendEmailRequest, /) -> npb.Notification:
        self.calls.append("SendEmail")
        if "@" not in request.email_address:
            raise _invalid("email_address", "not a valid email address")
        return self._send(
            request.idempotency_key,
            request.template_id,
            request.email_address,
            request.reference,
            {k: v.text for k, v in request.personalisation.items()},
        )

    def SendSms(self, request: npb.SendSmsRequest, /) -> npb.Notification:
        self.calls.append("SendSms")
        if not re.fullmatch(r"\+?[0-9 ]{7,16}", request.phone_number):
            raise _invalid("phone_number", "not a valid phone number")
        return self._send(
            request.idempotency_key,
            request.template_id,
            request.phone_number,
            request.reference,
            {k: v.text for k, v in request.personalisation.items()},
        )

    def _send(
        self, key: str, template_id: str, recipient: str, reference: str, values: dict[str, str]
    ) -> npb.Notification:
        if key in self.replies:
            answer: npb.Notification = self.replies[key]
            return answer
        template = self.GetTemplate(npb.GetTemplateRequest(template_id=template_id))
        self._check_personalisation(template, values)
        content = template.contents[0]
        sent = npb.Notification(
            id=f"ntf_{len(self.notifications) + 1}",
            channel=template.channel,
            status=npb.STATUS_CREATED,
            template_id=template.id,
            template_version=template.version,
            recipient=recipient,
            subject=_fill(content.subject, values),
            body=_fill(content.body, values),
            reference=reference,
            language=content.language,
            create_time=_now(),
        )
        self.notifications[sent.id] = sent
        self.replies[key] = sent
        return sent

    def GetNotification(self, request: npb.GetNotificationRequest, /) -> npb.Notification:
        self.calls.append("GetNotification")
        if request.notification_id not in self.notifications:
            raise _not_found("notification")
        return self.notifications[request.notification_id]

    def ListNotificationEvents(
        self, request: npb.ListNotificationEventsRequest, /
    ) -> npb.ListNotificationEventsResponse:
        self.calls.append("ListNotificationEvents")
        found = self.GetNotification(
            npb.GetNotificationRequest(notification_id=request.notification_id)
        )
        return npb.ListNotificationEventsResponse(
            events=[npb.NotificationEvent(status=npb.STATUS_CREATED, time=found.create_time)]
        )

    # -- the status callback --------------------------------------------------------------

    def GetStatusCallback(self, request: npb.GetStatusCallbackRequest, /) -> npb.StatusCallback:
        self.calls.append("GetStatusCallback")
        if self.callback is None:
            raise _not_found("status callback")
        return npb.StatusCallback(url=self.callback.url, create_time=self.callback.create_time)

    def SetStatusCallback(self, request: npb.SetStatusCallbackRequest, /) -> npb.StatusCallback:
        self.calls.append("SetStatusCallback")
        if request.idempotency_key in self.replies:
            answer: npb.StatusCallback = self.replies[request.idempotency_key]
            return answer
        if not request.url.startswith("https://"):
            raise _invalid("url", "an https URL")
        self.callback = npb.StatusCallback(
            url=request.url,
            signing_secret=f"whsec_{len(self.replies)}",
            create_time=_now(),
        )
        self.replies[request.idempotency_key] = self.callback
        return self.callback

    def DeleteStatusCallback(
        self, request: npb.DeleteStatusCallbackRequest, /
    ) -> npb.DeleteStatusCallbackResponse:
        self.calls.append("DeleteStatusCallback")
        self.callback = None
        return npb.DeleteStatusCallbackResponse()

    def SendTestStatusCallback(
        self, request: npb.SendTestStatusCallbackRequest, /
    ) -> npb.StatusCallbackDelivery:
        self.calls.append("SendTestStatusCallback")
        return self._deliver(request.idempotency_key, "callback.test", "")

    def RedeliverStatusCallback(
        self, request: npb.RedeliverStatusCallbackRequest, /
    ) -> npb.StatusCallbackDelivery:
        self.calls.append("RedeliverStatusCallback")
        if request.notification_id not in self.notifications:
            raise _not_found("notification")
        return self._deliver(
            request.idempotency_key, "notification.status", request.notification_id
        )

    def _deliver(self, key: str, event_type: str, about: str) -> npb.StatusCallbackDelivery:
        if key in self.replies:
            answer: npb.StatusCallbackDelivery = self.replies[key]
            return answer
        if self.callback is None:
            raise errors.FailedPrecondition(
                grpc.StatusCode.FAILED_PRECONDITION, "no status callback is registered"
            )
        delivery = npb.StatusCallbackDelivery(
            id=f"dlv_{len(self.deliveries) + 1}",
            event_id=f"evt_{about or len(self.deliveries) + 1}",
            event_type=event_type,
            create_time=_now(),
        )
        self.deliveries.append(delivery)
        self.replies[key] = delivery
        return delivery

    def GetUsage(self, request: npb.GetUsageRequest, /) -> npb.Usage:
        self.calls.append("GetUsage")
        sent = [n.channel for n in self.notifications.values()]
        return npb.Usage(
            day="2026-01-05",
            email_sent=sent.count(npb.CHANNEL_EMAIL),
            email_daily_limit=self.settings.email_daily_limit,
            sms_sent=sent.count(npb.CHANNEL_SMS),
            sms_daily_limit=self.settings.sms_daily_limit,
        )


def _fill(text: str, values: dict[str, str]) -> str:
    return _PLACEHOLDER.sub(lambda m: values.get(m[1].strip().lower(), m[0]), text)


@dataclass
class FakeNotifyAgency:
    """What ``ActingFor.connect`` hands a notify page: an agency's client."""

    notify: FakeNotifyApi = field(default_factory=FakeNotifyApi)
