"""The citizen's journey through the demo app, over the platform's public APIs:
sign in (identity), apply and pay (payments), be told (notify).

The app trusts neither the browser's return from the payment page nor a webhook's
body alone: a signed webhook makes it read the payment from payments, and only a
payment payments says is SUCCESS confirms the application.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from babel import numbers
from gaap.notify.v1 import notify_pb2 as npb
from gaap.payments.v1 import payments_pb2 as ppb

from gaap_client import GaapClient, OpenIdClient, PendingSignIn
from gaap_client.webhooks import PAYMENTS_TEST_EVENT
from services.demo_app.domain.applications import Application, State, new_ids, validate
from services.demo_app.service_layer.notices import CONFIRMATION_EMAIL, CONFIRMATION_SMS
from services.demo_app.service_layer.unit_of_work import DemoTransactions
from services.runtime.clock import utcnow
from services.runtime.errors import NotFound

log = logging.getLogger(__name__)

SCOPE = "openid profile email phone"
ACR = ("Cl.Cm",)


@dataclass(frozen=True)
class Citizen:
    subject: str
    claims: dict[str, Any]

    @property
    def name(self) -> str:
        given, family = self.claims.get("given_name", ""), self.claims.get("family_name", "")
        return str(self.claims.get("name") or f"{given} {family}".strip())

    @property
    def signed_in_at(self) -> datetime | None:
        auth_time = self.claims.get("auth_time")
        return datetime.fromtimestamp(int(auth_time), UTC) if auth_time else None


@dataclass(frozen=True)
class TimelineEntry:
    time: datetime
    what: str  # an English message id, translated by the page
    detail: str
    source: str  # whose record it is: identity, payments, notify or this service


def money(amount: int, currency: str, language: str) -> str:
    major = Decimal(amount).scaleb(-numbers.get_currency_precision(currency))
    return str(numbers.format_currency(major, currency, locale=language.replace("-", "_")))


def _time(ts: Any) -> datetime | None:
    return ts.ToDatetime(tzinfo=UTC) if ts.seconds or ts.nanos else None


class Journey:
    def __init__(
        self,
        client: GaapClient,
        oidc: OpenIdClient,
        transactions: DemoTransactions,
        templates: Mapping[str, str],
        *,
        public_url: str,
        fee: int,
        currency: str = "GBP",
    ) -> None:
        self.client = client
        self.oidc = oidc
        self._uow = transactions
        self._templates = dict(templates)
        self.public_url = public_url
        self.fee = fee
        self.currency = currency

    # -- signing in -------------------------------------------------------------

    def start_sign_in(self, cookie: str, language: str, next_path: str) -> str:
        pending = self.oidc.start(scope=SCOPE, acr_values=ACR, ui_locales=[language])
        with self._uow() as uow:
            uow.browser_sessions.store(
                cookie, pending={**pending.to_dict(), "next": _local_path(next_path)}
            )
        return pending.url

    def finish_sign_in(self, cookie: str, params: Mapping[str, str]) -> str:
        """Where to send the citizen next; ``SignInError`` if the callback is wrong."""
        with self._uow() as uow:
            data = uow.browser_sessions.load(cookie)
        stored = data.get("pending")
        if not stored:
            from gaap_client import SignInError

            raise SignInError("no_sign_in", "no sign-in was started in this browser")
        signed_in = self.oidc.finish(PendingSignIn.from_dict(stored), params)
        with self._uow() as uow:
            # A new session id would be better still; the cookie is re-issued by the page.
            uow.browser_sessions.store(
                cookie,
                pending=None,
                subject=signed_in.subject,
                claims=signed_in.profile,
                id_token=signed_in.id_token,
            )
        return str(stored.get("next") or "/apply")

    def citizen(self, cookie: str) -> Citizen | None:
        if not cookie:
            return None
        with self._uow() as uow:
            data = uow.browser_sessions.load(cookie)
        if not data.get("subject"):
            return None
        return Citizen(str(data["subject"]), dict(data.get("claims") or {}))

    def sign_out(self, cookie: str) -> str:
        """Forget the session; the ID token, for identity's logout, if any."""
        with self._uow() as uow:
            token = str(uow.browser_sessions.load(cookie).get("id_token") or "")
            uow.browser_sessions.delete(cookie)
        return token

    # -- applying and paying -------------------------------------------------------

    def apply(self, citizen: Citizen, raw: dict[str, str], language: str) -> Application:
        """Store the application, then create its payment (``InvalidArgument`` for a
        bad form, before anything is stored)."""
        form = validate(raw)
        application_id, reference = new_ids()
        application = Application(
            id=application_id,
            subject=citizen.subject,
            reference=reference,
            form=form,
            language=language,
            amount=self.fee,
            currency=self.currency,
            state=State.AWAITING_PAYMENT,
            created_at=utcnow(),
            signed_in_at=citizen.signed_in_at,
        )
        with self._uow() as uow:
            uow.applications.add(application)
        payment = self.client.payments.CreatePayment(
            ppb.CreatePaymentRequest(
                amount=self.fee,
                currency=self.currency,
                reference=reference,
                description="Residents' parking permit" if language == "en" else "居民停车许可",
                return_url=f"{self.public_url}/applications/{application_id}/return",
                email=form.email,
                language=language,
                metadata={"application_id": application_id},
                idempotency_key=f"{application_id}-payment",
            )
        )
        application = replace(application, payment_id=payment.id, next_url=payment.next_url)
        with self._uow() as uow:
            uow.applications.save(application)
        return application

    def application(self, citizen: Citizen, application_id: str) -> Application:
        with self._uow() as uow:
            found = uow.applications.get(application_id)
        if found is None or found.subject != citizen.subject:
            raise NotFound("no such application")
        return found

    def applications(self, citizen: Citizen) -> list[Application]:
        with self._uow() as uow:
            return uow.applications.of_subject(citizen.subject)

    # -- what payments tells us -------------------------------------------------------

    def payment_event(self, event_id: str, event: Mapping[str, Any]) -> None:
        """Handle one verified webhook; safe to repeat (payments retries until 2xx).
        A test event (``webhook.test``) is about no payment: it is only acknowledged."""
        if event.get("type") == PAYMENTS_TEST_EVENT:
            log.info("test webhook received", extra={"event_id": event_id})
            return
        with self._uow() as uow:
            if uow.webhook_events.seen(event_id):
                return
        payment_id = str((event.get("payment") or {}).get("id", ""))
        # The platform's record, not the body alone, decides.
        payment = self.client.payments.GetPayment(ppb.GetPaymentRequest(payment_id=payment_id))
        application_id = payment.metadata.get("application_id", "")
        with self._uow() as uow:
            store = uow.applications
            application = store.get(application_id, for_update=True)
            if application is None or application.payment_id != payment.id:
                log.warning("webhook for an unknown payment", extra={"event_id": event_id})
                uow.webhook_events.record(event_id, utcnow())
                return
            if payment.state == ppb.PAYMENT_STATE_SUCCESS:
                application = application.paid()
            elif payment.finished:
                application = application.payment_failed()
            store.save(application)
        if application.state is State.PAID:
            self._confirm(application)
        with self._uow() as uow:
            uow.webhook_events.record(event_id, utcnow())

    def _confirm(self, application: Application) -> None:
        """Queue the confirmation email and SMS (idempotent: keys per application)."""
        language = application.language
        values = {
            "name": application.form.full_name,
            "reference": application.reference,
            "amount": money(application.amount, application.currency, language),
            "vehicle": application.form.vehicle,
            "postcode": application.form.postcode,
        }
        personalisation = {k: npb.PersonalisationValue(text=v) for k, v in values.items()}
        email = self.client.notify.SendEmail(
            npb.SendEmailRequest(
                template_id=self._templates[CONFIRMATION_EMAIL.key],
                email_address=application.form.email,
                personalisation=personalisation,
                reference=application.reference,
                language=language,
                idempotency_key=f"{application.id}-email",
            )
        )
        sms = self.client.notify.SendSms(
            npb.SendSmsRequest(
                template_id=self._templates[CONFIRMATION_SMS.key],
                phone_number=application.form.phone,
                personalisation=personalisation,
                reference=application.reference,
                language=language,
                idempotency_key=f"{application.id}-sms",
            )
        )
        with self._uow() as uow:
            store = uow.applications
            current = store.get(application.id, for_update=True)
            assert current is not None
            store.save(current.notified(email.id, sms.id))

    # -- the timeline ------------------------------------------------------------------

    def timeline(self, application: Application) -> list[TimelineEntry]:
        entries: list[TimelineEntry] = []
        if application.signed_in_at:
            entries.append(TimelineEntry(application.signed_in_at, "Signed in", ACR[0], "identity"))
        entries.append(
            TimelineEntry(
                application.created_at,
                "Application submitted",
                application.reference,
                "this service",
            )
        )
        if application.payment_id:
            events = self.client.payments.ListPaymentEvents(
                ppb.ListPaymentEventsRequest(payment_id=application.payment_id, page_size=100)
            )
            for event in events.events:
                when = _time(event.time)
                if when:
                    state = ppb.PaymentState.Name(event.state).removeprefix("PAYMENT_STATE_")
                    entries.append(TimelineEntry(when, event.type, state.lower(), "payments"))
        for notification_id in (application.email_notification_id, application.sms_notification_id):
            if notification_id:
                entries += self._notification_entries(notification_id)
        return sorted(entries, key=lambda e: e.time)

    def _notification_entries(self, notification_id: str) -> list[TimelineEntry]:
        found = self.client.notify.GetNotification(
            npb.GetNotificationRequest(notification_id=notification_id)
        )
        channel = "email" if found.channel == npb.CHANNEL_EMAIL else "SMS"
        status = npb.Status.Name(found.status).removeprefix("STATUS_").lower().replace("_", "-")
        steps: list[tuple[datetime | None, str]] = [
            (_time(found.create_time), f"Notification queued ({channel})"),
            (_time(found.sent_time), f"Notification sent ({channel})"),
            (_time(found.completed_time), f"Notification {status} ({channel})"),
        ]
        return [TimelineEntry(t, what, found.id, "notify") for t, what in steps if t]


def _local_path(path: str) -> str:
    """Only paths on this site: never an open redirect."""
    return path if path.startswith("/") and not path.startswith("//") else "/apply"
