"""The client's methods for trying webhooks and status callbacks, against the
real services: each queues a delivery and returns it, with a generated key."""

from __future__ import annotations

import pytest
from gaap.notify.v1 import notify_pb2 as npb
from gaap.payments.v1 import payments_pb2 as ppb

from gaap_client import ClientSecret, GaapClient, Targets, TokenSource
from gaap_client.errors import FailedPrecondition, NotFound
from gaap_client.webhooks import NOTIFY_TEST_CALLBACK, PAYMENTS_TEST_EVENT
from tests.integration.payments.support import WebhookReceiver
from tests.support.platform import Platform


def _client(platform: Platform) -> GaapClient:
    agency = platform.secret_agency()
    tokens = TokenSource(platform.token_url, ClientSecret(agency.client_id, agency.client_secret))
    targets = Targets(
        platform.identity.grpc_target, platform.payments.grpc_target, platform.notify.grpc_target
    )
    return GaapClient(tokens, targets)


def test_a_test_webhook_and_its_redelivery(platform: Platform) -> None:
    receiver = WebhookReceiver()
    try:
        with _client(platform) as client:
            created = client.payments.CreateWebhookSubscription(
                ppb.CreateWebhookSubscriptionRequest(url=receiver.url)
            )
            sent = client.send_test_webhook(created.subscription.id)
            assert sent.event_type == PAYMENTS_TEST_EVENT
            again = client.redeliver_webhook(sent.id)
            assert (again.event_id, again.event_type) == (sent.event_id, PAYMENTS_TEST_EVENT)
            assert again.id != sent.id
            with pytest.raises(NotFound):
                client.redeliver_webhook("whd_nope")
    finally:
        receiver.close()


def test_a_test_status_callback_and_a_redelivery_refused(platform: Platform) -> None:
    receiver = WebhookReceiver()
    try:
        with _client(platform) as client:
            with pytest.raises(FailedPrecondition):
                client.send_test_status_callback()
            client.notify.SetStatusCallback(npb.SetStatusCallbackRequest(url=receiver.url))
            sent = client.send_test_status_callback()
            assert sent.event_type == NOTIFY_TEST_CALLBACK
            with pytest.raises(NotFound):
                client.redeliver_status_callback("ntf_nope")
    finally:
        receiver.close()
