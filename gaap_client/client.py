"""``GaapClient``: typed stubs of identity, payments and notify with the call policy."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from types import TracebackType
from typing import Any

import grpc
from gaap.common.v1 import caller_pb2_grpc
from gaap.identity.v1 import identity_pb2_grpc
from gaap.notify.v1 import notify_pb2, notify_pb2_grpc
from gaap.payments.v1 import payments_pb2, payments_pb2_grpc

from gaap_client.calls import CallPolicy, RetryPolicy, open_channel
from gaap_client.credentials import ClientSecret, Credentials, PrivateKeyJwt
from gaap_client.dpop import DpopKey
from gaap_client.tokens import TokenSource


@dataclass(frozen=True)
class Targets:
    """Where the services' gRPC ports are (the ``make run`` defaults)."""

    identity: str = "127.0.0.1:50051"
    payments: str = "127.0.0.1:50052"
    notify: str = "127.0.0.1:50053"
    # Each service's public base URL: DPoP proofs name it (``htu``).
    identity_url: str = "http://127.0.0.1:8081"
    payments_url: str = "http://127.0.0.1:8082"
    notify_url: str = "http://127.0.0.1:8083"

    def public_url(self, target: str) -> str:
        """The public base URL of the service at the gRPC ``target``."""
        urls = {
            self.identity: self.identity_url,
            self.payments: self.payments_url,
            self.notify: self.notify_url,
        }
        if target not in urls:
            raise ValueError(f"{target} is none of the targets: DPoP needs its public URL")
        return urls[target]


class GaapClient:
    """One agency's connection to the platform.

    ``client.payments``, ``client.notify`` and ``client.identity`` are the generated
    stubs (so every method and message is typed), with a bearer token on every call,
    a deadline (``timeout`` unless the call passes one), an idempotency key when the
    request takes one and none was set, retries on UNAVAILABLE and
    RESOURCE_EXHAUSTED (gRPC's retry policy, ``retry``), and ``gaap_client.errors``
    exceptions instead of bare ``grpc.RpcError``. A service's channel is opened
    when its stub is first used.
    """

    def __init__(
        self,
        tokens: TokenSource,
        targets: Targets = Targets(),
        *,
        timeout: float = 10.0,
        retry: RetryPolicy = RetryPolicy(),  # noqa: B008 - frozen
        channel_credentials: grpc.ChannelCredentials | None = None,
    ) -> None:
        self.tokens = tokens
        self.targets = targets
        self.policy = CallPolicy(tokens, timeout=timeout, retry=retry)
        self._timeout = timeout
        self._credentials = channel_credentials
        self._channels: dict[str, grpc.Channel] = {}

    @cached_property
    def identity(self) -> identity_pb2_grpc.IdentityServiceStub:
        return identity_pb2_grpc.IdentityServiceStub(self.channel(self.targets.identity))

    @cached_property
    def payments(self) -> payments_pb2_grpc.PaymentsServiceStub:
        return payments_pb2_grpc.PaymentsServiceStub(self.channel(self.targets.payments))

    @cached_property
    def notify(self) -> notify_pb2_grpc.NotifyServiceStub:
        return notify_pb2_grpc.NotifyServiceStub(self.channel(self.targets.notify))

    @classmethod
    def from_secret(
        cls,
        token_endpoint: str,
        client_id: str,
        client_secret: str,
        targets: Targets = Targets(),
        **options: Any,
    ) -> GaapClient:
        return cls.from_credentials(
            token_endpoint, ClientSecret(client_id, client_secret), targets, **options
        )

    @classmethod
    def from_credentials(
        cls,
        token_endpoint: str,
        credentials: Credentials,
        targets: Targets = Targets(),
        *,
        dpop: bool | DpopKey = False,
        fapi2: bool = False,
        issuer: str = "",
        **options: Any,
    ) -> GaapClient:
        """``dpop``: bind the tokens to a key (RFC 9449), a new ES256 key for
        ``True``, and prove it on every call: a stolen token is then useless on
        its own.

        ``fapi2``: what an agency with the FAPI 2.0 profile must do: DPoP, and
        ``private_key_jwt`` assertions whose ``aud`` is ``issuer`` (identity's
        issuer, required)."""
        if fapi2:
            if not isinstance(credentials, PrivateKeyJwt):
                raise ValueError("the FAPI 2.0 profile authenticates with private_key_jwt only")
            if not issuer:
                raise ValueError("the FAPI 2.0 profile needs the issuer (the assertions' aud)")
            dpop = dpop or True
        key = dpop if isinstance(dpop, DpopKey) else DpopKey.generate() if dpop else None
        tokens = TokenSource(token_endpoint, credentials, dpop=key, audience=issuer or None)
        return cls(tokens, targets, **options)

    @classmethod
    def from_agency_file(
        cls,
        path: str | Path,
        targets: Targets = Targets(),
        **options: Any,
    ) -> GaapClient:
        """The demo agency ``make run`` writes to ``var/demo/agency.json`` (with the
        FAPI 2.0 profile when the file says ``"profile": "fapi2"``, and its
        ``dpop_private_key`` when it has one)."""
        saved = json.loads(Path(path).read_text())
        credentials = agency_credentials(saved)
        if saved.get("profile") == "fapi2":
            options = {"fapi2": True, "issuer": str(saved["issuer"]), **options}
        if saved.get("dpop_private_key"):  # the key every process of the agency shares
            options = {"dpop": DpopKey.from_pem(str(saved["dpop_private_key"])), **options}
        return cls.from_credentials(saved["token_endpoint"], credentials, targets, **options)

    def channel(self, target: str) -> grpc.Channel:
        if target not in self._channels:
            policy = self.policy
            if self.tokens.dpop is not None:  # a proof per call, for this service's URL
                policy = CallPolicy(
                    self.tokens,
                    timeout=self._timeout,
                    retry=self.policy.retry,
                    dpop=self.tokens.dpop,
                    public_url=self.targets.public_url(target),
                )
            self._channels[target] = open_channel(target, policy, self._credentials)
        return self._channels[target]

    def caller(self, target: str) -> caller_pb2_grpc.CallerServiceStub:
        """``GetCallerIdentity`` on the service at ``target``."""
        return caller_pb2_grpc.CallerServiceStub(self.channel(target))

    # -- trying your webhook and callback receivers ---------------------------------
    # Each queues a signed POST in the platform's outbox (sent, retried and
    # signed like every event) and returns the new delivery at once. Without an
    # ``idempotency_key`` each call gets a fresh one, as every call through the
    # client does.

    def send_test_webhook(
        self, subscription_id: str, *, idempotency_key: str = ""
    ) -> payments_pb2.WebhookDelivery:
        """A ``webhook.test`` event to one of your payments webhook subscriptions."""
        return self.payments.SendTestWebhookEvent(
            payments_pb2.SendTestWebhookEventRequest(
                subscription_id=subscription_id, idempotency_key=idempotency_key
            )
        )

    def redeliver_webhook(
        self, delivery_id: str, *, idempotency_key: str = ""
    ) -> payments_pb2.WebhookDelivery:
        """A past delivery's event again (its ``Gaap-Delivery-Id``), to the same subscription."""
        return self.payments.RedeliverWebhookEvent(
            payments_pb2.RedeliverWebhookEventRequest(
                delivery_id=delivery_id, idempotency_key=idempotency_key
            )
        )

    def send_test_status_callback(
        self, *, idempotency_key: str = ""
    ) -> notify_pb2.StatusCallbackDelivery:
        """A ``callback.test`` POST to your registered notify status callback."""
        return self.notify.SendTestStatusCallback(
            notify_pb2.SendTestStatusCallbackRequest(idempotency_key=idempotency_key)
        )

    def redeliver_status_callback(
        self, notification_id: str, *, idempotency_key: str = ""
    ) -> notify_pb2.StatusCallbackDelivery:
        """The status callback of a notification's current status again."""
        return self.notify.RedeliverStatusCallback(
            notify_pb2.RedeliverStatusCallbackRequest(
                notification_id=notification_id, idempotency_key=idempotency_key
            )
        )

    def close(self) -> None:
        for channel in self._channels.values():
            channel.close()
        self._channels.clear()

    def __enter__(self) -> GaapClient:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def agency_credentials(saved: Any) -> Credentials:
    """The credentials in an agency file: ``client_secret``, or ``private_key``
    (PEM) and ``kid`` for ``private_key_jwt``."""
    if saved.get("private_key"):
        return PrivateKeyJwt(
            str(saved["client_id"]),
            str(saved["private_key"]),
            kid=str(saved["kid"]),
            algorithm=str(saved.get("algorithm") or "ES256"),
        )
    return ClientSecret(str(saved["client_id"]), str(saved["client_secret"]))
