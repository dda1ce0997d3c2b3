"""The team's notify status callback (the URL notify POSTs delivery statuses
to), for developers and administrators: see it, set or replace it (its signing
secret is shown once), delete it, send a test, and redeliver a notification's
callback. Every change is recorded in the team's audit trail (never the secret)."""

from __future__ import annotations

from urllib.parse import urlsplit

from gaap.notify.v1 import notify_pb2 as npb

from gaap_client import errors as client_errors
from services.console.domain.roles import Action
from services.console.domain.staff import Staff
from services.console.service_layer.access import record
from services.console.service_layer.notify_calls import Connect, idempotency_key, refusals
from services.console.service_layer.ports import ConsoleTransactions
from services.runtime.clock import Clock, utcnow
from services.runtime.errors import FieldViolation, InvalidArgument


class StatusCallbacks:
    def __init__(
        self, transactions: ConsoleTransactions, connect: Connect, clock: Clock = utcnow
    ) -> None:
        self._uow = transactions
        self._connect = connect
        self._clock = clock

    def current(self, staff: Staff, team_id: str) -> npb.StatusCallback | None:
        """The registered callback (its URL and when), ``None`` if there is none."""
        with self._connect(staff, team_id, Action.MANAGE_WEBHOOKS) as agency:
            try:
                return agency.notify.GetStatusCallback(npb.GetStatusCallbackRequest())
            except client_errors.NotFound:
                return None

    def set(self, staff: Staff, team_id: str, url: str, request_id: str) -> npb.StatusCallback:
        """Register ``url``; the answer carries the signing secret, shown once."""
        request = npb.SetStatusCallbackRequest(
            url=url.strip(), idempotency_key=idempotency_key(staff, "callback", request_id)
        )
        with (
            self._connect(staff, team_id, Action.MANAGE_WEBHOOKS) as agency,
            refusals({"url": "url"}),
        ):
            registered = agency.notify.SetStatusCallback(request)
        # the host only: a callback URL may carry a token in its path or query
        self._record(staff, team_id, "set_status_callback", host=urlsplit(registered.url).netloc)
        return registered

    def delete(self, staff: Staff, team_id: str, request_id: str) -> None:
        request = npb.DeleteStatusCallbackRequest(
            idempotency_key=idempotency_key(staff, "callback-delete", request_id)
        )
        with self._connect(staff, team_id, Action.MANAGE_WEBHOOKS) as agency, refusals():
            agency.notify.DeleteStatusCallback(request)
        self._record(staff, team_id, "delete_status_callback")

    def send_test(self, staff: Staff, team_id: str, request_id: str) -> npb.StatusCallbackDelivery:
        request = npb.SendTestStatusCallbackRequest(
            idempotency_key=idempotency_key(staff, "callback-test", request_id)
        )
        with self._connect(staff, team_id, Action.MANAGE_WEBHOOKS) as agency, refusals():
            delivery = agency.notify.SendTestStatusCallback(request)
        self._record(staff, team_id, "test_status_callback", delivery_id=delivery.id)
        return delivery

    def redeliver(
        self, staff: Staff, team_id: str, notification_id: str, request_id: str
    ) -> npb.StatusCallbackDelivery:
        request = npb.RedeliverStatusCallbackRequest(
            notification_id=notification_id.strip(),
            idempotency_key=idempotency_key(staff, "callback-redeliver", request_id),
        )
        with self._connect(staff, team_id, Action.MANAGE_WEBHOOKS) as agency, refusals():
            try:
                delivery = agency.notify.RedeliverStatusCallback(request)
            except (client_errors.NotFound, client_errors.InvalidArgument):
                raise InvalidArgument.from_violations(
                    [FieldViolation("notification_id", "Enter the id of one of your notifications")]
                ) from None
        self._record(
            staff,
            team_id,
            "redeliver_status_callback",
            notification_id=notification_id.strip(),
            delivery_id=delivery.id,
        )
        return delivery

    def _record(self, staff: Staff, team_id: str, action: str, **details: str) -> None:
        with self._uow() as uow:
            record(uow, staff, team_id, action, self._clock(), **details)
