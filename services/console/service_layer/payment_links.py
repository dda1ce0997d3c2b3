"""Payment links: staff make and pause them; citizens pay through them.

Staff (``PaymentLinks``): every use case authorises first (``NotFound`` outside
the team, ``PermissionDenied`` for the role); creating, pausing and resuming are
recorded in the team's audit trail. A link's page lists the payments made
through it, read from payments as the team's agency (``payments:read``).

Citizens (``PublicPaymentLinks``): nobody is signed in, so the console acts for
the link's team's agency *as itself*: a token from token exchange with
``payments:create`` only, to create the payment, and ``payments:read`` only for
the thank-you page's state. These are not staff actions, so they are not in the
audit trail; each payment is logged as "payment link" with the link's and the
payment's ids (never the citizen's reference). Every payment carries the link's
id in its metadata (``payment_link``), and the console keeps the payment's id
with the link (payments' ``ListPayments`` has no metadata filter).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from gaap.payments.v1 import payments_pb2 as pb

from gaap_client import errors as gaap
from services.console.domain.payment_links import (
    LinkForm,
    LinkPayment,
    PaymentLink,
    State,
    check_link,
    check_payment,
    check_slug,
    new_slug,
)
from services.console.domain.roles import Action
from services.console.domain.staff import Staff
from services.console.domain.teams import Team
from services.console.service_layer.access import authorise, record
from services.console.service_layer.acting_for import ActingFor
from services.console.service_layer.ports import ConsoleTransactions
from services.runtime.errors import FailedPrecondition, NotFound
from services.runtime.ids import new_id
from services.runtime.rate_limit import Limit, RateLimiter

log = logging.getLogger(__name__)
# The payments a link's page shows (newest first), each read from payments.
SHOWN_PAYMENTS = 20
# Payments one client address may start through links: a person pays a few fees,
# a script filling payments' table with abandoned payments is stopped.
CITIZEN_LIMIT = Limit.per_minute(10, burst=10)
CREATE_SCOPES = ("payments:create",)
READ_SCOPES = ("payments:read",)
METADATA_KEY = "payment_link"


class LinkPaymentsCalls(Protocol):
    """The calls of payments' stub payment links make (``PaymentsServiceStub``)."""

    def CreatePayment(self, request: pb.CreatePaymentRequest, /) -> pb.Payment: ...
    def GetPayment(self, request: pb.GetPaymentRequest, /) -> pb.Payment: ...


class LinkClient(Protocol):
    @property
    def payments(self) -> LinkPaymentsCalls: ...


class ConsoleCalls(Protocol):
    """payments as one agency, on the console's own authority (``AgencyCalls``)."""

    def connect(
        self, agency_id: str, scopes: tuple[str, ...]
    ) -> AbstractContextManager[LinkClient]: ...


class LinkPaused(Exception):
    """The link is paused: no payment is taken through it."""

    def __init__(self, link: PaymentLink) -> None:
        super().__init__("This payment link is paused")
        self.link = link


@dataclass(frozen=True)
class LinkPage:
    link: PaymentLink
    payments: list[pb.Payment]


@dataclass(frozen=True)
class PublicLink:
    link: PaymentLink
    team: Team


def form_hash(link_id: str, form_key: str) -> str:
    return hashlib.sha256(f"{link_id}\0{form_key}".encode()).hexdigest()


class PaymentLinks:
    """Staff's use cases: list, create, show with its payments, pause and resume."""

    def __init__(self, acting: ActingFor[LinkClient], clock: Callable[[], datetime]) -> None:
        self._uow = acting.transactions
        self._acting = acting
        self._clock = clock

    def of_team(self, staff: Staff, team_id: str) -> list[PaymentLink]:
        with self._uow.read() as uow:
            authorise(uow, staff, team_id, Action.VIEW_PAYMENTS)
            return uow.payment_links.of_team(team_id)

    def create(self, staff: Staff, team_id: str, form: LinkForm) -> PaymentLink:
        checked = check_link(form)
        now = self._clock()
        with self._uow() as uow:
            authorise(uow, staff, team_id, Action.MANAGE_PAYMENT_LINKS)
            link = PaymentLink(
                id=new_id("pl"),
                team_id=team_id,
                slug=new_slug(),
                title=checked.title,
                description=checked.description,
                currency=checked.currency,
                fixed_amount=checked.fixed_amount,
                min_amount=checked.min_amount,
                max_amount=checked.max_amount,
                reference=checked.reference,
                return_url=checked.return_url,
                state=State.ACTIVE,
                created_by=staff.email,
                created_at=now,
            )
            uow.payment_links.add(link)
            record(uow, staff, team_id, "create_payment_link", now, payment_link=link.id)
        return link

    def show(self, staff: Staff, team_id: str, link_id: str) -> LinkPage:
        """The link and its newest payments as payments has them now."""
        with self._uow.read() as uow:
            authorise(uow, staff, team_id, Action.VIEW_PAYMENTS)
            link = uow.payment_links.get(team_id, link_id)
            if link is None:
                raise NotFound("Page not found")
            made = uow.payment_links.payments(link.id, SHOWN_PAYMENTS)
        found: list[pb.Payment] = []
        if made:
            with self._acting.connect(staff, team_id, Action.VIEW_PAYMENTS) as agency:
                for payment in made:
                    try:
                        found.append(
                            agency.payments.GetPayment(
                                pb.GetPaymentRequest(payment_id=payment.payment_id)
                            )
                        )
                    except gaap.NotFound:
                        continue  # payments no longer holds it (its retention)
        return LinkPage(link, found)

    def set_state(self, staff: Staff, team_id: str, link_id: str, state: State) -> PaymentLink:
        """Pause or resume; recorded only when the state changes."""
        now = self._clock()
        with self._uow() as uow:
            authorise(uow, staff, team_id, Action.MANAGE_PAYMENT_LINKS)
            link = uow.payment_links.get(team_id, link_id)
            if link is None:
                raise NotFound("Page not found")
            if link.state is state:
                return link
            uow.payment_links.set_state(link.id, state)
            action = "pause_payment_link" if state is State.PAUSED else "resume_payment_link"
            record(uow, staff, team_id, action, now, payment_link=link.id)
        return link.in_state(state)


class PublicPaymentLinks:
    """A citizen's side of a link: see it, pay through it, come back."""

    def __init__(
        self,
        transactions: ConsoleTransactions,
        calls: ConsoleCalls,
        limiter: RateLimiter,
        public_url: str,
        clock: Callable[[], datetime],
    ) -> None:
        self._uow = transactions
        self._calls = calls
        self._limiter = limiter
        self._public_url = public_url.rstrip("/")
        self._clock = clock

    def find(self, slug: str) -> PublicLink:
        """The link at ``/pay/{slug}`` and its team, paused or not; else ``NotFound``."""
        if not check_slug(slug):
            raise NotFound("Page not found")
        with self._uow.read() as uow:
            link = uow.payment_links.by_slug(slug)
            team = uow.teams.get(link.team_id) if link else None
        if link is None or team is None:
            raise NotFound("Page not found")
        return PublicLink(link, team)

    def thank_you_url(self, link: PaymentLink, form_key: str) -> str:
        return f"{self._public_url}/pay/{link.slug}/done/{form_key}"

    def pay(
        self,
        slug: str,
        form_key: str,
        amount: str,
        reference: str,
        *,
        language: str,
        client: str,
    ) -> str:
        """Create the payment the citizen asked for and return its hosted page's URL.

        The form's key (one per form shown) makes the idempotency key, so the same
        form sent twice is one payment. ``InvalidArgument`` for what the citizen
        typed, ``LinkPaused``, ``ResourceExhausted`` past the client's limit."""
        found = self.find(slug)
        link = found.link
        if not link.active:
            raise LinkPaused(link)
        minor, typed = check_payment(link, amount, reference)
        self._limiter.acquire(f"payment-link:{client}", CITIZEN_LIMIT)
        key_hash = form_hash(link.id, form_key)
        request = pb.CreatePaymentRequest(
            amount=minor,
            currency=link.currency,
            # payments needs a reference: the link's slug when the citizen had none to give
            reference=typed or link.slug,
            description=link.title,
            return_url=link.return_url or self.thank_you_url(link, form_key),
            language=language,
            metadata={METADATA_KEY: link.id},
            idempotency_key=f"payment-link-{key_hash}",
        )
        with self._calls.connect(found.team.agency_id, CREATE_SCOPES) as agency:
            try:
                payment = agency.payments.CreatePayment(request)
            except gaap.AlreadyExists:
                # The same form sent again with other details: payments refuses the key.
                raise FailedPrecondition(
                    "This form was already sent. Please start again."
                ) from None
        with self._uow() as uow:
            uow.payment_links.record_payment(
                LinkPayment(payment.id, link.id, key_hash, self._clock())
            )
        log.info(
            "payment link",
            extra={"payment_link": link.id, "team_id": link.team_id, "payment_id": payment.id},
        )
        return payment.next_url

    def returned(self, slug: str, form_key: str) -> tuple[PublicLink, pb.Payment | None]:
        """The link and the payment its form made (None if that form made none)."""
        found = self.find(slug)
        with self._uow.read() as uow:
            made = uow.payment_links.payment_by_form(
                found.link.id, form_hash(found.link.id, form_key)
            )
        if made is None:
            return found, None
        with self._calls.connect(found.team.agency_id, READ_SCOPES) as agency:
            payment = agency.payments.GetPayment(pb.GetPaymentRequest(payment_id=made.payment_id))
        return found, payment
