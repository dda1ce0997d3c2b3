"""notify over real gRPC (SQLite and PostgreSQL), with a real SMTP server, a real
HTTP SMS provider and a real callback receiver."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import httpx
import pytest
import sqlalchemy as sa
from gaap.notify.v1 import notify_pb2 as pb
from gaap.notify.v1 import notify_pb2_grpc
from google.protobuf.timestamp_pb2 import Timestamp
from grpc_status import rpc_status

from services.notify.adapters import tables
from services.notify.bootstrap import Notify
from services.notify.domain.templates import Content
from services.notify.service_layer.sending import SendRequest
from services.notify.settings import NotifySettings
from services.runtime.context import Principal
from services.runtime.db import transaction
from services.runtime.idempotency import Keyed
from tests.integration.notify.support import (
    SMS_KEY,
    CallbackReceiver,
    HttpApp,
    SmtpServer,
    notify_for,
    run_worker,
    sms_gateway,
    wait_for,
    worker_settings,
)
from tests.support.platform import Platform, bearer
from tests.support.tracing import in_memory, recorded_text

Stub = notify_pb2_grpc.NotifyServiceStub


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpApp]:
    app = sms_gateway(tmp_path_factory.mktemp("sms"))
    yield app
    app.stop()


@pytest.fixture(scope="module")
def notify(platform: Platform, database_url: str) -> Iterator[Notify]:
    handle = notify_for(platform, database_url)
    yield handle
    handle.database.close()


@pytest.fixture(scope="module")
def settings(
    platform: Platform, database_url: str, smtp: SmtpServer, gateway: HttpApp
) -> NotifySettings:
    return worker_settings(database_url, smtp.port, gateway.url, platform.notify.http_url)


@pytest.fixture(scope="module")
def stub(platform: Platform) -> Stub:
    return Stub(platform.channel("notify"))


@pytest.fixture(scope="module")
def live(platform: Platform) -> tuple[tuple[str, str], ...]:
    """A live-mode agency's call metadata: its notifications really go to providers."""
    return bearer(platform.token(platform.secret_agency(mode="live")))


@pytest.fixture(scope="module")
def test_mode(platform: Platform) -> tuple[tuple[str, str], ...]:
    return bearer(platform.token(platform.secret_agency(mode="test")))


def key() -> str:
    return uuid.uuid4().hex


def email_template(stub: Stub, md: tuple[tuple[str, str], ...], body: str = "") -> pb.Template:
    return stub.CreateTemplate(
        pb.CreateTemplateRequest(
            channel=pb.CHANNEL_EMAIL,
            name="Renewal",
            contents=[
                pb.TemplateContent(
                    language="en",
                    subject="Your ((licence type)) licence",
                    body=body
                    or "# Hello ((First Name))\n\nYour licence ends on ((date)).\n\n"
                    "((paid??You have paid.))\n\n* Renew at [GOV](https://gov.example/renew)\n"
                    "* Items: ((items))",
                ),
                pb.TemplateContent(
                    language="zh-Hans",
                    subject="您的((licence type))执照",
                    body="((first_name))您好",
                ),
            ],
            idempotency_key=key(),
        ),
        metadata=md,
    )


def sms_template(
    stub: Stub, md: tuple[tuple[str, str], ...], body: str = "Code ((code))"
) -> pb.Template:
    return stub.CreateTemplate(
        pb.CreateTemplateRequest(
            channel=pb.CHANNEL_SMS,
            name="Code",
            contents=[pb.TemplateContent(language="en", body=body)],
            idempotency_key=key(),
        ),
        metadata=md,
    )


def values(**items: str | list[str]) -> dict[str, pb.PersonalisationValue]:
    return {
        k: pb.PersonalisationValue(list=pb.StringList(values=v))
        if isinstance(v, list)
        else pb.PersonalisationValue(text=v)
        for k, v in items.items()
    }


FULL: dict[str, str | list[str]] = {
    "first_name": "Ada <b>",
    "licence-type": "fishing",
    "date": "1 May",
    "paid": "yes",
    "items": ["rod", "net", "boat"],
}


def send_email(
    stub: Stub, md: tuple[tuple[str, str], ...], template_id: str, to: str, **extra: object
) -> pb.Notification:
    request = pb.SendEmailRequest(
        template_id=template_id,
        email_address=to,
        personalisation=values(**FULL),
        idempotency_key=key(),
        **extra,  # type: ignore[arg-type]
    )
    return stub.SendEmail(request, metadata=md)


def violations(error: grpc.RpcError) -> dict[str, str]:
    from google.rpc import error_details_pb2

    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None
    found: dict[str, str] = {}
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            found.update({v.field: v.description for v in bad.field_violations})
    return found


def stamp(at: datetime) -> Timestamp:
    t = Timestamp()
    t.FromDatetime(at)
    return t


def test_templates_are_versioned_listed_and_previewed_in_languages(
    stub: Stub, live: tuple[tuple[str, str], ...]
) -> None:
    first = email_template(stub, live)
    assert first.version == 1
    assert set(first.placeholders) == {"licencetype", "firstname", "date", "paid", "items"}
    second = stub.UpdateTemplate(
        pb.UpdateTemplateRequest(
            template_id=first.id,
            name="Renewal v2",
            contents=[pb.TemplateContent(language="en", subject="S ((x))", body="B ((x))")],
            idempotency_key=key(),
        ),
        metadata=live,
    )
    assert second.version == 2
    old = stub.GetTemplate(pb.GetTemplateRequest(template_id=first.id, version=1), metadata=live)
    assert old.contents[0].subject == "Your ((licence type)) licence"
    assert stub.GetTemplate(pb.GetTemplateRequest(template_id=first.id), metadata=live).version == 2
    listed = stub.ListTemplates(pb.ListTemplatesRequest(page_size=100), metadata=live)
    assert first.id in [t.id for t in listed.templates]

    zh = stub.PreviewTemplate(
        pb.PreviewTemplateRequest(
            template_id=first.id, version=1, personalisation=values(**FULL), language="zh-Hans-CN"
        ),
        metadata=live,
    )
    assert (zh.language, zh.subject, zh.body) == ("zh-Hans", "您的fishing执照", "Ada <b>您好")
    fallback = stub.PreviewTemplate(
        pb.PreviewTemplateRequest(
            template_id=first.id, version=1, personalisation=values(**FULL), language="fr"
        ),
        metadata=live,
    )
    assert fallback.language == "en"
    assert "rod, net and boat" in fallback.body
    assert "Ada &lt;b&gt;" in fallback.html
    assert "Ada <b>" not in fallback.html
    assert '<a href="https://gov.example/renew"' in fallback.html


def test_an_email_is_stored_then_sent_as_multipart_and_delivered(
    platform: Platform,
    stub: Stub,
    live: tuple[tuple[str, str], ...],
    smtp: SmtpServer,
    settings: NotifySettings,
) -> None:
    template = email_template(stub, live)
    to = f"{uuid.uuid4().hex[:8]}@bücher.example"
    sent = send_email(
        stub, live, template.id, to, reference="case-1", email_reply_to="help@gov.example"
    )
    assert sent.status == pb.STATUS_CREATED
    assert sent.subject == "Your fishing licence"
    assert "You have paid." in sent.body
    assert run_worker(platform, settings) >= 1
    got = stub.GetNotification(pb.GetNotificationRequest(notification_id=sent.id), metadata=live)
    assert got.status == pb.STATUS_DELIVERED
    [message] = smtp.handler.to(to)
    assert message["Subject"] == "Your fishing licence"
    assert message["Reply-To"] == "help@gov.example"
    assert message.get_content_type() == "multipart/alternative"
    html_part = message.get_body(("html",))
    text_part = message.get_body(("plain",))
    assert html_part is not None
    assert text_part is not None
    assert "Ada &lt;b&gt;" in html_part.get_content()
    assert "Renew at GOV: https://gov.example/renew" in text_part.get_content()
    # Sent once: another run finds nothing to do.
    run_worker(platform, settings)
    assert len(smtp.handler.to(to)) == 1


def test_a_traced_worker_shows_each_attempt_with_its_statements_and_no_personal_data(
    platform: Platform,
    stub: Stub,
    live: tuple[tuple[str, str], ...],
    settings: NotifySettings,
) -> None:
    template = email_template(stub, live)
    to = f"traced-{uuid.uuid4().hex[:8]}@example.gov"
    sent = send_email(stub, live, template.id, to, reference="traced-ref")
    provider, exporter = in_memory("gaap-notify-worker")
    assert run_worker(platform, settings, tracing=provider) >= 1
    spans = list(exporter.get_finished_spans())
    [attempt] = [
        s
        for s in spans
        if s.name == "send email" and (s.attributes or {}).get("gaap.notification.id") == sent.id
    ]
    assert (attempt.attributes or {})["gaap.outcome"] == "delivered"
    values = recorded_text(spans)
    for personal in (to, "traced-ref", "Ada"):
        assert not any(personal in value for value in values), personal
    statements = [s for s in spans if "db.statement" in (s.attributes or {})]
    # The template's loading is part of the attempt; the polls around it (the
    # claim, between attempts) make no traces of their own.
    assert any(s.parent and s.parent.span_id == attempt.context.span_id for s in statements)
    assert all(s.parent is not None for s in statements)


def test_a_delivery_attempt_joins_the_trace_of_the_call_that_queued_it(
    platform: Platform, notify: Notify, settings: NotifySettings
) -> None:
    provider, exporter = in_memory("gaap-notify-worker")
    caller = provider.get_tracer("test")
    stub_template: Any = notify.templates.create(
        "ag_traced",
        "email",
        "Traced",
        [Content("en", "Hello", "Hello ((name))")],
        Keyed("ag_traced", uuid.uuid4().hex, "fp"),
        lambda _: b"",
    )
    agency = Principal("ag_traced", "live", frozenset({"notify:send"}), "t", 0)
    to = f"joined-{uuid.uuid4().hex[:8]}@example.gov"
    assert stub_template is not None

    def send(name: str) -> Any:
        request = SendRequest("email", stub_template.id, to, {"name": name})
        return notify.sending.send(
            agency, request, Keyed(agency.client_id, uuid.uuid4().hex, "fp"), lambda _: b""
        )

    with caller.start_as_current_span("SendEmail") as call:
        sent = send("Ada")
    untraced = send("Bo")
    run_worker(platform, settings, tracing=provider)
    attempts = {
        (s.attributes or {}).get("gaap.notification.id"): s
        for s in exporter.get_finished_spans()
        if s.name == "send email"
    }
    joined = attempts[sent.id]
    assert joined.context.trace_id == call.get_span_context().trace_id
    assert joined.parent is not None
    assert joined.parent.span_id == call.get_span_context().span_id
    alone = attempts[untraced.id]
    assert alone.parent is None  # queued outside any trace: a trace of its own
    assert alone.context.trace_id != call.get_span_context().trace_id


def test_sms_goes_through_an_http_provider_and_its_receipt_delivers_it(
    platform: Platform, stub: Stub, live: tuple[tuple[str, str], ...], settings: NotifySettings
) -> None:
    template = sms_template(stub, live, "Your code is ((code)) \u2013 don\u2019t share it")
    sent = stub.SendSms(
        pb.SendSmsRequest(
            template_id=template.id,
            phone_number="07912 345678",
            personalisation=values(code="1234"),
            idempotency_key=key(),
        ),
        metadata=live,
    )
    assert sent.recipient == "+447912345678"
    assert sent.body == "Your code is 1234 - don't share it"  # downgraded to GSM-7
    assert sent.fragment_count == 1
    run_worker(platform, settings)

    def delivered() -> bool:
        got = stub.GetNotification(
            pb.GetNotificationRequest(notification_id=sent.id), metadata=live
        )
        return got.status == pb.STATUS_DELIVERED

    assert wait_for(delivered)


def test_bad_input_is_refused_with_field_violations_and_nothing_is_stored(
    platform: Platform, stub: Stub
) -> None:
    md = bearer(platform.token(platform.secret_agency(mode="live")))
    email = email_template(stub, md)
    sms = sms_template(stub, md)
    cases: list[tuple[Any, str]] = [
        (
            pb.SendEmailRequest(
                template_id=email.id,
                email_address="a..b@example.com",
                personalisation=values(**FULL),
            ),
            "email_address",
        ),
        (
            pb.SendEmailRequest(
                template_id=email.id,
                email_address='"q"@example.com',
                personalisation=values(**FULL),
            ),
            "email_address",
        ),
        (
            pb.SendEmailRequest(
                template_id=email.id,
                email_address="a@example.com",
                personalisation=values(first_name="x"),
            ),
            "personalisation.date",
        ),
        (
            pb.SendEmailRequest(
                template_id=email.id,
                email_address="a@example.com",
                personalisation=values(**FULL),
                scheduled_for=stamp(datetime.now(UTC) + timedelta(days=8)),
            ),
            "scheduled_for",
        ),
        (
            pb.SendSmsRequest(
                template_id=sms.id, phone_number="09098790000", personalisation=values(code="1")
            ),
            "phone_number",
        ),
        (
            pb.SendSmsRequest(
                template_id=sms.id, phone_number="+14155552671", personalisation=values(code="1")
            ),
            "phone_number",
        ),
        (
            pb.SendSmsRequest(
                template_id=sms.id,
                phone_number="07912345678",
                personalisation=values(code="x" * 915),
            ),
            "personalisation",
        ),
        (
            pb.SendSmsRequest(
                template_id=email.id, phone_number="07912345678", personalisation=values(code="1")
            ),
            "template_id",
        ),
    ]
    for request, field_name in cases:
        request.idempotency_key = key()
        call = stub.SendEmail if isinstance(request, pb.SendEmailRequest) else stub.SendSms
        with pytest.raises(grpc.RpcError) as caught:
            call(request, metadata=md)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, field_name
        assert field_name in violations(caught.value), (field_name, violations(caught.value))
    with pytest.raises(grpc.RpcError) as missing:
        stub.SendEmail(
            pb.SendEmailRequest(
                template_id=email.id,
                email_address="a@example.com",
                personalisation=values(paid="no"),
                idempotency_key=key(),
            ),
            metadata=md,
        )
    assert set(violations(missing.value)) >= {
        "personalisation.firstname",
        "personalisation.date",
        "personalisation.items",
    }
    listed = stub.ListNotifications(pb.ListNotificationsRequest(), metadata=md)
    assert list(listed.notifications) == []


def test_international_sms_is_a_per_agency_permission(platform: Platform, stub: Stub) -> None:
    md = bearer(platform.token(platform.secret_agency(mode="live")))
    sms = sms_template(stub, md)
    request = pb.SendSmsRequest(
        template_id=sms.id,
        phone_number="+8613800138000",
        personalisation=values(code="1"),
        idempotency_key=key(),
    )
    with pytest.raises(grpc.RpcError):
        stub.SendSms(request, metadata=md)
    updated = stub.UpdateAgencySettings(
        pb.UpdateAgencySettingsRequest(
            sms_default_region="GB", international_sms=True, idempotency_key=key()
        ),
        metadata=md,
    )
    assert updated.international_sms
    assert stub.SendSms(request, metadata=md).recipient == "+8613800138000"


def test_idempotency_and_tenant_isolation(
    platform: Platform, stub: Stub, live: tuple[tuple[str, str], ...]
) -> None:
    template = email_template(stub, live)
    request = pb.SendEmailRequest(
        template_id=template.id,
        email_address="x@example.com",
        personalisation=values(**FULL),
        idempotency_key=key(),
    )
    first = stub.SendEmail(request, metadata=live)
    assert stub.SendEmail(request, metadata=live).id == first.id
    request.reference = "changed"
    with pytest.raises(grpc.RpcError) as reused:
        stub.SendEmail(request, metadata=live)
    assert reused.value.code() == grpc.StatusCode.ALREADY_EXISTS
    other = bearer(platform.token(platform.secret_agency(mode="live")))
    for call in (
        lambda: stub.GetNotification(
            pb.GetNotificationRequest(notification_id=first.id), metadata=other
        ),
        lambda: stub.GetTemplate(pb.GetTemplateRequest(template_id=template.id), metadata=other),
    ):
        with pytest.raises(grpc.RpcError) as hidden:
            call()
        assert hidden.value.code() == grpc.StatusCode.NOT_FOUND


def test_scheduled_sends_wait_for_their_time_and_can_be_cancelled(
    platform: Platform,
    stub: Stub,
    live: tuple[tuple[str, str], ...],
    smtp: SmtpServer,
    settings: NotifySettings,
) -> None:
    template = email_template(stub, live)
    later = datetime.now(UTC) + timedelta(hours=1)
    keep_to, cancel_to = f"keep-{key()[:6]}@example.com", f"cancel-{key()[:6]}@example.com"
    keep = send_email(stub, live, template.id, keep_to, scheduled_for=stamp(later))
    drop = send_email(stub, live, template.id, cancel_to, scheduled_for=stamp(later))
    run_worker(platform, settings)
    assert smtp.handler.to(keep_to) == []
    cancelled = stub.CancelNotification(
        pb.CancelNotificationRequest(notification_id=drop.id, idempotency_key=key()), metadata=live
    )
    assert cancelled.status == pb.STATUS_CANCELLED
    run_worker(platform, settings, clock=lambda: datetime.now(UTC) + timedelta(hours=2))
    assert len(smtp.handler.to(keep_to)) == 1
    assert smtp.handler.to(cancel_to) == []
    with pytest.raises(grpc.RpcError) as late:
        stub.CancelNotification(
            pb.CancelNotificationRequest(notification_id=keep.id, idempotency_key=key()),
            metadata=live,
        )
    assert late.value.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_test_mode_simulates_outcomes_without_calling_a_provider(
    platform: Platform,
    stub: Stub,
    test_mode: tuple[tuple[str, str], ...],
    smtp: SmtpServer,
    settings: NotifySettings,
) -> None:
    template = email_template(stub, test_mode)
    sms = sms_template(stub, test_mode)
    expected = {
        send_email(stub, test_mode, template.id, "anyone@example.com").id: pb.STATUS_DELIVERED,
        send_email(
            stub, test_mode, template.id, "perm-fail@simulator.notify"
        ).id: pb.STATUS_PERMANENT_FAILURE,
        send_email(
            stub, test_mode, template.id, "temp-fail@simulator.notify"
        ).id: pb.STATUS_TEMPORARY_FAILURE,
        stub.SendSms(
            pb.SendSmsRequest(
                template_id=sms.id,
                phone_number="07700900002",
                personalisation=values(code="1"),
                idempotency_key=key(),
            ),
            metadata=test_mode,
        ).id: pb.STATUS_PERMANENT_FAILURE,
    }
    before = len(smtp.handler.messages)
    run_worker(platform, settings)
    for notification_id, status in expected.items():
        got = stub.GetNotification(
            pb.GetNotificationRequest(notification_id=notification_id), metadata=test_mode
        )
        assert got.status == status
    assert len(smtp.handler.messages) == before


def test_bulk_sends_validate_every_row_then_queue_and_report_progress(
    stub: Stub, live: tuple[tuple[str, str], ...]
) -> None:
    template = sms_template(stub, live, "Hi ((name)), code ((code))")
    bad_csv = "phone number,name,code\n07912345678,Ann,1\nnot-a-number,Bob,2\n07912345679,,3\n"
    with pytest.raises(grpc.RpcError) as invalid:
        stub.CreateBulkSend(
            pb.CreateBulkSendRequest(template_id=template.id, csv=bad_csv, idempotency_key=key()),
            metadata=live,
        )
    assert invalid.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(violations(invalid.value)) == {"rows[2].recipient", "rows[3].personalisation.name"}
    rows = "".join(f"0791234{i:04d},Person {i},{i}\n" for i in range(50))
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    bulk = stub.CreateBulkSend(
        pb.CreateBulkSendRequest(
            template_id=template.id,
            csv="Phone Number,name,code\n" + rows,
            scheduled_for=stamp(due),
            idempotency_key=key(),
        ),
        metadata=live,
    )
    assert (bulk.total, bulk.pending) == (50, 50)
    # Queued rows read back as sent one by one would (PostgreSQL writes them with COPY).
    first = stub.ListNotifications(
        pb.ListNotificationsRequest(bulk_send_id=bulk.id, page_size=50), metadata=live
    ).notifications
    by_number = {n.recipient: n for n in first}
    queued = stub.GetNotification(
        pb.GetNotificationRequest(notification_id=by_number["+447912340007"].id), metadata=live
    )
    assert queued.body == "Hi Person 7, code 7"
    assert queued.scheduled_for.ToDatetime(tzinfo=UTC) == due
    assert queued.template_version == template.version
    assert queued.fragment_count == 1
    cancelled = stub.CancelBulkSend(
        pb.CancelBulkSendRequest(bulk_send_id=bulk.id, idempotency_key=key()), metadata=live
    )
    assert (cancelled.cancelled, cancelled.pending) == (50, 0)
    listed = stub.ListNotifications(
        pb.ListNotificationsRequest(bulk_send_id=bulk.id, page_size=20), metadata=live
    )
    assert len(listed.notifications) == 20
    assert listed.next_page_token


def independent_verify(secret: str, header: str, body: bytes, now: float) -> bool:
    """Written from docs/notify.md, not from the runtime's code."""
    parts = dict(p.split("=", 1) for p in header.split(","))
    timestamp = int(parts["t"])
    expected = hmac.new(
        secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256
    ).hexdigest()
    return abs(now - timestamp) <= 300 and hmac.compare_digest(expected, parts["v1"])


def test_status_changes_are_posted_signed(
    platform: Platform,
    stub: Stub,
    notify: Notify,
    settings: NotifySettings,
) -> None:
    receiver = CallbackReceiver()
    server = HttpApp(receiver.app()).start()
    try:
        md = bearer(platform.token(platform.secret_agency(mode="test")))
        registered = stub.SetStatusCallback(
            pb.SetStatusCallbackRequest(url=server.url + "/callbacks", idempotency_key=key()),
            metadata=md,
        )
        assert registered.signing_secret.startswith("whsec_")
        assert (
            stub.GetStatusCallback(pb.GetStatusCallbackRequest(), metadata=md).signing_secret == ""
        )
        template = email_template(stub, md)
        sent = send_email(stub, md, template.id, "perm-fail@simulator.notify", reference="ref-9")
        run_worker(platform, settings)
        notify.deliver_callbacks()
        bodies = []
        for headers, body in receiver.requests:
            assert independent_verify(
                registered.signing_secret, headers["gaap-signature"], body, time.time()
            )
            assert not independent_verify(
                "whsec_wrong", headers["gaap-signature"], body, time.time()
            )
            bodies.append(json.loads(body))
        mine = [b for b in bodies if b["id"] == sent.id]
        assert [b["status"] for b in mine] == ["STATUS_SENDING", "STATUS_PERMANENT_FAILURE"]
        assert mine[0]["reference"] == "ref-9"
        assert "to" not in mine[0]
    finally:
        server.stop()


def test_a_client_error_is_not_retried_but_a_server_error_is(
    platform: Platform, stub: Stub, notify: Notify, settings: NotifySettings
) -> None:
    receiver = CallbackReceiver(status=404)
    server = HttpApp(receiver.app()).start()
    try:
        md = bearer(platform.token(platform.secret_agency(mode="test")))
        stub.SetStatusCallback(
            pb.SetStatusCallbackRequest(url=server.url + "/callbacks", idempotency_key=key()),
            metadata=md,
        )
        template = email_template(stub, md)
        send_email(stub, md, template.id, "someone@example.com")
        run_worker(platform, settings)
        notify.deliver_callbacks()
        d = tables.webhook_deliveries
        with transaction(notify.database.sessions) as session:
            states = session.execute(
                sa.select(d.c.state, d.c.attempts).where(d.c.url == server.url + "/callbacks")
            ).all()
        assert states
        assert all(s == ("failed", 1) for s in states)
    finally:
        server.stop()


def test_smtp_down_then_up_sends_resume_and_complete(
    platform: Platform,
    stub: Stub,
    live: tuple[tuple[str, str], ...],
    database_url: str,
    gateway: HttpApp,
) -> None:
    down = SmtpServer().start()
    port = down.port
    down.stop()
    settings = worker_settings(database_url, port, gateway.url, platform.notify.http_url)
    template = email_template(stub, live)
    to = f"outage-{key()[:6]}@example.com"
    sent = send_email(stub, live, template.id, to)
    run_worker(platform, settings)
    waiting = stub.GetNotification(
        pb.GetNotificationRequest(notification_id=sent.id), metadata=live
    )
    assert waiting.status == pb.STATUS_SENDING
    up = SmtpServer(port).start()
    try:
        run_worker(platform, settings, clock=lambda: datetime.now(UTC) + timedelta(minutes=5))
        done = stub.GetNotification(
            pb.GetNotificationRequest(notification_id=sent.id), metadata=live
        )
        assert done.status == pb.STATUS_DELIVERED
        assert len(up.handler.to(to)) == 1
    finally:
        up.stop()


def test_receipts_need_the_providers_key(platform: Platform) -> None:
    url = platform.notify.http_url + "/receipts/sms/local-a"
    refused = httpx.post(
        url, json={"id": "x", "status": "delivered"}, headers={"authorization": "Bearer nope"}
    )
    assert refused.status_code == 401
    unknown = httpx.post(
        platform.notify.http_url + "/receipts/sms/nobody",
        json={"id": "x", "status": "delivered"},
        headers={"authorization": f"Bearer {SMS_KEY}"},
    )
    assert unknown.status_code == 401


def test_retention_purges_personal_data_and_keeps_the_status(
    platform: Platform,
    stub: Stub,
    test_mode: tuple[tuple[str, str], ...],
    notify: Notify,
    settings: NotifySettings,
) -> None:
    template = email_template(stub, test_mode)
    sent = send_email(stub, test_mode, template.id, "old@example.com")
    run_worker(platform, settings)
    n = tables.notifications
    with transaction(notify.database.sessions) as session:
        session.execute(
            n.update()
            .where(n.c.id == sent.id)
            .values(created_at=datetime.now(UTC) - timedelta(days=8))
        )
    assert notify.maintain()["purged"] >= 1
    got = stub.GetNotification(
        pb.GetNotificationRequest(notification_id=sent.id), metadata=test_mode
    )
    assert got.purged
    assert got.recipient == ""
    assert got.body == ""
    assert got.status == pb.STATUS_DELIVERED


def test_rate_and_daily_limits_are_resource_exhausted(
    platform: Platform, database_url: str
) -> None:
    from services.notify import bootstrap as notify_bootstrap
    from services.runtime import process
    from tests.support.platform import server_settings

    limited = process.start(
        notify_bootstrap.build(
            platform.settings,
            server_settings(
                NotifySettings, database_url, rate_per_minute=60, rate_burst=3, email_daily_limit=2
            ),
        )
    )
    try:
        with grpc.insecure_channel(limited.grpc_target) as channel:
            stub = Stub(channel)
            md = bearer(platform.token(platform.secret_agency(mode="test")))
            template = email_template(stub, md)
            send_email(stub, md, template.id, "one@example.com")
            send_email(stub, md, template.id, "two@example.com")
            with pytest.raises(grpc.RpcError) as daily:
                send_email(stub, md, template.id, "three@example.com")
            assert daily.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            with pytest.raises(grpc.RpcError) as rate:
                send_email(stub, md, template.id, "four@example.com")
            assert rate.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert "rate limit" in (rate.value.details() or "")
    finally:
        limited.stop(1)


def test_rows_are_checked_without_queueing_and_a_recipient_is_found_by_index(
    stub: Stub, live: tuple[tuple[str, str], ...]
) -> None:
    template = sms_template(stub, live, "Code ((code))")
    csv = "phone number,code\n07912000001,1\nnot-a-number,2\n"
    with pytest.raises(grpc.RpcError) as invalid:
        stub.CreateBulkSend(
            pb.CreateBulkSendRequest(
                template_id=template.id, csv=csv, validate_only=True, idempotency_key=key()
            ),
            metadata=live,
        )
    assert set(violations(invalid.value)) == {"rows[2].recipient"}
    checked = stub.CreateBulkSend(
        pb.CreateBulkSendRequest(
            template_id=template.id,
            csv="phone number,code\n07912000001,1\n",
            validate_only=True,
            idempotency_key=key(),
        ),
        metadata=live,
    )
    assert (checked.id, checked.total) == ("", 1)
    listed = stub.ListNotifications(
        pb.ListNotificationsRequest(recipient="+447912000001"), metadata=live
    )
    assert list(listed.notifications) == []  # checking queued nothing
    sent = stub.SendSms(
        pb.SendSmsRequest(
            template_id=template.id,
            phone_number="07912 000001",
            personalisation=values(code="9"),
            idempotency_key=key(),
        ),
        metadata=live,
    )
    for searched in ("+447912000001", "07912000001"):
        found = stub.ListNotifications(
            pb.ListNotificationsRequest(recipient=searched, channel=pb.CHANNEL_SMS), metadata=live
        )
        assert [n.id for n in found.notifications] == [sent.id]
    with pytest.raises(grpc.RpcError) as refused:
        stub.ListNotifications(pb.ListNotificationsRequest(recipient="12"), metadata=live)
    assert set(violations(refused.value)) == {"recipient"}
