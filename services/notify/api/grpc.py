"""``gaap.notify.v1.NotifyService``: translates messages and calls the service layer."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

import grpc
from gaap.notify.v1 import notify_pb2 as pb
from gaap.notify.v1 import notify_pb2_grpc
from google.protobuf.message import Message

from services.notify.domain.agency_settings import AgencySettings
from services.notify.domain.bulk_sends import BulkSend
from services.notify.domain.callbacks import Callback
from services.notify.domain.notifications import Notification
from services.notify.domain.placeholders import Value
from services.notify.domain.statuses import STATUSES
from services.notify.domain.templates import Content, Rendered, Template
from services.notify.service_layer.agency_settings import AgencySettingsService
from services.notify.service_layer.bulk_sends import BulkRequest, BulkSendService
from services.notify.service_layer.callbacks import CallbackService
from services.notify.service_layer.notifications import NotificationService
from services.notify.service_layer.sending import SendingService, SendRequest
from services.notify.service_layer.templates import TemplateService
from services.runtime import idempotency
from services.runtime.context import principal
from services.runtime.errors import FieldViolation, InvalidArgument, PermissionDenied
from services.runtime.grpc_server import GrpcService
from services.runtime.idempotency import Replay
from services.runtime.interceptors.auth import AUTHENTICATED, Access
from services.runtime.pagination import PageRequest
from services.runtime.timestamps import field_datetime, stamp_into, timestamp

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["NotifyService"].full_name
SEND, TEMPLATES, READ = "notify:send", "notify:templates", "notify:read"


def _m(name: str) -> str:
    return f"/{SERVICE_NAME}/{name}"


# A method needing one of several scopes is listed with the first; the servicer
# checks the alternatives (see ``_any_scope``). Every method is here (fail closed).
POLICY: dict[str, Access] = {
    _m("CreateTemplate"): TEMPLATES,
    _m("UpdateTemplate"): TEMPLATES,
    _m("SendEmail"): SEND,
    _m("SendSms"): SEND,
    _m("CancelNotification"): SEND,
    _m("CreateBulkSend"): SEND,
    _m("CancelBulkSend"): SEND,
    _m("SetStatusCallback"): TEMPLATES,
    _m("GetStatusCallback"): TEMPLATES,
    _m("DeleteStatusCallback"): TEMPLATES,
    _m("GetAgencySettings"): TEMPLATES,
    _m("UpdateAgencySettings"): TEMPLATES,
}
# Reads: notify:read, or the scope of whoever wrote the resource.
READ_ALTERNATIVES: dict[str, tuple[str, ...]] = {
    _m("GetTemplate"): (READ, TEMPLATES),
    _m("ListTemplates"): (READ, TEMPLATES),
    _m("PreviewTemplate"): (READ, TEMPLATES),
    _m("GetNotification"): (READ, SEND),
    _m("ListNotifications"): (READ, SEND),
    _m("GetBulkSend"): (READ, SEND),
}
POLICY.update(dict.fromkeys(READ_ALTERNATIVES, AUTHENTICATED))

_CHANNELS = {"email": pb.CHANNEL_EMAIL, "sms": pb.CHANNEL_SMS}
_CHANNEL_NAMES: dict[int, str] = {v: k for k, v in _CHANNELS.items()}
_STATUSES = {name: i + 1 for i, name in enumerate(STATUSES)}
_STATUS_NAMES = {v: k for k, v in _STATUSES.items()}
M = TypeVar("M", bound=Message)
T = TypeVar("T")


def _values(personalisation: Mapping[str, pb.PersonalisationValue]) -> dict[str, Value]:
    return {
        key: (list(v.list.values) if v.WhichOneof("kind") == "list" else v.text)
        for key, v in personalisation.items()
    }


def _serialized(convert: Callable[[T], Message]) -> Callable[[T], bytes]:
    """A result's stored response: its reply message, serialized."""
    return lambda value: convert(value).SerializeToString()


def _result(value: Any, message_type: type[M], convert: Callable[[Any], M]) -> M:
    return message_type.FromString(value.response) if isinstance(value, Replay) else convert(value)


class _Reply(Generic[T, M]):
    """Builds a result's message once, for the stored response and the reply alike."""

    def __init__(self, convert: Callable[[T], M]) -> None:
        self._convert = convert
        self._built: tuple[T, M] | None = None

    def encode(self, value: T) -> bytes:
        message = self._convert(value)
        self._built = (value, message)
        return message.SerializeToString()

    def message(self, value: T | Replay, message_type: type[M]) -> M:
        if isinstance(value, Replay):
            return message_type.FromString(value.response)
        if self._built is not None and self._built[0] is value:
            return self._built[1]
        return self._convert(value)


def template_message(t: Template) -> pb.Template:
    return pb.Template(
        id=t.id,
        version=t.version,
        channel=_CHANNELS[t.channel],
        name=t.name,
        contents=[
            pb.TemplateContent(language=c.language, subject=c.subject, body=c.body)
            for c in t.contents
        ],
        create_time=timestamp(t.created_at),
        version_time=timestamp(t.version_at),
        placeholders=t.placeholders,
    )


def notification_message(n: Notification) -> pb.Notification:
    message = pb.Notification(
        id=n.id,
        channel=_CHANNELS[n.channel],
        status=_STATUSES[n.status],  # type: ignore[arg-type]
        template_id=n.template_id,
        template_version=n.template_version,
        recipient=n.recipient,
        subject=n.subject,
        body=n.body,
        reference=n.reference,
        language=n.language,
        fragment_count=n.fragments,
        bulk_send_id=n.bulk_send_id or "",
        purged=n.purged_at is not None,
        email_reply_to=n.reply_to,
    )
    stamp_into(message.create_time, n.created_at)
    stamp_into(message.scheduled_for, n.scheduled_for or n.created_at)
    stamp_into(message.sent_time, n.sent_at)
    stamp_into(message.completed_time, n.completed_at)
    return message


def bulk_message(b: BulkSend) -> pb.BulkSend:
    return pb.BulkSend(
        id=b.id,
        template_id=b.template_id,
        template_version=b.template_version,
        channel=_CHANNELS[b.channel],
        total=b.total,
        pending=b.count("created"),
        sending=b.count("sending"),
        delivered=b.count("delivered"),
        failed=b.failed,
        cancelled=b.count("cancelled"),
        create_time=timestamp(b.created_at),
        scheduled_for=timestamp(b.scheduled_for or b.created_at),
        reference=b.reference,
    )


def preview_message(channel: str, r: Rendered) -> pb.Preview:
    return pb.Preview(
        channel=_CHANNELS[channel],
        language=r.language,
        subject=r.subject,
        body=r.body,
        html=r.html,
        fragment_count=r.fragments,
        encoding=r.encoding,
    )


def settings_message(s: AgencySettings) -> pb.AgencySettings:
    return pb.AgencySettings(
        sms_default_region=s.sms_default_region,
        international_sms=s.international_sms,
        email_daily_limit=s.email_daily_limit,
        sms_daily_limit=s.sms_daily_limit,
    )


def callback_message(c: Callback) -> pb.StatusCallback:
    return pb.StatusCallback(
        url=c.url, signing_secret=c.signing_secret, create_time=timestamp(c.created_at)
    )


def _contents(items: Any) -> list[Content]:
    return [Content(c.language, c.subject, c.body) for c in items]


def _channel_filter(value: int, field: str) -> str | None:
    if value == pb.CHANNEL_UNSPECIFIED:
        return None
    if value not in _CHANNEL_NAMES:
        raise InvalidArgument.from_violations([FieldViolation(field, "unknown channel")])
    return _CHANNEL_NAMES[value]


def _any_scope(method: str) -> str:
    agency = principal()
    wanted = READ_ALTERNATIVES[_m(method)]
    if not any(agency.has_scope(s) for s in wanted):
        raise PermissionDenied(f"this call needs one of the scopes: {', '.join(wanted)}")
    return agency.client_id


class NotifyServicer(notify_pb2_grpc.NotifyServiceServicer):
    def __init__(
        self,
        templates: TemplateService,
        sending: SendingService,
        bulk_sends: BulkSendService,
        notifications: NotificationService,
        callbacks: CallbackService,
        settings: AgencySettingsService,
    ) -> None:
        self._templates = templates
        self._sending = sending
        self._bulk_sends = bulk_sends
        self._notifications = notifications
        self._callbacks = callbacks
        self._settings = settings

    # -- templates ----------------------------------------------------------------------

    def CreateTemplate(
        self, request: pb.CreateTemplateRequest, _: grpc.ServicerContext
    ) -> pb.Template:
        tenant = principal().client_id
        call = idempotency.keyed("CreateTemplate", request, tenant)
        encode = _serialized(template_message)
        channel = _CHANNEL_NAMES.get(request.channel, "")
        result = self._templates.create(
            tenant, channel, request.name, _contents(request.contents), call, encode
        )
        return _result(result, pb.Template, template_message)

    def UpdateTemplate(
        self, request: pb.UpdateTemplateRequest, _: grpc.ServicerContext
    ) -> pb.Template:
        tenant = principal().client_id
        call = idempotency.keyed("UpdateTemplate", request, tenant)
        encode = _serialized(template_message)
        result = self._templates.update(
            tenant, request.template_id, request.name, _contents(request.contents), call, encode
        )
        return _result(result, pb.Template, template_message)

    def GetTemplate(self, request: pb.GetTemplateRequest, _: grpc.ServicerContext) -> pb.Template:
        tenant = _any_scope("GetTemplate")
        return template_message(self._templates.get(tenant, request.template_id, request.version))

    def ListTemplates(
        self, request: pb.ListTemplatesRequest, _: grpc.ServicerContext
    ) -> pb.ListTemplatesResponse:
        tenant = _any_scope("ListTemplates")
        page = self._templates.list(
            tenant,
            PageRequest.parse(request.page_size, request.page_token),
            _channel_filter(request.channel, "channel"),
        )
        return pb.ListTemplatesResponse(
            templates=[template_message(t) for t in page.items],
            next_page_token=page.next_page_token,
        )

    def PreviewTemplate(
        self, request: pb.PreviewTemplateRequest, _: grpc.ServicerContext
    ) -> pb.Preview:
        tenant = _any_scope("PreviewTemplate")
        template = self._templates.get(tenant, request.template_id, request.version)
        rendered = self._templates.preview(
            tenant,
            request.template_id,
            template.version,
            _values(request.personalisation),
            request.language,
        )
        return preview_message(template.channel, rendered)

    # -- sending ------------------------------------------------------------------------

    def SendEmail(self, request: pb.SendEmailRequest, _: grpc.ServicerContext) -> pb.Notification:
        return self._send(
            request,
            "SendEmail",
            SendRequest(
                "email",
                request.template_id,
                request.email_address,
                _values(request.personalisation),
                request.reference,
                field_datetime(request, "scheduled_for"),
                request.email_reply_to,
                request.language,
            ),
        )

    def SendSms(self, request: pb.SendSmsRequest, _: grpc.ServicerContext) -> pb.Notification:
        return self._send(
            request,
            "SendSms",
            SendRequest(
                "sms",
                request.template_id,
                request.phone_number,
                _values(request.personalisation),
                request.reference,
                field_datetime(request, "scheduled_for"),
                "",
                request.language,
            ),
        )

    def _send(self, request: Any, method: str, send: SendRequest) -> pb.Notification:
        agency = principal()
        reply = _Reply(notification_message)
        call = idempotency.keyed(method, request, agency.client_id)
        return reply.message(self._sending.send(agency, send, call, reply.encode), pb.Notification)

    def GetNotification(
        self, request: pb.GetNotificationRequest, _: grpc.ServicerContext
    ) -> pb.Notification:
        tenant = _any_scope("GetNotification")
        return notification_message(self._notifications.get(tenant, request.notification_id))

    def ListNotifications(
        self, request: pb.ListNotificationsRequest, _: grpc.ServicerContext
    ) -> pb.ListNotificationsResponse:
        tenant = _any_scope("ListNotifications")
        if request.status and request.status not in _STATUS_NAMES:
            raise InvalidArgument.from_violations([FieldViolation("status", "unknown status")])
        page = self._notifications.list(
            tenant,
            PageRequest.parse(request.page_size, request.page_token),
            status=_STATUS_NAMES.get(request.status),
            channel=_channel_filter(request.channel, "channel"),
            template_id=request.template_id or None,
            reference=request.reference or None,
            bulk_send_id=request.bulk_send_id or None,
            created_after=field_datetime(request, "created_after"),
            created_before=field_datetime(request, "created_before"),
        )
        return pb.ListNotificationsResponse(
            notifications=[notification_message(n) for n in page.items],
            next_page_token=page.next_page_token,
        )

    def CancelNotification(
        self, request: pb.CancelNotificationRequest, _: grpc.ServicerContext
    ) -> pb.Notification:
        tenant = principal().client_id
        call = idempotency.keyed("CancelNotification", request, tenant)
        encode = _serialized(notification_message)
        return _result(
            self._notifications.cancel(tenant, request.notification_id, call, encode),
            pb.Notification,
            notification_message,
        )

    def CreateBulkSend(
        self, request: pb.CreateBulkSendRequest, _: grpc.ServicerContext
    ) -> pb.BulkSend:
        agency = principal()
        call = idempotency.keyed("CreateBulkSend", request, agency.client_id)
        encode = _serialized(bulk_message)
        bulk = BulkRequest(
            request.template_id,
            request.csv,
            [(r.recipient, _values(r.personalisation), r.reference) for r in request.rows],
            request.reference,
            field_datetime(request, "scheduled_for"),
            request.email_reply_to,
            request.language,
        )
        return _result(
            self._bulk_sends.send_bulk(agency, bulk, call, encode), pb.BulkSend, bulk_message
        )

    def GetBulkSend(self, request: pb.GetBulkSendRequest, _: grpc.ServicerContext) -> pb.BulkSend:
        tenant = _any_scope("GetBulkSend")
        return bulk_message(self._bulk_sends.get_bulk(tenant, request.bulk_send_id))

    def CancelBulkSend(
        self, request: pb.CancelBulkSendRequest, _: grpc.ServicerContext
    ) -> pb.BulkSend:
        tenant = principal().client_id
        call = idempotency.keyed("CancelBulkSend", request, tenant)
        encode = _serialized(bulk_message)
        return _result(
            self._bulk_sends.cancel_bulk(tenant, request.bulk_send_id, call, encode),
            pb.BulkSend,
            bulk_message,
        )

    # -- callbacks and settings -----------------------------------------------------------

    def SetStatusCallback(
        self, request: pb.SetStatusCallbackRequest, _: grpc.ServicerContext
    ) -> pb.StatusCallback:
        tenant = principal().client_id
        call = idempotency.keyed("SetStatusCallback", request, tenant)
        encode = _serialized(callback_message)
        return _result(
            self._callbacks.set(tenant, request.url, call, encode),
            pb.StatusCallback,
            callback_message,
        )

    def GetStatusCallback(
        self, request: pb.GetStatusCallbackRequest, _: grpc.ServicerContext
    ) -> pb.StatusCallback:
        return callback_message(self._callbacks.get(principal().client_id))

    def DeleteStatusCallback(
        self, request: pb.DeleteStatusCallbackRequest, _: grpc.ServicerContext
    ) -> pb.DeleteStatusCallbackResponse:
        tenant = principal().client_id
        call = idempotency.keyed("DeleteStatusCallback", request, tenant)
        self._callbacks.delete(tenant, call, lambda _: b"")
        return pb.DeleteStatusCallbackResponse()

    def GetAgencySettings(
        self, request: pb.GetAgencySettingsRequest, _: grpc.ServicerContext
    ) -> pb.AgencySettings:
        return settings_message(self._settings.get(principal().client_id))

    def UpdateAgencySettings(
        self, request: pb.UpdateAgencySettingsRequest, _: grpc.ServicerContext
    ) -> pb.AgencySettings:
        tenant = principal().client_id
        call = idempotency.keyed("UpdateAgencySettings", request, tenant)
        encode = _serialized(settings_message)
        result = self._settings.update(
            tenant, request.sms_default_region, request.international_sms, call, encode
        )
        return _result(result, pb.AgencySettings, settings_message)


def notify_service(servicer: NotifyServicer) -> GrpcService:
    return GrpcService(
        SERVICE_NAME,
        lambda server: notify_pb2_grpc.add_NotifyServiceServicer_to_server(servicer, server),
    )
