"""Two processes of each service and two notify workers against one PostgreSQL
and one Redis: one effect per idempotency key, rate limits shared, nothing sent
twice, sweepers and webhook deliveries once, key rotation seen by both."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any

import grpc
import httpx
import jwt
import psycopg
import pytest
from gaap.common.v1 import caller_pb2, caller_pb2_grpc
from gaap.identity.v1 import identity_pb2, identity_pb2_grpc
from gaap.notify.v1 import notify_pb2, notify_pb2_grpc
from gaap.payments.v1 import payments_pb2, payments_pb2_grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from services.identity.bootstrap import Identity, open_identity
from services.identity.settings import IdentitySettings
from services.runtime.config import PlatformSettings
from tests.integration.notify.support import SmtpServer
from tests.integration.payments.support import WebhookReceiver
from tests.production.fleet import Fleet, SmsProvider, base_environment, token, wait_until
from tests.production.logcheck import assert_no_secrets
from tests.support import databases
from tests.support.devstack import free_ports
from tests.support.platform import bearer

BURST = 40


@dataclass
class Setup:
    fleet: Fleet
    database_url: str
    admin: Identity
    smtp: SmtpServer
    sms: SmsProvider
    webhooks: WebhookReceiver
    old_kid: str
    secrets: list[str]

    def agency(self, *scopes: str) -> tuple[str, str]:
        created = self.admin.registry.create(
            name=f"Replica agency {len(self.secrets)}", scopes=list(scopes), mode="test"
        )
        assert created.client_secret
        self.secrets.append(created.client_secret)
        return created.agency.client_id, created.client_secret

    def token(self, identity: str, agency: tuple[str, str], scope: str | None = None) -> str:
        access = token(self.fleet.replicas[identity].http, *agency, scope=scope)
        self.secrets.append(access)
        return access

    def sql(self, service: str, query: str, *params: Any) -> list[tuple[Any, ...]]:
        url = databases.for_service(self.database_url, service).replace("+psycopg", "")
        with psycopg.connect(url, autocommit=True) as conn:
            cursor = conn.execute(query, params)
            return cursor.fetchall() if cursor.description else []


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Setup]:
    admin_url = databases.require_postgres()
    folder = tmp_path_factory.mktemp("replicas")
    smtp = SmtpServer().start()
    sms = SmsProvider("replica-sms-key")
    webhooks = WebhookReceiver()
    with databases.fresh_postgres_database(admin_url) as database_url:
        (issuer_port,) = free_ports(1)
        issuer = f"http://127.0.0.1:{issuer_port}"
        env = base_environment(
            folder,
            database_url,
            issuer=issuer,
            redis_url=redis_url,
            NOTIFY_SMTP_PORT=str(smtp.port),
            NOTIFY_SMS_PROVIDERS=sms.providers(),
            NOTIFY_RATE_PER_MINUTE="1",
            NOTIFY_RATE_BURST=str(BURST),
            PAYMENTS_SWEEP_INTERVAL_SECONDS="0.3",
            PAYMENTS_WEBHOOK_INTERVAL_SECONDS="0.3",
            IDENTITY_KEY_PROPAGATION_SECONDS="0",
        )
        fleet = Fleet(folder, env)
        fleet.replica("identity-a", "identity", IDENTITY_HTTP_ADDRESS=f"127.0.0.1:{issuer_port}")
        fleet.replica("identity-b", "identity")
        for side in ("a", "b"):
            jwks = fleet.replicas[f"identity-{side}"].http + "/.well-known/jwks.json"
            fleet.replica(f"payments-{side}", "payments", GAAP_JWKS_URL=jwks)
            fleet.replica(f"notify-{side}", "notify", GAAP_JWKS_URL=jwks)
            fleet.replica(f"worker-{side}", "notify-worker")
        admin: Identity | None = None
        try:
            fleet.start_all()  # all at once: migrations race, under the advisory lock
            admin = open_identity(
                PlatformSettings(issuer=issuer, var_dir=folder),
                IdentitySettings(database_url=database_url),
            )
            old_kid = admin.keys.signer().kid
            # Rotate now; the last test checks that both replicas moved to the new key.
            rotated = subprocess.run(
                [sys.executable, "-m", "services.identity.cli", "rotate-keys"],
                env=fleet.replicas["identity-a"].env,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert rotated.returncode == 0, rotated.stderr
            yield Setup(fleet, database_url, admin, smtp, sms, webhooks, old_kid, [])
        finally:
            fleet.stop_all()
            if admin is not None:
                admin.database.close()
            smtp.stop()
            sms.stop()
            webhooks.close()


def concurrently(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run the calls at the same moment (a barrier) and return their results."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], Any]) -> Any:
        barrier.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def test_one_idempotency_key_sent_to_both_replicas_makes_one_effect(setup: Setup) -> None:
    fleet = setup.fleet
    agency = setup.agency("payments:create", "notify:send", "notify:templates")
    access = bearer(setup.token("identity-a", agency))

    request = payments_pb2.CreatePaymentRequest(
        amount=1200,
        currency="GBP",
        reference="R-1",
        description="Fee",
        return_url="https://agency.example/done",
        idempotency_key="same-payment",
    )
    stubs = [payments_pb2_grpc.PaymentsServiceStub(fleet.channel(f"payments-{s}")) for s in "abab"]
    payments = concurrently([partial(s.CreatePayment, request, metadata=access) for s in stubs])
    assert len({p.id for p in payments}) == 1
    rows = setup.sql("payments", "select count(*) from payments where tenant = %s", agency[0])
    assert rows == [(1,)]

    notify_a = notify_pb2_grpc.NotifyServiceStub(fleet.channel("notify-a"))
    template = notify_a.CreateTemplate(
        notify_pb2.CreateTemplateRequest(
            channel=notify_pb2.CHANNEL_EMAIL,
            name="Receipt",
            contents=[notify_pb2.TemplateContent(language="en", subject="Paid", body="Thanks")],
            idempotency_key="t1",
        ),
        metadata=access,
    )
    send = notify_pb2.SendEmailRequest(
        template_id=template.id, email_address="ada@example.gov", idempotency_key="same-email"
    )
    notifiers = [notify_pb2_grpc.NotifyServiceStub(fleet.channel(f"notify-{s}")) for s in "abab"]
    sent = concurrently([partial(n.SendEmail, send, metadata=access) for n in notifiers])
    assert len({n.id for n in sent}) == 1
    rows = setup.sql("notify", "select count(*) from notifications where tenant = %s", agency[0])
    assert rows == [(1,)]
    wait_until(lambda: sent[0].id in _email_ids(setup), what="the email")

    operator = setup.agency("identity:agencies")
    operator_access = bearer(setup.token("identity-b", operator))
    create = identity_pb2.CreateAgencyRequest(
        name="Created twice at once", scopes=["notify:send"], idempotency_key="same-agency"
    )
    identities = [
        identity_pb2_grpc.IdentityServiceStub(fleet.channel(f"identity-{s}")) for s in "abab"
    ]
    created = concurrently(
        [partial(i.CreateAgency, create, metadata=operator_access) for i in identities]
    )
    assert len({c.agency.id for c in created}) == 1
    setup.secrets.extend(c.client_secret for c in created)
    rows = setup.sql("identity", "select count(*) from agencies where name = %s", create.name)
    assert rows == [(1,)]


def _email_ids(setup: Setup) -> list[str]:
    return [str(m["X-GaaP-Notification-Id"]) for m in setup.smtp.handler.messages]


def test_rate_limits_hold_across_replicas_and_two_workers_send_each_once(setup: Setup) -> None:
    fleet = setup.fleet
    agency = setup.agency("notify:send", "notify:templates")
    access = bearer(setup.token("identity-b", agency))
    notify_a = notify_pb2_grpc.NotifyServiceStub(fleet.channel("notify-a"))
    notify_b = notify_pb2_grpc.NotifyServiceStub(fleet.channel("notify-b"))
    templates = {
        channel: notify_a.CreateTemplate(
            notify_pb2.CreateTemplateRequest(
                channel=channel,
                name=f"Notice {channel}",
                contents=[
                    notify_pb2.TemplateContent(
                        language="en",
                        subject="S" if channel == notify_pb2.CHANNEL_EMAIL else "",
                        body="Body",
                    )
                ],
                idempotency_key=f"t{channel}",
            ),
            metadata=access,
        )
        for channel in (notify_pb2.CHANNEL_EMAIL, notify_pb2.CHANNEL_SMS)
    }
    ids: list[str] = []
    # The whole burst is spent on replica a...
    for n in range(BURST):
        if n % 4 == 3:
            reply = notify_a.SendSms(
                notify_pb2.SendSmsRequest(
                    template_id=templates[notify_pb2.CHANNEL_SMS].id,
                    phone_number="07912 345678",
                    idempotency_key=f"s{n}",
                ),
                metadata=access,
            )
        else:
            reply = notify_a.SendEmail(
                notify_pb2.SendEmailRequest(
                    template_id=templates[notify_pb2.CHANNEL_EMAIL].id,
                    email_address=f"citizen{n}@example.gov",
                    idempotency_key=f"e{n}",
                ),
                metadata=access,
            )
        ids.append(reply.id)
    # ...so replica b refuses the next one, saying when to retry.
    with pytest.raises(grpc.RpcError) as caught:
        notify_b.SendEmail(
            notify_pb2.SendEmailRequest(
                template_id=templates[notify_pb2.CHANNEL_EMAIL].id,
                email_address="one-more@example.gov",
                idempotency_key="over",
            ),
            metadata=access,
        )
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    status = rpc_status.from_call(caught.value)  # type: ignore[arg-type]
    assert status is not None
    retry = error_details_pb2.RetryInfo()
    assert any(detail.Unpack(retry) for detail in status.details)

    expected_sms = {i for n, i in enumerate(ids) if n % 4 == 3}
    expected_email = set(ids) - expected_sms
    wait_until(
        lambda: (
            expected_email <= set(_email_ids(setup)) and expected_sms <= set(setup.sms.references)
        ),
        what="every notification to reach its provider",
    )
    # Accepted by a provider means never claimed again; now count what arrived.
    rows = setup.sql(
        "notify",
        "select count(*) from notifications where tenant = %s and provider_message_id is null",
        agency[0],
    )
    assert rows == [(0,)]
    emails = Counter(_email_ids(setup))
    texts = Counter(setup.sms.references)
    assert all(emails[i] == 1 for i in expected_email), emails
    assert all(texts[i] == 1 for i in expected_sms), texts
    rows = setup.sql("notify", "select count(*) from notifications where tenant = %s", agency[0])
    assert rows == [(BURST,)]  # the refused send stored nothing


def test_sweepers_and_webhook_deliveries_on_both_replicas_happen_once(setup: Setup) -> None:
    fleet = setup.fleet
    agency = setup.agency("payments:create", "payments:read")
    access = bearer(setup.token("identity-a", agency))
    stubs = [payments_pb2_grpc.PaymentsServiceStub(fleet.channel(f"payments-{s}")) for s in "ab"]
    stubs[0].CreateWebhookSubscription(
        payments_pb2.CreateWebhookSubscriptionRequest(
            url=setup.webhooks.url, idempotency_key="hook"
        ),
        metadata=access,
    )
    ids = [
        stubs[n % 2]
        .CreatePayment(
            payments_pb2.CreatePaymentRequest(
                amount=500 + n,
                currency="GBP",
                reference=f"S-{n}",
                description="Fee",
                return_url="https://agency.example/done",
                idempotency_key=f"sweep-{n}",
            ),
            metadata=access,
        )
        .id
        for n in range(10)
    ]
    # Their payment pages expire now: both replicas' sweepers (every 0.3 s) race for them.
    setup.sql(
        "payments",
        "update payments set created_at = created_at - interval '2 hours' where tenant = %s",
        agency[0],
    )
    wait_until(
        lambda: (
            setup.sql(
                "payments",
                "select count(*) from payments where tenant = %s and state = 'failed'",
                agency[0],
            )
            == [(10,)]
        ),
        what="the sweepers to expire every page",
    )
    events = setup.sql(
        "payments",
        "select payment_id, count(*) from payment_events where state = 'failed' "
        "and payment_id = any(%s) group by payment_id",
        ids,
    )
    assert sorted(events) == sorted((i, 1) for i in ids)

    def delivered() -> Counter[tuple[str, str]]:
        seen: Counter[tuple[str, str]] = Counter()
        for received in list(setup.webhooks.received):
            body = json.loads(received.body)
            seen[(str(body["payment"]["id"]), str(body["type"]))] += 1
        return seen

    wait_until(
        lambda: (
            sum(1 for (pid, kind) in delivered() if pid in ids and kind == "payment.failed") == 10
        ),
        what="a webhook for every expired payment",
    )
    counts = delivered()
    assert all(n == 1 for n in counts.values()), counts
    bodies = [json.loads(r.body)["id"] for r in setup.webhooks.received]
    assert len(bodies) == len(set(bodies)), "an event was delivered twice"


def test_key_rotation_is_seen_by_both_identity_replicas_and_both_resource_servers(
    setup: Setup,
) -> None:
    fleet = setup.fleet
    agency = setup.agency("payments:read")

    def kids(identity: str) -> set[str]:
        document = httpx.get(fleet.replicas[identity].http + "/.well-known/jwks.json").json()
        return {str(k["kid"]) for k in document["keys"]}

    def signing_kid(identity: str) -> str:
        return str(jwt.get_unverified_header(setup.token(identity, agency))["kid"])

    # Replicas reload their key set every 30 s at most: wait for both to move.
    wait_until(
        lambda: all(signing_kid(i) != setup.old_kid for i in ("identity-a", "identity-b")),
        timeout=45,
        what="both identity replicas to sign with the new key",
    )
    new_kids = {signing_kid("identity-a"), signing_kid("identity-b")}
    assert len(new_kids) == 1
    for identity in ("identity-a", "identity-b"):
        assert new_kids <= kids(identity)
        access = setup.token(identity, agency)
        for payments in ("payments-a", "payments-b"):
            reply = caller_pb2_grpc.CallerServiceStub(fleet.channel(payments)).GetCallerIdentity(
                caller_pb2.GetCallerIdentityRequest(), metadata=bearer(access), timeout=10
            )
            assert reply.client_id == agency[0]


def test_no_log_line_of_any_replica_holds_a_secret(setup: Setup) -> None:
    assert_no_secrets(setup.fleet.log_records(), setup.secrets)
