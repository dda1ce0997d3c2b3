"""The team's dashboard: the last 7 UTC days at a glance (payments taken and
refunded, notifications delivered and failed) and what needs attention (failed
webhook deliveries, failed notifications), read as the team's agency.

Every figure comes from the services' aggregate calls (payments'
GetPaymentStats, notify's GetNotificationStats: one GROUP BY each), so the page
costs the same for an agency with 100,000 payments as for one with ten; the
lists of failures are bounded pages, never a walk through everything. A
service's refusal is a GaapError, which the pages answer with 503.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Protocol

from gaap.notify.v1 import notify_pb2 as npb
from gaap.payments.v1 import payments_pb2 as pb
from google.protobuf.timestamp_pb2 import Timestamp

from services.console.domain.roles import Action
from services.console.domain.staff import Staff
from services.runtime.clock import Clock, utcnow

DAYS = 7
# How much of each failure list the page shows, and how far it looks for them.
ATTENTION_LIMIT = 10
SUBSCRIPTIONS_LOOKED_AT = 20
DELIVERIES_PER_SUBSCRIPTION = 50
FAILED_NOTIFICATION = (
    npb.STATUS_PERMANENT_FAILURE,
    npb.STATUS_TEMPORARY_FAILURE,
    npb.STATUS_TECHNICAL_FAILURE,
)


class DashboardPayments(Protocol):
    def GetPaymentStats(self, request: pb.GetPaymentStatsRequest, /) -> pb.PaymentStats: ...
    def ListWebhookSubscriptions(
        self, request: pb.ListWebhookSubscriptionsRequest, /
    ) -> pb.ListWebhookSubscriptionsResponse: ...
    def ListWebhookDeliveries(
        self, request: pb.ListWebhookDeliveriesRequest, /
    ) -> pb.ListWebhookDeliveriesResponse: ...


class DashboardNotify(Protocol):
    def GetNotificationStats(
        self, request: npb.GetNotificationStatsRequest, /
    ) -> npb.NotificationStats: ...
    def ListNotifications(
        self, request: npb.ListNotificationsRequest, /
    ) -> npb.ListNotificationsResponse: ...


class DashboardAgency(Protocol):
    @property
    def payments(self) -> DashboardPayments: ...
    @property
    def notify(self) -> DashboardNotify: ...


Connect = Callable[[Staff, str, Action], AbstractContextManager[DashboardAgency]]


@dataclass(frozen=True)
class Money:
    """One day's captures and refunds in one currency (amounts in minor units)."""

    currency: str
    taken_count: int = 0
    taken_amount: int = 0
    refunded_count: int = 0
    refunded_amount: int = 0


@dataclass
class Day:
    day: date
    money: list[Money] = field(default_factory=list)
    delivered: dict[str, int] = field(default_factory=dict)  # per channel
    failed: dict[str, int] = field(default_factory=dict)  # per channel

    @property
    def taken(self) -> int:
        return sum(m.taken_count for m in self.money)

    @property
    def refunded(self) -> int:
        return sum(m.refunded_count for m in self.money)

    @property
    def delivered_total(self) -> int:
        return sum(self.delivered.values())

    @property
    def failed_total(self) -> int:
        return sum(self.failed.values())


@dataclass(frozen=True)
class FailedDelivery:
    subscription_id: str
    delivery_id: str
    event_type: str
    at: datetime


@dataclass(frozen=True)
class FailedNotification:
    notification_id: str
    channel: str
    status: int  # notify's Status value
    at: datetime


@dataclass(frozen=True)
class Overview:
    days: list[Day]
    failed_deliveries: list[FailedDelivery]
    failed_notifications: list[FailedNotification]


CHANNEL_NAMES = {npb.CHANNEL_EMAIL: "email", npb.CHANNEL_SMS: "sms"}


def week(now: datetime) -> tuple[datetime, datetime, list[date]]:
    """The last ``DAYS`` UTC days, today included: the range and its days."""
    today = now.astimezone(UTC).date()
    first = today - timedelta(days=DAYS - 1)
    start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    return start, start + timedelta(days=DAYS), [first + timedelta(days=n) for n in range(DAYS)]


def _stamp(at: datetime) -> Timestamp:
    found = Timestamp()
    found.FromDatetime(at)
    return found


class Dashboard:
    def __init__(self, connect: Connect, clock: Clock = utcnow) -> None:
        self._connect = connect
        self._clock = clock

    def overview(self, staff: Staff, team_id: str) -> Overview:
        """Every member may see it (reading payments and notifications)."""
        start, end, dates = week(self._clock())
        days = {d: Day(d) for d in dates}
        with self._connect(staff, team_id, Action.VIEW_PAYMENTS) as agency:
            stats = agency.payments.GetPaymentStats(
                pb.GetPaymentStatsRequest(start_time=_stamp(start), end_time=_stamp(end))
            )
            deliveries = self._failed_deliveries(agency.payments, start)
        for s in stats.days:
            found = days.get(date.fromisoformat(s.date))
            if found is not None:
                found.money.append(
                    Money(
                        s.currency,
                        s.captured_count,
                        s.captured_amount,
                        s.refunded_count,
                        s.refunded_amount,
                    )
                )
        with self._connect(staff, team_id, Action.VIEW_NOTIFICATIONS) as agency:
            counts = agency.notify.GetNotificationStats(
                npb.GetNotificationStatsRequest(start_time=_stamp(start), end_time=_stamp(end))
            )
            failed = [
                n
                for status in FAILED_NOTIFICATION
                for n in agency.notify.ListNotifications(
                    npb.ListNotificationsRequest(
                        page_size=ATTENTION_LIMIT, status=status, created_after=_stamp(start)
                    )
                ).notifications
            ]
        for c in counts.days:
            found = days.get(date.fromisoformat(c.date))
            channel = CHANNEL_NAMES.get(c.channel, "")
            if found is None or not channel:
                continue
            if c.status == npb.STATUS_DELIVERED:
                found.delivered[channel] = found.delivered.get(channel, 0) + c.count
            elif c.status in FAILED_NOTIFICATION:
                found.failed[channel] = found.failed.get(channel, 0) + c.count
        notifications = sorted(
            (
                FailedNotification(
                    n.id,
                    CHANNEL_NAMES.get(n.channel, ""),
                    int(n.status),
                    n.create_time.ToDatetime(UTC),
                )
                for n in failed
            ),
            key=lambda n: n.at,
            reverse=True,
        )[:ATTENTION_LIMIT]
        return Overview([days[d] for d in dates], deliveries, notifications)

    @staticmethod
    def _failed_deliveries(payments: DashboardPayments, since: datetime) -> list[FailedDelivery]:
        """The newest failed deliveries since ``since``, from the first page of
        each of the first subscriptions: a bounded number of calls."""
        subscriptions = payments.ListWebhookSubscriptions(
            pb.ListWebhookSubscriptionsRequest(page_size=SUBSCRIPTIONS_LOOKED_AT)
        )
        found: list[FailedDelivery] = []
        for subscription in subscriptions.subscriptions:
            listed = payments.ListWebhookDeliveries(
                pb.ListWebhookDeliveriesRequest(
                    subscription_id=subscription.id, page_size=DELIVERIES_PER_SUBSCRIPTION
                )
            )
            found += [
                FailedDelivery(subscription.id, d.id, d.event_type, d.create_time.ToDatetime(UTC))
                for d in listed.deliveries
                if d.state == pb.WEBHOOK_DELIVERY_STATE_FAILED
                and d.create_time.ToDatetime(UTC) >= since
            ]
        return sorted(found, key=lambda d: d.at, reverse=True)[:ATTENTION_LIMIT]
