"""Sending one message from a template, reading one notification, and today's
usage against the daily limits, as the team's agency at notify. Senders and
administrators send; every member reads. A send is recorded in the team's audit
trail by its notification and template, never by its recipient or
personalisation (personal data)."""

from __future__ import annotations

from gaap.notify.v1 import notify_pb2 as npb

from services.console.domain.roles import Action
from services.console.domain.staff import Staff
from services.console.service_layer.access import record
from services.console.service_layer.notify_calls import (
    Connect,
    idempotency_key,
    personalisation,
    refusals,
)
from services.console.service_layer.ports import ConsoleTransactions
from services.runtime.clock import Clock, utcnow
from services.runtime.errors import FieldViolation, InvalidArgument

# notify's request fields as the send form names them
SEND_FIELDS = {"email_address": "recipient", "phone_number": "recipient", "template_id": "template"}


class SendingMessages:
    def __init__(
        self, transactions: ConsoleTransactions, connect: Connect, clock: Clock = utcnow
    ) -> None:
        self._uow = transactions
        self._connect = connect
        self._clock = clock

    def send(
        self,
        staff: Staff,
        team_id: str,
        *,
        template_id: str,
        recipient: str,
        values: dict[str, str],
        reference: str,
        request_id: str,
    ) -> npb.Notification:
        """An email or a text message, as the template's channel says."""
        if not template_id:
            raise InvalidArgument.from_violations([FieldViolation("template", "Choose a template")])
        key = idempotency_key(staff, "send", request_id)
        with (
            self._connect(staff, team_id, Action.SEND_MESSAGES) as agency,
            refusals(SEND_FIELDS),
        ):
            template = agency.notify.GetTemplate(npb.GetTemplateRequest(template_id=template_id))
            if template.channel == npb.CHANNEL_SMS:
                sent = agency.notify.SendSms(
                    npb.SendSmsRequest(
                        template_id=template_id,
                        phone_number=recipient.strip(),
                        personalisation=personalisation(values),
                        reference=reference,
                        idempotency_key=key,
                    )
                )
            else:
                sent = agency.notify.SendEmail(
                    npb.SendEmailRequest(
                        template_id=template_id,
                        email_address=recipient.strip(),
                        personalisation=personalisation(values),
                        reference=reference,
                        idempotency_key=key,
                    )
                )
        with self._uow() as uow:
            record(
                uow,
                staff,
                team_id,
                "send_message",
                self._clock(),
                notification_id=sent.id,
                template_id=template_id,
            )
        return sent

    def notification(
        self, staff: Staff, team_id: str, notification_id: str
    ) -> tuple[npb.Notification, list[npb.NotificationEvent]]:
        """The notification and its statuses with their times, oldest first."""
        with self._connect(staff, team_id, Action.VIEW_NOTIFICATIONS) as agency, refusals():
            found = agency.notify.GetNotification(
                npb.GetNotificationRequest(notification_id=notification_id)
            )
            events = agency.notify.ListNotificationEvents(
                npb.ListNotificationEventsRequest(notification_id=notification_id)
            )
        return found, list(events.events)

    def usage(self, staff: Staff, team_id: str) -> npb.Usage:
        """Today's (UTC) sends per channel against the agency's daily limits."""
        with self._connect(staff, team_id, Action.VIEW_NOTIFICATIONS) as agency:
            return agency.notify.GetUsage(npb.GetUsageRequest())
