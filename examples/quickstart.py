"""An agency backend's whole journey through GaaP, with the client library.

Start the platform (``make run``), onboard an agency as docs/quickstart.md
shows, then from the repository root::

    .venv/bin/python examples/quickstart.py agency.json

where ``agency.json`` is what ``gaap-admin create-agency`` printed. It takes a
token, subscribes to payment webhooks, creates a payment, pays it in the
sandbox as the citizen's browser would, verifies the signed webhook, sends an
email and a text message and finds them in make run's local sinks, refunds the
payment, and signs the demo citizen in with OpenID Connect (code flow, PKCE).

The addresses are make run's defaults; set ``GAAP_ISSUER``,
``<SERVICE>_GRPC_ADDRESS`` and ``GAAP_VAR_DIR`` as you set them for make run if
you moved them.
"""

from __future__ import annotations

import json
import os
import queue
import re
import sys
import threading
import time
import uuid
from collections.abc import Callable
from html import unescape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urljoin, urlsplit

import httpx
from gaap.notify.v1 import notify_pb2 as npb
from gaap.payments.v1 import payments_pb2 as ppb

from gaap_client import (
    SIGNATURE_HEADER,
    ClientSecret,
    GaapClient,
    OpenIdClient,
    Targets,
    verify_signature,
)

ISSUER = os.environ.get("GAAP_ISSUER", "http://127.0.0.1:8081")
TARGETS = Targets(
    identity=os.environ.get("IDENTITY_GRPC_ADDRESS", "127.0.0.1:50051"),
    payments=os.environ.get("PAYMENTS_GRPC_ADDRESS", "127.0.0.1:50052"),
    notify=os.environ.get("NOTIFY_GRPC_ADDRESS", "127.0.0.1:50053"),
)
AGENCY = "http://127.0.0.1:8000"  # your service (not running in this example)
VAR = Path(os.environ.get("GAAP_VAR_DIR", "var"))  # make run's sinks and demo citizen
T = TypeVar("T")


def main(agency_file: str) -> None:
    agency = json.loads(Path(agency_file).read_text())
    run = uuid.uuid4().hex[:8]  # this run's references and idempotency keys
    with GaapClient.from_agency_file(agency_file, TARGETS) as client, WebhookReceiver() as hooks:
        # 1. A token: the library fetches, caches and renews it for every call.
        token = client.tokens.token()
        print("1. access token", token[:24] + "...")

        # 2. Payment webhooks come to our endpoint, signed with this secret.
        subscribed = client.payments.CreateWebhookSubscription(
            ppb.CreateWebhookSubscriptionRequest(
                url=hooks.url,
                event_types=["payment.succeeded", "payment.refunded"],
                idempotency_key=f"quickstart-{run}-webhook",
            )
        )
        secret = subscribed.signing_secret
        print("2. webhook subscription", subscribed.subscription.id)

        # 3. A payment of £40.00 (amounts are in minor units: pence).
        payment = client.payments.CreatePayment(
            ppb.CreatePaymentRequest(
                amount=4000,
                reference=f"PRK-{run}",
                description="Residents' parking permit",
                return_url=f"{AGENCY}/paid",  # where the citizen comes back to
                idempotency_key=f"quickstart-{run}-payment",
            )
        )
        print("3. payment", payment.id, "- send the citizen to", payment.next_url)

        # 4. The citizen pays on the hosted page (here: what their browser does).
        back = pay_in_sandbox(payment.next_url, "4242 4242 4242 4242")
        assert back == payment.return_url, back  # the citizen is back at your service

        # 5. The signed webhook arrives: verify it, then read the payment.
        event = hooks.event("payment.succeeded", payment.id, secret)
        paid = client.payments.GetPayment(ppb.GetPaymentRequest(payment_id=payment.id))
        assert paid.state == ppb.PAYMENT_STATE_SUCCESS, paid
        print("4-5. webhook", event["id"], "verified; payment", ppb.PaymentState.Name(paid.state))

        # 6. An email and a text message from templates, seen in make run's sinks.
        email = template(client, npb.CHANNEL_EMAIL, "Permit ((reference))", run)
        sms = template(client, npb.CHANNEL_SMS, "", run)
        values = {"reference": npb.PersonalisationValue(text=f"PRK-{run}")}
        client.notify.SendEmail(
            npb.SendEmailRequest(
                template_id=email,
                email_address="citizen@example.com",
                personalisation=values,
                idempotency_key=f"quickstart-{run}-email",
            )
        )
        client.notify.SendSms(
            npb.SendSmsRequest(
                template_id=sms,
                phone_number="07912345678",
                personalisation=values,
                idempotency_key=f"quickstart-{run}-sms",
            )
        )
        mail = wait_for(lambda: in_sink("mail", "*.eml", f"PRK-{run}"), "the email in var/mail")
        text = wait_for(lambda: in_sink("sms", "*.json", f"PRK-{run}"), "the SMS in var/sms")
        print("6. email", mail.name, "and SMS", text.name, "delivered to the local sinks")

        # 7. A full refund; the refund's own webhook follows.
        refund = client.payments.CreateRefund(
            ppb.CreateRefundRequest(
                payment_id=payment.id, amount=4000, idempotency_key=f"quickstart-{run}-refund"
            )
        )
        hooks.event("payment.refunded", payment.id, secret)
        print("7. refund", refund.id, "and its webhook verified")

        client.payments.DisableWebhookSubscription(
            ppb.DisableWebhookSubscriptionRequest(
                subscription_id=subscribed.subscription.id,
                idempotency_key=f"quickstart-{run}-unsubscribe",
            )
        )

    # 8. Citizen sign-in: OpenID Connect's code flow with PKCE.
    oidc = OpenIdClient(
        ISSUER,
        ClientSecret(agency["client_id"], agency["client_secret"]),
        agency["redirect_uris"][0],
    )
    pending = oidc.start(scope="openid profile email phone", acr_values=())
    # Your backend redirects the citizen to pending.url and keeps `pending` in their
    # session; identity sends them back to the redirect URI with a code.
    callback = sign_in_as_demo_citizen(pending.url, oidc.redirect_uri)
    signed_in = oidc.finish(pending, callback)  # checks state, exchanges, validates
    print("8. signed in:", signed_in.subject, signed_in.profile.get("email"))


def template(client: GaapClient, channel: npb.Channel.ValueType, subject: str, run: str) -> str:
    """A new template (scope notify:templates); returns its id."""
    created = client.notify.CreateTemplate(
        npb.CreateTemplateRequest(
            channel=channel,
            name=f"Quickstart {npb.Channel.Name(channel)}",
            contents=[
                npb.TemplateContent(
                    language="en", subject=subject, body="Your permit ((reference)) is paid."
                )
            ],
            idempotency_key=f"quickstart-{run}-template-{channel}",
        )
    )
    return created.id


class WebhookReceiver:
    """Stands in for your backend's webhook endpoint: keeps each POST's raw body."""

    def __init__(self) -> None:
        self.received: queue.Queue[tuple[str, bytes]] = queue.Queue()
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                received.put((self.headers.get(SIGNATURE_HEADER, ""), body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/webhooks/gaap"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def event(self, event_type: str, payment_id: str, secret: str) -> dict[str, Any]:
        """The first verified event of ``event_type`` about the payment."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                header, body = self.received.get(timeout=1)
            except queue.Empty:
                continue
            verify_signature(secret, header, body)  # raises InvalidSignature
            event: dict[str, Any] = json.loads(body)
            if event["type"] == event_type and event["payment"]["id"] == payment_id:
                return event
        raise TimeoutError(f"no {event_type} webhook for {payment_id}")

    def __enter__(self) -> WebhookReceiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def in_sink(folder: str, pattern: str, marker: str) -> Path | None:
    return next((p for p in (VAR / folder).glob(pattern) if marker in p.read_text()), None)


def wait_for(probe: Callable[[], T | None], what: str, timeout: float = 60) -> T:
    deadline = time.monotonic() + timeout
    while (found := probe()) is None:
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout} s for {what}")
        time.sleep(0.2)
    return found


# What the citizen's browser does, in plain HTTP: in your service these are
# identity's and payments' own pages, and you write none of this.

FORM = re.compile(r'<form method="post" action="([^"]+)"[^>]*>(.*?)</form>', re.S)
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')


def submit(browser: httpx.Client, page: httpx.Response, **values: str) -> httpx.Response:
    """Post the page's first form with its hidden fields (CSRF token) and ``values``."""
    found = FORM.search(page.text)
    assert found, f"no form on {page.url}"
    fields = {unescape(n): unescape(v) for n, v in HIDDEN.findall(found.group(2))}
    action = urljoin(str(page.url), unescape(found.group(1)))
    return browser.post(action, data={**fields, **values})


def follow(browser: httpx.Client, response: httpx.Response, origin: str) -> httpx.Response:
    """Follow redirects within ``origin`` (identity's or payments' pages); stop at one
    leaving it, to your service (not running in this example: yours would be)."""
    while response.is_redirect:
        location = urljoin(str(response.url), response.headers["location"])
        if not location.startswith(origin + "/"):
            break
        response = browser.get(location)
    return response


def pay_in_sandbox(next_url: str, card: str) -> str:
    """The citizen enters the card and confirms; where payments then sends them."""
    pages = next_url.partition("/pay/")[0]
    with httpx.Client(timeout=30) as browser:
        page = browser.get(next_url)  # "Enter card details"
        details = {"expiry": "12/39", "security-code": "123", "cardholder-name": "A Citizen"}
        page = follow(browser, submit(browser, page, **{"card-number": card}, **details), pages)
        back = follow(browser, submit(browser, page), pages)  # "Confirm your payment"
        return str(back.headers["location"])


def sign_in_as_demo_citizen(authorize_url: str, redirect_uri: str) -> dict[str, str]:
    """The demo citizen make run created signs in and allows; the callback's query."""
    citizen = json.loads((VAR / "demo" / "citizen.json").read_text())
    with httpx.Client(timeout=30) as browser:
        page = follow(browser, browser.get(authorize_url), ISSUER)  # "Sign in"
        credentials = {"email": citizen["email"], "password": citizen["password"]}
        page = follow(browser, submit(browser, page, **credentials), ISSUER)
        if 'name="decision"' in page.text:  # the first time: share your details?
            page = follow(browser, submit(browser, page, decision="allow"), ISSUER)
        location = page.headers["location"]
    assert location.startswith(redirect_uri), location
    return dict(parse_qsl(urlsplit(location).query))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: examples/quickstart.py AGENCY_JSON (gaap-admin create-agency output)")
    main(sys.argv[1])
