"""Attacks, shown refused: forged tokens on every service's agency methods, one
agency reaching another's data through every method of payments and notify,
replayed Stripe webhooks, CSRF on every form, open redirects, oversized and
malformed messages on every RPC (hypothesis, from the protos), and no secret in
any log line written meanwhile.

Already covered elsewhere and not repeated: alg none, HS256 with the public key,
unknown kid, jku and embedded jwk, expired, wrong audience and issuer on
GetCallerIdentity (tests/integration/test_grpc_auth.py); authorization code
replay, unregistered redirect URIs and sign-in lockout (tests/integration/oidc/).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import httpx
import pytest
import sqlalchemy as sa
from gaap.common.v1 import caller_pb2
from gaap.identity.v1 import identity_pb2
from gaap.notify.v1 import notify_pb2, notify_pb2_grpc
from gaap.payments.v1 import payments_pb2, payments_pb2_grpc
from google.protobuf import descriptor, message
from google.protobuf.descriptor import FieldDescriptor
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.routing import Route

from services.identity.web.app import PAR_PATH
from services.payments.adapters import tables as payment_tables
from services.runtime import webhook_signing
from tests.integration.payments.support import MAGIC, Agency, pay_on_page, payments_service
from tests.integration.test_grpc_auth import forge
from tests.production.logcheck import assert_no_secrets
from tests.support.platform import ALL_AGENCY_SCOPES, Platform, bearer, running_platform

SERVICES = {
    "identity": identity_pb2.DESCRIPTOR.services_by_name["IdentityService"],
    "payments": payments_pb2.DESCRIPTOR.services_by_name["PaymentsService"],
    "notify": notify_pb2.DESCRIPTOR.services_by_name["NotifyService"],
}
CALLER = caller_pb2.DESCRIPTOR.services_by_name["CallerService"]
IDENTITY_SCOPES = ("identity:tokens", "identity:agencies", "identity:accounts", "identity:audit")


STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


class Captured(logging.Handler):
    """Every record the in-process services log, before any redaction."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        # The message and every field a log call added (not the record's own
        # bookkeeping such as thread ids, which could look like card numbers).
        extra = {k: v for k, v in record.__dict__.items() if k not in STANDARD}
        text = record.getMessage() + " " + json.dumps(extra, default=str)
        if record.exc_info:
            text += " " + logging.Formatter().formatException(record.exc_info)
        self.lines.append(text)


@pytest.fixture(scope="module")
def captured() -> Iterator[Captured]:
    handler = Captured()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)


@pytest.fixture(scope="module")
def platform(
    database_url: str, tmp_path_factory: pytest.TempPathFactory, captured: Captured
) -> Iterator[Platform]:
    # ``captured`` is asked for only to be installed first: it sees the start-up logs too.
    with running_platform(database_url, tmp_path_factory.mktemp("var")) as running:
        yield running


SECRETS: list[str] = []


def agency_token(platform: Platform, scopes: tuple[str, ...] = ALL_AGENCY_SCOPES) -> str:
    agency = platform.secret_agency(scopes=scopes)
    access = platform.token(agency)
    SECRETS.extend((agency.client_secret, access))
    return access


def stub_call(platform: Platform, service: str, method: descriptor.MethodDescriptor) -> Any:
    request_class = message_class(method.input_type)
    response_class = message_class(method.output_type)
    return platform.channel(service).unary_unary(
        f"/{method.containing_service.full_name}/{method.name}",
        request_serializer=lambda m: m.SerializeToString(),
        response_deserializer=response_class.FromString,
    ), request_class


def message_class(desc: descriptor.Descriptor) -> type[message.Message]:
    from google.protobuf import message_factory

    found: type[message.Message] = message_factory.GetMessageClass(desc)
    return found


# -- forged and altered tokens on every service's agency-facing methods ------


def _unsigned(platform: Platform, alg: str) -> str:
    claims = json.dumps(json.loads(base64.urlsafe_b64decode(_pad(forge(platform).split(".")[1]))))
    header = json.dumps({"alg": alg, "typ": "at+jwt", "kid": platform.admin.keys.signer().kid})
    return f"{_b64(header.encode())}.{_b64(claims.encode())}."


def _pad(part: str) -> bytes:
    return (part + "=" * (-len(part) % 4)).encode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _stripped(platform: Platform) -> str:
    header, claims, _ = forge(platform).split(".")
    return f"{header}.{claims}."


def _hs512_with_jwk(platform: Platform) -> str:
    jwk = json.dumps(platform.admin.keys.jwks()["keys"][0]).encode()
    header = _b64(json.dumps({"alg": "HS512", "typ": "at+jwt"}).encode())
    claims = forge(platform).split(".")[1]
    mac = hmac.new(jwk, f"{header}.{claims}".encode(), hashlib.sha512).digest()
    return f"{header}.{claims}.{_b64(mac)}"


def _kid_not_a_string(platform: Platform) -> str:
    from jwt.algorithms import get_default_algorithms

    header = _b64(json.dumps({"alg": "ES256", "typ": "at+jwt", "kid": 7}).encode())
    claims = forge(platform).split(".")[1]
    signer = platform.admin.keys.signer()
    signature = get_default_algorithms()["ES256"].sign(
        f"{header}.{claims}".encode(), signer.private_key
    )
    return f"{header}.{claims}.{_b64(signature)}"


FORGED: dict[str, Callable[[Platform], str]] = {
    "x5u header": lambda p: forge(p, header={"x5u": "https://evil.example/cert.pem"}),
    "x5c header": lambda p: forge(p, header={"x5c": ["MIIBszCCAVmgAwIBAgIUZ"]}),
    "unknown crit": lambda p: forge(p, header={"crit": ["gaap-ext"], "gaap-ext": 1}),
    "kid not a string": _kid_not_a_string,
    "not yet valid": lambda p: forge(p, nbf=int(time.time()) + 3600),
    "issued in the future": lambda p: forge(p, iat=int(time.time()) + 3600),
    "alg NONE": lambda p: _unsigned(p, "NONE"),
    "alg None": lambda p: _unsigned(p, "None"),
    "signature stripped": _stripped,
    "HS512 keyed with the JWK": _hs512_with_jwk,
    "audience of another service": lambda p: forge(p, aud=["urn:gaap:identity"]),
    "no client id": lambda p: forge(p, client_id=None, sub=None),
}
AGENCY_METHOD = {
    "identity": ("ListAgencies", identity_pb2.ListAgenciesRequest()),
    "payments": ("ListPayments", payments_pb2.ListPaymentsRequest()),
    "notify": ("ListTemplates", notify_pb2.ListTemplatesRequest()),
}


@pytest.mark.parametrize("case", FORGED)
@pytest.mark.parametrize("service", ["identity", "payments", "notify"])
def test_forged_tokens_are_refused_on_agency_methods(
    platform: Platform, service: str, case: str
) -> None:
    token = FORGED[case](platform)
    if case == "audience of another service" and service == "identity":
        token = forge(platform, aud=["urn:gaap:payments"])
    name, request = AGENCY_METHOD[service]
    call, _ = stub_call(platform, service, SERVICES[service].methods_by_name[name])
    with pytest.raises(grpc.RpcError) as caught:
        call(request, metadata=bearer(token), timeout=10)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED, (case, caught.value.details())
    assert token not in (caught.value.details() or "")


# -- one agency against another's data, through every method -----------------


def _victim(platform: Platform, database_url: str) -> dict[str, Any]:
    """An agency with a payment (paid, refunded), a webhook subscription, templates,
    a notification and a callback: what an attacker will try to reach."""
    with payments_service(platform, database_url) as service:
        victim = Agency(service, scopes=list(ALL_AGENCY_SCOPES))
        SECRETS.append(victim.metadata[0][1].split()[1])
        payment = victim.create(reference="VICTIM-REF-7781", description="Victim payment")
        paid = victim.create(reference="VICTIM-REF-7782")
        pay_on_page(service.page_url(paid), MAGIC["success"])
        refund = victim.stub.CreateRefund(
            payments_pb2.CreateRefundRequest(payment_id=paid.id, amount=100, idempotency_key="r"),
            metadata=victim.metadata,
        )
        subscription = victim.stub.CreateWebhookSubscription(
            payments_pb2.CreateWebhookSubscriptionRequest(
                url="https://victim.example/hook", idempotency_key="s"
            ),
            metadata=victim.metadata,
        ).subscription
    notify = notify_pb2_grpc.NotifyServiceStub(platform.channel("notify"))
    template = notify.CreateTemplate(
        notify_pb2.CreateTemplateRequest(
            channel=notify_pb2.CHANNEL_EMAIL,
            name="Victim template VICTIM-TPL",
            contents=[notify_pb2.TemplateContent(language="en", subject="Secret", body="Victim")],
            idempotency_key="t",
        ),
        metadata=victim.metadata,
    )
    notification = notify.SendEmail(
        notify_pb2.SendEmailRequest(
            template_id=template.id,
            email_address="victim.citizen@example.gov",
            reference="VICTIM-NOTE",
            idempotency_key="n",
        ),
        metadata=victim.metadata,
    )
    notify.SetStatusCallback(
        notify_pb2.SetStatusCallbackRequest(url="https://victim.example/cb", idempotency_key="c"),
        metadata=victim.metadata,
    )
    return {
        "metadata": victim.metadata,
        "client_id": victim.client_id,
        "ids": [payment.id, paid.id, refund.id, subscription.id, template.id, notification.id],
        "markers": [
            "VICTIM-REF-7781",
            "VICTIM-REF-7782",
            "VICTIM-TPL",
            "VICTIM-NOTE",
            "victim.citizen@example.gov",
            "victim.example",
            victim.client_id,
        ],
        "payment": payment,
        "template": template,
        "notification": notification,
    }


def _id_fields(desc: descriptor.Descriptor) -> list[str]:
    return [
        f.name
        for f in desc.fields
        if f.type == FieldDescriptor.TYPE_STRING
        and (f.name == "id" or f.name.endswith("_id"))
        and not f.is_repeated
    ]


def _patient(call: Any, request: message.Message, metadata: Any) -> Any:
    """The call, waiting out the per-agency write rate (15/s) rather than failing on it."""
    for _ in range(20):
        try:
            return call(request, metadata=metadata, timeout=10)
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.RESOURCE_EXHAUSTED:
                raise
            time.sleep(0.1)
    return call(request, metadata=metadata, timeout=10)


def _outcome(
    call: Any, request: message.Message, metadata: Any
) -> tuple[Any, grpc.RpcError | None]:
    try:
        return _patient(call, request, metadata), None
    except grpc.RpcError as exc:
        return None, exc


def _fill(request: message.Message) -> None:
    """Plausible values for what the id lookup may need first."""
    for field in request.DESCRIPTOR.fields:
        if field.name == "idempotency_key":
            setattr(request, field.name, uuid.uuid4().hex)
        elif field.name == "amount" and field.type == FieldDescriptor.TYPE_INT64:
            request.amount = 100  # type: ignore[attr-defined]
        elif field.name == "page_size":
            request.page_size = 100  # type: ignore[attr-defined]


@pytest.mark.parametrize("service", ["payments", "notify"])
def test_no_agency_reaches_another_agencys_data_through_any_method(
    platform: Platform, database_url: str, service: str
) -> None:
    victim = _victim(platform, database_url)
    attacker = bearer(agency_token(platform))
    outcomes: dict[str, set[str]] = {}
    for method in SERVICES[service].methods:
        call, request_class = stub_call(platform, service, method)
        targets = _id_fields(method.input_type)
        attempts: list[tuple[str | None, Any]] = [(f, v) for f in targets for v in victim["ids"]]
        attempts = attempts or [(None, None)]
        for field, value in attempts:
            request = request_class()
            _fill(request)
            if field is not None:
                setattr(request, field, value)
            response, error = _outcome(call, request, attacker)
            if error is not None:
                code = error.code()
                assert code in (
                    grpc.StatusCode.NOT_FOUND,
                    grpc.StatusCode.INVALID_ARGUMENT,
                    grpc.StatusCode.FAILED_PRECONDITION,
                ), (method.name, field, code, error.details())
                for marker in victim["markers"]:
                    assert marker not in (error.details() or ""), (method.name, marker)
                outcomes.setdefault(method.name, set()).add(code.name)
                continue
            text = str(response)
            for marker in [*victim["ids"], *victim["markers"]]:
                assert marker not in text, (method.name, field, marker)
            outcomes.setdefault(method.name, set()).add("OK")
    # Every Get by id said NOT_FOUND: the victim's resources exist, just not for them.
    for name, codes in outcomes.items():
        if name.startswith("Get") and _id_fields(
            SERVICES[service].methods_by_name[name].input_type
        ):
            assert "NOT_FOUND" in codes, (name, codes)
    # And nothing of the victim's changed.
    if service == "payments":
        stub = payments_pb2_grpc.PaymentsServiceStub(platform.channel("payments"))
        again = stub.GetPayment(
            payments_pb2.GetPaymentRequest(payment_id=victim["payment"].id),
            metadata=victim["metadata"],
        )
        assert again.state == victim["payment"].state
        subscriptions = stub.ListWebhookSubscriptions(
            payments_pb2.ListWebhookSubscriptionsRequest(), metadata=victim["metadata"]
        )
        assert [s.disabled for s in subscriptions.subscriptions] == [False]
    else:
        notifier = notify_pb2_grpc.NotifyServiceStub(platform.channel("notify"))
        template = notifier.GetTemplate(
            notify_pb2.GetTemplateRequest(template_id=victim["template"].id),
            metadata=victim["metadata"],
        )
        assert template.version == victim["template"].version
        assert template.name == victim["template"].name
        callback = notifier.GetStatusCallback(
            notify_pb2.GetStatusCallbackRequest(), metadata=victim["metadata"]
        )
        assert callback.url == "https://victim.example/cb"


# -- replayed Stripe webhooks ---------------------------------------------------

STRIPE_SECRET = "whsec_attack_suite_secret_0123456789"


def test_stripe_webhooks_with_an_old_timestamp_or_a_reused_event_id_change_nothing(
    platform: Platform, database_url: str
) -> None:
    with payments_service(platform, database_url, stripe_webhook_secrets=STRIPE_SECRET) as service:
        url = service.running.http_url + "/webhooks/stripe"
        event_id = f"evt_{uuid.uuid4().hex}"
        body = json.dumps({"id": event_id, "type": "balance.available", "data": {}}).encode()

        def post(timestamp: int) -> httpx.Response:
            header = webhook_signing.sign(STRIPE_SECRET, body, timestamp)
            return httpx.post(url, content=body, headers={"stripe-signature": header})

        def recorded() -> int:
            with service.sessions() as session:
                return int(
                    session.scalar(
                        sa.select(sa.func.count()).where(
                            payment_tables.stripe_events.c.id == event_id
                        )
                    )
                    or 0
                )

        stale = post(int(time.time()) - 3600)
        assert stale.status_code == 400
        assert recorded() == 0
        assert post(int(time.time())).status_code == 200
        assert recorded() == 1
        assert post(int(time.time())).status_code == 200
        assert recorded() == 1
        tampered = webhook_signing.sign(STRIPE_SECRET, body, int(time.time()))
        forged_body = body.replace(b"balance.available", b"charge.refunded")
        response = httpx.post(url, content=forged_body, headers={"stripe-signature": tampered})
        assert response.status_code == 400


# -- CSRF on every form, open redirects ------------------------------------------

# Not forms: OAuth endpoints and webhooks authenticate their callers, and the JSON
# API (/gaap.<service>.v1...) takes bearer tokens, never cookies.
NOT_FORMS = ("/oauth2/", "/userinfo", "/webhooks/", "/receipts/", "/gaap.", "/grpc.")
# Pushed authorization requests: the agency authenticates as at the token endpoint.
NOT_FORM_PATHS = (PAR_PATH,)


def _post_routes(platform: Platform, service: str) -> list[str]:
    app: Any = platform.service(service).http.app
    while not hasattr(app, "routes"):  # past ForwardedHeaders and BodyLimit
        app = app.app
    routes = list(app.routes)
    # The JSON API sits in front of the service's own app (a Router's default).
    if getattr(app, "default", None) is not None and hasattr(app.default, "routes"):
        routes += list(app.default.routes)
    return [
        r.path
        for r in routes
        if isinstance(r, Route)
        and "POST" in (r.methods or ())
        and not r.path.startswith(NOT_FORMS)
        and r.path not in NOT_FORM_PATHS
    ]


def test_every_form_refuses_a_post_without_its_csrf_token(
    platform: Platform, database_url: str
) -> None:
    forms = _post_routes(platform, "identity")
    assert len(forms) >= 10  # sign-in, registration, recovery, account pages...
    for path in forms:
        for token in ("", "forged"):
            with httpx.Client(base_url=platform.identity.http_url) as browser:
                browser.get(path)  # a session cookie, as a victim's browser would have
                response = browser.post(
                    path,
                    data={"csrf_token": token, "email": "a@example.gov", "password": "p" * 14},
                )
            refused = response.status_code in (400, 403) or (
                response.status_code == 303 and "signin" in response.headers["location"]
            )
            assert refused, (path, token, response.status_code, response.headers.get("location"))
    with payments_service(platform, database_url) as service:
        agency = Agency(service)
        payment = agency.create()
        page = service.page_url(payment)
        httpx.get(page)  # visiting the page starts the payment: compare after that
        before = agency.get(payment.id).state
        for action in ("card", "confirm", "cancel"):
            with httpx.Client() as browser:
                browser.get(page)
                response = browser.post(
                    f"{page}/{action}",
                    data={"csrf_token": "forged", "card-number": MAGIC["success"]},
                )
            assert response.status_code in (400, 403), (action, response.status_code)
        assert agency.get(payment.id).state == before


@pytest.mark.parametrize(
    "return_url",
    [
        "javascript:alert(1)",
        "//evil.example/phish",
        "data:text/html,<script>alert(1)</script>",
        "https://user:pass@evil.example/",
        "ftp://evil.example/",
    ],
)
def test_payment_return_urls_that_would_redirect_anywhere_are_refused(
    platform: Platform, return_url: str
) -> None:
    stub = payments_pb2_grpc.PaymentsServiceStub(platform.channel("payments"))
    with pytest.raises(grpc.RpcError) as caught:
        stub.CreatePayment(
            payments_pb2.CreatePaymentRequest(
                amount=100,
                reference="R",
                description="D",
                return_url=return_url,
                idempotency_key=uuid.uuid4().hex,
            ),
            metadata=bearer(agency_token(platform)),
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_logout_never_redirects_to_an_unregistered_address(platform: Platform) -> None:
    for target in ("https://evil.example/", "//evil.example", "/\\evil.example"):
        response = httpx.get(
            platform.identity.http_url + "/logout", params={"post_logout_redirect_uri": target}
        )
        location = response.headers.get("location", "")
        assert "evil.example" not in location, (target, response.status_code, location)


# -- malformed and oversized messages on every RPC, from the protos ----------------

TEXT = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=200, max_size=600),
    st.just("x" * 70_000),
    st.sampled_from(["", " ", "\x00", "../../etc/passwd", "' OR 1=1 --", "%s%n", "\u202e"]),
)
INTS = st.one_of(st.integers(-(2**63), 2**63 - 1), st.sampled_from([0, -1, 1, 2**31]))


def _value(field: FieldDescriptor, depth: int) -> st.SearchStrategy[Any]:
    kind = field.type
    if kind == FieldDescriptor.TYPE_MESSAGE:
        assert field.message_type is not None
        return _message(field.message_type, depth + 1) if depth < 2 else st.none()
    if kind == FieldDescriptor.TYPE_STRING:
        return TEXT
    if kind == FieldDescriptor.TYPE_BYTES:
        return st.binary(max_size=64)
    if kind == FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if kind == FieldDescriptor.TYPE_ENUM:
        return st.integers(-5, 40)
    if kind in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return st.floats(allow_nan=True, allow_infinity=True, width=32)
    if kind in (FieldDescriptor.TYPE_UINT32, FieldDescriptor.TYPE_FIXED32):
        return st.integers(0, 2**32 - 1)
    if kind in (FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_FIXED64):
        return st.integers(0, 2**64 - 1)
    if kind in (
        FieldDescriptor.TYPE_INT32,
        FieldDescriptor.TYPE_SINT32,
        FieldDescriptor.TYPE_SFIXED32,
    ):
        return st.integers(-(2**31), 2**31 - 1)
    return INTS


def _message(desc: descriptor.Descriptor, depth: int = 0) -> st.SearchStrategy[Any]:
    """A strategy for bytes of a message of ``desc`` with random field values."""
    cls = message_class(desc)
    fields = list(desc.fields)

    @st.composite
    def build(draw: st.DrawFn) -> message.Message:
        built = cls()
        for field in (
            draw(st.lists(st.sampled_from(fields), max_size=len(fields), unique=True))
            if fields
            else []
        ):
            _set(built, field, draw, depth)
        return built

    return build()


def _set(built: message.Message, field: FieldDescriptor, draw: st.DrawFn, depth: int) -> None:
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        key_field, value_field = (
            field.message_type.fields_by_name["key"],
            field.message_type.fields_by_name["value"],
        )
        for _ in range(draw(st.integers(0, 3))):
            key = draw(_value(key_field, depth))
            value = draw(_value(value_field, depth))
            target = getattr(built, field.name)
            if value_field.type == FieldDescriptor.TYPE_MESSAGE:
                if value is not None:
                    target[key].CopyFrom(value)
            else:
                target[key] = value
        return
    repeated = field.is_repeated
    values = [draw(_value(field, depth)) for _ in range(draw(st.integers(0, 3)) if repeated else 1)]
    for value in values:
        if value is None:
            continue
        try:
            if field.type == FieldDescriptor.TYPE_MESSAGE:
                if repeated:
                    getattr(built, field.name).add().CopyFrom(value)
                else:
                    getattr(built, field.name).CopyFrom(value)
            elif repeated:
                getattr(built, field.name).append(value)
            else:
                setattr(built, field.name, value)
        except (ValueError, TypeError):
            pass  # e.g. a closed enum refusing a number: leave the field unset


def _all_methods() -> list[tuple[str, descriptor.MethodDescriptor]]:
    found = [(name, m) for name, svc in SERVICES.items() for m in svc.methods]
    found += [(name, CALLER.methods_by_name["GetCallerIdentity"]) for name in SERVICES]
    return found


FUZZ = settings(
    max_examples=6,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def fuzz_token(platform: Platform) -> tuple[tuple[str, str], ...]:
    return bearer(agency_token(platform, (*ALL_AGENCY_SCOPES, *IDENTITY_SCOPES)))


@pytest.mark.parametrize(("service", "method"), _all_methods(), ids=lambda v: getattr(v, "name", v))
def test_random_messages_never_crash_any_rpc(
    platform: Platform,
    fuzz_token: tuple[tuple[str, str], ...],
    service: str,
    method: descriptor.MethodDescriptor,
) -> None:
    path = f"/{method.containing_service.full_name}/{method.name}"
    raw = platform.channel(service).unary_unary(path, None, None)  # bytes in, bytes out

    def check(payload: bytes) -> None:
        error: grpc.RpcError | None = None
        try:
            raw(payload, metadata=fuzz_token, timeout=30)
        except grpc.RpcError as exc:
            error = exc
        if error is not None:
            assert error.code() not in (
                grpc.StatusCode.INTERNAL,
                grpc.StatusCode.UNKNOWN,
                grpc.StatusCode.DEADLINE_EXCEEDED,
            ), (path, error.code(), error.details())

    @FUZZ
    @given(
        st.one_of(
            _message(method.input_type).map(lambda m: m.SerializeToString()),
            st.binary(max_size=256),
        )
    )
    def fuzz(payload: bytes) -> None:
        check(payload)

    fuzz()
    # Oversized: beyond the 4 MiB receive limit, refused before the servicer runs.
    with pytest.raises(grpc.RpcError) as caught:
        raw(b"\x0a" + b"\xff" * 5 * 1024 * 1024, metadata=fuzz_token, timeout=30)
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    health = health_pb2_grpc.HealthStub(platform.channel(service))
    assert health.Check(health_pb2.HealthCheckRequest(), timeout=5).status == (
        health_pb2.HealthCheckResponse.SERVING
    )


def test_no_log_line_written_during_the_attacks_holds_a_secret(captured: Captured) -> None:
    assert_no_secrets((("in-process", line) for line in captured.lines), SECRETS)
