"""The dashboard's use case on fakes: the week's figures from the services'
aggregate calls, placed on the right day, what needs attention, and who may see it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import pytest
from gaap.notify.v1 import notify_pb2 as npb
from gaap.payments.v1 import payments_pb2 as pb
from google.protobuf.timestamp_pb2 import Timestamp

from services.console.domain.roles import Role
from services.console.domain.teams import Member
from services.console.service_layer.acting_for import ActingFor
from services.console.service_layer.dashboard import Dashboard, week
from services.runtime.errors import NotFound, PermissionDenied
from tests.fakes.console_acting import FakeAgencyCalls
from tests.unit.console.support import Console, staff

NOW = datetime(2026, 3, 8, 10, 0, tzinfo=UTC)


def stamp(at: datetime) -> Timestamp:
    found = Timestamp()
    found.FromDatetime(at)
    return found


@dataclass
class FakePayments:
    days: list[pb.PaymentDayStats] = field(default_factory=list)
    deliveries: list[pb.WebhookDelivery] = field(default_factory=list)
    asked: list[pb.GetPaymentStatsRequest] = field(default_factory=list)

    def GetPaymentStats(self, request: pb.GetPaymentStatsRequest, /) -> pb.PaymentStats:
        self.asked.append(request)
        return pb.PaymentStats(days=self.days)

    def ListWebhookSubscriptions(
        self, request: pb.ListWebhookSubscriptionsRequest, /
    ) -> pb.ListWebhookSubscriptionsResponse:
        return pb.ListWebhookSubscriptionsResponse(
            subscriptions=[pb.WebhookSubscription(id="sub_1")]
        )

    def ListWebhookDeliveries(
        self, request: pb.ListWebhookDeliveriesRequest, /
    ) -> pb.ListWebhookDeliveriesResponse:
        assert request.subscription_id == "sub_1"
        return pb.ListWebhookDeliveriesResponse(deliveries=self.deliveries)


@dataclass
class FakeNotify:
    days: list[npb.NotificationDayStats] = field(default_factory=list)
    notifications: list[npb.Notification] = field(default_factory=list)

    def GetNotificationStats(
        self, request: npb.GetNotificationStatsRequest, /
    ) -> npb.NotificationStats:
        return npb.NotificationStats(days=self.days)

    def ListNotifications(
        self, request: npb.ListNotificationsRequest, /
    ) -> npb.ListNotificationsResponse:
        return npb.ListNotificationsResponse(
            notifications=[n for n in self.notifications if n.status == request.status]
        )


@dataclass
class FakeAgency:
    payments: FakePayments = field(default_factory=FakePayments)
    notify: FakeNotify = field(default_factory=FakeNotify)


def team() -> tuple[Console, str, FakeAgencyCalls[FakeAgency], Dashboard]:
    console = Console()
    signed_up = console.teams.sign_up(staff("ada"), "Parks Agency", "req-1").team
    viewer = staff("vic")
    console.work.members.add(
        Member(signed_up.id, viewer.subject, viewer.email, Role.VIEWER, False, console.clock())
    )
    calls = FakeAgencyCalls({signed_up.agency_id: FakeAgency()})
    dashboard = Dashboard(ActingFor(console.uow, calls).connect, lambda: NOW)
    return console, signed_up.id, calls, dashboard


def test_the_week_is_the_last_seven_utc_days_today_included() -> None:
    start, end, days = week(NOW)
    assert (start, end) == (datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 9, tzinfo=UTC))
    assert days[0] == date(2026, 3, 2)
    assert days[-1] == date(2026, 3, 8)
    assert len(days) == 7


def test_a_viewer_sees_the_weeks_figures_on_their_days() -> None:
    _, team_id, calls, dashboard = team()
    agency = next(iter(calls.clients.values()))
    agency.payments.days = [
        pb.PaymentDayStats(
            date="2026-03-02", currency="GBP", captured_count=2, captured_amount=3000
        ),
        pb.PaymentDayStats(
            date="2026-03-08",
            currency="GBP",
            captured_count=1,
            captured_amount=500,
            refunded_count=1,
            refunded_amount=200,
        ),
        pb.PaymentDayStats(date="2026-03-08", currency="EUR", captured_count=4, captured_amount=40),
    ]
    agency.notify.days = [
        npb.NotificationDayStats(
            date="2026-03-05", channel=npb.CHANNEL_EMAIL, status=npb.STATUS_DELIVERED, count=9
        ),
        npb.NotificationDayStats(
            date="2026-03-05", channel=npb.CHANNEL_SMS, status=npb.STATUS_DELIVERED, count=2
        ),
        npb.NotificationDayStats(
            date="2026-03-05",
            channel=npb.CHANNEL_EMAIL,
            status=npb.STATUS_PERMANENT_FAILURE,
            count=1,
        ),
        npb.NotificationDayStats(
            date="2026-03-05",
            channel=npb.CHANNEL_EMAIL,
            status=npb.STATUS_TECHNICAL_FAILURE,
            count=2,
        ),
        npb.NotificationDayStats(
            date="2026-03-05", channel=npb.CHANNEL_EMAIL, status=npb.STATUS_SENDING, count=5
        ),
    ]
    overview = dashboard.overview(staff("vic"), team_id)
    assert overview.days[0].day == date(2026, 3, 2)
    assert [(d.taken, d.refunded) for d in overview.days] == [
        (2, 0),
        (0, 0),
        (0, 0),
        (0, 0),
        (0, 0),
        (0, 0),
        (5, 1),
    ]
    assert [(m.currency, m.taken_amount) for m in overview.days[-1].money] == [
        ("GBP", 500),
        ("EUR", 40),
    ]
    thursday = overview.days[3]
    assert (thursday.delivered, thursday.failed) == ({"email": 9, "sms": 2}, {"email": 3})
    asked = agency.payments.asked[-1]
    assert asked.start_time.ToDatetime(UTC) == datetime(2026, 3, 2, tzinfo=UTC)
    assert asked.end_time.ToDatetime(UTC) == datetime(2026, 3, 9, tzinfo=UTC)
    scopes = {s for _, asked_scopes in calls.connected for s in asked_scopes}
    assert scopes == {"payments:read", "notify:read"}


def test_what_needs_attention_is_the_weeks_failures_newest_first() -> None:
    _, team_id, calls, dashboard = team()
    agency = next(iter(calls.clients.values()))
    agency.payments.deliveries = [
        pb.WebhookDelivery(
            id="dlv_old",
            event_type="payment.succeeded",
            state=pb.WEBHOOK_DELIVERY_STATE_FAILED,
            create_time=stamp(datetime(2026, 2, 1, tzinfo=UTC)),
        ),
        pb.WebhookDelivery(
            id="dlv_ok",
            state=pb.WEBHOOK_DELIVERY_STATE_SUCCEEDED,
            create_time=stamp(NOW),
        ),
        pb.WebhookDelivery(
            id="dlv_failed",
            event_type="payment.refunded",
            state=pb.WEBHOOK_DELIVERY_STATE_FAILED,
            create_time=stamp(NOW),
        ),
    ]
    agency.notify.notifications = [
        npb.Notification(
            id="ntf_1",
            channel=npb.CHANNEL_SMS,
            status=npb.STATUS_PERMANENT_FAILURE,
            create_time=stamp(datetime(2026, 3, 3, tzinfo=UTC)),
        ),
        npb.Notification(
            id="ntf_2",
            channel=npb.CHANNEL_EMAIL,
            status=npb.STATUS_TECHNICAL_FAILURE,
            create_time=stamp(datetime(2026, 3, 7, tzinfo=UTC)),
        ),
        npb.Notification(id="ntf_3", status=npb.STATUS_DELIVERED, create_time=stamp(NOW)),
    ]
    overview = dashboard.overview(staff("ada"), team_id)
    assert [(d.delivery_id, d.subscription_id) for d in overview.failed_deliveries] == [
        ("dlv_failed", "sub_1")
    ]
    assert [(n.notification_id, n.channel) for n in overview.failed_notifications] == [
        ("ntf_2", "email"),
        ("ntf_1", "sms"),
    ]


def test_someone_outside_the_team_sees_nothing_and_no_service_is_called() -> None:
    _, team_id, calls, dashboard = team()
    with pytest.raises(NotFound):
        dashboard.overview(staff("eve"), team_id)
    assert calls.connected == []


def test_an_operator_who_is_not_a_member_may_not_read_the_agencys_payments() -> None:
    # Operators read a team's page and audit trail only (access.OPERATOR_ACTIONS).
    _, team_id, calls, dashboard = team()
    with pytest.raises(PermissionDenied):
        dashboard.overview(staff("op", operator=True), team_id)
    assert calls.connected == []
