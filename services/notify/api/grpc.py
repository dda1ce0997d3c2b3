"""``gaap.notify.v1.NotifyService``: translates messages and calls the service layer."""

from __future__ import annotations

from typing import Any

import grpc
from gaap.notify.v1 import notify_pb2 as pb
from gaap.notify.v1 import notify_pb2_grpc

from services.notify.api.messages import (
    CHANNEL_NAMES,
    CHANNELS,
    STATUS_CODES,
    STATUS_NAMES,
    Reply,
    bulk_message,
    callback_delivery_message,
    callback_message,
    channel_filter,
    event_message,
    notification_message,
    personalisation_values,
    preview_message,
    result_message,
    serialized,
    settings_message,
    template_contents,
    template_message,
    usage_message,
)
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
from services.runtime.interceptors.auth import AUTHENTICATED, Access
from services.runtime.pagination import PageRequest
from services.runtime.timestamps import field_datetime

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
    _m("SendTestStatusCallback"): TEMPLATES,
    _m("RedeliverStatusCallback"): TEMPLATES,
    _m("GetAgencySettings"): TEMPLATES,
    _m("UpdateAgencySettings"): TEMPLATES,
}
# Reads: notify:read, or the scope of whoever wrote the resource.
READ_ALTERNATIVES: dict[str, tuple[str, ...]] = {
    _m("GetTemplate"): (READ, TEMPLATES),
    _m("ListTemplateVersions"): (READ, TEMPLATES),
    _m("ListTemplates"): (READ, TEMPLATES),
    _m("PreviewTemplate"): (READ, TEMPLATES),
    _m("GetNotification"): (READ, SEND),
    _m("ListNotificationEvents"): (READ, SEND),
    _m("ListNotifications"): (READ, SEND),
    _m("GetBulkSend"): (READ, SEND),
    # usage concerns whoever sends or manages the agency's messages
    _m("GetUsage"): (READ, SEND, TEMPLATES),
    _m("GetNotificationStats"): (READ, SEND),
}
POLICY.update(dict.fromkeys(READ_ALTERNATIVES, AUTHENTICATED))


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
        encode = serialized(template_message)
        channel = CHANNEL_NAMES.get(request.channel, "")
        result = self._templates.create(
            tenant,
            channel,
            request.name,
            template_contents(request.contents),
            call,
            encode,
            changed_by=request.changed_by,
            actor=principal().actor or "",
        )
        return result_message(result, pb.Template, template_message)

    def UpdateTemplate(
        self, request: pb.UpdateTemplateRequest, _: grpc.ServicerContext
    ) -> pb.Template:
        tenant = principal().client_id
        call = idempotency.keyed("UpdateTemplate", request, tenant)
        encode = serialized(template_message)
        result = self._templates.update(
            tenant,
            request.template_id,
            request.name,
            template_contents(request.contents),
            call,
            encode,
            changed_by=request.changed_by,
            actor=principal().actor or "",
        )
        return result_message(result, pb.Template, template_message)

    def ListTemplateVersions(
        self, request: pb.ListTemplateVersionsRequest, _: grpc.ServicerContext
    ) -> pb.ListTemplateVersionsResponse:
        tenant = _any_scope("ListTemplateVersions")
        page = self._templates.versions(
            tenant, request.template_id, PageRequest.parse(request.page_size, request.page_token)
        )
        return pb.ListTemplateVersionsResponse(
            versions=[template_message(t) for t in page.items],
            next_page_token=page.next_page_token,
        )

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
            channel_filter(request.channel, "channel"),
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
            personalisation_values(request.personalisation),
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
                personalisation_values(request.personalisation),
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
                personalisation_values(request.personalisation),
                request.reference,
                field_datetime(request, "scheduled_for"),
                "",
                request.language,
            ),
        )

    def _send(self, request: Any, method: str, send: SendRequest) -> pb.Notification:
        agency = principal()
        reply = Reply(notification_message)
        call = idempotency.keyed(method, request, agency.client_id)
        return reply.message(self._sending.send(agency, send, call, reply.encode), pb.Notification)

    def GetNotification(
        self, request: pb.GetNotificationRequest, _: grpc.ServicerContext
    ) -> pb.Notification:
        tenant = _any_scope("GetNotification")
        return notification_message(self._notifications.get(tenant, request.notification_id))

    def ListNotificationEvents(
        self, request: pb.ListNotificationEventsRequest, _: grpc.ServicerContext
    ) -> pb.ListNotificationEventsResponse:
        tenant = _any_scope("ListNotificationEvents")
        return pb.ListNotificationEventsResponse(
            events=[
                event_message(status, at)
                for status, at in self._notifications.history(tenant, request.notification_id)
            ]
        )

    def ListNotifications(
        self, request: pb.ListNotificationsRequest, _: grpc.ServicerContext
    ) -> pb.ListNotificationsResponse:
        tenant = _any_scope("ListNotifications")
        if request.status and request.status not in STATUS_NAMES:
            raise InvalidArgument.from_violations([FieldViolation("status", "unknown status")])
        page = self._notifications.list(
            tenant,
            PageRequest.parse(request.page_size, request.page_token),
            status=STATUS_NAMES.get(request.status),
            channel=channel_filter(request.channel, "channel"),
            template_id=request.template_id or None,
            reference=request.reference or None,
            bulk_send_id=request.bulk_send_id or None,
            created_after=field_datetime(request, "created_after"),
            created_before=field_datetime(request, "created_before"),
            recipient=request.recipient.strip() or None,
        )
        return pb.ListNotificationsResponse(
            notifications=[notification_message(n) for n in page.items],
            next_page_token=page.next_page_token,
        )

    def GetNotificationStats(
        self, request: pb.GetNotificationStatsRequest, _: grpc.ServicerContext
    ) -> pb.NotificationStats:
        tenant = _any_scope("GetNotificationStats")
        start, end = field_datetime(request, "start_time"), field_datetime(request, "end_time")
        if start is None or end is None:
            raise InvalidArgument.from_violations(
                [
                    FieldViolation(name, "required")
                    for name, value in (("start_time", start), ("end_time", end))
                    if value is None
                ]
            )
        counts = self._notifications.day_counts(tenant, start, end)
        return pb.NotificationStats(
            days=[
                pb.NotificationDayStats(
                    date=day.isoformat(),
                    channel=CHANNELS[channel],
                    status=STATUS_CODES[status],  # type: ignore[arg-type]
                    count=count,
                )
                for (day, channel, status), count in sorted(counts.items())
            ]
        )

    def CancelNotification(
        self, request: pb.CancelNotificationRequest, _: grpc.ServicerContext
    ) -> pb.Notification:
        tenant = principal().client_id
        call = idempotency.keyed("CancelNotification", request, tenant)
        encode = serialized(notification_message)
        return result_message(
            self._notifications.cancel(tenant, request.notification_id, call, encode),
            pb.Notification,
            notification_message,
        )

    def CreateBulkSend(
        self, request: pb.CreateBulkSendRequest, _: grpc.ServicerContext
    ) -> pb.BulkSend:
        agency = principal()
        call = idempotency.keyed("CreateBulkSend", request, agency.client_id)
        encode = serialized(bulk_message)
        bulk = BulkRequest(
            request.template_id,
            request.csv,
            [
                (r.recipient, personalisation_values(r.personalisation), r.reference)
                for r in request.rows
            ],
            request.reference,
            field_datetime(request, "scheduled_for"),
            request.email_reply_to,
            request.language,
            request.validate_only,
        )
        return result_message(
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
        encode = serialized(bulk_message)
        return result_message(
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
        return callback_message(self._callbacks.set(tenant, request.url, call))

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

    def SendTestStatusCallback(
        self, request: pb.SendTestStatusCallbackRequest, _: grpc.ServicerContext
    ) -> pb.StatusCallbackDelivery:
        tenant = principal().client_id
        call = idempotency.keyed("SendTestStatusCallback", request, tenant)
        encode = serialized(callback_delivery_message)
        return result_message(
            self._callbacks.send_test(tenant, call, encode),
            pb.StatusCallbackDelivery,
            callback_delivery_message,
        )

    def RedeliverStatusCallback(
        self, request: pb.RedeliverStatusCallbackRequest, _: grpc.ServicerContext
    ) -> pb.StatusCallbackDelivery:
        tenant = principal().client_id
        call = idempotency.keyed("RedeliverStatusCallback", request, tenant)
        encode = serialized(callback_delivery_message)
        return result_message(
            self._callbacks.redeliver(tenant, request.notification_id, call, encode),
            pb.StatusCallbackDelivery,
            callback_delivery_message,
        )

    def GetAgencySettings(
        self, request: pb.GetAgencySettingsRequest, _: grpc.ServicerContext
    ) -> pb.AgencySettings:
        return settings_message(self._settings.get(principal().client_id))

    def GetUsage(self, request: pb.GetUsageRequest, _: grpc.ServicerContext) -> pb.Usage:
        return usage_message(self._settings.usage(_any_scope("GetUsage")))

    def UpdateAgencySettings(
        self, request: pb.UpdateAgencySettingsRequest, _: grpc.ServicerContext
    ) -> pb.AgencySettings:
        tenant = principal().client_id
        call = idempotency.keyed("UpdateAgencySettings", request, tenant)
        encode = serialized(settings_message)
        result = self._settings.update(
            tenant, request.sms_default_region, request.international_sms, call, encode
        )
        return result_message(result, pb.AgencySettings, settings_message)


def notify_service(servicer: NotifyServicer) -> GrpcService:
    return GrpcService(
        SERVICE_NAME,
        lambda server: notify_pb2_grpc.add_NotifyServiceServicer_to_server(servicer, server),
    )
